//! Weight initialisation from the portable RNG, matching PyTorch's default layer initialisation in distribution.
use super::layers::ParamKind;
use forgebench_shared::experiment::ModelKind;
use forgebench_shared::rng::PortableRng;

/// theta_k for `model`: every layer's usual initialisation, drawn from the stream (`master`, "theta", `k`).
/// Only uniform draws and correctly rounded square roots are used, so the bits are identical on every device.
pub fn draw_theta(model: ModelKind, master: u64, k: u64) -> Vec<f32> {
    let mut rng = PortableRng::derived(master, "theta", k);
    let mut out = Vec::with_capacity(model.param_count());
    for spec in super::layout(model) {
        let n = spec.numel();
        match spec.kind {
            ParamKind::Weight { fan_in } | ParamKind::Bias { fan_in } => {
                let bound = 1.0 / (fan_in as f64).sqrt();
                out.extend(rng.uniform_f32(n, -bound, bound));
            }
            ParamKind::BnWeight => out.extend(std::iter::repeat_n(1.0f32, n)),
            ParamKind::BnBias => out.extend(std::iter::repeat_n(0.0f32, n)),
        }
    }
    out
}

//! Proof-of-Learning's initialisation check: theta_0 drawn as every log draws it passes for each built-in model;
//! weights scaled, shifted or taken from another distribution fail, and the failing tensor is named.
use forgebench_shared::experiment::ModelKind;
use forgebench_shared::rng::PortableRng;
use forgebench_worker::models::{self, draw_theta, ParamKind};
use forgebench_worker::pol::init_check::check;

#[test]
fn drawn_initialisations_pass_for_every_model() {
    for model in [
        ModelKind::Logreg,
        ModelKind::LogregBias,
        ModelKind::Lenet5,
        ModelKind::Vggmini,
    ] {
        for seed in [0, 7] {
            let c = check(model, &draw_theta(model, seed, 0));
            let worst = c.layers.iter().map(|l| l.p_value).fold(1.0, f64::min);
            assert!(
                c.passed,
                "{model} seed {seed}: smallest p-value {worst:e}: {:?}",
                c.layers
            );
        }
    }
}

#[test]
fn other_starts_fail_and_name_their_tensor() {
    let model = ModelKind::Lenet5;
    let theta = draw_theta(model, 3, 0);
    // Weights 30% wider than PyTorch's bound.
    let scaled: Vec<f32> = theta.iter().map(|v| v * 1.3).collect();
    let c = check(model, &scaled);
    assert!(!c.passed);
    let fc1 = c
        .layers
        .iter()
        .find(|l| l.name == "fc1.weight")
        .expect("fc1.weight is tested");
    assert!(fc1.p_value < 1e-6, "{fc1:?}");
    // A normal start with each tensor's standard deviation equal to its uniform's (bound / sqrt 3).
    let mut rng = PortableRng::new(5);
    let mut normal = Vec::with_capacity(theta.len());
    for spec in models::layout(model) {
        let sd = match spec.kind {
            ParamKind::Weight { fan_in } | ParamKind::Bias { fan_in } => 1.0 / (3.0 * fan_in as f64).sqrt(),
            _ => 0.0,
        };
        let u = rng.uniform_f32(2 * spec.numel(), 0.0, 1.0);
        normal.extend(u.chunks(2).map(|p| {
            let r = (-2.0 * f64::from(p[0]).max(1e-12).ln()).sqrt();
            (sd * r * (std::f64::consts::TAU * f64::from(p[1])).cos()) as f32
        }));
    }
    assert!(!check(model, &normal).passed, "a normal start passes");
    // A truncated vector fails rather than being read past its end.
    assert!(!check(model, &theta[..theta.len() - 10]).passed);
}

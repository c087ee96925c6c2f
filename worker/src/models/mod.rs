//! The paper's models as pure functions of one flat parameter vector, and a user's TorchScript model beside them
//! ([`Net`], [`script`]).
//!
//! theta is a single 1-D tensor; each layer's weight and bias are views into it, in the order PyTorch's
//! `model.parameters()` lists them (per layer: weight, then bias; BatchNorm: weight (gamma), then bias (beta)).
//! Autograd on theta therefore yields the flat gradient directly, with no copy, and the literature's
//! concatenated-parameter distance is a distance between these vectors. BatchNorm running statistics are buffers,
//! not parameters: they are left out of theta, and BatchNorm always normalises with batch statistics, as in training.
mod init;
mod layers;
mod lenet;
mod logreg;
mod net;
pub mod script;
mod vggmini;

pub use init::draw_theta;
pub use layers::{bn_train, ParamKind, ParamSpec};
pub use net::Net;

use forgebench_shared::experiment::ModelKind;
use tch::Tensor;

/// The parameter layout of a model, in flattening order.
pub fn layout(model: ModelKind) -> Vec<ParamSpec> {
    match model {
        ModelKind::Logreg => logreg::layout(false),
        ModelKind::LogregBias => logreg::layout(true),
        ModelKind::Lenet5 => lenet::layout(),
        ModelKind::Vggmini => vggmini::layout(),
    }
}

/// The parameter tensors of `model` as views of `theta`, in layout order (gradients flow back into theta).
pub fn param_views(model: ModelKind, theta: &Tensor) -> Vec<Tensor> {
    layers::views(theta, &layout(model))
}

/// Logits of `x` (shape `[b, c, h, w]`) under the parameters `theta` (1-D, `param_count` long).
pub fn forward(model: ModelKind, theta: &Tensor, x: &Tensor) -> Tensor {
    let specs = layout(model);
    let params = layers::views(theta, &specs);
    match model {
        ModelKind::Logreg | ModelKind::LogregBias => logreg::forward(&params, x),
        ModelKind::Lenet5 => lenet::forward(&params, x),
        ModelKind::Vggmini => vggmini::forward(&params, x),
    }
}

/// VGGmini's BatchNorm statistics over the batch `x`, per layer (see [`forward_vggmini_frozen`]).
pub fn vggmini_bn_statistics(theta: &Tensor, x: &Tensor) -> Vec<(Tensor, Tensor)> {
    let params = layers::views(theta, &vggmini::layout());
    vggmini::bn_statistics(&params, x)
}

/// VGGmini's logits with BatchNorm frozen at `stats` (from [`vggmini_bn_statistics`]): a surrogate in which each
/// example's loss depends on that example alone.
pub fn forward_vggmini_frozen(theta: &Tensor, x: &Tensor, stats: &[(Tensor, Tensor)]) -> Tensor {
    let params = layers::views(theta, &vggmini::layout());
    vggmini::forward_frozen(&params, x, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts() {
        for m in ModelKind::ALL {
            let n: usize = layout(m).iter().map(|p| p.numel()).sum();
            assert_eq!(
                n,
                m.param_count(),
                "{m}: layout has {n} parameters, expected {}",
                m.param_count()
            );
        }
        assert_eq!(ModelKind::Logreg.param_count(), 7_840);
        assert_eq!(ModelKind::LogregBias.param_count(), 7_850);
        assert_eq!(ModelKind::Lenet5.param_count(), 61_706);
        assert_eq!(ModelKind::Vggmini.param_count(), 5_747_210);
    }
}

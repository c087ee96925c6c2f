//! Multinomial logistic regression on flattened MNIST (784 -> 10), with or without bias.
use super::layers::{linear, ParamSpec};
use tch::Tensor;

/// `fc.weight` [10, 784] (and `fc.bias` [10]).
pub fn layout(bias: bool) -> Vec<ParamSpec> {
    linear("fc", 784, 10, bias)
}

/// Logits.
pub fn forward(p: &[Tensor], x: &Tensor) -> Tensor {
    x.flatten(1, -1).linear(&p[0], p.get(1))
}

//! LeNet-5 for 28x28 MNIST (61,706 parameters): conv 1->6 5x5 (padding 2), ReLU, max-pool 2; conv 6->16 5x5, ReLU,
//! max-pool 2; fc 400-120-84-10 with ReLU. ReLU and max-pooling follow the common PyTorch LeNet used in the forging
//! literature's code rather than LeCun's tanh and average pooling.
use super::layers::{conv, linear, ParamSpec};
use tch::Tensor;

/// conv1, conv2, fc1, fc2, fc3 (weight then bias each).
pub fn layout() -> Vec<ParamSpec> {
    [
        conv("conv1", 1, 6, 5),
        conv("conv2", 6, 16, 5),
        linear("fc1", 400, 120, true),
        linear("fc2", 120, 84, true),
        linear("fc3", 84, 10, true),
    ]
    .concat()
}

/// Logits.
pub fn forward(p: &[Tensor], x: &Tensor) -> Tensor {
    let h = x
        .conv2d(&p[0], Some(&p[1]), [1, 1], [2, 2], [1, 1], 1)
        .relu()
        .max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
    let h = h
        .conv2d(&p[2], Some(&p[3]), [1, 1], [0, 0], [1, 1], 1)
        .relu()
        .max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
    let h = h.flatten(1, -1);
    let h = h.linear(&p[4], Some(&p[5])).relu();
    let h = h.linear(&p[6], Some(&p[7])).relu();
    h.linear(&p[8], Some(&p[9]))
}

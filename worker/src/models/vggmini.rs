//! VGGmini for CIFAR-10 (5,747,210 parameters): eight 3x3 convolutions (padding 1) 64-64-128-128-256-256-512-512,
//! each followed by BatchNorm and ELU, max-pool 2 after convolutions 2, 4 and 6 (32 -> 4), then fc 8192-128-64-10
//! with BatchNorm and ELU after the first two.
use super::layers::{batch_norm, bn_train, conv, linear, ParamSpec};
use tch::Tensor;

const CHANNELS: [usize; 8] = [64, 64, 128, 128, 256, 256, 512, 512];

/// For each conv i: conv{i}.weight, conv{i}.bias, bn{i}.weight, bn{i}.bias; then fc1, bn_fc1, fc2, bn_fc2, fc3.
pub fn layout() -> Vec<ParamSpec> {
    let mut v = Vec::new();
    let mut inp = 3;
    for (i, &c) in CHANNELS.iter().enumerate() {
        v.extend(conv(&format!("conv{}", i + 1), inp, c, 3));
        v.extend(batch_norm(&format!("bn{}", i + 1), c));
        inp = c;
    }
    v.extend(linear("fc1", 8192, 128, true));
    v.extend(batch_norm("bn_fc1", 128));
    v.extend(linear("fc2", 128, 64, true));
    v.extend(batch_norm("bn_fc2", 64));
    v.extend(linear("fc3", 64, 10, true));
    v
}

/// Logits (BatchNorm with batch statistics, as in a training step).
pub fn forward(p: &[Tensor], x: &Tensor) -> Tensor {
    let mut h = x.shallow_clone();
    for i in 0..CHANNELS.len() {
        let q = &p[4 * i..4 * i + 4];
        h = h.conv2d(&q[0], Some(&q[1]), [1, 1], [1, 1], [1, 1], 1);
        h = bn_train(&h, &q[2], &q[3]).elu();
        if i == 1 || i == 3 || i == 5 {
            h = h.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
        }
    }
    let q = &p[32..];
    let h = h.flatten(1, -1);
    let h = bn_train(&h.linear(&q[0], Some(&q[1])), &q[2], &q[3]).elu();
    let h = bn_train(&h.linear(&q[4], Some(&q[5])), &q[6], &q[7]).elu();
    h.linear(&q[8], Some(&q[9]))
}

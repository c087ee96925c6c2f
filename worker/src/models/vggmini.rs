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
    forward_with(p, x, &mut |_, h, g, b| bn_train(h, g, b))
}

/// The BatchNorm statistics (mean, biased variance per channel) that a training step on the batch `x` normalises
/// with, layer by layer (10 layers), computed without autograd.
pub fn bn_statistics(p: &[Tensor], x: &Tensor) -> Vec<(Tensor, Tensor)> {
    let _guard = tch::no_grad_guard();
    let mut stats = Vec::new();
    let _logits = forward_with(p, x, &mut |_, h, g, b| {
        let dims: &[i64] = if h.dim() == 4 { &[0, 2, 3] } else { &[0] };
        stats.push((h.mean_dim(dims, false, h.kind()), h.var_dim(dims, false, false)));
        bn_train(h, g, b)
    });
    stats
}

/// Logits with BatchNorm normalising by the given statistics (one pair per layer, as [`bn_statistics`] returns them)
/// instead of the batch's own: the examples no longer interact, so each has its own gradient.
pub fn forward_frozen(p: &[Tensor], x: &Tensor, stats: &[(Tensor, Tensor)]) -> Tensor {
    forward_with(p, x, &mut |i, h, g, b| {
        let (m, v) = &stats[i];
        h.batch_norm(Some(g), Some(b), Some(m), Some(v), false, 0.0, 1e-5, true)
    })
}

/// The network with its normalisation `norm(layer, h, gamma, beta)` given.
fn forward_with(p: &[Tensor], x: &Tensor, norm: &mut dyn FnMut(usize, &Tensor, &Tensor, &Tensor) -> Tensor) -> Tensor {
    let mut h = x.shallow_clone();
    for i in 0..CHANNELS.len() {
        let q = &p[4 * i..4 * i + 4];
        h = h.conv2d(&q[0], Some(&q[1]), [1, 1], [1, 1], [1, 1], 1);
        h = norm(i, &h, &q[2], &q[3]).elu();
        if i == 1 || i == 3 || i == 5 {
            h = h.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
        }
    }
    let q = &p[32..];
    let h = h.flatten(1, -1);
    let h = norm(8, &h.linear(&q[0], Some(&q[1])), &q[2], &q[3]).elu();
    let h = norm(9, &h.linear(&q[4], Some(&q[5])), &q[6], &q[7]).elu();
    h.linear(&q[8], Some(&q[9]))
}

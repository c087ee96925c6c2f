//! Proof-of-Learning logs (Jia et al. 2021, Definition 1): an SGD training run recorded as its initial weights,
//! checkpoints every `s` steps, the batch indices of every step and the hash of the training set, and the verifier
//! that replays every interval and compares with the next checkpoint.
//!
//! Batch schedule: epoch `e` is the permutation of `0..n` drawn by [`PortableRng::derived`]`(seed, "pol-epoch", e)`
//! ([`PortableRng::shuffle`] of the identity), cut into consecutive chunks of `b`; an incomplete last chunk is
//! dropped (as PyTorch's `drop_last=True`), so every step has exactly `b` examples. theta_0 is
//! `draw_theta(model, seed, 0)`. Checkpoints are taken at steps 0, s, 2s, ... and at the final step (see
//! [`checkpoint_steps`]), so checkpoint 0 is theta_0 and the last one the trained weights.
//!
//! File layout ([`POL_FORMAT`]): one safetensors file with `checkpoints` [C, dim] f32, `batch_indices` [steps, b]
//! i64 and `checkpoint_steps` [C] i64, plus the JSON [`PolManifest`] in the metadata key `forgebench.manifest` and
//! beside the file (`.json`). [`export_public`] also writes the public PoL code's layout.
mod export;
pub mod init_check;
mod io;
mod log;
mod verify;

pub use export::export_public;
pub use io::{read, write};
pub use log::{train, PolLog, PolManifest, POL_FORMAT};
pub use verify::{calibrate, verify, Epsilon, DEFAULT_MARGIN};

use forgebench_shared::jobs::PolSpec;
use forgebench_shared::rng::PortableRng;

/// Steps per epoch for `n` training examples at batch size `b` (the incomplete last chunk is dropped).
pub fn steps_per_epoch(n: usize, b: usize) -> usize {
    n.checked_div(b).unwrap_or(0)
}

/// The batch indices of every step of `spec` on a training set of `n` examples, in step order.
pub fn schedule(spec: &PolSpec, n: usize) -> Vec<Vec<usize>> {
    let b = spec.batch_size;
    let per_epoch = steps_per_epoch(n, b);
    let mut out = Vec::with_capacity(spec.steps);
    let mut epoch = 0u64;
    while out.len() < spec.steps && per_epoch > 0 {
        let mut perm: Vec<usize> = (0..n).collect();
        PortableRng::derived(spec.seed, "pol-epoch", epoch).shuffle(&mut perm);
        out.extend(perm.chunks_exact(b).take(spec.steps - out.len()).map(<[usize]>::to_vec));
        epoch += 1;
    }
    out
}

/// The steps at which checkpoints are taken: 0, s, 2s, ... and `steps` (once). `s = 0` is treated as 1.
pub fn checkpoint_steps(steps: usize, s: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..steps).step_by(s.max(1)).collect();
    v.push(steps);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use forgebench_shared::experiment::{DatasetKind, ModelKind};

    fn spec(steps: usize, b: usize) -> PolSpec {
        PolSpec {
            model: ModelKind::Logreg,
            dataset: DatasetKind::Mnist,
            batch_size: b,
            eta: 0.01,
            steps,
            checkpoint_every: 1,
            seed: 9,
            arithmetic: Default::default(),
        }
    }

    #[test]
    fn schedule_covers_each_epoch_once() {
        // n = 10, b = 3: three steps per epoch, example 9th of the permutation dropped.
        let s = schedule(&spec(7, 3), 10);
        assert_eq!(s.len(), 7);
        let mut first: Vec<usize> = s[..3].concat();
        first.sort();
        first.dedup();
        assert_eq!(first.len(), 9, "epoch 0 repeats an index: {:?}", &s[..3]);
        assert_ne!(s[..3], s[3..6], "epochs 0 and 1 use the same order");
        assert_eq!(s, schedule(&spec(7, 3), 10), "the schedule is not deterministic");
    }

    #[test]
    fn checkpoints_include_both_ends() {
        assert_eq!(checkpoint_steps(5, 1), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(checkpoint_steps(5, 2), vec![0, 2, 4, 5]);
        assert_eq!(checkpoint_steps(4, 2), vec![0, 2, 4]);
    }
}

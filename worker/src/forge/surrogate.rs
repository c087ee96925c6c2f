//! Surrogate candidate scoring for VGGmini, whose BatchNorm couples a batch so that its gradient is no mean of
//! per-example gradients. With every BatchNorm layer frozen at the pool's statistics (mean and biased variance over
//! the whole pool, as a training step on it would use), each example's loss depends on that example alone; its
//! gradient (5,747,210 values) is compressed by a count sketch (Charikar, Chen and Farach-Colton 2002: coordinate i
//! is added with a random sign s_i into bucket h_i of k), which keeps inner products in expectation. The sketched
//! rows and the sketched logged step then feed the same Gram algebra as LeNet-5's: O(b^2) per candidate. The
//! surrogate only ranks: the best few candidates, and every local-search move, are judged by a real backward pass.
use super::gram::Gram;
use super::StepTarget;
use crate::error::Result;
use crate::models;
use crate::update::cross_entropy;
use forgebench_shared::rng::PortableRng;
use tch::{Kind, Tensor};

/// Buckets of the count sketch.
pub const SKETCH_DIM: i64 = 4096;

/// A seeded count sketch of vectors of one length.
pub struct Sketch {
    buckets: Tensor,
    signs: Tensor,
    k: i64,
}

impl Sketch {
    /// A sketch of `p`-vectors into `k` buckets drawn from `seed` with the portable generator, on `device`.
    pub fn new(p: usize, k: i64, seed: u64, device: tch::Device) -> Sketch {
        let mut rng = PortableRng::derived(seed, "count-sketch", 0);
        let buckets: Vec<i64> = (0..p).map(|_| rng.below(k as u64) as i64).collect();
        let signs: Vec<f64> = (0..p)
            .map(|_| if rng.next_u64() & 1 == 0 { 1.0 } else { -1.0 })
            .collect();
        Sketch {
            buckets: Tensor::from_slice(&buckets).to_device(device),
            signs: Tensor::from_slice(&signs).to_device(device),
            k,
        }
    }

    /// The sketch of one vector `[p]`, in f64.
    pub fn apply(&self, g: &Tensor) -> Tensor {
        let z = Tensor::zeros([self.k], (Kind::Double, g.device()));
        z.index_add(0, &self.buckets, &(g.to_kind(Kind::Double) * &self.signs))
    }
}

/// The surrogate's Gram products for a pool `x` (`[n, 3, 32, 32]`) with labels `y` at the logged step `target`,
/// batch size `b`: sketched per-example gradients with BatchNorm frozen at the pool's statistics.
pub fn gram(target: &StepTarget, x: &Tensor, y: &Tensor, b: usize, seed: u64) -> Result<(Tensor, Gram)> {
    let theta = &target.theta;
    let stats = models::vggmini_bn_statistics(theta, x);
    let sketch = Sketch::new(theta.numel(), SKETCH_DIM, seed, theta.device());
    let n = x.size()[0];
    let mut rows = Vec::with_capacity(n as usize);
    let mut bar = crate::progress::Progress::new("surrogate: per-example gradients", n as usize);
    let th = theta.f_detach()?.f_set_requires_grad(true)?;
    for j in 0..n {
        let g = tch::with_grad(|| -> Result<Tensor> {
            let logits = models::forward_vggmini_frozen(&th, &x.narrow(0, j, 1), &stats);
            let l = cross_entropy(&logits, &y.narrow(0, j, 1))?;
            Ok(Tensor::f_run_backward(&[&l], &[&th], false, false)?.remove(0))
        })?;
        let _guard = tch::no_grad_guard();
        rows.push(sketch.apply(&g));
        bar.update(j as usize + 1);
    }
    let _guard = tch::no_grad_guard();
    let g = Tensor::f_stack(&rows, 0)?;
    let d = sketch.apply(&target.step_f64()?);
    let gram = Gram::new(&g, &d, target.eta, b)?;
    Ok((g, gram))
}

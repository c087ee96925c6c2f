//! Gram scoring of candidate batches. With per-example gradients g_j (rows of G) and the logged step d, a batch S
//! of size b predicts the step (eta / b) sum_{j in S} g_j, and its squared error expands as
//!
//!   ||d - c sum_S g_j||^2 = ||d||^2 - 2 c sum_S a_j + c^2 sum_{j,k in S} K_jk,   c = eta / b,
//!
//! with K = G G^T and a_j = <g_j, d>, both computed once per step in f64. A candidate then costs O(b^2) scalar
//! operations instead of a forward and backward pass over b examples.
use super::pergrad;
use crate::error::{Result, WorkerError};
use tch::{Kind, Tensor};

/// The one-time products of a pool: K, a, ||d||^2 and the scale c.
#[derive(Debug, Clone)]
pub struct Gram {
    /// Pool size n.
    pub n: usize,
    /// K = G G^T, row-major n x n, f64.
    pub k: Vec<f64>,
    /// a_j = <g_j, d>.
    pub a: Vec<f64>,
    /// ||d||^2.
    pub d_sq: f64,
    /// eta / b.
    pub c: f64,
}

impl Gram {
    /// Builds the products from per-example gradients `g` (`[n, P]`, any float kind) and the step `d` (`[P]`).
    pub fn new(g: &Tensor, d: &Tensor, eta: f64, b: usize) -> Result<Gram> {
        let _guard = tch::no_grad_guard();
        let g64 = pergrad::to_f64(g)?;
        let d64 = d.f_to_kind(Kind::Double)?;
        let n = g64.size()[0] as usize;
        if b == 0 || b > n {
            return Err(WorkerError::Invalid(format!(
                "batch size {b} must lie in 1..={n} (the pool size)"
            )));
        }
        let k = Vec::<f64>::try_from(&g64.f_matmul(&g64.f_tr()?)?.f_contiguous()?.f_view(-1)?)?;
        let a = Vec::<f64>::try_from(&g64.f_mv(&d64)?)?;
        let d_sq = d64.f_dot(&d64)?.f_double_value(&[])?;
        Ok(Gram {
            n,
            k,
            a,
            d_sq,
            c: eta / b as f64,
        })
    }

    /// K_jk.
    #[inline]
    pub fn kk(&self, j: usize, k: usize) -> f64 {
        self.k[j * self.n + k]
    }

    /// sum_{j in S} a_j and sum_{j,k in S} K_jk of a batch of pool positions.
    pub fn sums(&self, s: &[usize]) -> (f64, f64) {
        let mut a = 0.0;
        let mut q = 0.0;
        // K is symmetric: the diagonal plus twice the upper triangle halves the O(b^2) work.
        for (pos, &j) in s.iter().enumerate() {
            a += self.a[j];
            let row = &self.k[j * self.n..(j + 1) * self.n];
            q += row[j] + 2.0 * s[pos + 1..].iter().map(|&k| row[k]).sum::<f64>();
        }
        (a, q)
    }

    /// Squared error from the two sums.
    #[inline]
    pub fn error_sq_from(&self, a: f64, q: f64) -> f64 {
        self.d_sq - 2.0 * self.c * a + self.c * self.c * q
    }

    /// Predicted squared L2 error of the batch `s` (pool positions), clamped at 0 against cancellation.
    pub fn error_sq(&self, s: &[usize]) -> f64 {
        let (a, q) = self.sums(s);
        self.error_sq_from(a, q).max(0.0)
    }
}

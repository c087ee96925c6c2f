//! Euclidean projection of label rows onto the probability simplex (Duchi et al. 2008, sort-based).
use tch::{Kind, Tensor};

/// Projects every row of `q` (`[b, k]`) onto { y : y >= 0, sum y = 1 }.
pub fn project(q: &Tensor) -> Tensor {
    let k = q.size()[1];
    let (u, _) = q.sort(-1, true);
    let css = u.cumsum(-1, None::<Kind>);
    let j = Tensor::arange_start(1, k + 1, (q.kind(), q.device()));
    // rho = number of leading sorted entries with u_j - (css_j - 1) / j > 0 (always >= 1).
    let rho = (&u - (&css - 1.0) / &j).gt(0.0).sum_dim_intlist(-1, true, Kind::Int64);
    let tau = (css.gather(-1, &(&rho - 1), false) - 1.0) / rho.to_kind(q.kind());
    (q - tau).clamp_min(0.0)
}

/// The largest Euclidean distance of a row of `q` from the simplex (0 when every row is a distribution).
pub fn violation(q: &Tensor) -> f64 {
    let d = (q - project(q))
        .square()
        .sum_dim_intlist(-1, false, Kind::Double)
        .sqrt();
    d.max().double_value(&[])
}

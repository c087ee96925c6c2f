//! Where two devices part: one step's values at every site (every inexact layer's output on the way forward,
//! every gradient on the way back, then the update), and two such traces compared site by site. The first site whose
//! values differ is where the devices' arithmetic parts; the sites after it inherit the difference. The worker
//! computes traces (it owns the numerics); comparing them is pure arithmetic, done wherever the traces are: the
//! worker's `explain`, the coordinator's report and its `explain --sweep`.
mod cells;
mod compare;
mod file;
mod text;

pub use cells::{CellExplanation, MatrixExplanation, TraceReport};
pub use compare::{compare, Explanation, SiteDiff};
pub use file::{read_trace, write_trace};
pub use text::{markdown, settings_differences, SiteSummary};

use crate::experiment::Arithmetic;

/// One step's values at every site, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The arm traced.
    pub arithmetic: Arithmetic,
    /// (site, values): f32 values for the f32 arm, f64 values before rounding for the exact arm.
    pub sites: Vec<(String, Vec<f64>)>,
}

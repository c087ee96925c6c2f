//! Why the devices of a matrix differ: for every cell off the diagonal, the writer's trace of one triple against
//! the verifier's, summarised as the settings that differ, the first site where the values part, and the update.
use super::{compare, Explanation, SiteDiff, Trace};
use crate::error::Result;
use crate::experiment::ReproSpec;
use crate::profile::DeviceProfile;
use crate::provenance::Provenance;
use crate::tables::MatrixKey;
use serde::{Deserialize, Serialize};

/// What a trace job reports beside its trace artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceReport {
    /// The reproduction spec traced.
    pub spec: ReproSpec,
    /// The triple.
    pub triple: usize,
    /// Where it ran.
    pub provenance: Provenance,
    /// Sites traced.
    pub sites: usize,
    /// Values over all sites.
    pub values: usize,
}

/// One cell's explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellExplanation {
    /// The writer's profile (the row).
    pub writer: String,
    /// The verifier's profile (the column).
    pub verifier: String,
    /// Settings in which their profiles differ.
    pub settings: Vec<String>,
    /// The first site whose values differ (none: bit for bit equal at every site).
    pub first_differing: Option<SiteDiff>,
    /// Its position among the sites (0-based) and the number of sites.
    pub position: Option<(usize, usize)>,
    /// The update, the last site.
    pub update: Option<SiteDiff>,
}

impl CellExplanation {
    /// The cell of `writer`'s trace against `verifier`'s.
    pub fn of(writer: (&DeviceProfile, &Trace), verifier: (&DeviceProfile, &Trace)) -> Result<CellExplanation> {
        let e: Explanation = compare(writer.1, verifier.1)?;
        let s = e.summary();
        Ok(CellExplanation {
            writer: writer.0.name.clone(),
            verifier: verifier.0.name.clone(),
            settings: super::settings_differences(writer.0, verifier.0),
            first_differing: s.first_differing,
            position: s.position,
            update: s.last,
        })
    }
}

/// The explanations of one matrix's cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixExplanation {
    /// The matrix's key.
    pub key: MatrixKey,
    /// The triple traced.
    pub triple: usize,
    /// Every cell off the diagonal with a trace on both sides, rows then columns (the diagonal is one device
    /// against itself: its run-to-run differences show in the matrix, not in one trace).
    pub cells: Vec<CellExplanation>,
}

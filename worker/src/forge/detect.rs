//! Detectability: each attack's error against the largest benign error for the same model, data set and b (from a
//! cross-device matrix written by the `matrix` command), and the verdict of a Proof-of-Learning verifier whose
//! threshold is calibrated from that matrix (largest benign L2 x margin, `pol::calibrate`).
use crate::error::{Result, WorkerError};
use forgebench_shared::measures::Measure;
use forgebench_shared::tables::{AttackRow, CrossDeviceMatrix};
use forgebench_shared::verdict::Verdict;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// An attack row judged against benign noise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judged {
    /// The attack and its benign reference.
    pub row: AttackRow,
    /// error / largest benign error.
    #[serde(default, with = "forgebench_shared::measures::json::opt")]
    pub ratio: Option<f64>,
    /// The calibrated threshold (largest benign x margin), if a benign figure is known.
    #[serde(default, with = "forgebench_shared::measures::json::opt")]
    pub threshold: Option<f64>,
    /// Whether a verifier at that threshold rejects the forged step (error above it).
    pub detected: Option<bool>,
}

/// Reads a matrix JSON (as the `matrix` command writes it).
pub fn read_matrix(path: &Path) -> Result<CrossDeviceMatrix> {
    let text = std::fs::read_to_string(path).map_err(|e| WorkerError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| WorkerError::artifact(path, format!("not a cross-device matrix: {e}")))
}

/// The largest benign L2 error of a matrix, checked against the attack's model, data set and b.
pub fn benign_l2(matrix: &CrossDeviceMatrix, row: &AttackRow) -> Result<f64> {
    let k = &matrix.key;
    if (k.model, k.dataset, k.batch_size) != (row.model, row.dataset, row.batch_size) {
        return Err(WorkerError::Invalid(format!(
            "matrix {} does not match attack {} on {}/{} b={}",
            k.title(),
            row.attack,
            row.model,
            row.dataset,
            row.batch_size
        )));
    }
    matrix
        .largest(Measure::L2)
        .ok_or_else(|| WorkerError::Invalid(format!("matrix {} has no computed cell", k.title())))
}

/// Judges `row` (its `benign_l2` filled in by the caller or from a matrix) at `margin`.
pub fn judge(row: AttackRow, margin: f64) -> Judged {
    let threshold = row.benign_l2.map(|b| b * margin);
    Judged {
        ratio: row.ratio(),
        detected: Verdict::at(row.error_l2, row.benign_l2, margin).detected(),
        threshold,
        row,
    }
}

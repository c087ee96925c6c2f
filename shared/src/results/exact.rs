//! A forged batch against the exact verifier (threshold 0).
use crate::measures::json;
use serde::{Deserialize, Serialize};

/// How a forged batch's exact-arm step compares with the honest batch's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExactArmCheck {
    /// Values of theta_next.
    pub dim: u64,
    /// Values that differ between the honest and the forged step.
    pub differing: u64,
    /// Of those, values a record written by the forger could turn into the honest value at the last rounding site.
    pub fixable_by_records: u64,
    /// L2 between the two exact-arm results (f32 values, in f64).
    #[serde(with = "json")]
    pub l2: f64,
}

impl ExactArmCheck {
    /// Values no record can make agree: the forgery is detected when any remain.
    pub fn remaining(&self) -> u64 {
        self.differing - self.fixable_by_records
    }

    /// Whether the exact verifier rejects the forgery.
    pub fn detected(&self) -> bool {
        self.remaining() > 0
    }

    /// "detected: 7,812 of 7,840 values differ, 3 fixable by records" or "not detected: ...".
    pub fn words(&self) -> String {
        format!(
            "{}: {} of {} values differ, {} fixable by records",
            if self.detected() { "detected" } else { "NOT detected" },
            crate::numfmt::grouped(self.differing),
            crate::numfmt::grouped(self.dim),
            crate::numfmt::grouped(self.fixable_by_records)
        )
    }
}

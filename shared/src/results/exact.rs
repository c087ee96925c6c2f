//! The exact verifier's verdicts (threshold 0): a log's replay bit for bit or its first disagreement, and a forged
//! batch against it.
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

/// An exact-arm verification: every step bit for bit, or the first step that is not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExactVerdict {
    /// Every value of every step equals the writer's.
    pub agreed: bool,
    /// The first step whose result differs, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_disagreement: Option<Disagreement>,
    /// Records applied, over all steps.
    pub records: u64,
    /// Records that decided a value: the verifier's own rounding to nearest would have gone the other way, and the
    /// step would have failed without them.
    #[serde(default)]
    pub decided: u64,
}

/// Where a verifier's exact-arm result first differs from the writer's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disagreement {
    /// The step (a reproduction log's triple, a PoL log's training step).
    pub step: usize,
    /// The first rounding site whose values differ from the writer's, or whose record did not apply.
    pub site: Option<String>,
    /// What differed there.
    pub detail: Option<String>,
    /// The first element of theta_next that differs (None: the result agrees, an intermediate site does not).
    pub element: Option<ElementDiff>,
}

/// One differing element of theta_next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElementDiff {
    /// Its index in theta.
    pub index: usize,
    /// The parameter tensor holding it ("fc1.weight[37]").
    pub parameter: String,
    /// The log's value.
    pub stored: f32,
    /// The verifier's value.
    pub recomputed: f32,
}

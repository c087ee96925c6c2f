//! Whether a forged step would be caught: its error against a Proof-of-Learning threshold calibrated from benign
//! noise (the largest benign L2 of the same model, data set and b, times a margin). One rule for the worker's
//! `--matrix` judgement, the coordinator's results and the report's Table 1.
use serde::{Deserialize, Serialize};

/// The default margin of the calibrated threshold over the largest benign L2 error.
pub const POL_MARGIN: f64 = 10.0;

/// The verdict on one attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Above the threshold: a verifier rejects the forged step.
    Detected,
    /// Within the threshold: indistinguishable from benign replay.
    NotDetected,
    /// No threshold: the setting has no benign figure, or its benign figure is NaN or infinite (the benign runs
    /// themselves broke down, so they calibrate nothing). Files written before this variant say "unknown".
    #[serde(alias = "unknown")]
    Undetermined,
}

impl Verdict {
    /// The verdict on `error_l2` at `benign_l2 x margin`. A NaN error is detected (no verifier accepts it); with
    /// exact benign replay (benign 0) any error above 0 is detected. A missing or non-finite benign figure decides
    /// nothing, whatever the error: "not detected" against a NaN threshold would be a comparison that is always false.
    pub fn at(error_l2: f64, benign_l2: Option<f64>, margin: f64) -> Verdict {
        match benign_l2.filter(|b| b.is_finite()) {
            None => Verdict::Undetermined,
            Some(b) if error_l2.is_nan() || error_l2 > b * margin => Verdict::Detected,
            Some(_) => Verdict::NotDetected,
        }
    }

    /// True, false, or none when undetermined.
    pub fn detected(self) -> Option<bool> {
        match self {
            Verdict::Detected => Some(true),
            Verdict::NotDetected => Some(false),
            Verdict::Undetermined => None,
        }
    }

    /// The short word for tables.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Detected => "detected",
            Verdict::NotDetected => "NOT detected",
            Verdict::Undetermined => "undetermined",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_at_the_threshold_and_its_edges() {
        assert_eq!(Verdict::at(1.0, None, POL_MARGIN), Verdict::Undetermined);
        assert_eq!(
            Verdict::at(1.0, Some(0.1), POL_MARGIN),
            Verdict::NotDetected,
            "exactly at the threshold"
        );
        assert_eq!(Verdict::at(1.0001, Some(0.1), POL_MARGIN), Verdict::Detected);
        assert_eq!(Verdict::at(f64::NAN, Some(1.0), POL_MARGIN), Verdict::Detected);
        assert_eq!(Verdict::at(1e-12, Some(0.0), POL_MARGIN), Verdict::Detected);
        assert_eq!(Verdict::at(0.0, Some(0.0), POL_MARGIN), Verdict::NotDetected);
        assert_eq!(Verdict::at(1.0, Some(0.1), POL_MARGIN).detected(), Some(false));
        assert_eq!(
            serde_json::to_string(&Verdict::NotDetected).expect("json"),
            "\"not-detected\""
        );
    }

    #[test]
    fn a_nan_benign_cell_makes_the_verdict_undetermined() {
        for benign in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            for error in [0.0, 1e-9, 1.0, f64::INFINITY, f64::NAN] {
                let v = Verdict::at(error, Some(benign), POL_MARGIN);
                assert_eq!(v, Verdict::Undetermined, "error {error} against benign {benign}");
                assert_eq!(v.detected(), None, "error {error} against benign {benign}");
            }
        }
        assert_eq!(Verdict::at(f64::INFINITY, Some(1.0), POL_MARGIN), Verdict::Detected);
        assert_eq!(Verdict::Undetermined.word(), "undetermined");
    }

    #[test]
    fn undetermined_round_trips_and_reads_the_old_name() {
        let json = serde_json::to_string(&Verdict::Undetermined).expect("json");
        assert_eq!(json, "\"undetermined\"");
        for text in [json.as_str(), "\"unknown\""] {
            let back: Verdict = serde_json::from_str(text).expect("reads back");
            assert_eq!(back, Verdict::Undetermined, "{text}");
        }
    }
}

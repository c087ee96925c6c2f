//! Calibrated verdicts: the empirical distribution of benign error (every device pair, every triple of a setting's
//! matrices) turned into thresholds with a stated false-alarm rate, detection rates of attacks over thresholds
//! (ROC), and verdicts that name their rule. The paper's verdict is a ratio to the largest benign error; a threshold
//! at a false-alarm rate says what that ratio buys a verifier, and where the sample is too small to say.
//!
//! A benign step raises a false alarm when its error exceeds the threshold. A log of T steps raises one when any step
//! does; steps are taken as independent, so a rate `a` per log is `1 - (1 - a)^(1/T)` per step. With n benign
//! samples the empirical rate resolves nothing below 1/n: there the threshold is the largest benign error and the
//! rate is bounded, not measured (the one-sided 95% Clopper-Pearson bound with no exceedance, `1 - 0.05^(1/n)`).
use crate::verdict::{Verdict, POL_MARGIN};
use serde::{Deserialize, Serialize};

/// The default false-alarm rate per log.
pub const FALSE_ALARM: f64 = 0.01;
/// The default length of a log, in steps, for a per-log false-alarm rate.
pub const LOG_STEPS: usize = 100;

/// Sorted benign errors of one setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Benign {
    sorted: Vec<f64>,
}

impl Benign {
    /// The distribution of `values`; `None` when there is none or any is NaN or infinite (broken benign runs
    /// calibrate nothing, as for [`Verdict::at`]).
    pub fn new(values: impl IntoIterator<Item = f64>) -> Option<Benign> {
        let mut sorted: Vec<f64> = values.into_iter().collect();
        if sorted.is_empty() || sorted.iter().any(|v| !v.is_finite()) {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        Some(Benign { sorted })
    }

    /// Samples.
    pub fn n(&self) -> usize {
        self.sorted.len()
    }

    /// The largest benign error.
    pub fn largest(&self) -> f64 {
        self.sorted[self.sorted.len() - 1]
    }

    /// The fraction of benign errors above `t`.
    pub fn false_alarm(&self, t: f64) -> f64 {
        let above = self.sorted.len() - self.sorted.partition_point(|v| *v <= t);
        above as f64 / self.n() as f64
    }

    /// The smallest benign value whose false-alarm rate is at most `rate` per step.
    pub fn threshold(&self, rate: f64) -> Threshold {
        let n = self.n();
        let allowed = ((rate * n as f64).floor() as usize).min(n - 1);
        let value = self.sorted[n - 1 - allowed];
        let exceed = n - self.sorted.partition_point(|v| *v <= value);
        Threshold {
            value,
            rate,
            false_alarm: exceed as f64 / n as f64,
            false_alarm_upper: clopper_pearson_upper(exceed, n, 0.95),
            resolved: rate * n as f64 >= 1.0,
        }
    }
}

/// A threshold chosen for a false-alarm rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// The L2 threshold.
    pub value: f64,
    /// The per-step rate asked for.
    pub rate: f64,
    /// The benign sample's rate above the threshold.
    pub false_alarm: f64,
    /// One-sided 95% upper bound on the true rate, from the sample's exceedances.
    pub false_alarm_upper: f64,
    /// False when the sample is too small to resolve `rate` (rate x n < 1): the threshold is the largest benign
    /// error and only `false_alarm_upper` bounds its rate.
    pub resolved: bool,
}

/// The per-step rate that gives `per_log` over `steps` independent steps.
pub fn per_step_rate(per_log: f64, steps: usize) -> f64 {
    1.0 - (1.0 - per_log).powf(1.0 / steps.max(1) as f64)
}

/// The one-sided upper confidence bound on a binomial rate after `k` successes in `n` trials (Clopper-Pearson), by
/// bisection on the binomial distribution function.
pub fn clopper_pearson_upper(k: usize, n: usize, confidence: f64) -> f64 {
    if k >= n {
        return 1.0;
    }
    let alpha = 1.0 - confidence;
    let (mut lo, mut hi) = (k as f64 / n as f64, 1.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if binomial_cdf(k, n, mid) > alpha {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// P(X <= k) for X ~ Binomial(n, p), summed in log space.
fn binomial_cdf(k: usize, n: usize, p: f64) -> f64 {
    if p <= 0.0 {
        return 1.0;
    }
    if p >= 1.0 {
        return if k >= n { 1.0 } else { 0.0 };
    }
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let mut log_choose = 0.0f64;
    let mut sum = 0.0;
    for i in 0..=k {
        if i > 0 {
            log_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        sum += (log_choose + i as f64 * lp + (n - i) as f64 * lq).exp();
    }
    sum.min(1.0)
}

/// One operating point: a threshold, the benign rate above it and the attack's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RocPoint {
    /// The L2 threshold (a step is flagged when its error is above it).
    pub threshold: f64,
    /// Benign steps above it.
    pub false_alarm: f64,
    /// Attack steps above it.
    pub detection: f64,
}

/// The attack's fraction of steps above `t`; a NaN error is above every threshold (no verifier accepts it).
pub fn detection(attack: &[f64], t: f64) -> f64 {
    let above = attack.iter().filter(|a| a.is_nan() || **a > t).count();
    above as f64 / attack.len().max(1) as f64
}

/// The ROC curve of `attack`'s step errors against `benign`: one point per distinct value of either (threshold at
/// that value), and one below them all (everything flagged), in order of rising false-alarm rate.
pub fn roc(benign: &Benign, attack: &[f64]) -> Vec<RocPoint> {
    let mut ts: Vec<f64> = benign
        .sorted
        .iter()
        .copied()
        .chain(attack.iter().copied().filter(|a| a.is_finite()))
        .collect();
    ts.sort_by(|a, b| b.total_cmp(a));
    ts.dedup();
    let below = ts.last().map_or(0.0, |t| t - t.abs().max(f64::MIN_POSITIVE));
    ts.push(below);
    ts.into_iter()
        .map(|t| RocPoint {
            threshold: t,
            false_alarm: benign.false_alarm(t),
            detection: detection(attack, t),
        })
        .collect()
}

/// The area under the ROC curve: the probability that an attack step's error exceeds a benign step's, ties
/// counting half (Mann-Whitney).
pub fn auc(benign: &Benign, attack: &[f64]) -> f64 {
    let mut sum = 0.0;
    for a in attack {
        if a.is_nan() {
            sum += 1.0;
            continue;
        }
        let below = benign.sorted.partition_point(|b| b < a);
        let ties = benign.sorted.partition_point(|b| b <= a) - below;
        sum += (below as f64 + 0.5 * ties as f64) / benign.n() as f64;
    }
    sum / attack.len().max(1) as f64
}

/// How a threshold was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "rule")]
pub enum Rule {
    /// The paper's rule: a margin over the largest benign error.
    Margin {
        /// The factor.
        factor: f64,
    },
    /// The smallest threshold whose benign false-alarm rate is at most `rate` per log of `steps` steps.
    FalseAlarm {
        /// Rate per log.
        rate: f64,
        /// Steps per log.
        steps: usize,
    },
}

impl Default for Rule {
    fn default() -> Self {
        Rule::FalseAlarm {
            rate: FALSE_ALARM,
            steps: LOG_STEPS,
        }
    }
}

impl Rule {
    /// The paper's 10x rule.
    pub const PAPER: Rule = Rule::Margin { factor: POL_MARGIN };

    /// In words, e.g. "false alarms <= 1% per log of 100 steps".
    pub fn describe(&self) -> String {
        match self {
            Rule::Margin { factor } => format!("{factor}x the largest benign error"),
            Rule::FalseAlarm { rate, steps } => {
                format!("false alarms <= {}% per log of {steps} steps", rate * 100.0)
            }
        }
    }

    /// The threshold of this rule on `benign`.
    pub fn threshold(&self, benign: &Benign) -> Threshold {
        match *self {
            Rule::Margin { factor } => {
                let value = benign.largest() * factor;
                let exceed = (benign.false_alarm(value) * benign.n() as f64).round() as usize;
                Threshold {
                    value,
                    rate: 0.0,
                    false_alarm: benign.false_alarm(value),
                    false_alarm_upper: clopper_pearson_upper(exceed, benign.n(), 0.95),
                    resolved: false,
                }
            }
            Rule::FalseAlarm { rate, steps } => benign.threshold(per_step_rate(rate, steps)),
        }
    }
}

/// A verdict with its rule, threshold and false-alarm rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibratedVerdict {
    /// The rule.
    pub rule: Rule,
    /// Its threshold on this setting's benign errors.
    pub threshold: Threshold,
    /// Benign samples behind it.
    pub samples: usize,
    /// The attack's fraction of steps above the threshold.
    pub detection: f64,
    /// Detected when any step is above the threshold (a forged log passes only if every step does).
    pub verdict: Verdict,
}

/// The verdict under `rule` on an attack whose steps had errors `attack`.
pub fn judge(rule: Rule, benign: &Benign, attack: &[f64]) -> CalibratedVerdict {
    let threshold = rule.threshold(benign);
    let detection = detection(attack, threshold.value);
    CalibratedVerdict {
        rule,
        threshold,
        samples: benign.n(),
        detection,
        verdict: if detection > 0.0 {
            Verdict::Detected
        } else {
            Verdict::NotDetected
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_count_exceedances_and_say_when_the_sample_is_too_small() {
        let b = Benign::new((1..=100).map(|i| i as f64)).unwrap();
        let t = b.threshold(0.05);
        assert_eq!((t.value, t.false_alarm, t.resolved), (95.0, 0.05, true));
        let t = b.threshold(0.001);
        assert_eq!((t.value, t.false_alarm, t.resolved), (100.0, 0.0, false));
        // With no exceedance in 100 trials the 95% bound is 1 - 0.05^(1/100).
        let want = 1.0 - 0.05f64.powf(0.01);
        assert!(
            (t.false_alarm_upper - want).abs() < 1e-9,
            "{} {want}",
            t.false_alarm_upper
        );
        assert!(Benign::new([1.0, f64::NAN]).is_none());
        assert!(Benign::new([]).is_none());
    }

    #[test]
    fn per_log_rates_compound_over_steps() {
        let p = per_step_rate(0.01, 100);
        assert!(((1.0 - p).powi(100) - 0.99).abs() < 1e-12, "{p}");
        assert_eq!(per_step_rate(0.5, 1), 0.5);
    }

    #[test]
    fn roc_and_auc_of_separated_and_overlapping_samples() {
        let b = Benign::new([1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(auc(&b, &[10.0, 20.0]), 1.0);
        assert_eq!(auc(&b, &[2.0]), (1.0 + 0.5) / 4.0);
        let r = roc(&b, &[2.5, f64::NAN]);
        assert_eq!(
            r[0],
            RocPoint {
                threshold: 4.0,
                false_alarm: 0.0,
                detection: 0.5
            }
        );
        assert_eq!(r.last().unwrap().false_alarm, 1.0);
        assert_eq!(r.last().unwrap().detection, 1.0);
        assert!(r.windows(2).all(|w| w[0].false_alarm <= w[1].false_alarm));
        let v = judge(Rule::PAPER, &b, &[39.0]);
        assert_eq!((v.threshold.value, v.verdict), (40.0, Verdict::NotDetected));
        assert_eq!(judge(Rule::PAPER, &b, &[39.0, 41.0]).detection, 0.5);
    }

    #[test]
    fn the_binomial_bound_matches_known_values() {
        // Clopper-Pearson one-sided 95% upper bounds: 0 of 10 -> 0.2589, 1 of 10 -> 0.3942, 5 of 10 -> 0.7776.
        for (k, n, want) in [(0, 10, 0.2589), (1, 10, 0.3942), (5, 10, 0.7776)] {
            let got = clopper_pearson_upper(k, n, 0.95);
            assert!((got - want).abs() < 5e-4, "{k} of {n}: {got} against {want}");
        }
    }
}

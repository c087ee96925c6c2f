//! Calibrated verdicts in the report: per model, data set and b, the benign errors of every f32-arm cell and triple
//! as an empirical distribution ([`forgebench_shared::calibration`]); thresholds at a false-alarm rate per step
//! and per log beside the paper's 10x rule; each attack's ROC curve, AUC and verdict under each rule. Written as
//! `tables/calibration.{md,json}` and one `roc-*` figure per setting with attacks.
use super::provenance::ProvenanceBlock;
use super::results::{write_json, Results};
use super::tables::{settings, Setting};
use super::texttable::TextTable;
use super::write_file;
use crate::error::Result;
use forgebench_shared::calibration::{self, Benign, CalibratedVerdict, RocPoint, Rule, Threshold};
use forgebench_shared::experiment::{Arithmetic, DatasetKind, ModelKind};
use forgebench_shared::numfmt;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One attack against one setting's benign distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackCalibration {
    /// The attack.
    pub attack: String,
    /// Its parameters in words.
    pub parameters: String,
    /// L2 of each forged step.
    #[serde(with = "forgebench_shared::measures::json::vec")]
    pub steps_l2: Vec<f64>,
    /// Area under the ROC curve: P(attack step's error > benign step's), ties half.
    pub auc: f64,
    /// The curve, in order of rising false-alarm rate.
    pub roc: Vec<RocPoint>,
    /// The verdict under each rule of the setting, in the setting's order.
    pub verdicts: Vec<CalibratedVerdict>,
}

/// One setting's calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingCalibration {
    /// Model.
    pub model: ModelKind,
    /// Data set.
    pub dataset: DatasetKind,
    /// Batch size.
    pub batch_size: usize,
    /// Benign samples: every triple of every f32-arm cell off the diagonal of the setting's matrices (a pair of
    /// devices once where its two cells are equal).
    pub samples: usize,
    /// Cells that carry a summary alone (results written before per-triple errors were kept): not in the sample.
    pub cells_without_samples: usize,
    /// The largest benign sample.
    pub largest: f64,
    /// The rules, and each one's threshold: per step at the rate, per log at the rate, the paper's margin.
    pub rules: Vec<(Rule, Threshold)>,
    /// The setting's attacks.
    pub attacks: Vec<AttackCalibration>,
}

/// The three rules of a report: `rule` per step, `rule` per log, and the paper's.
pub(crate) fn rules(rule: Rule) -> Vec<Rule> {
    match rule {
        Rule::FalseAlarm { rate, .. } => vec![Rule::FalseAlarm { rate, steps: 1 }, rule, Rule::PAPER],
        Rule::Margin { .. } => vec![rule],
    }
}

/// The benign samples of `s`: each triple's L2 of every f32-arm cell off the diagonal (a verifier on another
/// device; the diagonal is the writer's own device), a pair of devices counted once where its two cells hold the
/// same errors (linear verification measures one distance per pair), and how many cells have no per-triple errors.
pub(crate) fn samples(results: &Results, s: &Setting) -> (Vec<f64>, usize) {
    let (mut v, mut without) = (Vec::new(), 0);
    let matrices = results
        .matrices
        .iter()
        .filter(|m| (m.value.key.model, m.value.key.dataset, m.value.key.batch_size) == *s)
        .filter(|m| m.value.key.arithmetic == Arithmetic::F32);
    for m in matrices {
        let cells = &m.value.cells;
        for (i, row) in cells.iter().enumerate() {
            for (k, c) in row.iter().enumerate() {
                let Some(c) = c.as_ref().filter(|_| i != k) else {
                    continue;
                };
                if c.l2.is_empty() {
                    without += 1;
                    continue;
                }
                let mirror = cells.get(k).and_then(|r| r.get(i)).and_then(|x| x.as_ref());
                if k < i && mirror.is_some_and(|o| o.l2 == c.l2) {
                    continue;
                }
                v.extend_from_slice(&c.l2);
            }
        }
    }
    (v, without)
}

/// Every setting with benign samples.
pub fn calibrate(results: &Results) -> Vec<SettingCalibration> {
    let mut out = Vec::new();
    for s in settings(results) {
        let (values, without) = samples(results, &s);
        let Some(benign) = Benign::new(values) else { continue };
        let rules: Vec<Rule> = rules(results.calibration);
        let attacks = results
            .attack_rows()
            .filter(|r| (r.model, r.dataset, r.batch_size) == s)
            .map(|r| {
                let steps = r.steps_l2();
                AttackCalibration {
                    attack: r.attack.clone(),
                    parameters: r.parameters.clone(),
                    auc: calibration::auc(&benign, &steps),
                    roc: calibration::roc(&benign, &steps),
                    verdicts: rules
                        .iter()
                        .map(|rule| calibration::judge(*rule, &benign, &steps))
                        .collect(),
                    steps_l2: steps,
                }
            })
            .collect();
        out.push(SettingCalibration {
            model: s.0,
            dataset: s.1,
            batch_size: s.2,
            samples: benign.n(),
            cells_without_samples: without,
            largest: benign.largest(),
            rules: rules.iter().map(|r| (*r, r.threshold(&benign))).collect(),
            attacks,
        });
    }
    out
}

/// "1.23e-8 (empirical 0.5%, <= 1.2% at 95%)", or for an unresolved rate "1.23e-8 = largest (rate not resolved by
/// n samples; <= 0.9% at 95%)".
pub(crate) fn threshold_words(t: &Threshold, n: usize) -> String {
    if t.rate > 0.0 && !t.resolved {
        format!(
            "{} = largest benign ({} samples cannot resolve {} per step; true rate <= {} at 95%)",
            numfmt::error(t.value),
            n,
            pct(t.rate),
            pct(t.false_alarm_upper)
        )
    } else {
        format!(
            "{} (benign above it: {}; true rate <= {} at 95%)",
            numfmt::error(t.value),
            pct(t.false_alarm),
            pct(t.false_alarm_upper)
        )
    }
}

fn rule_name(r: &Rule) -> String {
    match r {
        Rule::FalseAlarm { rate, steps: 1 } => format!("false alarms <= {}% per step", rate * 100.0),
        _ => r.describe(),
    }
}

/// The thresholds table: a line per setting and rule.
pub(crate) fn thresholds_text(cal: &[SettingCalibration]) -> TextTable {
    let mut t = TextTable::new(&["model", "dataset", "b", "benign samples", "rule", "threshold (L2)"]);
    for c in cal {
        for (rule, th) in &c.rules {
            t.push(vec![
                c.model.to_string(),
                c.dataset.to_string(),
                c.batch_size.to_string(),
                format!("{} (largest {})", c.samples, numfmt::error(c.largest)),
                rule_name(rule),
                threshold_words(th, c.samples),
            ]);
        }
    }
    t
}

/// The attacks table: a line per attack, its AUC, and under each rule (a column each) its verdict and the share of
/// its steps above the threshold.
pub(crate) fn attacks_text(cal: &[SettingCalibration]) -> TextTable {
    let rules: Vec<String> = cal
        .first()
        .map(|c| c.rules.iter().map(|(r, _)| rule_name(r)).collect())
        .unwrap_or_default();
    let mut head = vec!["model", "dataset", "b", "attack", "steps", "AUC"];
    head.extend(rules.iter().map(String::as_str));
    let mut t = TextTable::new(&head);
    for c in cal {
        for a in &c.attacks {
            let mut line = vec![
                c.model.to_string(),
                c.dataset.to_string(),
                c.batch_size.to_string(),
                a.attack.clone(),
                a.steps_l2.len().to_string(),
                format!("{:.4}", a.auc),
            ];
            line.extend(
                a.verdicts
                    .iter()
                    .map(|v| format!("{} ({} of steps above)", v.verdict.word(), pct(v.detection))),
            );
            t.push(line);
        }
    }
    t
}

/// A rate as a percentage: "1.65%", "0.0123%", "0%".
pub(crate) fn pct(x: f64) -> String {
    let p = x * 100.0;
    if p == 0.0 {
        "0%".into()
    } else if p >= 0.1 {
        format!("{}%", trim(format!("{p:.2}")))
    } else {
        format!("{}%", numfmt::error(p))
    }
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// What a reader should know about the figures' sample.
pub(crate) fn notes(cal: &[SettingCalibration]) -> Vec<String> {
    let mut v = vec![
        "benign samples: the L2 of every triple of every f32-arm cell off the diagonal (a writer and a verifier on \
         different devices), a pair of devices counted once where both its cells hold the same errors (linear \
         verification); a step is flagged when its error is above the threshold; a log of T steps is taken as T \
         independent steps, and is flagged when any step is; a rate below 1/n cannot be resolved by n samples: \
         there the threshold is the largest benign error and only its 95% (Clopper-Pearson) bound is given"
            .to_owned(),
    ];
    let without: usize = cal.iter().map(|c| c.cells_without_samples).sum();
    if without > 0 {
        v.push(format!(
            "{without} cells carry a summary alone (written before per-triple errors were kept) and are not in \
             the samples"
        ));
    }
    v
}

/// Writes calibration.{md,json}.
pub(crate) fn write(cal: &[SettingCalibration], prov: &ProvenanceBlock, dir: &Path) -> Result<Vec<PathBuf>> {
    let md = dir.join("calibration.md");
    let mut text = format!(
        "## Calibrated verdicts\n\n{}\n\n### Thresholds\n\n{}\n### Attacks\n\n{}\n",
        notes(cal).join("\n\n"),
        thresholds_text(cal).markdown(),
        attacks_text(cal).markdown()
    );
    text.push_str(&prov.markdown());
    write_file(&md, text.as_bytes())?;
    let json = dir.join("calibration.json");
    write_json(&json, &serde_json::json!({ "settings": cal, "provenance": prov }))?;
    Ok(vec![md, json])
}

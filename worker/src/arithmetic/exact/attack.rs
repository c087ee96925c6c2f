//! The exact verifier against a forged batch. A forger who submits B' in an exact-arm log writes that log's
//! rounding records itself, so it may take either side wherever a value lies near a rounding boundary. This
//! measures how far that freedom goes at the last site: how many values of theta_next differ between the honest
//! batch's exact step and the forged batch's, and how many of those a record could turn into the honest value (a
//! verifier accepts a record only where its own value lies within twice its tolerance of what the record claims).
//! Records at earlier sites move values by one f32 step too; what they change downstream is not searched here, so
//! "values a record can fix" is what the last site allows, not a bound over every site.
use super::backprop::Labels;
use super::{check_of, round, run, Mode, TOLERANCE_UNITS};
use crate::error::Result;
use forgebench_shared::experiment::ModelKind;
use forgebench_shared::results::ExactArmCheck;
use tch::{Kind, Tensor};

/// What a log would hold: the values rounded to f32, carried in f64.
fn as_logged(t: &Tensor) -> Tensor {
    t.to_kind(Kind::Float).to_kind(Kind::Double)
}

fn logged(l: Labels) -> (Option<Tensor>, Option<Tensor>) {
    match l {
        Labels::Hard(y) => (Some(y.shallow_clone()), None),
        Labels::Soft(q) => (None, Some(as_logged(q))),
    }
}

fn labels<'a>(l: &'a (Option<Tensor>, Option<Tensor>)) -> Labels<'a> {
    match l {
        (Some(y), _) => Labels::Hard(y),
        (None, Some(q)) => Labels::Soft(q),
        (None, None) => unreachable!("labels are hard or soft"),
    }
}

/// The exact arm's verdict on `forged` against `real` at `theta` (inputs and soft labels as f32 values, the way a
/// log would carry them).
pub fn check(
    model: ModelKind,
    theta: &[f32],
    (real_x, real_y): (&Tensor, Labels),
    (forged_x, forged_y): (&Tensor, Labels),
    eta: f64,
) -> Result<ExactArmCheck> {
    let (ry, fy) = (logged(real_y), logged(forged_y));
    let honest = run(
        model,
        theta,
        &as_logged(real_x),
        labels(&ry),
        eta,
        TOLERANCE_UNITS,
        Mode::Write,
        None,
    )?;
    let mut trace = Vec::new();
    let forged = run(
        model,
        theta,
        &as_logged(forged_x),
        labels(&fy),
        eta,
        TOLERANCE_UNITS,
        Mode::Write,
        Some(&mut trace),
    )?;
    let (site, raw) = trace.last().expect("the update is a site");
    debug_assert_eq!(site, "update");
    let check = check_of(round::tolerance(raw, TOLERANCE_UNITS));
    let (mut differing, mut fixable, mut sq) = (0u64, 0u64, 0.0f64);
    for ((&h, &f), &v) in honest.theta_next.iter().zip(&forged.theta_next).zip(raw) {
        if h.to_bits() != f.to_bits() {
            differing += 1;
            sq += (h as f64 - f as f64).powi(2);
            if round::reachable(v, h, check) {
                fixable += 1;
            }
        }
    }
    Ok(ExactArmCheck {
        dim: honest.theta_next.len() as u64,
        differing,
        fixable_by_records: fixable,
        l2: sq.sqrt(),
    })
}

//! The exact arm (Srivastava, Arora & Boneh 2024, "Optimistic verifiable training by controlling hardware
//! nondeterminism"): a step computed in f64, every layer's output and every gradient of the backward pass rounded
//! to f32 at a *site*, and the SGD update rounded last. The writer records the side of each value near a rounding
//! boundary ([`round`]); a verifier applies those records and so reproduces the writer's f32 values bit for bit
//! wherever its own f64 error stays below the threshold.
//!
//! Each operation's backward runs on its own: autograd differentiates the operation alone, fed the rounded gradient
//! of its output, so every gradient that flows between layers is an f32 value and a site.
mod graph;
pub mod records;
pub mod round;

pub use graph::{ops, Op};
pub use records::{SiteRecords, StepRecords};

use crate::error::{Result, WorkerError};
use crate::models;
use crate::update::{cross_entropy, Batch};
use forgebench_shared::experiment::ModelKind;
use tch::{Kind, Tensor};

/// The writer's threshold, in gaps between adjacent f32 values: a value within it of a rounding boundary is
/// recorded. 1e-4 gaps is a relative distance of about 1e-11, three orders of magnitude above the f64 errors that
/// summation order leaves in these models; it records about 2 values in 10,000.
pub const THRESHOLD: f64 = 1e-4;

/// How far from a boundary a verifier accepts a record, in gaps: twice the writer's threshold, so that a value the
/// writer recorded stays acceptable after the verifier's own f64 error, and a prover can flip only values that are
/// genuinely near a boundary.
pub fn check_of(threshold: f64) -> f64 {
    2.0 * threshold
}

/// Writing records, or replaying a writer's.
pub enum Mode<'a> {
    /// Round to nearest and record (the writer).
    Write,
    /// Apply these records (the verifier).
    Replay(&'a StepRecords),
}

/// Where a replay first parted from the writer.
#[derive(Debug, Clone, PartialEq)]
pub struct Parting {
    /// The site ("conv2.backward.weight").
    pub site: String,
    /// What differed: the digest, or a record that did not apply.
    pub detail: String,
}

/// One step in the exact arm.
pub struct ExactStep {
    /// theta - eta * grad, rounded.
    pub theta_next: Vec<f32>,
    /// L2 norm (f64) of eta * grad, from the rounded gradient.
    pub step_norm: f64,
    /// The records and digests of every site (a replay: the writer's records, the verifier's digests).
    pub records: StepRecords,
    /// The sites' names, in order.
    pub sites: Vec<String>,
    /// A replay's first site whose rounded values differ from the writer's (None: none, or writing).
    pub parted: Option<Parting>,
    /// Values rounded, over all sites.
    pub values: u64,
}

struct Sites<'a> {
    threshold: f64,
    mode: Mode<'a>,
    out: StepRecords,
    names: Vec<String>,
    parted: Option<Parting>,
    buf: Vec<f32>,
    values: u64,
}

impl Sites<'_> {
    /// `t` (f64) rounded to f32 values, returned in f64 on `t`'s device.
    fn round(&mut self, name: String, t: &Tensor) -> Result<Tensor> {
        let v = crate::tensors::to_f64(t)?;
        let i = self.names.len();
        self.values += v.len() as u64;
        let records = match &self.mode {
            Mode::Write => round::round_write(&v, self.threshold, &mut self.buf),
            Mode::Replay(writer) => {
                let site = writer.sites.get(i).ok_or_else(|| {
                    WorkerError::Invalid(format!(
                        "the log's records cover {} sites, but the step has a site {i} ({name})",
                        writer.sites.len()
                    ))
                })?;
                if let Err(e) = round::round_replay(&v, &site.records, check_of(self.threshold), &mut self.buf) {
                    // Round to nearest and carry on: the step's result is still compared, and this names where.
                    self.buf.clear();
                    self.buf.extend(v.iter().map(|&x| x as f32));
                    self.part(&name, e.to_string());
                }
                site.records.clone()
            }
        };
        let digest = records::digest(&self.buf);
        if let Mode::Replay(writer) = &self.mode {
            if writer.sites[i].digest != digest {
                self.part(&name, "rounded values differ from the writer's (digest)".into());
            }
        }
        self.out.sites.push(SiteRecords { records, digest });
        self.names.push(name);
        let r: Vec<f64> = self.buf.iter().map(|&x| x as f64).collect();
        Ok(Tensor::from_slice(&r).view(t.size().as_slice()).to_device(t.device()))
    }

    fn part(&mut self, site: &str, detail: String) {
        if self.parted.is_none() {
            self.parted = Some(Parting {
                site: site.to_owned(),
                detail,
            });
        }
    }
}

/// One SGD step of `model` at `theta` on `batch` (inputs in f64, exactly the f32 data), in the exact arm.
pub fn step(model: ModelKind, theta: &[f32], batch: &Batch, eta: f64, threshold: f64, mode: Mode) -> Result<ExactStep> {
    let device = batch.x.device();
    let theta64: Vec<f64> = theta.iter().map(|&v| v as f64).collect();
    let theta_t = Tensor::from_slice(&theta64).to_device(device);
    let params = models::param_views(model, &theta_t);
    let graph = ops(model);
    let mut sites = Sites {
        threshold,
        mode,
        out: StepRecords::default(),
        names: Vec::new(),
        parted: None,
        buf: Vec::new(),
        values: 0,
    };
    let _guard = tch::no_grad_guard();
    let of = |o: &Op| -> Vec<Tensor> { o.params.iter().map(|&i| params[i].detach()).collect() };
    let mut acts = vec![batch.x.shallow_clone()];
    for o in &graph {
        let out = (o.apply)(acts.last().expect("input"), &of(o));
        let out = if o.exact {
            out
        } else {
            sites.round(format!("{}.forward", o.name), &out)?
        };
        acts.push(out);
    }
    let logits = acts.pop().expect("logits").set_requires_grad(true);
    let g = tch::with_grad(|| -> Result<Tensor> {
        let l = cross_entropy(&logits, &batch.y)?;
        Ok(Tensor::f_run_backward(&[&l], &[&logits], false, false)?.remove(0))
    })?;
    let mut g = sites.round("loss.backward".into(), &g)?;
    let layout = models::layout(model);
    let mut grads: Vec<Option<Tensor>> = (0..layout.len()).map(|_| None).collect();
    for (i, o) in graph.iter().enumerate().rev() {
        let want_input = i > 0;
        if o.params.is_empty() && !want_input {
            continue;
        }
        let input = acts[i].detach().set_requires_grad(want_input);
        let ps: Vec<Tensor> = of(o).into_iter().map(|p| p.set_requires_grad(true)).collect();
        let mut wrt: Vec<&Tensor> = ps.iter().collect();
        if want_input {
            wrt.push(&input);
        }
        // d/dz sum(f(z) * g) is the vector-Jacobian product J^T g, and autograd forms it with g exactly.
        let mut gs = tch::with_grad(|| -> Result<Vec<Tensor>> {
            let s = (o.apply)(&input, &ps).f_mul(&g)?.f_sum(Kind::Double)?;
            Ok(Tensor::f_run_backward(&[&s], &wrt, false, false)?)
        })?;
        let g_input = if want_input { gs.pop() } else { None };
        for (&j, gp) in o.params.iter().zip(gs) {
            let what = layout[j].name.rsplit('.').next().unwrap_or("param");
            grads[j] = Some(sites.round(format!("{}.backward.{what}", o.name), &gp)?);
        }
        if let Some(gi) = g_input {
            g = if o.exact {
                gi
            } else {
                sites.round(format!("{}.backward", o.name), &gi)?
            };
        }
    }
    let mut grad = Vec::with_capacity(theta.len());
    for (spec, gp) in layout.iter().zip(grads) {
        let gp = gp.ok_or_else(|| WorkerError::Invalid(format!("no gradient reached {}", spec.name)))?;
        grad.extend(crate::tensors::to_f64(&gp)?);
    }
    // The update in Rust's f64 arithmetic: two correctly rounded operations per element, the same on every device.
    let next: Vec<f64> = theta64.iter().zip(&grad).map(|(t, g)| t - eta * g).collect();
    let step_norm = grad.iter().map(|g| (eta * g) * (eta * g)).sum::<f64>().sqrt();
    let next_t = Tensor::from_slice(&next);
    let rounded = sites.round("update".into(), &next_t)?;
    Ok(ExactStep {
        theta_next: crate::tensors::to_f32(&rounded)?,
        step_norm,
        records: sites.out,
        sites: sites.names,
        parted: sites.parted,
        values: sites.values,
    })
}

//! The exact arm's records in a log file (reproduction and PoL logs alike): the tensors `rounding_records` (every
//! step's packed records, concatenated), `rounding_offsets` ([steps + 1] byte offsets into them) and `site_digests`
//! ([steps, sites x 8]), and the manifest's `exact` block that describes them.
use super::records::{StepRecords, DIGEST_BYTES};
use crate::arithmetic::Arithmetic;
use crate::error::{Result, WorkerError};
use crate::repro::tensor_bytes;
use forgebench_shared::repro_log::ExactRecords;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::path::Path;

/// The exact arm's tensors as they accumulate over the steps of a log.
#[derive(Default)]
pub(crate) struct RecordTensors {
    packed: Vec<u8>,
    offsets: Vec<u8>,
    digests: Vec<u8>,
    counts: Vec<u64>,
    bytes: Vec<u64>,
    sites: Vec<String>,
    values: u64,
}

impl RecordTensors {
    /// Adds one step's records.
    pub(crate) fn push(&mut self, r: &StepRecords, sites: &[String], values: u64) {
        if self.offsets.is_empty() {
            self.offsets.extend(0i64.to_le_bytes());
        }
        let p = r.pack();
        self.counts.push(r.count() as u64);
        self.bytes.push(p.len() as u64);
        self.packed.extend(&p);
        self.offsets.extend((self.packed.len() as i64).to_le_bytes());
        self.digests.extend(r.digests());
        self.sites = sites.to_vec();
        self.values = values;
    }

    /// The manifest's block for a log written with `units`.
    pub(crate) fn info(&self, units: f64) -> ExactRecords {
        ExactRecords {
            tolerance_units: units,
            tolerance_gaps: super::round::REL_GAPS,
            sites: self.sites.clone(),
            values_per_step: self.values,
            records: self.counts.clone(),
            record_bytes: self.bytes.clone(),
        }
    }

    /// The three tensors of `steps` steps: `rounding_records`, `rounding_offsets`, `site_digests`.
    pub(crate) fn views(&self, steps: usize, path: &Path) -> Result<Vec<(String, TensorView<'_>)>> {
        fn view<'a>(
            name: &str,
            dtype: Dtype,
            shape: Vec<usize>,
            data: &'a [u8],
            path: &Path,
        ) -> Result<(String, TensorView<'a>)> {
            TensorView::new(dtype, shape, data)
                .map(|v| (name.to_owned(), v))
                .map_err(|e| WorkerError::artifact(path, format!("{name}: {e}")))
        }
        Ok(vec![
            view(
                "rounding_records",
                Dtype::U8,
                vec![self.packed.len()],
                &self.packed,
                path,
            )?,
            view("rounding_offsets", Dtype::I64, vec![steps + 1], &self.offsets, path)?,
            view(
                "site_digests",
                Dtype::U8,
                vec![steps, self.sites.len() * DIGEST_BYTES],
                &self.digests,
                path,
            )?,
        ])
    }
}

/// The exact arm's records of a log of `k` steps in `arith` whose manifest holds `exact`, each step's checked
/// against the manifest; `None` for an f32 log.
pub(crate) fn read_records(
    st: &SafeTensors,
    arith: Arithmetic,
    exact: Option<&ExactRecords>,
    k: usize,
    path: &Path,
) -> Result<Option<Vec<StepRecords>>> {
    let info = match (arith, exact) {
        (Arithmetic::F32, None) => return Ok(None),
        (Arithmetic::Exact, Some(info)) => info,
        (a, info) => {
            return Err(WorkerError::artifact(
                path,
                format!(
                    "spec.arithmetic is {a} but the manifest {} rounding records",
                    if info.is_some() { "has" } else { "lacks" }
                ),
            ))
        }
    };
    // Beyond 2^40 units a tolerance spans f32 gaps at the site's own scale, and records no longer decide anything.
    if !(info.tolerance_units.is_finite() && info.tolerance_units > 0.0 && info.tolerance_units <= 1099511627776.0) {
        return Err(WorkerError::artifact(
            path,
            format!("rounding tolerance {} units is not in (0, 2^40]", info.tolerance_units),
        ));
    }
    if info.tolerance_gaps != super::round::REL_GAPS {
        return Err(WorkerError::artifact(
            path,
            format!(
                "written with a relative rounding tolerance of {} gaps; this verifier applies {}",
                info.tolerance_gaps,
                super::round::REL_GAPS
            ),
        ));
    }
    let offsets: Vec<i64> = tensor_bytes(st, "rounding_offsets", Dtype::I64, &[k + 1], path)?
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let packed = st
        .tensor("rounding_records")
        .map_err(|e| WorkerError::artifact(path, format!("tensor rounding_records: {e}")))?;
    let packed = packed.data();
    let sites = info.sites.len();
    let digests = tensor_bytes(st, "site_digests", Dtype::U8, &[k, sites * DIGEST_BYTES], path)?;
    let mut out = Vec::with_capacity(k);
    for step in 0..k {
        let (a, b) = (offsets[step], offsets[step + 1]);
        if a < 0 || b < a || b as usize > packed.len() {
            return Err(WorkerError::artifact(
                path,
                format!(
                    "rounding_offsets of step {step} ({a}..{b}) outside the {} record bytes",
                    packed.len()
                ),
            ));
        }
        let d = &digests[step * sites * DIGEST_BYTES..(step + 1) * sites * DIGEST_BYTES];
        let r = StepRecords::unpack(&packed[a as usize..b as usize], d, sites)
            .map_err(|e| WorkerError::artifact(path, format!("rounding records of step {step}: {e}")))?;
        out.push(r);
    }
    Ok(Some(out))
}

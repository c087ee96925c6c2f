//! The rounding records of one step, per rounding site, and their packed form in a log.
//!
//! Packed: for each site in the step's fixed order, the number of records, then per record the gap to the previous
//! index shifted left by two with the kind in the low bits (0 down, 1 up, 2 pinned), all as unsigned LEB128, a
//! pinned record followed by its f32 value's four little-endian bytes. Indices are increasing, so a side costs one
//! to three bytes at the record densities of real steps. Each site also has an 8-byte BLAKE3 digest
//! of its rounded f32 values, which locates the first site where a verifier parts from the writer.
use super::round::{Record, Side};

/// Bytes of a site digest.
pub const DIGEST_BYTES: usize = 8;

/// The records and digest of one rounding site.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SiteRecords {
    /// Records, by increasing index.
    pub records: Vec<Record>,
    /// BLAKE3 of the rounded values' little-endian bytes, truncated.
    pub digest: [u8; DIGEST_BYTES],
}

/// Every site of one step, in the step's order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepRecords {
    /// Sites.
    pub sites: Vec<SiteRecords>,
}

/// The digest of rounded values.
pub fn digest(values: &[f32]) -> [u8; DIGEST_BYTES] {
    let mut h = blake3::Hasher::new();
    for chunk in values.chunks(1 << 14) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|x| x.to_le_bytes()).collect();
        h.update(&bytes);
    }
    let mut out = [0u8; DIGEST_BYTES];
    out.copy_from_slice(&h.finalize().as_bytes()[..DIGEST_BYTES]);
    out
}

impl StepRecords {
    /// Number of records over all sites.
    pub fn count(&self) -> usize {
        self.sites.iter().map(|s| s.records.len()).sum()
    }

    /// The packed records (digests apart).
    pub fn pack(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for s in &self.sites {
            leb128::write::unsigned(&mut out, s.records.len() as u64).expect("writing to a Vec");
            let mut next = 0u64;
            for r in &s.records {
                let kind = match r.side {
                    Side::Down => 0,
                    Side::Up => 1,
                    Side::Pinned(_) => 2,
                };
                leb128::write::unsigned(&mut out, ((r.index - next) << 2) | kind).expect("writing to a Vec");
                if let Side::Pinned(p) = r.side {
                    out.extend(p.to_le_bytes());
                }
                next = r.index + 1;
            }
        }
        out
    }

    /// The digests, `DIGEST_BYTES` per site.
    pub fn digests(&self) -> Vec<u8> {
        self.sites.iter().flat_map(|s| s.digest).collect()
    }

    /// Reads `sites` sites back from `packed` and `digests`; the error says what is wrong.
    pub fn unpack(packed: &[u8], digests: &[u8], sites: usize) -> Result<StepRecords, String> {
        if digests.len() != sites * DIGEST_BYTES {
            return Err(format!(
                "{} digest bytes for {sites} sites, expected {}",
                digests.len(),
                sites * DIGEST_BYTES
            ));
        }
        let mut rd = packed;
        let read = |rd: &mut &[u8], what: &str| {
            leb128::read::unsigned(rd).map_err(|e| format!("packed records end inside {what}: {e}"))
        };
        let mut out = Vec::with_capacity(sites);
        for (i, d) in digests.chunks_exact(DIGEST_BYTES).enumerate() {
            let n = read(&mut rd, "a count")?;
            let mut records = Vec::with_capacity(n.min(1 << 20) as usize);
            let mut next = 0u64;
            for _ in 0..n {
                let v = read(&mut rd, "a record")?;
                let index = next
                    .checked_add(v >> 2)
                    .ok_or_else(|| format!("site {i}: record index overflows"))?;
                let side = match v & 3 {
                    0 => Side::Down,
                    1 => Side::Up,
                    2 => {
                        let (b, rest) = rd
                            .split_first_chunk::<4>()
                            .ok_or_else(|| "packed records end inside a pinned value".to_owned())?;
                        rd = rest;
                        Side::Pinned(f32::from_le_bytes(*b))
                    }
                    k => return Err(format!("site {i}: record kind {k} is not down, up or pinned")),
                };
                records.push(Record { index, side });
                next = index + 1;
            }
            out.push(SiteRecords {
                records,
                digest: d.try_into().expect("chunk of DIGEST_BYTES"),
            });
        }
        if !rd.is_empty() {
            return Err(format!("{} bytes after the last site's records", rd.len()));
        }
        Ok(StepRecords { sites: out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trips_and_rejects_truncation() {
        let r = |index, side| Record { index, side };
        let step = StepRecords {
            sites: vec![
                SiteRecords {
                    records: vec![r(0, Side::Up), r(5, Side::Down), r(70_000, Side::Up)],
                    digest: [1; DIGEST_BYTES],
                },
                SiteRecords::default(),
                SiteRecords {
                    records: vec![r(3, Side::Pinned(-1.5e-9))],
                    digest: [9; DIGEST_BYTES],
                },
            ],
        };
        let packed = step.pack();
        // Counts 3, 0, 1 (1 byte each); records 0, 4, 69994 << 2 (3 bytes); 3 << 2 and the pinned value's 4 bytes.
        assert_eq!(packed.len(), 3 + 1 + 1 + 3 + 1 + 4);
        assert_eq!(StepRecords::unpack(&packed, &step.digests(), 3).unwrap(), step);
        let e = StepRecords::unpack(&packed[..packed.len() - 1], &step.digests(), 3).unwrap_err();
        assert!(e.contains("end inside"), "{e}");
        let e = StepRecords::unpack(&packed, &step.digests()[1..], 3).unwrap_err();
        assert!(e.contains("digest bytes"), "{e}");
    }
}

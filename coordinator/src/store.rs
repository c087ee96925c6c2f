//! Admission of artifact bytes into the store: the largest artifact, the store's quota and the free disk an
//! upload must leave. Both receivers (gRPC streams and the bulk channel) ask before they write a byte, and hold a
//! reservation while the bytes arrive, so concurrent uploads cannot pass the quota together.
use crate::error::{CoordError, Result};
use crate::ledger::Ledger;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The limits, from `[coordinator]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    /// Largest artifact accepted.
    pub max_artifact_bytes: u64,
    /// Most bytes stored in all.
    pub quota_bytes: u64,
    /// Free space an upload must leave on the file system.
    pub min_free_bytes: u64,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_artifact_bytes: 8 << 30,
            quota_bytes: 256 << 30,
            min_free_bytes: 1 << 30,
        }
    }
}

/// Bytes of uploads in flight, shared by every receiver of one coordinator.
#[derive(Debug, Default, Clone)]
pub struct Reservations(Arc<AtomicU64>);

/// Space held for one upload until it is stored or fails.
#[derive(Debug)]
pub struct Reservation {
    held: Arc<AtomicU64>,
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.held.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

/// Free bytes for an unprivileged user on the file system holding `dir` (or its nearest existing parent).
pub fn free_bytes(dir: &Path) -> Result<u64> {
    let mut at = dir;
    while !at.exists() {
        at = at
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
    }
    let c = std::ffi::CString::new(at.as_os_str().as_encoded_bytes())
        .map_err(|_| CoordError::Invalid(format!("{}: a NUL byte in the path", at.display())))?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid C string and `st` a buffer of the size statvfs writes.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(CoordError::io(at, std::io::Error::last_os_error()));
    }
    // SAFETY: statvfs returned 0, so it filled the struct.
    let st = unsafe { st.assume_init() };
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Removes partial files (`<id>.part-<pid>-<n>`) a killed coordinator left in the store at `dir`; returns how many.
/// Called before the coordinator serves, when no receiver of this store can be running.
pub fn remove_partials(dir: &Path) -> Result<usize> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut n = 0;
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().contains(".part-") {
            std::fs::remove_file(e.path()).map_err(|err| CoordError::io(e.path(), err))?;
            n += 1;
        }
    }
    Ok(n)
}

impl Reservations {
    /// Admits an upload of `size` bytes into `dir`, or refuses it (RESOURCE_EXHAUSTED) naming the limit.
    pub fn admit(&self, limits: &StoreLimits, ledger: &Ledger, dir: &Path, size: u64) -> Result<Reservation> {
        let refuse = |why: String| Err(CoordError::Exhausted(why));
        if size > limits.max_artifact_bytes {
            return refuse(format!(
                "an artifact of {size} bytes is over the largest accepted, {} bytes (coordinator.max_artifact_bytes)",
                limits.max_artifact_bytes
            ));
        }
        let held = self.0.fetch_add(size, Ordering::SeqCst) + size;
        let r = Reservation {
            held: self.0.clone(),
            bytes: size,
        };
        let stored = ledger.stored_bytes()?;
        if stored.saturating_add(held) > limits.quota_bytes {
            return refuse(format!(
                "the store holds {stored} bytes and {} more are arriving; {size} more would pass its quota of {} bytes \
                 (coordinator.store_quota_bytes)",
                held - size,
                limits.quota_bytes
            ));
        }
        let free = free_bytes(dir)?;
        if free < held.saturating_add(limits.min_free_bytes) {
            return refuse(format!(
                "{} has {free} bytes free; {size} more (and {} arriving) would leave less than {} bytes \
                 (coordinator.min_free_disk_bytes)",
                dir.display(),
                held - size,
                limits.min_free_bytes
            ));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_quota_and_disk_are_each_enforced_and_reservations_released() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = Ledger::in_memory().expect("ledger");
        let res = Reservations::default();
        let lim = StoreLimits {
            max_artifact_bytes: 100,
            quota_bytes: 150,
            min_free_bytes: 0,
        };
        let e = res.admit(&lim, &ledger, dir.path(), 101).unwrap_err();
        assert!(e.to_string().contains("max_artifact_bytes"), "{e}");
        let first = res.admit(&lim, &ledger, dir.path(), 100).expect("fits");
        let e = res.admit(&lim, &ledger, dir.path(), 60).unwrap_err();
        assert!(e.to_string().contains("store_quota_bytes"), "in flight counts: {e}");
        drop(first);
        res.admit(&lim, &ledger, dir.path(), 60).expect("released");
        ledger.add_artifact(&"a".repeat(64), 120, "log").expect("index");
        let e = res.admit(&lim, &ledger, dir.path(), 60).unwrap_err();
        assert!(e.to_string().contains("store_quota_bytes"), "stored counts: {e}");
        let disk = StoreLimits {
            min_free_bytes: u64::MAX / 2,
            ..StoreLimits::default()
        };
        let e = res.admit(&disk, &ledger, dir.path(), 1).unwrap_err();
        assert!(e.to_string().contains("min_free_disk_bytes"), "{e}");
        assert!(free_bytes(&dir.path().join("not/yet")).expect("parent's") > 0);
    }

    #[test]
    fn partial_files_are_removed_and_artifacts_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = "b".repeat(64);
        std::fs::write(dir.path().join(&id), b"kept").expect("write");
        std::fs::write(dir.path().join(format!("{id}.part-123-0")), b"left").expect("write");
        assert_eq!(remove_partials(dir.path()).expect("sweep"), 1);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from(id)]);
        assert_eq!(remove_partials(&dir.path().join("absent")).expect("no store yet"), 0);
    }
}

//! Artifact transfer over loopback, each repetition measuring every path back to back: the coordinator's bulk
//! channel and its gRPC streams (both hash, check and write the file on the receiving side, as in a sweep), against
//! the raw baselines of `raw.rs`.
use super::raw;
use super::sweep::{coordinator, target, TOKEN};
use forgebench_coordinator::{CoordError, Result};
use forgebench_proto::auth::BearerToken;
use forgebench_proto::bulk::BulkTarget;
use forgebench_proto::transfer::{download, upload};
use forgebench_proto::v1 as pb;
use forgebench_shared::content::id_of_bytes;
use forgebench_shared::rng::PortableRng;
use std::path::Path;
use std::time::{Duration, Instant};

/// Median seconds of each path.
#[derive(Debug, Clone, Copy)]
pub struct Transfer {
    /// Bytes moved per repetition.
    pub bytes: usize,
    /// Raw TCP, memory to memory.
    pub tcp: f64,
    /// Raw TCP, file to a new file.
    pub tcp_files: f64,
    /// SHA-256 of the bytes in memory (the check before content ids were BLAKE3).
    pub sha256: f64,
    /// BLAKE3 of the bytes in memory, as the receivers hash (the check on receipt).
    pub blake3: f64,
    /// Bulk channel upload and download.
    pub bulk: (f64, f64),
    /// gRPC UploadArtifact and DownloadArtifact.
    pub grpc: (f64, f64),
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Seconds of `f`, which must return a path holding `bytes` bytes; the path's folder is removed after.
async fn timed<F, Fut>(bytes: usize, f: F) -> Result<f64>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<std::path::PathBuf>>,
{
    let started = Instant::now();
    let path = f().await?;
    let secs = started.elapsed().as_secs_f64();
    let size = std::fs::metadata(&path).map_err(|e| CoordError::io(&path, e))?.len();
    if size != bytes as u64 {
        return Err(CoordError::Process(format!("moved {size} of {bytes} bytes")));
    }
    Ok(secs)
}

/// A `bytes`-long artifact written to `dir`, distinct per call (a store that holds an artifact skips its upload):
/// its bytes, its file and its header.
fn artifact(
    dir: &Path,
    rng: &mut PortableRng,
    bytes: usize,
    n: usize,
) -> Result<(Vec<u8>, std::path::PathBuf, pb::ArtifactHeader)> {
    let data: Vec<u8> = (0..bytes.div_ceil(8))
        .flat_map(|_| rng.next_u64().to_le_bytes())
        .take(bytes)
        .collect();
    let path = dir.join(format!("artifact-{n}.bin"));
    std::fs::write(&path, &data).map_err(|e| CoordError::io(&path, e))?;
    let header = pb::ArtifactHeader {
        content_id: id_of_bytes(&data),
        size: bytes as u64,
        role: "bench".into(),
    };
    Ok((data, path, header))
}

/// Measures `reps` repetitions of a `bytes`-long artifact in `dir`; returns the medians.
pub async fn measure(dir: &Path, bytes: usize, reps: usize) -> Result<Transfer> {
    let mut rng = PortableRng::new(20_240_601);
    std::fs::create_dir_all(dir).map_err(|e| CoordError::io(dir, e))?;
    let running = coordinator(&dir.join("coordinator"), vec![], Duration::from_secs(3)).await?;
    let token = BearerToken::new(TOKEN)?;
    let mut c = target(&running).worker(&token).await?;
    let port = running.bulk_addr().map(|a| a.port()).unwrap_or_default();
    let bulk = BulkTarget::new(&target(&running), port, &token)?;
    let mut m: [Vec<f64>; 8] = Default::default();
    for rep in 0..reps {
        // Two artifacts, one per path, so each upload moves every byte.
        let (data, bulk_src, bulk_header) = artifact(dir, &mut rng, bytes, 2 * rep)?;
        let (_, grpc_src, grpc_header) = artifact(dir, &mut rng, bytes, 2 * rep + 1)?;
        m[0].push(raw::memory(&data)?);
        m[1].push(raw::file_to_file(&bulk_src, &dir.join("raw-copy"))?);
        m[2].push(raw::sha256(&data));
        m[7].push(raw::blake3(&data));
        m[3].push(
            timed(bytes, || async {
                bulk.upload(&bulk_src, bulk_header.clone())
                    .await
                    .map(|_| bulk_src.clone())
                    .map_err(Into::into)
            })
            .await?,
        );
        let into = dir.join(format!("bulk-{rep}"));
        m[4].push(
            timed(bytes, || async {
                Ok(bulk.download(&bulk_header.content_id, &into).await?)
            })
            .await?,
        );
        m[5].push(
            timed(bytes, || async {
                upload(&mut c, &grpc_src, grpc_header.clone())
                    .await
                    .map(|_| grpc_src.clone())
                    .map_err(Into::into)
            })
            .await?,
        );
        let into_grpc = dir.join(format!("grpc-{rep}"));
        m[6].push(
            timed(bytes, || async {
                Ok(download(&mut c, &grpc_header.content_id, &into_grpc).await?)
            })
            .await?,
        );
        for d in [&into, &into_grpc] {
            std::fs::remove_dir_all(d).map_err(|e| CoordError::io(d, e))?;
        }
        for f in [&bulk_src, &grpc_src] {
            std::fs::remove_file(f).map_err(|e| CoordError::io(f, e))?;
        }
    }
    drop(c);
    running.shutdown().await?;
    let [tcp, files, sha, bu, bd, gu, gd, b3] = m.map(median);
    Ok(Transfer {
        bytes,
        tcp,
        tcp_files: files,
        sha256: sha,
        blake3: b3,
        bulk: (bu, bd),
        grpc: (gu, gd),
    })
}

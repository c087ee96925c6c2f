//! Artifact transfer over loopback: the coordinator's checked, chunked UploadArtifact and DownloadArtifact (hashing,
//! writing and syncing the file on the receiving side, as in a sweep) against a raw TCP copy of the same bytes
//! from memory to memory, each repetition measuring all three back to back.
use super::sweep::{coordinator, target, TOKEN};
use forgebench_coordinator::{CoordError, Result};
use forgebench_proto::auth::BearerToken;
use forgebench_proto::transfer::{download, upload};
use forgebench_proto::v1 as pb;
use forgebench_shared::rng::PortableRng;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Median seconds of each path.
#[derive(Debug, Clone, Copy)]
pub struct Transfer {
    /// Bytes moved per repetition.
    pub bytes: usize,
    /// Raw TCP copy.
    pub tcp: f64,
    /// UploadArtifact.
    pub upload: f64,
    /// DownloadArtifact.
    pub download: f64,
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

/// Sends `data` from one loopback socket to another; seconds until the receiver has read every byte.
async fn tcp_copy(data: &[u8]) -> Result<f64> {
    let io = |e| CoordError::io("loopback socket", e);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(io)?;
    let addr = listener.local_addr().map_err(io)?;
    let receiver = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await?;
        let mut buf = vec![0u8; 256 << 10];
        let mut got = 0usize;
        loop {
            match s.read(&mut buf).await? {
                0 => return Ok::<usize, std::io::Error>(got),
                n => got += n,
            }
        }
    });
    let started = Instant::now();
    let mut s = tokio::net::TcpStream::connect(addr).await.map_err(io)?;
    s.set_nodelay(true).map_err(io)?;
    s.write_all(data).await.map_err(io)?;
    s.shutdown().await.map_err(io)?;
    let got = receiver
        .await
        .map_err(|e| CoordError::Process(format!("tcp receiver: {e}")))?
        .map_err(io)?;
    let secs = started.elapsed().as_secs_f64();
    if got != data.len() {
        return Err(CoordError::Process(format!(
            "tcp copy moved {got} of {} bytes",
            data.len()
        )));
    }
    Ok(secs)
}

/// Measures `reps` repetitions of a `bytes`-long artifact in `dir`; returns the medians.
pub async fn measure(dir: &Path, bytes: usize, reps: usize) -> Result<Transfer> {
    let mut rng = PortableRng::new(20_240_601);
    let data: Vec<u8> = (0..bytes.div_ceil(8))
        .flat_map(|_| rng.next_u64().to_le_bytes())
        .take(bytes)
        .collect();
    let sha256 = hex::encode(Sha256::digest(&data));
    std::fs::create_dir_all(dir).map_err(|e| CoordError::io(dir, e))?;
    let src = dir.join("artifact.bin");
    std::fs::write(&src, &data).map_err(|e| CoordError::io(&src, e))?;
    let running = coordinator(&dir.join("coordinator"), vec![], Duration::from_secs(3)).await?;
    let mut c = target(&running).worker(&BearerToken::new(TOKEN)?).await?;
    let (mut tcp, mut up, mut down) = (Vec::new(), Vec::new(), Vec::new());
    for rep in 0..reps {
        tcp.push(tcp_copy(&data).await?);
        let header = pb::ArtifactHeader {
            sha256: sha256.clone(),
            size: bytes as u64,
            role: "bench".into(),
        };
        // Later repetitions find the bytes present, but the coordinator still receives, hashes and writes them all.
        let started = Instant::now();
        let r = upload(&mut c, &src, header).await?;
        up.push(started.elapsed().as_secs_f64());
        if r.sha256 != sha256 {
            return Err(CoordError::Process(format!("upload stored {}", r.sha256)));
        }
        let into = dir.join(format!("download-{rep}"));
        let started = Instant::now();
        let path = download(&mut c, &sha256, &into).await?;
        down.push(started.elapsed().as_secs_f64());
        let size = std::fs::metadata(&path).map_err(|e| CoordError::io(&path, e))?.len();
        if size != bytes as u64 {
            return Err(CoordError::Process(format!("downloaded {size} of {bytes} bytes")));
        }
        std::fs::remove_dir_all(&into).map_err(|e| CoordError::io(&into, e))?;
    }
    drop(c);
    running.shutdown().await?;
    Ok(Transfer {
        bytes,
        tcp: median(tcp),
        upload: median(up),
        download: median(down),
    })
}

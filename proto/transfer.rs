//! Chunked, content-addressed artifact transfer: files are named by the BLAKE3 hash of their bytes (their content id, see
//! `forgebench_shared::content`), sent as a header
//! followed by chunks, and checked on receipt (hash and size) before they take their final name.
use crate::client::WorkerClient;
use crate::error::ProtoError;
use crate::v1::{artifact_chunk::Part, ArtifactChunk, ArtifactHeader, DownloadRequest, UploadResponse};
use forgebench_shared::content::ContentHasher;
use std::path::{Path, PathBuf};
use tokio_stream::{Stream, StreamExt};

/// Bytes per chunk: well under the smallest message limit a config may set (1 MiB).
pub const CHUNK_BYTES: usize = 256 << 10;

/// Checks that `id` is a content id (64 lower-case hex digits), so it is also safe as a file name.
pub fn check_id(id: &str) -> Result<(), ProtoError> {
    if forgebench_shared::content::is_content_id(id) {
        Ok(())
    } else {
        Err(ProtoError::Invalid {
            field: "content_id",
            problem: format!("{id:?} is not a content id (64 lower-case hex digits of BLAKE3)"),
        })
    }
}

/// Where a receiver writes before the bytes are checked: unique per process and call, so two uploads of the same
/// artifact at once never write into one file.
pub fn part_path(dir: &Path, content_id: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("{content_id}.part-{}-{n}", std::process::id()))
}

/// Sends `path` (announced as `header`) as chunks on a channel the caller turns into a request stream.
pub fn chunks_of(path: PathBuf, header: ArtifactHeader) -> tokio_stream::wrappers::ReceiverStream<ArtifactChunk> {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    // Plain blocking reads on a blocking thread: tokio's file type would hop threads for every chunk.
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let send = |part| tx.blocking_send(ArtifactChunk { part: Some(part) }).is_ok();
        if !send(Part::Header(header)) {
            return;
        }
        // A read error ends the stream early; the receiver then rejects the short upload by its size.
        let Ok(mut f) = std::fs::File::open(&path) else {
            return;
        };
        loop {
            let mut buf = vec![0u8; CHUNK_BYTES];
            let mut n = 0;
            while n < CHUNK_BYTES {
                match f.read(&mut buf[n..]) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => return,
                }
            }
            if n == 0 {
                return;
            }
            buf.truncate(n);
            if !send(Part::Data(buf.into())) || n < CHUNK_BYTES {
                return;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// Uploads a file whose content id and size are known.
pub async fn upload(
    client: &mut WorkerClient,
    path: &Path,
    header: ArtifactHeader,
) -> Result<UploadResponse, ProtoError> {
    let stream = chunks_of(path.to_path_buf(), header);
    Ok(client
        .upload_artifact(stream)
        .await
        .map_err(|s| ProtoError::status("upload artifact", s))?
        .into_inner())
}

/// Downloads artifact `id` into `dir/<id>` (kept when already there) and returns its path.
pub async fn download(client: &mut WorkerClient, id: &str, dir: &Path) -> Result<PathBuf, ProtoError> {
    check_id(id)?;
    let dest = dir.join(id);
    if tokio::fs::try_exists(&dest).await.unwrap_or(false) {
        return Ok(dest);
    }
    let stream = client
        .download_artifact(DownloadRequest {
            content_id: id.to_owned(),
        })
        .await
        .map_err(|s| ProtoError::status("download artifact", s))?
        .into_inner();
    let (header, path, _) = receive(
        stream.map(|r| r.map_err(|s| ProtoError::status("download artifact", s))),
        dir,
    )
    .await?;
    if header.content_id != id {
        return Err(ProtoError::Corrupt {
            id: id.to_owned(),
            problem: format!("the coordinator sent {}", header.content_id),
        });
    }
    Ok(path)
}

/// Receives a header and chunks into `dir/<content_id>`, verifying size and hash first; the partial file is removed on
/// any failure. Returns the header, the final path and whether the bytes were already present.
pub async fn receive<S>(mut stream: S, dir: &Path) -> Result<(ArtifactHeader, PathBuf, bool), ProtoError>
where
    S: Stream<Item = Result<ArtifactChunk, ProtoError>> + Unpin,
{
    let header = match stream.next().await.transpose()?.and_then(|c| c.part) {
        Some(Part::Header(h)) => h,
        _ => return Err(ProtoError::Missing("artifact header (the first chunk)")),
    };
    check_id(&header.content_id)?;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| ProtoError::io(dir, e))?;
    let dest = dir.join(&header.content_id);
    let part = part_path(dir, &header.content_id);
    let result = write_checked(&mut stream, &header, &part).await;
    if let Err(e) = result {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(e);
    }
    let existed = tokio::fs::try_exists(&dest).await.unwrap_or(false);
    tokio::fs::rename(&part, &dest)
        .await
        .map_err(|e| ProtoError::io(&dest, e))?;
    Ok((header, dest, existed))
}

async fn write_checked<S>(stream: &mut S, header: &ArtifactHeader, part: &Path) -> Result<(), ProtoError>
where
    S: Stream<Item = Result<ArtifactChunk, ProtoError>> + Unpin,
{
    let corrupt = |problem: String| ProtoError::Corrupt {
        id: header.content_id.clone(),
        problem,
    };
    // Hashing and writing run on a blocking thread, overlapped with receiving the next chunks.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<prost::bytes::Bytes>(16);
    let path = part.to_path_buf();
    let writer = tokio::task::spawn_blocking(move || -> Result<String, ProtoError> {
        use std::io::Write;
        let f = std::fs::File::create(&path).map_err(|e| ProtoError::io(&path, e))?;
        let mut f = std::io::BufWriter::with_capacity(1 << 20, f);
        let mut hasher = ContentHasher::new();
        while let Some(data) = rx.blocking_recv() {
            hasher.update(&data);
            f.write_all(&data).map_err(|e| ProtoError::io(&path, e))?;
        }
        // No fsync: like the ledger (WAL, synchronous = NORMAL) the store survives a killed process, and only a
        // power loss may drop the newest files, which a download would then refuse by their hash.
        f.flush().map_err(|e| ProtoError::io(&path, e))?;
        Ok(hasher.finish())
    });
    let mut size = 0u64;
    let mut failed = None;
    while let Some(chunk) = stream.next().await {
        let data = match chunk.map(|c| c.part) {
            Ok(Some(Part::Data(d))) => d,
            Ok(_) => {
                failed = Some(corrupt("a second header in the stream".into()));
                break;
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        };
        size += data.len() as u64;
        if size > header.size {
            failed = Some(corrupt(format!("more than the announced {} bytes", header.size)));
            break;
        }
        if tx.send(data).await.is_err() {
            break;
        }
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| corrupt(format!("the writer thread failed: {e}")))?;
    if let Some(e) = failed {
        return Err(e);
    }
    let got = written?;
    if size != header.size {
        return Err(corrupt(format!("{size} bytes received, {} announced", header.size)));
    }
    if got != header.content_id {
        return Err(corrupt(format!("the bytes hash to {got}")));
    }
    Ok(())
}

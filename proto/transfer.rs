//! Chunked, content-addressed artifact transfer: files are named by the sha256 of their bytes, sent as a header
//! followed by chunks, and checked on receipt (hash and size) before they take their final name.
use crate::client::WorkerClient;
use crate::error::ProtoError;
use crate::v1::{artifact_chunk::Part, ArtifactChunk, ArtifactHeader, DownloadRequest, UploadResponse};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::{Stream, StreamExt};

/// Bytes per chunk: well under the smallest message limit a config may set (1 MiB).
pub const CHUNK_BYTES: usize = 256 << 10;

/// Checks that `id` is a lower-case sha256 in hex, so it is also safe as a file name.
pub fn check_id(id: &str) -> Result<(), ProtoError> {
    if id.len() == 64 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(())
    } else {
        Err(ProtoError::Invalid {
            field: "sha256",
            problem: format!("{id:?} is not a lower-case hex sha256"),
        })
    }
}

/// Sends `path` (announced as `header`) as chunks on a channel the caller turns into a request stream.
pub fn chunks_of(path: PathBuf, header: ArtifactHeader) -> tokio_stream::wrappers::ReceiverStream<ArtifactChunk> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        if tx
            .send(ArtifactChunk {
                part: Some(Part::Header(header)),
            })
            .await
            .is_err()
        {
            return;
        }
        // A read error ends the stream early; the receiver then rejects the short upload by its size.
        let Ok(mut f) = tokio::fs::File::open(&path).await else {
            return;
        };
        loop {
            let mut buf = vec![0u8; CHUNK_BYTES];
            let n = match f.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buf.truncate(n);
            if tx
                .send(ArtifactChunk {
                    part: Some(Part::Data(buf)),
                })
                .await
                .is_err()
            {
                return;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// Uploads a file whose sha256 and size are known.
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
        .download_artifact(DownloadRequest { sha256: id.to_owned() })
        .await
        .map_err(|s| ProtoError::status("download artifact", s))?
        .into_inner();
    let (header, path, _) = receive(
        stream.map(|r| r.map_err(|s| ProtoError::status("download artifact", s))),
        dir,
    )
    .await?;
    if header.sha256 != id {
        return Err(ProtoError::Corrupt {
            id: id.to_owned(),
            problem: format!("the coordinator sent {}", header.sha256),
        });
    }
    Ok(path)
}

/// Receives a header and chunks into `dir/<sha256>`, verifying size and hash first; the partial file is removed on
/// any failure. Returns the header, the final path and whether the bytes were already present.
pub async fn receive<S>(mut stream: S, dir: &Path) -> Result<(ArtifactHeader, PathBuf, bool), ProtoError>
where
    S: Stream<Item = Result<ArtifactChunk, ProtoError>> + Unpin,
{
    let header = match stream.next().await.transpose()?.and_then(|c| c.part) {
        Some(Part::Header(h)) => h,
        _ => return Err(ProtoError::Missing("artifact header (the first chunk)")),
    };
    check_id(&header.sha256)?;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| ProtoError::io(dir, e))?;
    let dest = dir.join(&header.sha256);
    let part = dir.join(format!("{}.part-{}", header.sha256, std::process::id()));
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
        id: header.sha256.clone(),
        problem,
    };
    let mut f = tokio::fs::File::create(part)
        .await
        .map_err(|e| ProtoError::io(part, e))?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let data = match chunk?.part {
            Some(Part::Data(d)) => d,
            _ => return Err(corrupt("a second header in the stream".into())),
        };
        size += data.len() as u64;
        if size > header.size {
            return Err(corrupt(format!("more than the announced {} bytes", header.size)));
        }
        hasher.update(&data);
        f.write_all(&data).await.map_err(|e| ProtoError::io(part, e))?;
    }
    f.flush().await.map_err(|e| ProtoError::io(part, e))?;
    f.sync_all().await.map_err(|e| ProtoError::io(part, e))?;
    if size != header.size {
        return Err(corrupt(format!("{size} bytes received, {} announced", header.size)));
    }
    let got = hex::encode(hasher.finalize());
    if got != header.sha256 {
        return Err(corrupt(format!("the bytes hash to {got}")));
    }
    Ok(())
}

//! The bulk channel against a real coordinator on loopback: round trips that agree with the gRPC path, the
//! advertised port, and refusals (corrupt bytes, short streams, a wrong token, garbage, unknown artifacts) that
//! store nothing and leave the coordinator serving.
mod common;

use common::*;
use forgebench_proto::auth::BearerToken;
use forgebench_proto::bulk::BulkTarget;
use forgebench_proto::transfer::download;
use forgebench_proto::v1 as pb;
use forgebench_proto::PROTOCOL_VERSION;
use forgebench_shared::content::id_of_bytes;
use forgebench_shared::profile::DeviceProfile;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

fn bulk(running: &forgebench_coordinator::server::Running, token: &str) -> BulkTarget {
    let port = running.bulk_addr().expect("the bulk channel is on").port();
    BulkTarget::new(&target(running), port, &BearerToken::new(token).expect("token")).expect("target")
}

fn artifact(dir: &Path, name: &str, bytes: &[u8]) -> (std::path::PathBuf, pb::ArtifactHeader) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    let header = pb::ArtifactHeader {
        content_id: id_of_bytes(bytes),
        size: bytes.len() as u64,
        role: "repro-log".into(),
    };
    (path, header)
}

/// Files in the store other than finished artifacts (partial files are removed by the connection's thread).
async fn leftovers(store: &Path) -> Vec<String> {
    for _ in 0..200 {
        let names: Vec<String> = std::fs::read_dir(store)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let parts: Vec<String> = names.into_iter().filter(|n| n.contains(".part-")).collect();
        if parts.is_empty() {
            return parts;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    vec!["partial files stayed".into()]
}

#[tokio::test]
async fn registration_advertises_the_bulk_port_and_bytes_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (coord, running) = coordinator(dir.path(), 5_000, 3).await;
    let mut c = client(&running, TOKEN).await;
    let req = pb::RegisterRequest {
        protocol_version: PROTOCOL_VERSION,
        profile: Some((&DeviceProfile::cpu("cpu-avx2")).into()),
        fingerprint: Some((&fingerprint("cpu-avx2")).into()),
        worker_name: "bulk-worker".into(),
    };
    let r = c.register(req).await.expect("register").into_inner();
    assert_eq!(r.bulk_port, running.bulk_addr().expect("on").port() as u32);
    let data: Vec<u8> = (0..(5 << 20) + 3)
        .map(|i: usize| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
        .collect();
    let (path, header) = artifact(dir.path(), "a.bin", &data);
    let b = bulk(&running, TOKEN);
    let up = b.upload(&path, header.clone()).await.expect("bulk upload");
    assert!(!up.already_present);
    assert_eq!(
        coord.ledger().artifact_size(&header.content_id).expect("index"),
        Some(header.size)
    );
    assert!(b.upload(&path, header.clone()).await.expect("again").already_present);
    let got = b
        .download(&header.content_id, &dir.path().join("bulk-dl"))
        .await
        .expect("bulk download");
    assert_eq!(std::fs::read(got).expect("read"), data);
    // The gRPC path serves what the bulk channel stored, and the other way round.
    let via_grpc = download(&mut c, &header.content_id, &dir.path().join("grpc-dl"))
        .await
        .expect("gRPC download");
    assert_eq!(std::fs::read(via_grpc).expect("read"), data);
    let (small, small_header) = artifact(dir.path(), "b.bin", b"seven");
    forgebench_proto::transfer::upload(&mut c, &small, small_header.clone())
        .await
        .expect("gRPC upload");
    let back = b
        .download(&small_header.content_id, &dir.path().join("bulk-dl"))
        .await
        .expect("bulk download");
    assert_eq!(std::fs::read(back).expect("read"), b"seven");
    running.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn corrupt_short_and_unauthenticated_uploads_store_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (coord, running) = coordinator(dir.path(), 5_000, 3).await;
    let good = vec![3u8; (1 << 20) + 11];
    let (file, header) = artifact(dir.path(), "good.bin", &good);
    let mut bad = good.clone();
    bad[1 << 19] ^= 1;
    let (bad_file, _) = artifact(dir.path(), "bad.bin", &bad);
    let b = bulk(&running, TOKEN);
    let e = b.upload(&bad_file, header.clone()).await.unwrap_err();
    assert_eq!(e.code(), Some(tonic::Code::DataLoss), "{e}");
    assert!(e.to_string().contains("hash to"), "{e}");
    let short = pb::ArtifactHeader {
        size: header.size + 1,
        ..header.clone()
    };
    let e = b.upload(&file, short).await.unwrap_err();
    assert!(
        e.to_string().contains("shorter than its"),
        "the sender names its short file: {e}"
    );
    let e = bulk(&running, "not-the-token")
        .upload(&file, header.clone())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(tonic::Code::Unauthenticated), "{e}");
    assert!(!e.to_string().contains(TOKEN), "the token is not echoed: {e}");
    let store = dir.path().join("artifacts");
    assert_eq!(leftovers(&store).await, Vec::<String>::new());
    assert_eq!(
        coord.ledger().artifact_size(&header.content_id).expect("index"),
        None,
        "nothing was recorded"
    );
    assert!(!store.join(&header.content_id).exists(), "nothing was stored");
    let e = b
        .download(&header.content_id, &dir.path().join("dl"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(tonic::Code::NotFound), "{e}");
    b.upload(&file, header).await.expect("the right bytes are accepted");
    running.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn garbage_on_the_bulk_port_is_answered_and_harms_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_coord, running) = coordinator(dir.path(), 5_000, 3).await;
    let addr = running.bulk_addr().expect("on");
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
        let mut out = Vec::new();
        s.read_to_end(&mut out).expect("read");
        out
    })
    .await
    .expect("thread");
    assert_eq!(answer.first(), Some(&11u8), "INVALID: {answer:?}");
    assert!(String::from_utf8_lossy(&answer).contains("bad magic"));
    // A peer that connects and hangs up at once does not disturb the next upload either.
    drop(std::net::TcpStream::connect(addr).expect("connect"));
    let (file, header) = artifact(dir.path(), "a.bin", b"after the garbage");
    bulk(&running, TOKEN)
        .upload(&file, header)
        .await
        .expect("still serving");
    running.shutdown().await.expect("shutdown");
}

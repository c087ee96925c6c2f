//! TLS (rustls): a coordinator serving a self-signed certificate accepts a worker that trusts it, on gRPC and on
//! the bulk channel, and a client that speaks plain text to either gets nowhere.
mod common;

use common::*;
use forgebench_coordinator::ledger::Ledger;
use forgebench_coordinator::server::start;
use forgebench_coordinator::service::Coordinator;
use forgebench_proto::auth::BearerToken;
use forgebench_proto::bulk::BulkTarget;
use forgebench_proto::client::Target;
use forgebench_proto::v1 as pb;
use forgebench_shared::config::TlsConfig;
use forgebench_shared::content::id_of_bytes;
use forgebench_shared::profile::DeviceProfile;

#[tokio::test]
async fn tls_cluster_registers_a_worker_that_trusts_its_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.signing_key.serialize_pem());
    let tls = TlsConfig {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
        ca: None,
        domain: "localhost".into(),
    };
    std::fs::write(&tls.cert, &cert_pem).expect("cert");
    std::fs::write(&tls.key, &key_pem).expect("key");
    let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).expect("ledger");
    let mut st = settings(dir.path(), 5_000, 3);
    st.dashboard_port = Some(0);
    let coord = Coordinator::new(ledger, st);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let running = start(coord.clone(), listener, TOKEN, Some(&tls), 1 << 20)
        .await
        .expect("serve with TLS");
    dashboard_over_tls(&running, cert_pem.as_bytes()).await;
    let token = BearerToken::new(TOKEN).expect("token");
    let target = Target {
        address: format!("localhost:{}", running.addr().port()),
        tls_ca: Some(cert_pem.into_bytes()),
        tls_domain: "localhost".into(),
        max_message_bytes: 1 << 20,
    };
    let mut c = target.worker(&token).await.expect("TLS connect");
    let id = register(&mut c, &DeviceProfile::cpu("cpu-avx2"), "tls-worker")
        .await
        .expect("registered over TLS");
    assert!(!id.is_empty());
    assert_eq!(coord.ledger().workers().expect("workers").len(), 1);
    let plain = Target::plain(running.addr().to_string());
    let refused = match plain.worker(&token).await {
        Err(_) => true,
        Ok(mut c) => register(&mut c, &DeviceProfile::cpu("cpu-avx2"), "plain")
            .await
            .is_err(),
    };
    assert!(refused, "a plain-text client is not served");
    assert_eq!(
        coord.ledger().workers().expect("workers").len(),
        1,
        "only the TLS worker registered"
    );
    let bytes = vec![9u8; (2 << 20) + 1];
    let file = dir.path().join("a.bin");
    std::fs::write(&file, &bytes).expect("write");
    let header = pb::ArtifactHeader {
        content_id: id_of_bytes(&bytes),
        size: bytes.len() as u64,
        role: "repro-log".into(),
    };
    let port = running.bulk_addr().expect("bulk channel").port();
    let b = BulkTarget::new(&target, port, &token).expect("bulk target");
    b.upload(&file, header.clone()).await.expect("bulk upload over TLS");
    let back = b
        .download(&header.content_id, &dir.path().join("dl"))
        .await
        .expect("bulk download over TLS");
    assert_eq!(std::fs::read(back).expect("read"), bytes);
    let plain_bulk = BulkTarget::new(&plain, port, &token).expect("plain target");
    assert!(
        plain_bulk
            .download(&header.content_id, &dir.path().join("dl-plain"))
            .await
            .is_err(),
        "a plain-text bulk client is not served"
    );
    running.shutdown().await.expect("shutdown");
}

/// The dashboard speaks TLS with the coordinator's certificate and its session cookie is marked Secure.
async fn dashboard_over_tls(running: &forgebench_coordinator::server::Running, ca: &[u8]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let d = running.dashboard().expect("dashboard");
    assert!(d.url.starts_with("https://"), "{}", d.url);
    let config = forgebench_proto::bulk::tls::client_config(ca).expect("client config");
    let connector = tokio_rustls::TlsConnector::from(config);
    let tcp = tokio::net::TcpStream::connect(d.addr).await.expect("connect");
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut s = connector
        .connect(name, tcp)
        .await
        .expect("TLS handshake with the dashboard");
    let path = &d.url[d.url.find("/?").expect("query")..];
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).await.expect("read");
    assert!(text.starts_with("HTTP/1.1 303"), "{text}");
    assert!(text.to_lowercase().contains("; secure"), "a Secure cookie: {text}");
}

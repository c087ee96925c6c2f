//! The coordinator's end of the bulk channel (protocol in `forgebench_proto::bulk`): an accept loop on the async
//! reactor, and one blocking thread per connection that authenticates within a deadline (before it may hold a
//! transfer slot), then receives into or sends from the artifact store. Uploads are checked by size and content id (BLAKE3) before they enter the store and the ledger's index.
use crate::error::{CoordError, Result};
use crate::gate::{Gate, Limits, FIRST_BYTES_DEADLINE};
use crate::service::Coordinator;
use forgebench_proto::auth::TokenCheck;
use forgebench_proto::bulk::stream::{receive, send_file};
use forgebench_proto::bulk::tls::{Conn, ServerConfig};
use forgebench_proto::bulk::{Answer, Code, Op, Request};
use forgebench_proto::transfer::check_id;
use forgebench_proto::ProtoError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// An authenticated peer silent for this long is dropped, so a stuck client cannot hold a thread.
const IO_TIMEOUT: Duration = Duration::from_secs(120);
/// Transfers at once (authenticated connections); more wait for a place.
const MAX_TRANSFERS: usize = 64;
/// Connections not yet authenticated, in all and per peer address: each lives at most
/// [`FIRST_BYTES_DEADLINE`] and holds no transfer slot; over a cap a new one is closed at once.
const PENDING: Limits = Limits {
    total: 1024,
    per_peer: 256,
};

/// Accepts connections until `stop` resolves; connections in flight finish on their own threads.
pub async fn serve(
    coord: Coordinator,
    listener: TcpListener,
    check: TokenCheck,
    tls: Option<Arc<ServerConfig>>,
    stop: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(MAX_TRANSFERS));
    let pending = Gate::new(PENDING);
    tokio::pin!(stop);
    loop {
        let (sock, peer) = tokio::select! {
            _ = &mut stop => return,
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "bulk accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(pass) = pending.enter(peer.ip()) else {
            tracing::warn!(%peer, "bulk connection refused: too many unauthenticated connections");
            continue;
        };
        let Ok(sock) = sock.into_std() else { continue };
        let authed = Arc::new(AtomicBool::new(false));
        // The deadline covers the TLS handshake and the whole request header, however slowly it trickles in.
        if let Ok(watched) = sock.try_clone() {
            let authed = authed.clone();
            tokio::spawn(async move {
                tokio::time::sleep(FIRST_BYTES_DEADLINE).await;
                if !authed.load(Ordering::SeqCst) {
                    let _ = watched.shutdown(std::net::Shutdown::Both);
                }
            });
        }
        let (coord, check, tls, slots) = (coord.clone(), check.clone(), tls.clone(), slots.clone());
        let rt = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let admitted = Admitted {
                pass: Some(pass),
                authed,
                slots,
                rt,
            };
            if let Err(e) = connection(&coord, sock, &check, tls.as_ref(), admitted) {
                tracing::warn!(%peer, error = %e, "bulk connection failed");
            }
        });
    }
}

/// A connection's standing: unauthenticated (holding a pending place) until the token checks, then holding a
/// transfer slot.
struct Admitted {
    pass: Option<crate::gate::Pass>,
    authed: Arc<AtomicBool>,
    slots: Arc<Semaphore>,
    rt: tokio::runtime::Handle,
}

impl Admitted {
    /// Marks the connection authenticated: it leaves the pending count, and waits for a transfer slot.
    fn authenticated(&mut self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.authed.store(true, Ordering::SeqCst);
        self.pass = None;
        self.rt.block_on(self.slots.clone().acquire_owned()).ok()
    }
}

fn connection(
    coord: &Coordinator,
    sock: std::net::TcpStream,
    check: &TokenCheck,
    tls: Option<&Arc<ServerConfig>>,
    mut admitted: Admitted,
) -> Result<()> {
    let peer = sock
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "peer".into());
    let net = |e| ProtoError::bulk(&peer, e);
    sock.set_nonblocking(false).map_err(net)?;
    sock.set_nodelay(true).map_err(net)?;
    // Until the token checks, the watchdog in `serve` bounds the connection; then the I/O timeout does.
    sock.set_read_timeout(Some(IO_TIMEOUT)).map_err(net)?;
    sock.set_write_timeout(Some(IO_TIMEOUT)).map_err(net)?;
    let mut conn = Conn::server(sock, tls)?;
    let req = match Request::read(&mut conn).map_err(net)? {
        Ok(r) => r,
        Err(e) => return refuse(&mut conn, &peer, Code::Invalid, e.to_string()),
    };
    if !check.accepts(&req.token) {
        return refuse(&mut conn, &peer, Code::Unauthenticated, "wrong cluster token".into());
    }
    let Some(_slot) = admitted.authenticated() else {
        return Ok(());
    };
    if let Err(e) = check_id(&req.content_id) {
        return refuse(&mut conn, &peer, Code::Invalid, e.to_string());
    }
    let span = tracing::info_span!("bulk", %peer, op = ?req.op, artifact = %req.content_id);
    let _enter = span.enter();
    let answer = match req.op {
        Op::Put => put(coord, &mut conn, &peer, &req),
        Op::Get => get(coord, &mut conn, &peer, &req),
    };
    match answer {
        Ok(Some(a)) => a.write(&mut conn).map_err(net)?,
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "bulk transfer refused");
            let code = match e {
                CoordError::Proto(ProtoError::Corrupt { .. }) => Code::Corrupt,
                CoordError::Exhausted(_) => Code::Exhausted,
                // The socket is gone (or the bytes already started): nothing more can be said on it.
                CoordError::Proto(ProtoError::Bulk { .. }) => return Err(e),
                _ => Code::Internal,
            };
            Answer::new(code, e.to_string()).write(&mut conn).map_err(net)?;
            conn.close_after_refusal();
            return Ok(());
        }
    }
    conn.finish();
    Ok(())
}

fn refuse(conn: &mut Conn, peer: &str, code: Code, why: String) -> Result<()> {
    tracing::warn!(%peer, ?code, reason = %why, "bulk request refused");
    Answer::new(code, why)
        .write(conn)
        .map_err(|e| ProtoError::bulk(peer, e))?;
    conn.close_after_refusal();
    Ok(())
}

/// Receives an upload; the final answer says whether the store already held it.
fn put(coord: &Coordinator, conn: &mut Conn, peer: &str, req: &Request) -> Result<Option<Answer>> {
    let dir = &coord.settings().artifacts_dir;
    // Content addressing makes a second copy pointless: bytes the store holds were checked when they arrived.
    let held = std::fs::metadata(dir.join(&req.content_id)).is_ok_and(|m| m.len() == req.size);
    if held && coord.ledger().artifact_size(&req.content_id)? == Some(req.size) {
        return Ok(Some(Answer::new(Code::Present, "")));
    }
    let _space = coord.admit_upload(req.size)?;
    Answer::new(Code::Ready, "")
        .write(conn)
        .map_err(|e| ProtoError::bulk(peer, e))?;
    let (_, existed) = receive(conn, peer, &req.content_id, req.size, dir)?;
    coord.ledger().add_artifact(&req.content_id, req.size, &req.role)?;
    tracing::debug!(bytes = req.size, existed, "artifact stored");
    Ok(Some(Answer::new(
        if existed { Code::Present } else { Code::Stored },
        "",
    )))
}

/// Sends a stored artifact after a READY that carries its size.
fn get(coord: &Coordinator, conn: &mut Conn, peer: &str, req: &Request) -> Result<Option<Answer>> {
    let Some(size) = coord.ledger().artifact_size(&req.content_id)? else {
        return Ok(Some(Answer::new(
            Code::NotFound,
            format!("artifact {}", req.content_id),
        )));
    };
    let path = coord.settings().artifacts_dir.join(&req.content_id);
    let on_disk = std::fs::metadata(&path).map_err(|e| CoordError::io(&path, e))?.len();
    if on_disk != size {
        return Err(CoordError::DataLoss(format!(
            "artifact {}: the store holds {on_disk} bytes, the index {size}",
            req.content_id
        )));
    }
    let ready = Answer {
        code: Code::Ready,
        message: String::new(),
        size,
    };
    ready.write(conn).map_err(|e| ProtoError::bulk(peer, e))?;
    // After READY only bytes may follow: a failure now closes the socket, and the client refuses the short copy.
    send_file(conn, peer, &path, size).map_err(|e| match e {
        ProtoError::Io { error, .. } => ProtoError::bulk(peer, error),
        other => other,
    })?;
    Ok(None)
}

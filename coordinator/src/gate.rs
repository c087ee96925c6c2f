//! Connection admission for both of the coordinator's ports: caps on open connections in all and per peer
//! address, and a deadline by which a new connection must have sent its first bytes (gRPC) or authenticated (the
//! bulk channel). Idle or silent sockets are closed instead of holding a slot, so a crowd of them cannot stall a
//! sweep.
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// A new connection must send bytes (gRPC) or authenticate (bulk) within this long.
pub const FIRST_BYTES_DEADLINE: Duration = Duration::from_secs(5);

/// How many connections a gate lets in.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// In all.
    pub total: usize,
    /// From one peer address.
    pub per_peer: usize,
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_peer: HashMap<IpAddr, usize>,
}

/// Counts open connections against [`Limits`]; cheap to clone.
#[derive(Clone)]
pub struct Gate {
    limits: Limits,
    counts: Arc<Mutex<Counts>>,
}

/// One admitted connection; dropping it frees its place.
pub struct Pass {
    peer: IpAddr,
    counts: Arc<Mutex<Counts>>,
}

impl Drop for Pass {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.total -= 1;
        if let Some(n) = c.by_peer.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                c.by_peer.remove(&self.peer);
            }
        }
    }
}

impl Gate {
    /// A gate with `limits`.
    pub fn new(limits: Limits) -> Gate {
        Gate {
            limits,
            counts: Arc::default(),
        }
    }

    /// Admits a connection from `peer`, or `None` when a cap is reached (the caller closes it at once).
    pub fn enter(&self, peer: IpAddr) -> Option<Pass> {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let mine = c.by_peer.get(&peer).copied().unwrap_or(0);
        if c.total >= self.limits.total || mine >= self.limits.per_peer {
            return None;
        }
        c.total += 1;
        c.by_peer.insert(peer, mine + 1);
        Some(Pass {
            peer,
            counts: self.counts.clone(),
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

/// A gRPC connection: holds its [`Pass`] and fails its reads when no byte arrived within
/// [`FIRST_BYTES_DEADLINE`] of the accept, which makes the HTTP/2 server drop it.
pub struct Guarded {
    inner: TcpStream,
    _pass: Pass,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Guarded {
    /// Wraps an accepted stream.
    pub fn new(inner: TcpStream, pass: Pass) -> Guarded {
        Guarded {
            inner,
            _pass: pass,
            deadline: Some(Box::pin(tokio::time::sleep(FIRST_BYTES_DEADLINE))),
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let me = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut me.inner).poll_read(cx, buf);
        if let Some(d) = me.deadline.as_mut() {
            match &r {
                Poll::Ready(Ok(())) if buf.filled().len() > before => me.deadline = None,
                Poll::Pending if d.as_mut().poll(cx).is_ready() => {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "no bytes within the first-bytes deadline",
                    )))
                }
                _ => {}
            }
        }
        r
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl Connected for Guarded {
    type ConnectInfo = TcpConnectInfo;
    fn connect_info(&self) -> TcpConnectInfo {
        self.inner.connect_info()
    }
}

/// gRPC connections accepted from a listener through a gate (over a cap: closed at once) with TCP_NODELAY, which
/// tonic does not set on a listener it is handed (every small reply would wait ~40 ms on Nagle's algorithm).
/// Dropping it closes the listener.
pub struct Incoming {
    listener: tokio::net::TcpListener,
    gate: Gate,
    /// A pause after a failed accept (out of file descriptors, say), so the loop does not spin.
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Incoming {
    /// Connections of `listener` through `gate`.
    pub fn new(listener: tokio::net::TcpListener, gate: Gate) -> Incoming {
        Incoming {
            listener,
            gate,
            pause: None,
        }
    }
}

impl tokio_stream::Stream for Incoming {
    type Item = std::io::Result<Guarded>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let me = self.get_mut();
        loop {
            if let Some(p) = me.pause.as_mut() {
                if p.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                me.pause = None;
            }
            match me.listener.poll_accept(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    tracing::warn!(error = %e, "gRPC accept failed");
                    me.pause = Some(Box::pin(tokio::time::sleep(Duration::from_millis(50))));
                }
                Poll::Ready(Ok((sock, peer))) => {
                    let Some(pass) = me.gate.enter(peer.ip()) else {
                        tracing::warn!(%peer, "gRPC connection refused: connection limit reached");
                        continue;
                    };
                    let _ = sock.set_nodelay(true);
                    return Poll::Ready(Some(Ok(Guarded::new(sock, pass))));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_in_all_and_per_peer_and_frees_on_drop() {
        let g = Gate::new(Limits { total: 3, per_peer: 2 });
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let a1 = g.enter(a).expect("first");
        let _a2 = g.enter(a).expect("second");
        assert!(g.enter(a).is_none(), "per-peer cap");
        let _b1 = g.enter(b).expect("other peer");
        assert!(g.enter(b).is_none(), "total cap");
        drop(a1);
        assert_eq!(g.open(), 2);
        assert!(g.enter(b).is_some(), "a freed place is reused");
    }
}

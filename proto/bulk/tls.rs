//! TLS for the bulk channel with the same certificates as the gRPC service (rustls with the ring provider, as
//! tonic uses), and one connection type over plain or TLS sockets for the blocking readers and writers.
use crate::error::ProtoError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
pub use rustls::{ClientConfig, ServerConfig};
use rustls::{ClientConnection, RootCertStore, ServerConnection, StreamOwned};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

fn tls_err(what: &'static str, e: impl std::fmt::Display) -> ProtoError {
    ProtoError::Invalid {
        field: what,
        problem: e.to_string(),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server configuration from PEM certificate chain and key.
pub fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<ServerConfig>, ProtoError> {
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err("TLS certificate", e))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| tls_err("TLS key", e))?;
    let cfg = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err("TLS versions", e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| tls_err("TLS certificate", e))?;
    Ok(Arc::new(cfg))
}

/// A client configuration trusting the PEM certificates in `ca_pem`.
pub fn client_config(ca_pem: &[u8]) -> Result<Arc<ClientConfig>, ProtoError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots
            .add(cert.map_err(|e| tls_err("TLS CA", e))?)
            .map_err(|e| tls_err("TLS CA", e))?;
    }
    let cfg = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err("TLS versions", e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// One bulk connection, plain or TLS.
#[allow(clippy::large_enum_variant)]
pub enum Conn {
    /// Plain TCP.
    Plain(TcpStream),
    /// The server end of a TLS connection.
    Server(StreamOwned<ServerConnection, TcpStream>),
    /// The client end of a TLS connection.
    Client(StreamOwned<ClientConnection, TcpStream>),
}

impl Conn {
    /// Accepts `sock` as a server, with TLS when `tls` is given (the handshake runs on the first read).
    pub fn server(sock: TcpStream, tls: Option<&Arc<ServerConfig>>) -> Result<Conn, ProtoError> {
        Ok(match tls {
            None => Conn::Plain(sock),
            Some(cfg) => {
                let c = ServerConnection::new(cfg.clone()).map_err(|e| tls_err("TLS session", e))?;
                Conn::Server(StreamOwned::new(c, sock))
            }
        })
    }

    /// Wraps a connected `sock` as a client, with TLS for server `domain` when `tls` is given.
    pub fn client(sock: TcpStream, tls: Option<(&Arc<ClientConfig>, &str)>) -> Result<Conn, ProtoError> {
        Ok(match tls {
            None => Conn::Plain(sock),
            Some((cfg, domain)) => {
                let name = ServerName::try_from(domain.to_owned()).map_err(|e| tls_err("TLS domain", e))?;
                let c = ClientConnection::new(cfg.clone(), name).map_err(|e| tls_err("TLS session", e))?;
                Conn::Client(StreamOwned::new(c, sock))
            }
        })
    }

    /// Ends a TLS session cleanly (close_notify); a plain socket needs nothing.
    pub fn finish(&mut self) {
        let _ = match self {
            Conn::Plain(_) => Ok(()),
            Conn::Server(s) => {
                s.conn.send_close_notify();
                s.flush()
            }
            Conn::Client(s) => {
                s.conn.send_close_notify();
                s.flush()
            }
        };
    }
}

impl Conn {
    fn socket(&mut self) -> &mut TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Server(s) => &mut s.sock,
            Conn::Client(s) => &mut s.sock,
        }
    }

    /// Closes after a refusal without losing the answer: closing a socket with unread request bytes makes the
    /// kernel send a reset that can overtake the answer, so the rest of the request (up to 1 MiB, 200 ms) is
    /// read and dropped first.
    pub fn close_after_refusal(&mut self) {
        self.finish();
        let sock = self.socket();
        let _ = sock.shutdown(std::net::Shutdown::Write);
        let _ = sock.set_read_timeout(Some(std::time::Duration::from_millis(200)));
        let mut buf = [0u8; 16 << 10];
        let mut drained = 0usize;
        while drained < 1 << 20 {
            match sock.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Server(s) => s.read(buf),
            Conn::Client(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Server(s) => s.write(buf),
            Conn::Client(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Server(s) => s.flush(),
            Conn::Client(s) => s.flush(),
        }
    }
}

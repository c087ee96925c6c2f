//! The client end of the bulk channel: one connection per artifact, blocking I/O on tokio's blocking pool.
use super::stream::{receive, send_file};
use super::tls::{client_config, Conn};
use super::wire::{Answer, Code, Op, Request};
use crate::auth::BearerToken;
use crate::client::Target;
use crate::error::ProtoError;
use crate::transfer::check_id;
use crate::v1::{ArtifactHeader, UploadResponse};
use rustls::ClientConfig;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A dead peer fails a transfer after this long without progress.
const IO_TIMEOUT: Duration = Duration::from_secs(120);

/// Where and how to reach a coordinator's bulk channel.
#[derive(Clone)]
pub struct BulkTarget {
    /// "host:port".
    addr: String,
    tls: Option<(Arc<ClientConfig>, String)>,
    token: Vec<u8>,
}

impl std::fmt::Debug for BulkTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkTarget")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// The host part of "host:port", "[v6]:port" or "scheme://host:port/...".
fn host_of(address: &str) -> &str {
    let rest = address.split_once("://").map_or(address, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    if authority.starts_with('[') {
        return authority
            .split_once(']')
            .map_or(authority, |(h, _)| &authority[..h.len() + 1]);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

impl BulkTarget {
    /// The bulk channel on `port` of the host `target` points at, with its TLS settings and `token`.
    pub fn new(target: &Target, port: u16, token: &BearerToken) -> Result<BulkTarget, ProtoError> {
        let tls = match &target.tls_ca {
            Some(ca) => Some((client_config(ca)?, target.tls_domain.clone())),
            None => None,
        };
        Ok(BulkTarget {
            addr: format!("{}:{port}", host_of(&target.address)),
            tls,
            token: token.secret().to_vec(),
        })
    }

    /// "host:port" of the channel.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    fn connect(&self, req: &Request) -> Result<Conn, ProtoError> {
        let net = |e| ProtoError::bulk(&self.addr, e);
        let addrs: Vec<_> = self.addr.to_socket_addrs().map_err(net)?.collect();
        let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
        for a in addrs {
            match TcpStream::connect_timeout(&a, Duration::from_secs(5)) {
                Ok(sock) => {
                    sock.set_nodelay(true).map_err(net)?;
                    sock.set_read_timeout(Some(IO_TIMEOUT)).map_err(net)?;
                    sock.set_write_timeout(Some(IO_TIMEOUT)).map_err(net)?;
                    let tls = self.tls.as_ref().map(|(c, d)| (c, d.as_str()));
                    let mut conn = Conn::client(sock, tls)?;
                    use std::io::Write;
                    conn.write_all(&req.encode()?).map_err(net)?;
                    return Ok(conn);
                }
                Err(e) => last = e,
            }
        }
        Err(net(last))
    }

    fn request(&self, op: Op, content_id: &str, size: u64, role: &str) -> Request {
        Request {
            op,
            token: self.token.clone(),
            content_id: content_id.to_owned(),
            size,
            role: role.to_owned(),
        }
    }

    /// Uploads `path`, announced by `header`; blocking. True when the coordinator already held the bytes.
    pub fn put(&self, path: &Path, header: &ArtifactHeader) -> Result<bool, ProtoError> {
        check_id(&header.content_id)?;
        let net = |e| ProtoError::bulk(&self.addr, e);
        let mut conn = self.connect(&self.request(Op::Put, &header.content_id, header.size, &header.role))?;
        let go = Answer::read(&mut conn)
            .map_err(net)?
            .expect("bulk upload", &[Code::Ready, Code::Present])?;
        if go.code == Code::Present {
            conn.finish();
            return Ok(true);
        }
        send_file(&mut conn, &self.addr, path, header.size)?;
        let done = Answer::read(&mut conn)
            .map_err(net)?
            .expect("bulk upload", &[Code::Stored, Code::Present])?;
        conn.finish();
        Ok(done.code == Code::Present)
    }

    /// Downloads artifact `id` into `dir/<id>` (kept when already there); blocking. The hash is checked.
    pub fn get(&self, id: &str, dir: &Path) -> Result<PathBuf, ProtoError> {
        check_id(id)?;
        let dest = dir.join(id);
        if dest.exists() {
            return Ok(dest);
        }
        let mut conn = self.connect(&self.request(Op::Get, id, 0, ""))?;
        let ready = Answer::read(&mut conn)
            .map_err(|e| ProtoError::bulk(&self.addr, e))?
            .expect("bulk download", &[Code::Ready])?;
        let (path, _) = receive(&mut conn, &self.addr, id, ready.size, dir)?;
        conn.finish();
        Ok(path)
    }

    /// [`BulkTarget::put`] on the blocking pool, answered like the gRPC upload.
    pub async fn upload(&self, path: &Path, header: ArtifactHeader) -> Result<UploadResponse, ProtoError> {
        let (me, path) = (self.clone(), path.to_path_buf());
        let content_id = header.content_id.clone();
        let already_present = tokio::task::spawn_blocking(move || me.put(&path, &header))
            .await
            .map_err(|e| ProtoError::bulk(&self.addr, std::io::Error::other(e.to_string())))??;
        Ok(UploadResponse {
            content_id,
            already_present,
        })
    }

    /// [`BulkTarget::get`] on the blocking pool.
    pub async fn download(&self, id: &str, dir: &Path) -> Result<PathBuf, ProtoError> {
        let (me, id, dir) = (self.clone(), id.to_owned(), dir.to_path_buf());
        tokio::task::spawn_blocking(move || me.get(&id, &dir))
            .await
            .map_err(|e| ProtoError::bulk(&self.addr, std::io::Error::other(e.to_string())))?
    }
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn host_of_every_address_form() {
        assert_eq!(host_of("127.0.0.1:50151"), "127.0.0.1");
        assert_eq!(host_of("https://lab-3.example.org:443/x"), "lab-3.example.org");
        assert_eq!(host_of("[::1]:50151"), "[::1]");
        assert_eq!(host_of("http://[fe80::1]:1"), "[fe80::1]");
        assert_eq!(host_of("coordinator"), "coordinator");
    }
}

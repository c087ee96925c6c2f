//! The baselines of the transfer measurement: a raw TCP copy of the bytes from memory to memory (the wire alone),
//! the same copy from a file into a new file (what `nc` moves, without any check), and SHA-256 over the bytes in
//! memory (the check every artifact transfer must make on receipt).
use forgebench_coordinator::{CoordError, Result};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Instant;

const BUF: usize = 256 << 10;

fn io(e: std::io::Error) -> CoordError {
    CoordError::io("loopback socket", e)
}

/// Seconds to move `src` (memory or a file) to a receiver that drops the bytes or writes them to `dest`.
fn copy(src: Source<'_>, dest: Option<PathBuf>) -> Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io)?;
    let addr = listener.local_addr().map_err(io)?;
    let receiver = std::thread::spawn(move || -> std::io::Result<u64> {
        let (mut s, _) = listener.accept()?;
        let mut out = dest.map(std::fs::File::create).transpose()?;
        let mut buf = vec![0u8; BUF];
        let mut got = 0u64;
        loop {
            match s.read(&mut buf)? {
                0 => return Ok(got),
                n => {
                    if let Some(f) = out.as_mut() {
                        f.write_all(&buf[..n])?;
                    }
                    got += n as u64;
                }
            }
        }
    });
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).map_err(io)?;
    s.set_nodelay(true).map_err(io)?;
    let sent = match src {
        Source::Memory(data) => {
            s.write_all(data).map_err(io)?;
            data.len() as u64
        }
        Source::File(path) => {
            let mut f = std::fs::File::open(path).map_err(|e| CoordError::io(path, e))?;
            let mut buf = vec![0u8; BUF];
            let mut sent = 0u64;
            loop {
                let n = f.read(&mut buf).map_err(|e| CoordError::io(path, e))?;
                if n == 0 {
                    break sent;
                }
                s.write_all(&buf[..n]).map_err(io)?;
                sent += n as u64;
            }
        }
    };
    drop(s);
    let got = receiver
        .join()
        .map_err(|_| CoordError::Process("tcp receiver panicked".into()))?
        .map_err(io)?;
    let secs = started.elapsed().as_secs_f64();
    if got != sent {
        return Err(CoordError::Process(format!("tcp copy moved {got} of {sent} bytes")));
    }
    Ok(secs)
}

enum Source<'a> {
    Memory(&'a [u8]),
    File(&'a Path),
}

/// Memory to memory.
pub fn memory(data: &[u8]) -> Result<f64> {
    copy(Source::Memory(data), None)
}

/// `src` into a new file `dest`.
pub fn file_to_file(src: &Path, dest: &Path) -> Result<f64> {
    let _ = std::fs::remove_file(dest);
    let secs = copy(Source::File(src), Some(dest.to_path_buf()))?;
    std::fs::remove_file(dest).map_err(|e| CoordError::io(dest, e))?;
    Ok(secs)
}

/// SHA-256 of `data`, seconds.
pub fn sha256(data: &[u8]) -> f64 {
    let started = Instant::now();
    std::hint::black_box(Sha256::digest(data));
    started.elapsed().as_secs_f64()
}

/// BLAKE3 of `data` as the receivers compute it (`ContentHasher`, every core for large inputs), seconds.
pub fn blake3(data: &[u8]) -> f64 {
    let started = Instant::now();
    std::hint::black_box(forgebench_shared::content::id_of_bytes(data));
    started.elapsed().as_secs_f64()
}

//! Encoding and decoding the bulk channel's request and answer headers, with limits so a malformed or hostile
//! peer cannot make the reader allocate much.
use crate::error::ProtoError;
use std::io::{Read, Write};

const MAGIC: &[u8; 4] = b"FGB1";
/// Longest token accepted.
const MAX_TOKEN: usize = 4096;

/// What a connection does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Upload an artifact.
    Put = 1,
    /// Download an artifact.
    Get = 2,
}

/// Answer codes; the gRPC code each maps to is given by [`Code::grpc`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Go on (send the bytes, or here they come).
    Ready = 0,
    /// The bytes were checked and stored.
    Stored = 1,
    /// The bytes were checked; the store already held them.
    Present = 2,
    /// Wrong or missing token.
    Unauthenticated = 10,
    /// A malformed request.
    Invalid = 11,
    /// No such artifact.
    NotFound = 12,
    /// Size or content id differ from the announced ones.
    Corrupt = 13,
    /// The server failed (disk, ledger).
    Internal = 14,
    /// A limit refuses the bytes (artifact size, store quota, free disk); nothing was stored.
    Exhausted = 15,
}

impl Code {
    fn from_u8(v: u8) -> Option<Code> {
        use Code::*;
        [
            Ready,
            Stored,
            Present,
            Unauthenticated,
            Invalid,
            NotFound,
            Corrupt,
            Internal,
            Exhausted,
        ]
        .into_iter()
        .find(|c| *c as u8 == v)
    }

    /// The gRPC status code with the same meaning, so callers classify bulk and gRPC failures alike.
    pub fn grpc(self) -> tonic::Code {
        match self {
            Code::Ready | Code::Stored | Code::Present => tonic::Code::Ok,
            Code::Unauthenticated => tonic::Code::Unauthenticated,
            Code::Invalid => tonic::Code::InvalidArgument,
            Code::NotFound => tonic::Code::NotFound,
            Code::Corrupt => tonic::Code::DataLoss,
            Code::Internal => tonic::Code::Internal,
            Code::Exhausted => tonic::Code::ResourceExhausted,
        }
    }
}

/// A request header.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    /// Put or get.
    pub op: Op,
    /// The cluster token, as sent.
    pub token: Vec<u8>,
    /// The artifact's content id (BLAKE3, lower-case hex; checked by the server, not here).
    pub content_id: String,
    /// Bytes that follow a put; 0 for a get.
    pub size: u64,
    /// What the artifact is (puts only).
    pub role: String,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("op", &self.op)
            .field("token", &"<redacted>")
            .field("content_id", &self.content_id)
            .field("size", &self.size)
            .field("role", &self.role)
            .finish()
    }
}

fn invalid(problem: impl Into<String>) -> ProtoError {
    ProtoError::Invalid {
        field: "bulk request",
        problem: problem.into(),
    }
}

fn read_n(r: &mut impl Read, n: usize) -> std::io::Result<Vec<u8>> {
    let mut b = vec![0u8; n];
    r.read_exact(&mut b)?;
    Ok(b)
}

fn u64_of(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    u64::from_be_bytes(a)
}

impl Request {
    /// The header's bytes.
    pub fn encode(&self) -> Result<Vec<u8>, ProtoError> {
        if self.token.len() > MAX_TOKEN || self.role.len() > u8::MAX as usize || self.content_id.len() != 64 {
            return Err(invalid(
                "token over 4096 bytes, role over 255 bytes or content id not 64 characters",
            ));
        }
        let mut b = Vec::with_capacity(96 + self.token.len() + self.role.len());
        b.extend_from_slice(MAGIC);
        b.push(self.op as u8);
        b.extend_from_slice(&(self.token.len() as u16).to_be_bytes());
        b.extend_from_slice(&self.token);
        b.extend_from_slice(self.content_id.as_bytes());
        b.extend_from_slice(&self.size.to_be_bytes());
        b.push(self.role.len() as u8);
        b.extend_from_slice(self.role.as_bytes());
        Ok(b)
    }

    /// Reads a header; `Ok(Err(_))` is a malformed one (answer it INVALID), `Err(_)` a failed socket.
    pub fn read(r: &mut impl Read) -> std::io::Result<Result<Request, ProtoError>> {
        let head = read_n(r, 7)?;
        if &head[..4] != MAGIC {
            return Ok(Err(invalid("not a forgebench bulk request (bad magic)")));
        }
        let op = match head[4] {
            1 => Op::Put,
            2 => Op::Get,
            o => return Ok(Err(invalid(format!("unknown operation {o}")))),
        };
        let token_len = u16::from_be_bytes([head[5], head[6]]) as usize;
        if token_len > MAX_TOKEN {
            return Ok(Err(invalid(format!("a {token_len}-byte token"))));
        }
        let token = read_n(r, token_len)?;
        let rest = read_n(r, 64 + 8 + 1)?;
        let Ok(content_id) = String::from_utf8(rest[..64].to_vec()) else {
            return Ok(Err(invalid("content id is not text")));
        };
        let size = u64_of(&rest[64..72]);
        let role = read_n(r, rest[72] as usize)?;
        let Ok(role) = String::from_utf8(role) else {
            return Ok(Err(invalid("role is not UTF-8")));
        };
        Ok(Ok(Request {
            op,
            token,
            content_id,
            size,
            role,
        }))
    }
}

/// An answer header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// What happened.
    pub code: Code,
    /// Why, for errors (at most 64 KiB).
    pub message: String,
    /// The size of the bytes that follow a READY to a get.
    pub size: u64,
}

impl Answer {
    /// An answer without size.
    pub fn new(code: Code, message: impl Into<String>) -> Answer {
        Answer {
            code,
            message: message.into(),
            size: 0,
        }
    }

    /// Writes the answer and flushes it.
    pub fn write(&self, w: &mut impl Write) -> std::io::Result<()> {
        let msg = &self.message.as_bytes()[..self.message.len().min(u16::MAX as usize)];
        let mut b = Vec::with_capacity(11 + msg.len());
        b.push(self.code as u8);
        b.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        b.extend_from_slice(msg);
        b.extend_from_slice(&self.size.to_be_bytes());
        w.write_all(&b)?;
        w.flush()
    }

    /// Reads an answer; an unknown code is an error.
    pub fn read(r: &mut impl Read) -> std::io::Result<Answer> {
        let head = read_n(r, 3)?;
        let code = Code::from_u8(head[0]).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("unknown bulk answer {}", head[0]),
            )
        })?;
        let msg = read_n(r, u16::from_be_bytes([head[1], head[2]]) as usize)?;
        let size = u64_of(&read_n(r, 8)?);
        Ok(Answer {
            code,
            message: String::from_utf8_lossy(&msg).into_owned(),
            size,
        })
    }

    /// The answer as an error for `context`, unless its code is one of `ok`.
    pub fn expect(self, context: &'static str, ok: &[Code]) -> Result<Answer, ProtoError> {
        if ok.contains(&self.code) {
            Ok(self)
        } else {
            Err(ProtoError::status(
                context,
                tonic::Status::new(self.code.grpc(), self.message),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> Request {
        Request {
            op: Op::Put,
            token: b"s3cret".to_vec(),
            content_id: "a".repeat(64),
            size: 1 << 40,
            role: "repro-log".into(),
        }
    }

    #[test]
    fn request_and_answer_round_trip() {
        let bytes = req().encode().expect("encodes");
        let back = Request::read(&mut bytes.as_slice()).expect("reads").expect("valid");
        assert_eq!(back, req());
        let a = Answer {
            code: Code::Corrupt,
            message: "the bytes hash to 00".into(),
            size: 7,
        };
        let mut out = Vec::new();
        a.write(&mut out).expect("writes");
        assert_eq!(Answer::read(&mut out.as_slice()).expect("reads"), a);
    }

    #[test]
    fn malformed_requests_are_named_not_trusted() {
        let mut bad = req().encode().expect("encodes");
        bad[0] = b'X';
        let e = Request::read(&mut bad.as_slice()).expect("socket fine").unwrap_err();
        assert!(e.to_string().contains("bad magic"), "{e}");
        let mut huge = req().encode().expect("encodes");
        huge[5..7].copy_from_slice(&u16::MAX.to_be_bytes());
        let e = Request::read(&mut huge.as_slice()).expect("socket fine").unwrap_err();
        assert!(e.to_string().contains("65535-byte token"), "{e}");
        let full = req().encode().expect("encodes");
        let cut = &full[..full.len() - 3];
        assert!(
            Request::read(&mut &cut[..]).is_err(),
            "a truncated header is a socket error"
        );
        assert!(
            format!("{:?}", req()).contains("<redacted>"),
            "the token is never printed"
        );
    }

    #[test]
    fn error_answers_carry_grpc_codes() {
        let e = Answer::new(Code::Unauthenticated, "wrong cluster token")
            .expect("bulk put", &[Code::Ready])
            .unwrap_err();
        assert_eq!(e.code(), Some(tonic::Code::Unauthenticated));
        assert!(Answer::new(Code::Ready, "").expect("bulk put", &[Code::Ready]).is_ok());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Any prefix of a valid header is a socket error (it ended early), never a panic or a wrong request.
            #[test]
            fn truncated_headers_are_socket_errors(cut in 0usize..100) {
                let full = req().encode().expect("encodes");
                let cut = cut.min(full.len() - 1);
                prop_assert!(Request::read(&mut &full[..cut]).is_err(), "{cut} of {} bytes", full.len());
            }

            /// A header with flipped bits either reads back as a request (a flip in the token, id, size or role
            /// changes only that field, which the server checks) or is refused naming the bulk request.
            #[test]
            fn flipped_bits_never_panic(flips in proptest::collection::vec((0usize..100, 0u8..8), 1..6)) {
                let mut bytes = req().encode().expect("encodes");
                for (at, bit) in flips {
                    let at = at % bytes.len();
                    bytes[at] ^= 1 << bit;
                }
                match Request::read(&mut bytes.as_slice()) {
                    Ok(Ok(r)) => prop_assert!(r.token.len() <= MAX_TOKEN),
                    Ok(Err(e)) => prop_assert!(e.to_string().contains("bulk request"), "{e}"),
                    Err(_) => {}
                }
            }

            /// Garbage is refused or runs out, and an answer reader given garbage errs or reads a known code.
            #[test]
            fn garbage_is_refused(junk in proptest::collection::vec(any::<u8>(), 0..300)) {
                if let Ok(Err(e)) = Request::read(&mut junk.as_slice()) {
                    prop_assert!(e.to_string().contains("bulk request"), "{e}");
                }
                if let Ok(a) = Answer::read(&mut junk.as_slice()) {
                    prop_assert!(Code::from_u8(a.code as u8) == Some(a.code));
                }
            }
        }
    }
}

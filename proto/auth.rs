//! The shared-token authentication of every call: clients add `authorization: Bearer <token>`, the server's
//! interceptor compares it in constant time and answers UNAUTHENTICATED otherwise. The token is never logged:
//! both types print as "<redacted>".
use crate::error::ProtoError;
use std::sync::Arc;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Request, Status};

const BEARER: &str = "Bearer ";

/// The metadata key carrying the token.
pub const AUTH_KEY: &str = "authorization";

fn bearer(token: &str) -> Result<MetadataValue<Ascii>, ProtoError> {
    if token.is_empty() {
        return Err(ProtoError::Invalid {
            field: "token",
            problem: "empty".into(),
        });
    }
    format!("{BEARER}{token}").parse().map_err(|_| ProtoError::Invalid {
        field: "token",
        problem: "must be printable ASCII".into(),
    })
}

/// Client side: adds the token to every request.
#[derive(Clone)]
pub struct BearerToken(MetadataValue<Ascii>);

impl BearerToken {
    /// A token from its text.
    pub fn new(token: &str) -> Result<Self, ProtoError> {
        Ok(BearerToken(bearer(token)?))
    }
}

impl BearerToken {
    /// The token itself, for the bulk channel's request header.
    pub(crate) fn secret(&self) -> &[u8] {
        &self.0.as_bytes()[BEARER.len()..]
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

impl Interceptor for BearerToken {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        req.metadata_mut().insert(AUTH_KEY, self.0.clone());
        Ok(req)
    }
}

/// Server side: refuses calls without the expected token.
#[derive(Clone)]
pub struct TokenCheck(Arc<[u8]>);

impl TokenCheck {
    /// Expects `token`.
    pub fn new(token: &str) -> Result<Self, ProtoError> {
        Ok(TokenCheck(bearer(token)?.as_bytes().into()))
    }
}

impl TokenCheck {
    /// Whether `token` (without "Bearer ") is the cluster's, compared in constant time.
    pub fn accepts(&self, token: &[u8]) -> bool {
        let expected = &self.0[BEARER.len()..];
        same(token, expected)
    }
}

impl std::fmt::Debug for TokenCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCheck(<redacted>)")
    }
}

/// Equality whose time does not depend on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Interceptor for TokenCheck {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        match req.metadata().get(AUTH_KEY) {
            Some(v) if same(v.as_bytes(), &self.0) => Ok(req),
            Some(_) => Err(Status::unauthenticated("wrong cluster token")),
            None => Err(Status::unauthenticated(
                "missing cluster token (authorization: Bearer <token>)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_token_passes_wrong_one_does_not() {
        let mut check = TokenCheck::new("s3cret").expect("valid");
        assert!(
            check.accepts(b"s3cret"),
            "the bulk channel's check takes the bare token"
        );
        assert!(!check.accepts(b"s3cre") && !check.accepts(b"Bearer s3cret"));
        assert_eq!(BearerToken::new("s3cret").expect("valid").secret(), b"s3cret");
        let req = BearerToken::new("s3cret")
            .expect("valid")
            .call(Request::new(()))
            .expect("adds");
        assert!(check.call(req).is_ok());
        let req = BearerToken::new("s3cret!")
            .expect("valid")
            .call(Request::new(()))
            .expect("adds");
        assert_eq!(check.call(req).unwrap_err().code(), tonic::Code::Unauthenticated);
        assert_eq!(
            check.call(Request::new(())).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert!(!format!("{check:?}").contains("s3cret"));
    }
}

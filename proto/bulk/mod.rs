//! The bulk channel: artifact bytes over a plain TCP (or TLS) socket beside gRPC, because HTTP/2 framing held
//! transfers to about a fifth of the loopback wire speed. The coordinator advertises the channel's port in
//! `RegisterResponse.bulk_port`; every connection moves one artifact and authenticates with the cluster token.
//!
//! Wire format (integers big-endian):
//! ```text
//! request := "FGB1" op:u8 token_len:u16 token content_id:[u8; 64] size:u64 role_len:u8 role
//! answer  := code:u8 message_len:u16 message size:u64
//! ```
//! Put (op 1): request (size = the bytes to follow), answer READY, then exactly `size` bytes, then a final answer
//! (STORED or PRESENT once the receiver checked size and BLAKE3 content id, CORRUPT otherwise). When the store already holds
//! the artifact the first answer is PRESENT and no bytes are sent.
//! Get (op 2): request (size 0), answer READY with the size, then the bytes; the client checks the hash.
//! Any other answer code is an error whose message says why; the server closes the connection after it.
pub mod client;
pub mod stream;
pub mod tls;
mod wire;

pub use client::BulkTarget;
pub use wire::{Answer, Code, Op, Request};

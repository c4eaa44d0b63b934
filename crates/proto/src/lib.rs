//! The gRPC protocol between masters and workers, generated from `proto/baton.proto` at build
//! time by protox and tonic (no `protoc` needed).

/// Version 1 of the protocol (generated code: not documented item by item, nor linted).
#[allow(missing_docs, clippy::all)]
pub mod v1 {
    tonic::include_proto!("baton.v1");
}

pub use v1::*;

pub mod auth;
pub mod sizes;
pub mod tls;

/// Shows whether a password is there, never the password: a dispatch may be logged.
impl std::fmt::Debug for SqlConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlConnection")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("name", &self.name)
            .finish()
    }
}

/// Microseconds since the Unix epoch: the clock used in events and the store.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

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

/// Microseconds since the Unix epoch: the clock used in events and the store.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

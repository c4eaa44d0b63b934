//! The largest messages members send each other, set on every gRPC server and client
//! deliberately rather than left to tonic's defaults (4 MiB decoded, no bound encoded), and
//! the clients that carry them. A new client of another member is built here.
//!
//! What stays within them: a dispatch is checked against [`MAX_DISPATCH_BYTES`] before it is
//! sent (a larger one fails its task, saying so); a worker's report batch is kept well under
//! [`MAX_REPORT_BYTES`] (a Finished event carries at most 1 MiB of output params, see
//! `baton_core::params::limits`); a log read returns at most 1 MiB of log.

use crate::auth::{ClusterKey, MemberChannel, Prove};
use crate::master_client::MasterClient;
use crate::worker_client::WorkerClient;
use tonic::transport::Channel;

/// Most bytes of a request a worker's server decodes: a `DispatchRequest` (its command or
/// script and its params) is the largest; a master sends none larger.
pub const MAX_DISPATCH_BYTES: usize = 4 << 20;

/// Most bytes of a request a master's server decodes: a worker's `ReportRequest` batch (up to
/// 16 MiB of events and one more event), or a heartbeat.
pub const MAX_REPORT_BYTES: usize = 64 << 20;

/// Most bytes of a reply either server encodes and any client decodes: a log read's reply
/// (at most 1 MiB of log) is the largest.
pub const MAX_REPLY_BYTES: usize = 8 << 20;

/// A client of a worker (masters dispatch, kill, probe; the API reads logs), with the proof of
/// membership and the sizes above.
pub fn worker_client(channel: Channel, key: ClusterKey) -> WorkerClient<MemberChannel> {
    WorkerClient::with_interceptor(channel, Prove(key))
        .max_encoding_message_size(MAX_DISPATCH_BYTES)
        .max_decoding_message_size(MAX_REPLY_BYTES)
}

/// A client of a master (workers report and heartbeat), with the proof of membership and the
/// sizes above.
pub fn master_client(channel: Channel, key: ClusterKey) -> MasterClient<MemberChannel> {
    MasterClient::with_interceptor(channel, Prove(key))
        .max_encoding_message_size(MAX_REPORT_BYTES)
        .max_decoding_message_size(MAX_REPLY_BYTES)
}

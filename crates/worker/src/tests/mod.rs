//! Tests of event delivery through the outbox, with real task processes and real (test)
//! masters on loopback: restarts, redirects, rerouting, session loss, compaction.

mod probe;
mod restart;
mod routing;
mod session;

//! Tests of event delivery through the outbox, with real task processes and real (test)
//! masters on loopback: restarts, redirects, rerouting, session loss, compaction; and of how
//! in-process tasks run (their Started event, timeouts, kills, log caps).

mod in_process;
mod long_programs;
mod probe;
mod restart;
mod routing;
mod session;

//! Real `baton` processes on loopback, for the end-to-end tests and the benchmarks: one role
//! process ([`Proc`]) and a cluster of them ([`Cluster`]: an api, masters and workers sharing a
//! database and a registry). This is the one launcher both use, so that what the benchmarks
//! measure is what the tests check.

mod cluster;
mod proc;

pub use cluster::{Cluster, Launch};
pub use proc::{reserve_addresses, Proc};

/// Why a process or a cluster could not be brought up.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The binary could not be started (missing, not executable) or its log not opened.
    #[error("cannot start `{what}`: {source}")]
    Spawn {
        /// The process, as `baton <role>` or a path.
        what: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// No free loopback port could be found.
    #[error("cannot find a free loopback port: {0}")]
    Port(std::io::Error),
    /// A process exited by itself while it should have been running.
    #[error("cluster processes exited: {exited}\n{logs}")]
    Exited {
        /// Each dead process, with its exit status.
        exited: String,
        /// The last lines of every log.
        logs: String,
    },
    /// The members did not all show up in the registry in time.
    #[error("the cluster's members did not all register within {limit:?} ({last})\n{logs}")]
    NotRegistered {
        /// How long it waited.
        limit: std::time::Duration,
        /// What the last look at the registry found.
        last: String,
        /// The last lines of every log.
        logs: String,
    },
}

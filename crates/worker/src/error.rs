//! Why the worker refuses a dispatch.

/// Why a dispatch was refused; its text is the `reason` of the reply, so the master (and the
/// person reading history) can tell a full worker from a malformed request.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DispatchError {
    /// Every slot is taken; the master should try another worker.
    #[error("no free slot")]
    NoFreeSlot,
    /// The worker is shutting down and takes no new work.
    #[error("worker is stopping")]
    Stopping,
    /// The request names no attempt.
    #[error("dispatch without an attempt id")]
    MissingId,
    /// The request says nothing about what to run.
    #[error("dispatch without a task kind")]
    MissingKind,
    /// The master address cannot be turned into a URL.
    #[error("bad master_addr `{addr}`: {reason}")]
    BadMasterAddr {
        /// The address as given.
        addr: String,
        /// What is wrong with it.
        reason: String,
    },
}

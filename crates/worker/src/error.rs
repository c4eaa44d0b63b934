//! Why the worker refuses a dispatch.

/// Why a dispatch was refused; its text is the `reason` of the reply (for the person reading
/// history) and [`DispatchError::refusal`] its `refusal` (for the master's rules).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DispatchError {
    /// Every slot is taken; the master should try another worker.
    #[error("no free slot")]
    NoFreeSlot,
    /// The worker is shutting down and takes no new work.
    #[error("worker is stopping")]
    Stopping,
    /// The attempt was killed when the worker lost its session and is not gone yet; a new
    /// dispatch of it must wait.
    #[error("the attempt is being killed after a session loss")]
    BeingKilled,
    /// The dispatch arrived after its deadline; the master may have run the attempt elsewhere.
    #[error("the dispatch arrived after its deadline")]
    TooLate,
    /// A probe was told this worker does not know the attempt, so the master wrote it off
    /// and runs a new one: this dispatch of it arrived late and must not run.
    #[error("the attempt was written off after a probe")]
    WrittenOff,
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

impl DispatchError {
    /// What the master should make of this refusal.
    pub fn refusal(&self) -> baton_proto::DispatchRefusal {
        use baton_proto::DispatchRefusal;
        match self {
            DispatchError::NoFreeSlot | DispatchError::Stopping => DispatchRefusal::Busy,
            DispatchError::BeingKilled | DispatchError::TooLate | DispatchError::WrittenOff => {
                DispatchRefusal::Stale
            }
            DispatchError::MissingId
            | DispatchError::MissingKind
            | DispatchError::BadMasterAddr { .. } => DispatchRefusal::Unrunnable,
        }
    }
}

/// Why a worker could not start: its outbox (the events of its previous life) is unusable.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another worker (or another life of this one, still running) uses the same data
    /// directory; two writers would corrupt each other's outbox.
    #[error("the outbox {path} is in use by another worker")]
    Locked {
        /// The outbox directory.
        path: std::path::PathBuf,
    },
    /// The outbox directory or one of its files cannot be read or written.
    #[error("cannot use the outbox {path}: {source}")]
    Io {
        /// The outbox directory.
        path: std::path::PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

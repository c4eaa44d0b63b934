//! What can go wrong in the store, with enough context to act on.

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names no backend Baton knows (the URL as shown, without secrets).
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// Connecting or migrating failed.
    #[error("cannot open the database at {url}: {source}")]
    Open {
        /// The URL, without password.
        url: String,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// Migrations failed.
    #[error("cannot migrate the database schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error while {context}: {source}")]
    Query {
        /// What the store was doing.
        context: &'static str,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// A stored value cannot be read back (a bug, or a database edited by hand).
    #[error("corrupt stored value in {context}: {detail}")]
    Corrupt {
        /// Where.
        context: &'static str,
        /// What.
        detail: String,
    },
    /// A write about an instance this master no longer owns (another adopted it).
    #[error("workflow instance {0} is owned by another master now")]
    Fenced(baton_core::WorkflowInstanceId),
    /// The request does not fit the object's state.
    #[error("{0}")]
    Conflict(String),
    /// The object asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
}

/// Adds "while doing X" to sqlx errors.
pub(crate) trait Context<T> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Query { context, source })
    }
}

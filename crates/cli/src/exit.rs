//! Exit codes carried through `anyhow`: a command fails with [`Exit`] to choose its code.

use std::process::ExitCode;

/// A failure with a chosen exit code and message.
#[derive(Debug, thiserror::Error)]
pub enum Exit {
    /// Bad input: an invalid workflow file, an unknown param, a bad flag value. Exit code 2.
    #[error("{0}")]
    BadInput(String),
    /// The workflow ran and did not succeed, or the server refused. Exit code 1.
    #[error("{0}")]
    Failed(String),
    /// Ended quietly with this code (the output already said why).
    #[error("")]
    Code(u8),
}

pub(crate) fn report(error: anyhow::Error) -> ExitCode {
    match error.downcast_ref::<Exit>() {
        Some(Exit::Code(code)) => ExitCode::from(*code),
        Some(Exit::BadInput(m)) => {
            eprintln!("{m}");
            ExitCode::from(2)
        }
        Some(Exit::Failed(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(1)
        }
        None => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

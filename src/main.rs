//! The `baton` binary: everything lives in `baton-cli`; this file only hands over (or, started
//! as a worker's watchdog, runs that instead, before anything else is set up).
//!
//! It also makes a closed standard output (`baton … | head -1`) end the program quietly, as
//! it ends other Unix tools: Rust ignores SIGPIPE, so printing to a closed pipe panics, and
//! that one panic is turned into death by SIGPIPE, at once and without a message.

use std::any::Any;
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Some(code) = baton_worker::watchdog::run_if_invoked() {
        return code;
    }
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if is_broken_pipe(info.payload()) {
            // At once: unwinding would stop the runtime's tasks, which would log about it.
            die_of_sigpipe();
        }
        default_hook(info);
    }));
    baton_cli::main()
}

/// Whether a panic is the standard library's "failed printing to stdout: Broken pipe" (its
/// only way of telling that the reader of our output has gone).
fn is_broken_pipe(payload: &(dyn Any + Send)) -> bool {
    let message = match (
        payload.downcast_ref::<String>(),
        payload.downcast_ref::<&str>(),
    ) {
        (Some(s), _) => s.as_str(),
        (None, Some(s)) => s,
        (None, None) => return false,
    };
    message.starts_with("failed printing to std") && message.contains("Broken pipe")
}

/// Ends the process the way a tool that does not ignore SIGPIPE ends (status 141 in a shell).
fn die_of_sigpipe() -> ! {
    use nix::sys::signal::{raise, signal, SigHandler, Signal};
    // SAFETY: restoring the default action installs no handler code.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    let _ = raise(Signal::SIGPIPE);
    std::process::exit(141)
}

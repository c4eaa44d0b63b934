//! The `baton` binary: everything lives in `baton-cli`; this file only hands over (or, started
//! as a worker's watchdog, runs that instead, before anything else is set up).
fn main() -> std::process::ExitCode {
    if let Some(code) = baton_worker::watchdog::run_if_invoked() {
        return code;
    }
    baton_cli::main()
}

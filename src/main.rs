//! The `baton` binary: everything lives in `baton-cli`; this file only hands over.
fn main() -> std::process::ExitCode {
    baton_cli::main()
}

//! What the `baton` binary writes where: a closed standard output ends it quietly, and logs
//! written to a file carry no terminal colour codes.

mod common;
use common::*;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

#[test]
fn a_closed_stdout_ends_the_cli_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "ok.yaml",
        "name: ok\ntasks:\n  - {name: a, type: noop}\n",
    );
    // The reader is gone before baton prints anything, as after `| head -1` has read its line.
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    let out = Command::new(baton_bin())
        .args(["run", file.to_str().unwrap()])
        .stdout(Stdio::from(write))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(nix::sys::signal::Signal::SIGPIPE as i32),
        "{:?} {stderr}",
        out.status
    );
    assert_eq!(stderr, "", "nothing on stderr: no panic message");
}

#[test]
fn logs_written_to_a_file_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Standalone::start(&dir.path().join("data"), None, &[]);
    server.terminate();
    let log = server.log_text();
    assert!(log.contains("INFO"), "the server logged: {log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log file: {log:?}"
    );
}

//! A shell command or python script longer than one process argument may be (Linux refuses
//! one over 128 KiB) still runs: it is written to a file in the attempt's directory.

use baton_proto::Outcome;

use crate::process::INLINE_TEXT_MAX;
use crate::testkit::*;

/// A program of about `bytes` bytes that prints `ran <n>`: a long comment, then the print.
fn padded(bytes: usize, comment: &str, print: &str) -> String {
    let mut text = String::with_capacity(bytes + print.len());
    while text.len() < bytes {
        text.push_str(comment);
        text.push_str(&"x".repeat(100));
        text.push('\n');
    }
    text.push_str(print);
    text
}

#[tokio::test]
async fn shell_and_python_programs_longer_than_an_argument_run() {
    let dir = tempfile::tempdir().unwrap();
    let worker = worker(dir.path());
    let mut master = TestMaster::start().await;
    let long = 4 * INLINE_TEXT_MAX;
    let cases = [
        (1, shell(&padded(long, "# ", "echo ran 1\n"))),
        (2, python(&padded(long, "# ", "print('ran 2')\n"))),
        // At the limit, still inline.
        (3, shell(&padded(INLINE_TEXT_MAX - 20, "#", "echo ran 3\n"))),
    ];
    for (tid, kind) in cases {
        worker.dispatch(request(tid, kind, &master.addr)).unwrap();
        let finished = master.finished(tid).await;
        let log = log_of(&worker, tid).await;
        assert_eq!(
            finished.outcome,
            Outcome::Succeeded as i32,
            "{tid}: {} {log}",
            finished.message
        );
        assert_eq!(log, format!("ran {tid}\n"));
    }
    close(worker).await;
}

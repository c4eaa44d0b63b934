//! `map:` through a real `baton run`: checked at apply with the line of each problem, and,
//! while the master does not run items yet, a mapped task fails saying so instead of
//! running once as a plain task.

mod common;
use common::*;

#[test]
fn a_bad_map_is_refused_before_anything_runs_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "bad.yaml",
        "name: bad\nparams: {parts: '[1]'}\ntasks:\n  - name: load\n    type: shell\n    command: echo ${part}\n    map:\n      over: p1,p2\n      as: part\n      parallel: 0\n",
    );
    let out = baton(&["run", file.to_str().unwrap()], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("line 8") && stderr.contains("map.over: `p1,p2` is not a reference"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 10") && stderr.contains("map.parallel: 0"),
        "{stderr}"
    );
}

#[test]
fn a_mapped_task_fails_clearly_and_never_runs_as_one_plain_task() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let file = write(
        dir.path(),
        "map.yaml",
        &format!(
            "name: mapped\nparams: {{parts: '[\"p1\",\"p2\"]'}}\ntasks:\n  - name: load\n    type: shell\n    command: touch {}\n    map: {{over: '${{parts}}', as: part}}\n",
            marker.display()
        ),
    );
    let out = baton(&["run", file.to_str().unwrap()], &[]);
    let (stdout, stderr) = text(&out);
    assert_ne!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        format!("{stdout}{stderr}").contains("which this master does not run yet"),
        "{stdout}\n{stderr}"
    );
    assert!(
        !marker.exists(),
        "the mapped task's command ran as a plain task"
    );
}

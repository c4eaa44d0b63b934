//! `baton run`: every self-contained example succeeds; exit codes; validation errors name the file and task.

mod common;
use common::*;

#[test]
fn every_example_succeeds() {
    let mut names: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        // Sub-workflows and dependencies need the other workflows of a server's store, sql
        // tasks its data sources; a service runs until it is stopped (tests/service.rs).
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            !text.contains("type: sub_workflow")
                && !text.contains("type: dependent")
                && !text.contains("type: sql")
                && !text.contains("type: service")
        })
        .collect();
    names.sort();
    assert!(names.len() >= 3, "the examples are there");
    for file in names {
        let out = baton(&["run", file.to_str().unwrap()], &[]);
        let (stdout, stderr) = text(&out);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}:\n{stdout}\n{stderr}",
            file.display()
        );
        assert!(stdout.contains("succeeded in"), "{stdout}");
    }
}

#[test]
fn run_prints_progress_logs_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "wf.yaml",
        "name: p\nparams: {who: wf}\ntasks:\n  - {name: a, type: shell, command: 'echo hi ${who} $BATON_TASK_INSTANCE_ID'}\n  - {name: b, type: noop, depends_on: [a]}\n",
    );
    let out = baton(
        &[
            "run",
            file.to_str().unwrap(),
            "--logs",
            "--param",
            "who=cli",
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("start    a  attempt 1"), "{stdout}");
    assert!(stdout.contains("ok       a  attempt 1"), "{stdout}");
    assert!(
        stdout.contains("hi cli 1"),
        "start-time param wins and env is set: {stdout}"
    );
    assert!(stdout.contains("TASK  STATE"), "{stdout}");
    assert!(stdout.contains("workflow p succeeded"), "{stdout}");
}

#[test]
fn failed_workflow_exits_1_and_names_the_failure() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "wf.yaml",
        "name: f\ntasks:\n  - {name: a, type: shell, command: 'exit 3'}\n  - {name: b, type: noop, depends_on: [a]}\n",
    );
    let out = baton(&["run", file.to_str().unwrap()], &[]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAILED   a  attempt 1"), "{stdout}");
    assert!(stdout.contains("exit 3"), "{stdout}");
    assert!(stdout.contains("b     not run"), "{stdout}");
    assert!(stdout.contains("workflow f failed"), "{stdout}");
}

/// Each bad input gets exit code 2 and a message naming the file (and task, line).
#[test]
fn validation_errors_exit_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &[&str])] = &[
        ("syntax.yaml", "name: x\ntasks:\n  - name: a\n    type: [shell\n", &["syntax.yaml: line "]),
        (
            "field.yaml",
            "name: x\ntasks:\n  - name: a\n    type: shell\n    comand: ls\n",
            &["field.yaml: line 5", "task `a`", "unknown field `comand`"],
        ),
        (
            "type.yaml",
            "name: x\ntasks:\n  - {name: a, type: bash, command: ls}\n",
            &["type.yaml: line 3, column 15: task `a`: unknown type `bash`"],
        ),
        (
            "dup.yaml",
            "name: x\ntasks:\n  - {name: a, type: noop}\n  - {name: a, type: noop}\n",
            &["dup.yaml: task `a`: the name is used by another task"],
        ),
        (
            "dep.yaml",
            "name: x\ntasks:\n  - {name: a, type: noop, depends_on: [ghost]}\n",
            &["dep.yaml: task `a`: depends on `ghost`"],
        ),
        (
            "cycle.yaml",
            "name: x\ntasks:\n  - {name: a, type: noop, depends_on: [b]}\n  - {name: b, type: noop, depends_on: [a]}\n",
            &["cycle.yaml: task `a`: dependency cycle: a -> b -> a"],
        ),
        (
            "duration.yaml",
            "name: x\ntasks:\n  - {name: a, type: noop, timeout: 5 parsecs}\n",
            &["duration.yaml: line", "task `a`", "`5 parsecs` is not a duration"],
        ),
        (
            "param.yaml",
            "name: x\ntasks:\n  - {name: a, type: shell, command: 'echo ${nope}'}\n",
            &["param.yaml: task `a`: undefined param `${nope}`"],
        ),
    ];
    for (name, content, expected) in cases {
        let file = write(dir.path(), name, content);
        let out = baton(&["run", file.to_str().unwrap()], &[]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {stdout}\n{stderr}");
        for e in *expected {
            assert!(stderr.contains(e), "{name}: expected `{e}` in:\n{stderr}");
        }
        assert!(!stdout.contains("start "), "{name}: nothing ran: {stdout}");
    }
    let out = baton(
        &["run", dir.path().join("missing.yaml").to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let ok = write(
        dir.path(),
        "ok.yaml",
        "name: x\ntasks:\n  - {name: a, type: noop}\n",
    );
    let out = baton(&["run", ok.to_str().unwrap(), "--param", "novalue"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("bad param `novalue`"));
}

use super::*;

fn parse(text: &str) -> Result<WorkflowSpec, SpecError> {
    WorkflowSpec::from_yaml(text, "wf.yaml")
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn full_file_parses_with_defaults() {
    let spec = parse(
        r#"
name: etl
params: { dt: 20260101, debug: true }
tasks:
  - name: a
    type: shell
    command: echo ${dt}
    retries: 2
    retry_interval: 30s
    timeout: 10m
    env: { X: 1 }
  - name: b
    type: python
    script: print(1)
    depends_on: [a]
  - name: c
    type: noop
    depends_on: [a, b, a]
"#,
    )
    .unwrap();
    assert_eq!(spec.project, "default");
    assert_eq!(spec.failure_strategy, FailureStrategy::End);
    assert_eq!(spec.params["dt"], "20260101");
    assert_eq!(spec.params["debug"], "true");
    let a = &spec.tasks[0];
    assert_eq!(a.retries, 2);
    assert_eq!(a.retry_interval, Duration::from_secs(30));
    assert_eq!(a.timeout, Some(Duration::from_secs(600)));
    assert_eq!(a.env["X"], "1");
    assert_eq!(a.worker_group, "default");
    assert_eq!(spec.tasks[2].depends_on, vec!["a", "b"]);
}

#[test]
fn json_round_trip_is_identity() {
    let spec = parse(
        "name: x\ntasks:\n  - {name: a, type: shell, command: 'true', timeout: 5s}\n  - {name: b, type: noop, depends_on: [a]}\n",
    )
    .unwrap();
    let back = WorkflowSpec::from_json(&spec.to_json()).unwrap();
    assert_eq!(back, spec);
    assert_eq!(back.to_json(), spec.to_json());
}

#[test]
fn yaml_syntax_error_has_line_and_column() {
    let e = error("name: x\ntasks:\n  - name: a\n    type: [shell\n");
    assert!(e.starts_with("wf.yaml: line "), "{e}");
    assert!(e.contains("column"), "{e}");
}

#[test]
fn unknown_field_names_the_task_and_line() {
    let e = error("name: x\ntasks:\n  - name: a\n    type: shell\n    comand: ls\n");
    assert!(e.contains("line 5"), "{e}");
    assert!(e.contains("task `a`"), "{e}");
    assert!(e.contains("unknown field `comand`"), "{e}");
}

#[test]
fn unknown_top_level_field() {
    let e = error("name: x\nschedul: daily\ntasks: []\n");
    assert!(e.contains("unknown field `schedul`"), "{e}");
}

#[test]
fn unknown_task_type_lists_known_ones() {
    let e = error("name: x\ntasks:\n  - name: a\n    type: bash\n    command: ls\n");
    assert!(e.contains("task `a`: unknown type `bash`"), "{e}");
    assert!(e.contains("shell, python, noop"), "{e}");
}

#[test]
fn duplicate_task_name() {
    let e = error("name: x\ntasks:\n  - {name: a, type: noop}\n  - {name: a, type: noop}\n");
    assert!(
        e.contains("task `a`: the name is used by another task"),
        "{e}"
    );
}

#[test]
fn missing_dependency_names_both_tasks() {
    let e = error("name: x\ntasks:\n  - {name: a, type: noop, depends_on: [ghost]}\n");
    assert!(
        e.contains("task `a`: depends on `ghost`, which is not a task"),
        "{e}"
    );
}

#[test]
fn cycle_names_its_tasks_in_order() {
    let e = error(
        "name: x\ntasks:\n  - {name: a, type: noop, depends_on: [c]}\n  - {name: b, type: noop, depends_on: [a]}\n  - {name: c, type: noop, depends_on: [b]}\n  - {name: d, type: noop, depends_on: [a]}\n",
    );
    assert!(e.contains("dependency cycle: a -> b -> c -> a"), "{e}");
    assert!(!e.contains("d ->"), "{e}");
}

#[test]
fn self_dependency() {
    let e = error("name: x\ntasks:\n  - {name: a, type: noop, depends_on: [a]}\n");
    assert!(e.contains("task `a`: depends on itself"), "{e}");
}

#[test]
fn bad_duration_has_location_and_task() {
    let e = error("name: x\ntasks:\n  - name: a\n    type: noop\n    timeout: 10 minuts\n");
    assert!(e.contains("line 3"), "{e}");
    assert!(e.contains("task `a`"), "{e}");
    assert!(e.contains("bad duration `10 minuts`"), "{e}");
}

#[test]
fn several_problems_are_all_reported() {
    let e = error(
        "name: x\ntasks:\n  - {name: a, type: shell}\n  - {name: b, type: python, command: ls}\n",
    );
    assert!(
        e.contains("task `a`: a shell task needs a `command`"),
        "{e}"
    );
    assert!(e.contains("task `b`: a python task takes `script`"), "{e}");
    assert_eq!(e.lines().count(), 3, "{e}");
}

#[test]
fn bad_failure_strategy_lists_choices() {
    let e = error("name: x\nfailure_strategy: stop\ntasks:\n  - {name: a, type: noop}\n");
    assert!(e.contains("unknown variant `stop`"), "{e}");
    assert!(e.contains("line 2"), "{e}");
}

#[test]
fn empty_and_nameless_files() {
    assert!(error("").contains("the file is empty"));
    assert!(error("tasks:\n  - {name: a, type: noop}\n").contains("has no `name`"));
    assert!(error("name: x\n").contains("has no `tasks`"));
    assert!(
        error("name: 'bad name'\ntasks:\n  - {name: a, type: noop}\n").contains("may only use")
    );
}

#[test]
fn schedule_block_parses_with_defaults() {
    let spec = parse(
        "name: x\ntimezone: Asia/Shanghai\nschedule:\n  cron: '0 0 2 * * *'\n  end: 2027-01-01\ntasks:\n  - {name: a, type: noop}\n",
    )
    .unwrap();
    let s = spec.schedule.unwrap();
    assert!(s.online);
    assert_eq!(
        (s.misfire, s.concurrency, s.max_catchup),
        (Misfire::FireOnce, Concurrency::Allow, 10)
    );
    let Trigger::Cron(schedule) = s.trigger(spec.timezone.as_deref()).unwrap() else {
        panic!("a cron trigger")
    };
    assert_eq!(schedule.tz, chrono_tz::Asia::Shanghai);
    assert_eq!(
        schedule.end.unwrap().to_rfc3339(),
        "2026-12-31T16:00:00+00:00"
    );
}

#[test]
fn schedule_errors_name_the_problem() {
    let e = error("name: x\nschedule: {cron: '0 0 25 * * *'}\ntasks:\n  - {name: a, type: noop}\n");
    assert!(
        e.contains("schedule: cron `0 0 25 * * *`: hour field: 25 is out of range 0-23"),
        "{e}"
    );
    let e = error("name: x\nschedule: {cron: '* * * * *', fixed_rate: 30s}\ntasks:\n  - {name: a, type: noop}\n");
    assert!(
        e.contains("exactly one of `cron`, `fixed_rate`, `fixed_delay`"),
        "{e}"
    );
    let e = error("name: x\nschedule: {cron: '* * * * *', misfire: sometimes}\ntasks:\n  - {name: a, type: noop}\n");
    assert!(e.contains("unknown variant `sometimes`"), "{e}");
    let e = error(
        "name: x\nschedule: {cron: '* * * * *', crontab: x}\ntasks:\n  - {name: a, type: noop}\n",
    );
    assert!(e.contains("unknown field `crontab`"), "{e}");
    let e = error("name: x\nschedule: {fixed_rate: 30s, start: tomorrow}\ntasks:\n  - {name: a, type: noop}\n");
    assert!(
        e.contains("schedule: start: `tomorrow` is neither a date"),
        "{e}"
    );
}

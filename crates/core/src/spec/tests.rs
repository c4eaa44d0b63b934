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
    assert_eq!(
        e,
        "wf.yaml: line 5, column 5: task `a`: `timeout`: `10 minuts` is not a duration: \
         write 250ms, 30s, 10m, 1h 30m or a number of seconds"
    );
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
    assert!(
        e.contains("line 4, column 29: task `b`: a python task does not take `command` (its own fields: script)"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 3, "{e}");
}

#[test]
fn bad_failure_strategy_lists_choices() {
    let e = error("name: x\nfailure_strategy: stop\ntasks:\n  - {name: a, type: noop}\n");
    assert!(e.contains("unknown value `stop`"), "{e}");
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
    assert!(e.contains("unknown value `sometimes`"), "{e}");
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

#[test]
fn timeout_strategy_parses_defaults_to_fail_and_round_trips() {
    let spec = parse(
        "name: x\ntasks:\n  - {name: a, type: shell, command: 'true', timeout: 1s, timeout_strategy: warn}\n  - {name: b, type: shell, command: 'true', timeout: 1s, timeout_strategy: both}\n  - {name: c, type: shell, command: 'true', timeout: 1s}\n",
    )
    .unwrap();
    assert_eq!(spec.tasks[0].timeout_strategy, TimeoutStrategy::Warn);
    assert_eq!(spec.tasks[1].timeout_strategy, TimeoutStrategy::Both);
    assert_eq!(spec.tasks[2].timeout_strategy, TimeoutStrategy::Fail);
    assert!(TimeoutStrategy::Warn.warns() && !TimeoutStrategy::Warn.kills());
    assert!(TimeoutStrategy::Both.warns() && TimeoutStrategy::Both.kills());
    assert!(!TimeoutStrategy::Fail.warns() && TimeoutStrategy::Fail.kills());
    // The default is not written out: exported files stay as they were.
    let json = spec.to_json();
    assert_eq!(json.matches("timeout_strategy").count(), 2, "{json}");
    let yaml = spec.to_yaml().unwrap();
    let back = WorkflowSpec::from_yaml(&yaml, "exported.yaml").unwrap();
    assert_eq!(back, spec);
    assert_eq!(WorkflowSpec::from_json(&json).unwrap(), spec);
}

#[test]
fn timeout_strategy_without_timeout_or_unknown_is_refused() {
    let e = error(
        "name: x\ntasks:\n  - {name: lonely, type: shell, command: 'true', timeout_strategy: warn}\n",
    );
    assert_eq!(
        e,
        "wf.yaml: task `lonely`: `timeout_strategy: warn` needs a `timeout`"
    );
    let e = error(
        "name: x\ntasks:\n  - name: odd\n    type: shell\n    command: 'true'\n    timeout: 1s\n    timeout_strategy: shout\n",
    );
    assert!(e.contains("task `odd`"), "{e}");
    assert!(e.contains("unknown value `shout`"), "{e}");
    assert!(e.contains("line 7"), "{e}");
}

const LOGIC: &str = r#"
name: logic
tasks:
  - {name: count, type: shell, command: "echo '${setValue(rows=1)}'"}
  - name: route
    type: switch
    depends_on: [count]
    cases:
      - {when: "${rows} > 100", then: big}
      - {when: "${rows} > 0", then: [small, report]}
    default: none
  - {name: big, type: noop}
  - {name: small, type: noop}
  - {name: report, type: noop}
  - {name: none, type: noop}
  - {name: check, type: conditions, depends_on: [big, small], condition: {relation: or, tasks: {big: success, small: success}}, success: ok, failure: [bad]}
  - {name: ok, type: sub_workflow, workflow: child, version: 2}
  - {name: bad, type: noop}
  - name: wait
    type: dependent
    check_interval: 30s
    timeout: 1h
    dependence:
      and:
        - {workflow: etl, date: today}
        - or: [{workflow: a, task: load, date: last_1_days}, {workflow: b, project: other, date: last_week}]
"#;

#[test]
fn logic_tasks_parse_with_their_branches_as_dependencies() {
    let spec = parse(LOGIC).unwrap();
    let small = spec.task("small").unwrap();
    assert_eq!(
        small.depends_on,
        vec!["route"],
        "a branch waits on its switch"
    );
    let check = spec.task("check").unwrap();
    assert!(
        matches!(&check.kind, TaskKind::Conditions { success, failure, .. }
        if success == &["ok"] && failure == &["bad"])
    );
    let wait = spec.task("wait").unwrap();
    let TaskKind::Dependent {
        dependence,
        check_interval,
    } = &wait.kind
    else {
        panic!("{:?}", wait.kind)
    };
    assert_eq!(*check_interval, Duration::from_secs(30));
    let items: Vec<_> = dependence
        .items()
        .iter()
        .map(|i| i.workflow.clone())
        .collect();
    assert_eq!(items, ["etl", "a", "b"]);
    assert!(dependence.met(&mut [true, false, true].into_iter()));
    assert!(!dependence.met(&mut [false, true, true].into_iter()));
    assert!(!dependence.met(&mut [true, false, false].into_iter()));
}

#[test]
fn logic_tasks_round_trip_through_export() {
    let spec = parse(LOGIC).unwrap();
    let yaml = spec.to_yaml().unwrap();
    assert_eq!(parse(&yaml).unwrap(), spec, "{yaml}");
    assert_eq!(WorkflowSpec::from_json(&spec.to_json()).unwrap(), spec);
}

#[test]
fn logic_task_errors_name_the_task_and_the_problem() {
    let cases = [
        (
            "tasks:\n  - {name: s, type: sub_workflow}\n",
            "task `s`: a sub_workflow task needs `workflow`",
        ),
        (
            "tasks:\n  - {name: s, type: sub_workflow, workflow: w}\n",
            "task `s`: a workflow cannot run itself",
        ),
        (
            "tasks:\n  - {name: s, type: switch, command: x, cases: [{when: 'true', then: a}]}\n  - {name: a, type: noop}\n",
            "task `s`: a switch task does not take `command`",
        ),
        (
            "tasks:\n  - {name: s, type: switch, cases: []}\n",
            "task `s`: a switch task needs `cases`",
        ),
        (
            "tasks:\n  - {name: a, type: noop}\n  - {name: c, type: conditions, depends_on: [a], success: b}\n  - {name: b, type: noop}\n  - {name: x, type: noop, depends_on: [c]}\n",
            "task `x`: depends on the conditions task `c` but is on none of its branches",
        ),
        (
            "tasks:\n  - {name: a, type: noop}\n  - {name: c, type: conditions, depends_on: [a], condition: {tasks: {z: failure}}, success: b}\n  - {name: b, type: noop}\n",
            "task `c`: the condition names `z`, which is not in its `depends_on`",
        ),
        (
            "tasks:\n  - {name: c, type: conditions}\n",
            "task `c`: a conditions task needs a `success` or a `failure` branch",
        ),
        (
            "tasks:\n  - {name: d, type: dependent}\n",
            "task `d`: a dependent task needs `dependence`",
        ),
        (
            "tasks:\n  - {name: d, type: dependent, dependence: {workflow: x}}\n",
            "a dependency needs `date`",
        ),
        (
            "tasks:\n  - {name: d, type: dependent, dependence: {workflow: x, date: tomorrow}}\n",
            "unknown date `tomorrow`",
        ),
        (
            "tasks:\n  - {name: d, type: dependent, dependence: {and: [], workflow: x}}\n",
            "either `and: [...]`, `or: [...]`, or one dependency",
        ),
        (
            "tasks:\n  - {name: s, type: switch, cases: [{when: 'true', then: b}]}\n  - {name: b, type: noop, depends_on: [s2]}\n  - {name: s2, type: noop, depends_on: [b]}\n",
            "cycle",
        ),
    ];
    for (tasks, expected) in cases {
        let e = error(&format!("name: w\n{tasks}"));
        assert!(e.contains(expected), "expected `{expected}` in:\n{e}");
    }
}

#[test]
fn six_mistakes_are_reported_in_one_pass() {
    let e = error(
        "name: six
tasks:
  - name: a
    type: noop
    timeout: 10x
  - {name: bad name, type: noop}
  - {name: b, type: noop}
  - {name: b, type: noop}
  - {name: c, type: shel, command: 'true'}
  - {name: d, type: noop, depends_on: [ghost]}
  - name: e
    type: noop
    retries: 1
    retries: 2
",
    );
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(
        lines,
        [
            "wf.yaml: line 5, column 5: task `a`: `timeout`: `10x` is not a duration: write 250ms, 30s, 10m, 1h 30m or a number of seconds",
            "wf.yaml: line 9, column 15: task `c`: unknown type `shel` (known types: shell, python, noop, http, sql, service, sub_workflow, dependent, conditions, switch)",
            "wf.yaml: line 14, column 5: task `e`: `retries` is given twice (first at line 13); only the first is used",
            "wf.yaml: task `bad name`: task names may only use letters, digits, `_`, `-` and `.` (at most 100)",
            "wf.yaml: task `b`: the name is used by another task",
            "wf.yaml: task `d`: depends on `ghost`, which is not a task of this workflow",
        ],
        "{e}"
    );
}

#[test]
fn a_value_of_the_wrong_kind_does_not_hide_the_rest_of_the_task() {
    let e = error(
        "name: x\ntasks:\n  - {name: a, type: shell, command: 'true', retries: many, priority: urgent, depends_on: [nowhere]}\n",
    );
    assert!(
        e.contains("task `a`: `retries`: invalid type: string \"many\", expected a whole number"),
        "{e}"
    );
    assert!(
        e.contains("task `a`: `priority`: unknown value `urgent`"),
        "{e}"
    );
    assert!(e.contains("task `a`: depends on `nowhere`"), "{e}");
    assert_eq!(e.lines().count(), 3, "{e}");
}

#[test]
fn counts_and_durations_from_the_file_are_bounded() {
    let e = error(
        "name: x\nschedule: {fixed_rate: 18446744073709551615, max_catchup: 4000000000}\ntasks:\n  - {name: a, type: noop, retries: 4294967295, timeout: 99999999999999999999 years}\n",
    );
    assert!(
        e.contains("`schedule`: `18446744073709551615` is too long for a duration"),
        "{e}"
    );
    assert!(
        e.contains("task `a`: `timeout`: `99999999999999999999 years` is too long"),
        "{e}"
    );
    assert!(
        e.contains("task `a`: retries: 4294967295 is too many: at most 10000"),
        "{e}"
    );
    let e = error(
        "name: x\nschedule: {fixed_rate: 1m, max_catchup: 4000000000}\ntasks:\n  - {name: a, type: noop}\n",
    );
    assert!(
        e.contains("max_catchup 4000000000 is too many: at most 10000"),
        "{e}"
    );
}

#[test]
fn a_file_of_the_wrong_shape_says_what_shape_is_expected() {
    let e = error("- a\n- b\n");
    assert!(
        e.contains("line 1, column 3: a workflow file is a mapping of fields"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
    let e = error("name: x\ntasks: 5\n");
    assert!(
        e.contains("line 2, column 1: `tasks` is a list of tasks"),
        "{e}"
    );
    let e = error("name: x\ntasks:\n  - {name: a, type: noop}\n  - just text\n");
    assert!(
        e.contains("line 4, column 5: task `#2`: a task is a mapping of fields"),
        "{e}"
    );
    assert!(!e.contains("has no `name`"), "reported once: {e}");
    let e = error("name: x\nschedule: {cron: '* * * * *', cron: '0 * * * *'}\ntasks:\n  - {name: a, type: noop}\n");
    assert!(
        e.contains("line 2, column 31: `schedule.cron` is given twice (first at line 2)"),
        "{e}"
    );
}

const DECLARED: &str = r#"
name: typed
extra_params: allow
params:
  dt: $[yyyy-MM-dd]
  day: {type: date, required: true, description: The business day}
  rows: {type: int, min: 1, max: 1000, default: 100}
  ratio: {type: number, default: 0.5}
  full: {type: bool, default: false}
  region: {enum: [eu, us], default: eu}
  tag: {pattern: '[a-z]+'}
tasks:
  - {name: a, type: shell, command: 'echo ${day} ${rows}'}
"#;

#[test]
fn declared_params_parse_into_defaults_and_rules() {
    let spec = parse(DECLARED).unwrap();
    assert_eq!(spec.extra_params, ExtraParams::Allow);
    assert_eq!(spec.params["rows"], "100");
    assert_eq!(spec.params["full"], "false");
    assert_eq!(spec.params["dt"], "$[yyyy-MM-dd]");
    assert!(
        !spec.params.contains_key("day"),
        "a required param has no default"
    );
    assert!(spec.param_rules["day"].required);
    assert_eq!(spec.param_rules["day"].description, "The business day");
    assert_eq!(
        spec.param_rules["rows"].rule,
        ParamRule::Int {
            min: Some(1),
            max: Some(1000)
        }
    );
    assert_eq!(
        spec.param_rules["region"].rule,
        ParamRule::Enum {
            values: vec!["eu".into(), "us".into()]
        }
    );
    assert!(
        !spec.param_rules.contains_key("dt"),
        "a plain value has no rule"
    );
    assert!(spec.declares("dt") && spec.declares("day") && !spec.declares("other"));
}

#[test]
fn declared_params_round_trip_through_export_and_storage() {
    let spec = parse(DECLARED).unwrap();
    let yaml = spec.to_yaml().unwrap();
    assert!(!yaml.contains("param_rules"), "{yaml}");
    assert_eq!(parse(&yaml).unwrap(), spec, "{yaml}");
    assert_eq!(WorkflowSpec::from_json(&spec.to_json()).unwrap(), spec);
    // A workflow without declarations is stored exactly as before they existed.
    let plain = parse("name: p\nparams: {dt: '1'}\ntasks:\n  - {name: a, type: noop}\n").unwrap();
    let json = plain.to_json();
    assert!(
        !json.contains("param_rules") && !json.contains("extra_params"),
        "{json}"
    );
}

#[test]
fn a_bad_declaration_is_refused_at_its_line_with_what_is_wrong() {
    let e = error(
        "name: w\nparams:\n  rows: {type: int, default: lots}\n  region: {enum: []}\n  tag: {pattern: '('}\n  n: {type: bool, min: 1}\n  r: {type: date, required: true, default: 2026-01-01}\n  odd: {type: integer}\n  unknown: {type: int, maximum: 3}\ntasks:\n  - {name: a, type: noop}\n",
    );
    for expected in [
        "line 3, column 3: param `rows`: the default `lots` is not a whole number (type: int)",
        "line 4, column 3: param `region`: `enum` lists no value",
        "line 5, column 3: param `tag`: `pattern` is not a valid regular expression: unclosed group",
        "line 6, column 3: param `n`: `min` / `max` is for int params only",
        "line 7, column 3: param `r`: a `required` param takes no `default`",
        "line 8, column 9: param `odd`: `type`: unknown value `integer`",
        "line 9, column 24: param `unknown`: unknown field `maximum`",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
}

#[test]
fn a_scheduled_workflow_cannot_require_a_param() {
    let e = error(
        "name: w\nschedule: {cron: '0 0 * * *'}\nparams:\n  day: {type: date, required: true}\ntasks:\n  - {name: a, type: noop}\n",
    );
    assert!(
        e.contains("param `day` is required, but a scheduled run passes no params"),
        "{e}"
    );
}

#[test]
fn a_field_is_refused_at_its_line_naming_what_the_type_takes() {
    let e = error(
        "name: w\ntasks:\n  - name: a\n    type: noop\n    command: x\n  - name: b\n    type: shell\n    command: x\n    dependson: [a]\n  - name: c\n    type: sub_workflow\n    workflow: other\n    cases: []\n",
    );
    for expected in [
        "line 5, column 5: task `a`: a noop task does not take `command` (it takes none of its own)",
        "line 9, column 5: task `b`: unknown field `dependson` (a shell task takes name, type, depends_on,",
        "; its own fields: command, script)",
        "line 13, column 5: task `c`: a sub_workflow task does not take `cases` (its own fields: workflow, version)",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
    assert_eq!(e.lines().count(), 3, "{e}");
}

const HTTP: &str = r#"
name: hooks
params: {dt: "2026-01-31"}
tasks:
  - name: notify
    type: http
    method: POST
    url: https://example.test/hooks/${dt}?day=${dt}
    headers: {X-Day: "${dt}"}
    body: {date: "${dt}", n: 3, tags: ["${dt}"]}
    expect_status: [200, 201]
    outputs: {job_id: /id}
    timeout: 30s
  - {name: after, type: shell, depends_on: [notify], command: 'echo ${job_id}'}
"#;

#[test]
fn an_http_task_parses_round_trips_and_declares_its_outputs() {
    let spec = parse(HTTP).unwrap();
    let TaskKind::Http(http) = &spec.tasks[0].kind else {
        panic!("an http task");
    };
    assert_eq!(http.method, HttpMethod::Post);
    assert_eq!(http.expect_status, [200, 201]);
    assert_eq!(http.outputs["job_id"], "/id");
    assert_eq!(http.body.as_ref().unwrap()["n"], 3);
    assert_eq!(spec.tasks[0].timeout, Some(Duration::from_secs(30)));
    assert_eq!(spec.tasks[0].kind.output_names(), ["job_id"]);
    assert!(
        crate::params::check(&spec, &BTreeMap::new(), &Default::default()).is_empty(),
        "`${{job_id}}` downstream is known"
    );
    let yaml = spec.to_yaml().unwrap();
    assert_eq!(parse(&yaml).unwrap(), spec, "{yaml}");
    assert_eq!(WorkflowSpec::from_json(&spec.to_json()).unwrap(), spec);
}

#[test]
fn a_bad_http_task_is_refused_naming_each_problem() {
    let e = error(
        "name: w\ntasks:\n  - {name: a, type: http, url: 'ftp://x', method: BREW, body: {}, body_text: x}\n  - {name: b, type: http, url: 'http://h.test', headers: {'Bad Name': x}, expect_status: [999], outputs: {n: id}}\n  - {name: c, type: http}\n",
    );
    for expected in [
        "task `a`: `method`: unknown value `BREW`",
        "task `b`: `Bad Name` is not a valid header name",
        "task `b`: `expect_status`: 999 is not an HTTP status",
        "task `b`: `outputs.n`: `id` is not a JSON pointer",
        "task `c`: a http task needs a `url`",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
    let e = error(
        "name: w\ntasks:\n  - {name: a, type: http, url: 'ftp://x', body: {}, body_text: x}\n",
    );
    assert!(
        e.contains("`url` must start with http:// or https://"),
        "{e}"
    );
    assert!(
        e.contains("give `body` (JSON) or `body_text`, not both"),
        "{e}"
    );
}

const SQL: &str = r#"
name: load
params: {dt: "2026-01-31"}
tasks:
  - name: load
    type: sql
    datasource: warehouse
    sql: |
      insert into daily select * from staging where dt = ${dt};
      select count(*) as n from daily where dt = '${dt}';
    outputs: first_row
    max_rows: 10
    transaction: true
  - name: all
    type: sql
    datasource: warehouse
    sql: select * from daily
    outputs: all_rows
  - {name: after, type: shell, depends_on: [load, all], command: 'echo ${n} ${rows}'}
"#;

#[test]
fn a_sql_task_parses_round_trips_and_declares_its_outputs() {
    let spec = parse(SQL).unwrap();
    let TaskKind::Sql(sql) = &spec.tasks[0].kind else {
        panic!("a sql task");
    };
    assert_eq!(sql.datasource, "warehouse");
    assert_eq!(sql.outputs, SqlOutputs::FirstRow);
    assert_eq!(sql.max_rows, 10);
    assert!(sql.transaction);
    let TaskKind::Sql(all) = &spec.tasks[1].kind else {
        panic!("a sql task");
    };
    assert_eq!(all.max_rows, kinds::sql::DEFAULT_MAX_ROWS);
    assert!(!all.transaction);
    assert_eq!(spec.tasks[1].kind.output_names(), ["rows"]);
    assert!(spec.tasks[0].kind.sets_unknown_outputs());
    assert!(
        crate::params::check(&spec, &BTreeMap::new(), &Default::default()).is_empty(),
        "`${{rows}}` and a first_row column downstream are accepted"
    );
    let yaml = spec.to_yaml().unwrap();
    assert_eq!(parse(&yaml).unwrap(), spec, "{yaml}");
    assert_eq!(WorkflowSpec::from_json(&spec.to_json()).unwrap(), spec);
}

#[test]
fn alerts_block_parses_and_round_trips() {
    let text = "name: etl
alerts:
  - {on: [instance_failed, task_timeout], channels: [ops-slack]}
  - on: [instance_succeeded]
    channels: [mail, ops-slack]
tasks:
  - {name: a, type: noop}
";
    let spec = parse(text).unwrap();
    use crate::alert::AlertOn;
    assert_eq!(spec.alerts.len(), 2);
    assert_eq!(
        spec.alerts[0].on,
        vec![AlertOn::InstanceFailed, AlertOn::TaskTimeout]
    );
    assert_eq!(spec.alerts[1].channels, vec!["mail", "ops-slack"]);
    let back = WorkflowSpec::from_yaml(&spec.to_yaml().unwrap(), "back").unwrap();
    assert_eq!(back, spec);
    assert_eq!(WorkflowSpec::from_json(&spec.to_json()).unwrap(), spec);
}

#[test]
fn a_bad_sql_task_is_refused_at_its_line_naming_each_problem() {
    let e = error(
        "name: w\ntasks:\n  - {name: a, type: sql, datasource: wh, sql: '  '}\n  - {name: b, type: sql, datasource: wh, sql: 'select 1', outputs: first_rows}\n  - {name: c, type: sql, sql: 'select 1'}\n  - {name: d, type: sql, datasource: wh, sql: 'select 1', max_rows: 100001}\n  - {name: e, type: sql, datasource: 'no such', sql: 'select 1', url: x}\n",
    );
    for expected in [
        "line 3, column 6: task `a`: `sql` is empty",
        "line 4, column 6: task `b`: `outputs`: `first_rows` is not one of none, first_row, all_rows",
        "task `c`: a sql task needs a `datasource`",
        "task `d`: `max_rows`: 100001 is not between 0 and 100000",
        "task `e`: a sql task does not take `url`",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
}

#[test]
fn a_sql_reference_that_cannot_be_bound_or_a_sql_without_statements_is_refused_at_start() {
    let spec = parse(
        "name: w\nparams: {dt: x}\ntasks:\n  - {name: a, type: sql, datasource: wh, sql: \"select 'day ${dt}'\"}\n  - {name: b, type: sql, datasource: wh, sql: ' ; ;'}\n",
    )
    .unwrap();
    let problems: Vec<String> = crate::params::check(&spec, &BTreeMap::new(), &Default::default())
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].contains("task `a`: `${dt}` cannot be substituted here: a bound value cannot be part of a longer string literal"),
        "{problems:?}"
    );
    assert!(
        problems[1].contains("task `b`: its `sql` holds no statement"),
        "{problems:?}"
    );
}

#[test]
fn a_bad_alert_rule_is_reported_at_its_line() {
    let e = error(
        "name: etl
tasks:
  - {name: a, type: noop}
alerts:
  - {on: [instance_failed], channels: [ok]}
  - {on: [instance_faild], channels: [ops]}
  - {on: [], channels: [ops]}
",
    );
    assert!(e.contains("wf.yaml: line 6"), "{e}");
    assert!(
        e.contains("alert rule 2") && e.contains("instance_faild"),
        "{e}"
    );
    assert!(
        e.contains("task_timeout"),
        "the known kinds are listed: {e}"
    );
    assert!(
        e.contains("line 7") && e.contains("alert rule 3: `on` names no event"),
        "{e}"
    );
    let e = error("name: etl\ntasks:\n  - {name: a, type: noop}\nalerts: {on: x}\n");
    assert!(
        e.contains("line 4") && e.contains("`alerts` is a list"),
        "{e}"
    );
}

//! `RunScope::resolve_task`: precedence, system params, expressions in texts and in values, errors.

use super::{at, map};
use crate::ids::{TaskInstanceId, WorkflowInstanceId};
use crate::params::{ParamError, ResolvedTask, RunScope, SystemContext};
use crate::spec::{TaskKind, TaskSpec, WorkflowSpec};
use chrono_tz::Asia::Shanghai;
use std::collections::BTreeMap;

type Params = BTreeMap<String, String>;

fn scope<'a>(
    workflow: &'a WorkflowSpec,
    task: &'a TaskSpec,
    start: &'a Params,
    upstream: &'a Params,
    ctx: &'a SystemContext,
) -> RunScope<'a> {
    RunScope {
        workflow,
        task,
        start,
        upstream,
        ctx,
    }
}

fn resolve_task(
    w: &WorkflowSpec,
    t: &TaskSpec,
    start: &Params,
    upstream: &Params,
    ctx: &SystemContext,
) -> Result<ResolvedTask, ParamError> {
    scope(w, t, start, upstream, ctx).resolve_task()
}

fn task_params(
    w: &WorkflowSpec,
    t: &TaskSpec,
    start: &Params,
    upstream: &Params,
    ctx: &SystemContext,
) -> Result<Params, ParamError> {
    scope(w, t, start, upstream, ctx).task_params()
}

/// Schedule 2024-03-01 02:00 (Friday) in Shanghai; started five seconds later.
fn ctx() -> SystemContext {
    SystemContext {
        schedule_time: at(Shanghai, 2024, 3, 1, 2, 0, 0),
        start_time: at(Shanghai, 2024, 3, 1, 2, 0, 5),
        workflow_name: "w".into(),
        workflow_instance_id: WorkflowInstanceId(42),
        task_instance_id: TaskInstanceId(7),
        attempt: 1,
    }
}

/// A one-task workflow: global params `global`, the task's `local`, command `command`,
/// parsed from YAML and then given its params (YAML flow style and `$[` do not mix well).
fn spec(global: &str, local: &str, command: &str) -> WorkflowSpec {
    let yaml = "name: w\ntasks:\n  - name: t\n    type: shell\n    command: x\n    env: {E: '${system.task.attempt}-$[yyyy]'}\n";
    let mut spec = WorkflowSpec::from_yaml(yaml, "w.yaml").unwrap();
    spec.params = pairs(global);
    spec.tasks[0].params = pairs(local);
    spec.tasks[0].kind = TaskKind::Shell {
        command: command.to_string(),
    };
    spec
}

/// `"a: 1, b: 2"` as a map (values must not contain `, `).
fn pairs(text: &str) -> BTreeMap<String, String> {
    text.split(", ")
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once(": ").expect("NAME: VALUE");
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn command(r: &crate::params::ResolvedTask) -> &str {
    match &r.kind {
        TaskKind::Shell { command } => command,
        other => panic!("not a shell task: {other:?}"),
    }
}

fn run(
    global: &str,
    local: &str,
    command_text: &str,
    start: &BTreeMap<String, String>,
    upstream: &BTreeMap<String, String>,
) -> Result<String, ParamError> {
    let s = spec(global, local, command_text);
    resolve_task(&s, &s.tasks[0], start, upstream, &ctx()).map(|r| as_bash_expands(&r))
}

/// The command with the param variables it refers to replaced by their values, as bash
/// expands them (the values reach the task through its environment).
fn as_bash_expands(r: &crate::params::ResolvedTask) -> String {
    let mut text = command(r).to_string();
    for (var, value) in r.env.iter().filter(|(k, _)| k.starts_with("BATON_PARAM_")) {
        text = text
            .replace(&format!("\"${{{var}}}\""), value)
            .replace(&format!("${{{var}}}"), value);
    }
    text
}

#[test]
fn precedence_start_local_upstream_global() {
    // Which sources define `x`, and which value the task sees.
    let cases: &[(&[&str], &str)] = &[
        (&["global"], "global"),
        (&["upstream"], "upstream"),
        (&["upstream", "global"], "upstream"),
        (&["local", "global"], "local"),
        (&["local", "upstream"], "local"),
        (&["local", "upstream", "global"], "local"),
        (&["start", "global"], "start"),
        (&["start", "upstream"], "start"),
        (&["start", "local"], "start"),
        (&["start", "local", "upstream", "global"], "start"),
    ];
    for (sources, want) in cases {
        let has = |s: &str| sources.contains(&s);
        let pair = |s: &str| {
            if has(s) {
                format!("x: {s}")
            } else {
                String::new()
            }
        };
        let start = if has("start") {
            map(&[("x", "start")])
        } else {
            map(&[])
        };
        let upstream = if has("upstream") {
            map(&[("x", "upstream")])
        } else {
            map(&[])
        };
        let got = run(
            &pair("global"),
            &pair("local"),
            "echo ${x}",
            &start,
            &upstream,
        );
        assert_eq!(got.unwrap(), format!("echo {want}"), "{sources:?}");
    }
}

#[test]
fn system_params_in_commands_and_they_cannot_be_shadowed() {
    let got = run(
        "system.biz.date: mine",
        "",
        "${system.biz.date} ${system.biz.curdate} ${system.datetime} ${system.schedule.time} ${system.workflow.name} ${system.workflow.instance.id} ${system.task.instance.id} ${system.task.attempt}",
        &map(&[("system.task.attempt", "9")]),
        &map(&[]),
    );
    assert_eq!(
        got.unwrap(),
        "20240229 20240301 20240301020005 20240301020000 w 42 7 1"
    );
}

#[test]
fn expressions_in_commands_values_and_env() {
    // (global, local, start, upstream, command, expected command); params as "k: v, k: v".
    let cases: &[[&str; 6]] = &[
        ["", "", "", "", "ls /d/$[yyyyMMdd-1]", "ls /d/20240229"],
        ["", "", "", "", "$[yyyy-MM-dd] $$[x]", "2024-03-01 $[x]"],
        [
            "dt: $[yyyyMMdd-1]",
            "",
            "",
            "",
            "echo ${dt}",
            "echo 20240229",
        ],
        [
            "",
            "dt: $[month_end(yyyyMMdd,-1)]",
            "",
            "",
            "${dt}",
            "20240229",
        ],
        [
            "",
            "",
            "dt: $[add_months(yyyyMMdd,-1)]",
            "",
            "${dt}",
            "20240201",
        ],
        // Upstream outputs are verbatim.
        [
            "",
            "",
            "",
            "dt: $[yyyy] ${x}",
            "echo ${dt}",
            "echo $[yyyy] ${x}",
        ],
        // Values may refer to other params, across sources.
        [
            "dt: $[yyyyMMdd], p: /d/${dt}",
            "",
            "dt: x",
            "",
            "ls ${p}",
            "ls /d/x",
        ],
        [
            "p: /d/${system.task.attempt}",
            "",
            "",
            "",
            "ls ${p}",
            "ls /d/1",
        ],
        [
            "base: /b",
            "p: ${base}/${up}",
            "",
            "up: u",
            "ls ${p}",
            "ls /b/u",
        ],
        // A value in a shadowed source is never looked at.
        ["x: ${nope}", "x: ok", "", "", "echo ${x}", "echo ok"],
        // Shell forms stay.
        [
            "",
            "",
            "",
            "",
            "${HOME:-h} $((1+2)) ${#a[@]}",
            "${HOME:-h} $((1+2)) ${#a[@]}",
        ],
    ];
    for [global, local, start, upstream, cmd, want] in cases {
        let got = run(global, local, cmd, &pairs(start), &pairs(upstream));
        assert_eq!(got.unwrap(), *want, "{cmd:?} with {global:?} / {local:?}");
    }
}

#[test]
fn env_values_are_resolved() {
    let s = spec("", "", "true");
    let r = resolve_task(&s, &s.tasks[0], &map(&[]), &map(&[]), &ctx()).unwrap();
    assert_eq!(r.env["E"], "1-2024");
}

#[test]
fn errors() {
    let cases: &[(&str, &str, &str, &str)] = &[
        // (global, local, command, message)
        (
            "",
            "",
            "echo $[yyyyMMdd-x]",
            "task `t`: $[yyyyMMdd-x]: unknown letter `x`",
        ),
        (
            "dt: $[bad_fn(yyyy)]",
            "",
            "echo ${dt}",
            "task `t`: $[bad_fn(yyyy)]: unknown function `bad_fn`",
        ),
        (
            "",
            "",
            "echo ${a} ${b} ${a}",
            "task `t`: undefined params `${a}`, `${b}`",
        ),
        (
            "p: /d/${q}",
            "",
            "echo ${p}",
            "task `t`: undefined param `${q}`",
        ),
        (
            "a: ${b}, b: ${a}",
            "",
            "echo ${a}",
            "task `t`: param `a` refers to itself: ${a} -> ${b} -> ${a}",
        ),
        (
            "",
            "p: ${p}/x",
            "echo ${p}",
            "task `t`: param `p` refers to itself: ${p} -> ${p}",
        ),
    ];
    for (global, local, cmd, want) in cases {
        let err = run(global, local, cmd, &map(&[]), &map(&[])).unwrap_err();
        assert!(err.to_string().starts_with(want), "{cmd:?}: {err}");
    }
}

#[test]
fn bad_expression_comes_before_undefined_names() {
    let err = run("", "", "${nope} $[q]", &map(&[]), &map(&[])).unwrap_err();
    assert!(matches!(err, ParamError::BadExpression { .. }), "{err}");
}

#[test]
fn unused_broken_params_do_not_fail_a_task_but_fail_task_params() {
    let s = spec("broken: $[zz], ok: $[yyyy]", "", "echo ${ok}");
    let t = &s.tasks[0];
    assert!(resolve_task(&s, t, &map(&[]), &map(&[]), &ctx()).is_ok());
    assert!(task_params(&s, t, &map(&[]), &map(&[]), &ctx()).is_err());
}

#[test]
fn task_params_lists_every_visible_param_expanded() {
    let s = spec("g: $[yyyyMMdd], x: g", "x: l", "true");
    let all = task_params(&s, &s.tasks[0], &map(&[]), &map(&[("u", "1")]), &ctx()).unwrap();
    assert_eq!(all["g"], "20240301");
    assert_eq!(all["x"], "l");
    assert_eq!(all["u"], "1");
    assert_eq!(all["system.biz.date"], "20240229");
}

#[test]
fn resolve_text_for_conditions() {
    let s = spec("", "", "true");
    let (start, upstream, ctx) = (map(&[]), map(&[("rows", "150")]), ctx());
    let got = scope(&s, &s.tasks[0], &start, &upstream, &ctx)
        .resolve_text("${rows} > 100 && '$[yyyyMMdd]' != ''");
    assert_eq!(got.unwrap(), "150 > 100 && '20240301' != ''");
}

#[test]
fn noop_has_no_body() {
    let s = WorkflowSpec::from_yaml("name: w\ntasks:\n  - {name: n, type: noop}\n", "w").unwrap();
    let r = resolve_task(&s, &s.tasks[0], &map(&[]), &map(&[]), &ctx()).unwrap();
    assert_eq!(r.kind, TaskKind::Noop);
}

#[test]
fn values_that_double_at_each_level_are_refused_not_expanded() {
    let global: Vec<String> = (1..40)
        .map(|i| format!("a{i}: ${{a{}}}${{a{}}}", i + 1, i + 1))
        .chain(std::iter::once("a40: xxxxxxxxxxxxxxxx".to_string()))
        .collect();
    let got = run(&global.join(", "), "", "echo ${a1}", &map(&[]), &map(&[]));
    let err = got.unwrap_err();
    assert!(matches!(err, ParamError::TooLarge { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("expands to more than 1048576 bytes"),
        "{err}"
    );
}

fn http_of(kind: &TaskKind) -> &crate::spec::HttpSpec {
    match kind {
        TaskKind::Http(h) => h,
        other => panic!("not http: {other:?}"),
    }
}

#[test]
fn an_http_request_takes_values_as_data_where_they_stand() {
    let s = WorkflowSpec::from_yaml(
        "name: w\nparams: {v: x}\ntasks:\n  - name: h\n    type: http\n    method: POST\n    url: 'https://h.test/a/${v}?q=${v}'\n    headers: {X-V: '${v}'}\n    body: {'${v}': ['${v}', 1]}\n",
        "w",
    )
    .unwrap();
    let hostile = "a/../b?c=d#e \"}'";
    let start = map(&[("v", hostile)]);
    let r = resolve_task(&s, &s.tasks[0], &start, &map(&[]), &ctx()).unwrap();
    let h = http_of(&r.kind);
    let encoded = "a%2F..%2Fb%3Fc%3Dd%23e%20%22%7D%27";
    assert_eq!(h.url, format!("https://h.test/a/{encoded}?q={encoded}"));
    assert_eq!(h.headers["X-V"], hostile);
    let body = h.body.as_ref().unwrap();
    assert_eq!(body[hostile][0], hostile, "the value stays one JSON string");
    // A line break would start another header: refused.
    let start = map(&[("v", "x\r\nX-Admin: 1")]);
    let e = resolve_task(&s, &s.tasks[0], &start, &map(&[]), &ctx()).unwrap_err();
    assert!(e.to_string().contains("line break"), "{e}");
}

#[test]
fn a_param_cannot_choose_an_http_tasks_host() {
    let s = WorkflowSpec::from_yaml(
        "name: w\nparams: {host: h.test}\ntasks:\n  - {name: h, type: http, url: 'https://${host}/x'}\n",
        "w",
    )
    .unwrap();
    let e = resolve_task(&s, &s.tasks[0], &map(&[]), &map(&[]), &ctx()).unwrap_err();
    assert!(
        e.to_string()
            .contains("cannot stand in a URL's scheme, host or port"),
        "{e}"
    );
}

#[test]
fn a_sql_tasks_references_become_bound_values_statement_by_statement() {
    let s = WorkflowSpec::from_yaml(
        "name: w\nparams: {dt: x}\ntasks:\n  - {name: q, type: sql, datasource: wh, sql: \"insert into t values (${dt}); select * from t where d = '${dt}' -- ${dt}\"}\n",
        "w",
    )
    .unwrap();
    let hostile = "'; drop table t; --";
    let start = map(&[("dt", hostile)]);
    let r = resolve_task(&s, &s.tasks[0], &start, &map(&[]), &ctx()).unwrap();
    assert_eq!(r.kind, s.tasks[0].kind, "the spec is kept as written");
    let rendered: Vec<(String, Vec<String>)> = r
        .statements
        .iter()
        .map(|st| (st.render(|_| "?".into()), st.args.clone()))
        .collect();
    assert_eq!(
        rendered,
        [
            (
                "insert into t values (?)".to_string(),
                vec![hostile.to_string()]
            ),
            (
                "select * from t where d = ? --".to_string(),
                vec![hostile.to_string()]
            ),
        ]
    );
}

#[test]
fn a_secret_is_resolved_only_in_an_http_payload_and_only_with_its_value_given() {
    let s = WorkflowSpec::from_yaml(
        "name: w\ntasks:\n  - name: h\n    type: http\n    method: POST\n    url: 'https://h.test/x'\n    headers: {Authorization: 'Bearer ${secret.token}'}\n    body: {k: '${secret.token}'}\n",
        "w",
    )
    .unwrap();
    let (start, upstream, ctx) = (map(&[]), map(&[]), ctx());
    let scope = scope(&s, &s.tasks[0], &start, &upstream, &ctx);
    let secrets = map(&[("token", "s3cr3t")]);
    let r = scope.resolve_task_with_secrets(&secrets).unwrap();
    let h = http_of(&r.kind);
    assert_eq!(h.headers["Authorization"], "Bearer s3cr3t");
    assert_eq!(h.body.as_ref().unwrap()["k"], "s3cr3t");
    assert!(r.env.values().all(|v| !v.contains("s3cr3t")), "{:?}", r.env);
    let e = scope.resolve_task().unwrap_err();
    assert!(
        e.to_string().contains("the project has no secret `token`"),
        "{e}"
    );
    assert!(
        crate::params::check(&s, &start, &Default::default()).is_empty(),
        "a secret counts as set before a run"
    );
}

#[test]
fn a_mapped_item_is_bound_above_every_param_and_stays_data() {
    let w = WorkflowSpec::from_yaml(
        "name: w\nparams: {part: global, parts: '[1]'}\ntasks:\n  - name: m\n    type: shell\n    command: echo ${part} ${system.task.attempt}\n    params: {part: local}\n    map: {over: '${parts}', as: part}\n",
        "w",
    )
    .unwrap();
    let start = Params::from([("part".to_string(), "start".to_string())]);
    let upstream = Params::new();
    let c = ctx();
    let item = "$(touch /tmp/x) $[yyyy] ${parts}";
    let resolved = scope(&w, &w.tasks[0], &start, &upstream, &c)
        .resolve_item(&[("part".to_string(), item.to_string())], &BTreeMap::new())
        .unwrap();
    assert_eq!(
        resolved.env["BATON_PARAM_part"], item,
        "neither run nor expanded"
    );
    let TaskKind::Shell { command } = &resolved.kind else {
        panic!("a shell task stays one");
    };
    assert!(!command.contains("touch"), "{command}");
    assert!(command.contains("BATON_PARAM_part"), "{command}");
}

//! Whatever a user types (a workflow file, a duration, a cron expression, a time expression,
//! a param value, a param's declared rule), the parsers and the param resolver answer with a value or an error: no
//! panic, and no time that grows without bound. Generated inputs, a bounded number of cases.

use baton_core::params::{self, SystemContext};
use baton_core::schedule::{Cron, Schedule};
use baton_core::spec::WorkflowSpec;
use baton_core::{TaskInstanceId, WorkflowInstanceId};
use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Text that looks like what the parsers read: their own punctuation, digits and letters.
fn texty() -> impl Strategy<Value = String> {
    proptest::string::string_regex(
        r"[a-zA-Z0-9 *?/,\-#LW:_.$\[\]{}()'\x22\\;|&<>`\n\t+=@!%^~]{0,80}",
    )
    .expect("a valid pattern")
}

fn ctx() -> SystemContext {
    let at = chrono_tz::UTC
        .with_ymd_and_hms(2024, 3, 1, 2, 0, 0)
        .unwrap();
    SystemContext {
        schedule_time: at,
        start_time: at,
        workflow_name: "w".into(),
        workflow_instance_id: WorkflowInstanceId(1),
        task_instance_id: TaskInstanceId(1),
        attempt: 1,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn durations_parse_or_refuse(text in texty()) {
        let _ = baton_core::duration::parse(&text);
    }

    #[test]
    fn cron_expressions_parse_or_refuse_and_next_fires_are_found(text in texty()) {
        if let Ok(cron) = Cron::parse(&text) {
            let schedule = Schedule::new(cron, chrono_tz::UTC);
            let _ = schedule.next_after(Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 59).unwrap());
        }
    }

    #[test]
    fn time_expressions_evaluate_or_refuse(text in texty()) {
        let _ = params::eval_time_expr(&text, &ctx().schedule_time);
    }

    #[test]
    fn workflow_files_parse_or_refuse(text in texty()) {
        let _ = WorkflowSpec::from_yaml(&text, "f.yaml");
        let _ = WorkflowSpec::from_yaml(&format!("name: w\ntasks:\n  - {{name: a, type: shell, command: {text:?}}}\n"), "f.yaml");
    }

    #[test]
    fn declared_params_and_start_values_are_checked_or_refused(rule in texty(), value in texty()) {
        // The text as a pattern, an enum value, a default; then as a start value for each type.
        let file = format!(
            "name: w\nparams:\n  p: {{pattern: {rule:?}}}\n  e: {{enum: [{rule:?}]}}\n  i: {{type: int, default: {rule:?}}}\ntasks:\n  - {{name: a, type: noop}}\n"
        );
        let _ = WorkflowSpec::from_yaml(&file, "f.yaml");
        let typed = "name: w\nparams:\n  s: {pattern: '[a-z]+(-[a-z]+)*'}\n  i: {type: int, min: -5, max: 5}\n  n: {type: number}\n  b: {type: bool}\n  d: {type: date}\n  e: {enum: [a, b]}\ntasks:\n  - {name: a, type: noop}\n";
        let spec = WorkflowSpec::from_yaml(typed, "t.yaml").expect("a valid workflow");
        for name in ["s", "i", "n", "b", "d", "e", "undeclared"] {
            let start = BTreeMap::from([(name.to_string(), value.clone())]);
            let _ = params::check_start(&spec, &start);
        }
    }

    #[test]
    fn any_program_and_value_resolve_or_refuse(program in texty(), value in texty()) {
        let yaml = "name: w\ntasks:\n  - {name: s, type: shell, command: x}\n  - {name: p, type: python, script: x}\n  - name: c\n    type: switch\n    cases: [{when: 'true', then: [s]}]\n";
        let mut spec = WorkflowSpec::from_yaml(yaml, "w.yaml").expect("a valid workflow");
        let program = format!("{program} ${{v}} {program}");
        spec.tasks[0].kind = baton_core::TaskKind::Shell { command: program.clone() };
        spec.tasks[1].kind = baton_core::TaskKind::Python { script: program.clone() };
        let start = BTreeMap::from([("v".to_string(), value)]);
        let (upstream, ctx) = (BTreeMap::new(), ctx());
        let scope = |task| params::RunScope { workflow: &spec, task, start: &start, upstream: &upstream, ctx: &ctx };
        for task in &spec.tasks[..2] {
            let _ = scope(task).resolve_task();
        }
        let _ = scope(&spec.tasks[2]).resolve_condition(&program);
    }
}

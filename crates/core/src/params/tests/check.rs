//! Checks before a run: system names and upstream outputs count as defined.

use super::map;
use crate::params::{check, check_all, upstream_outputs, ParamError};
use crate::spec::WorkflowSpec;
use std::collections::BTreeSet;

const DAG: &str = "name: w
params: {g: '$[yyyyMMdd-1]'}
tasks:
  - name: a
    type: shell
    command: echo '${setValue(rows=1)}'
  - name: b
    type: python
    script: print(f\"${{setValue(total={n})}}\")
    depends_on: [a]
  - name: c
    type: shell
    command: echo ${rows} ${total} ${g} ${system.biz.date} $[yyyyMMdd]
    depends_on: [b]
  - name: d
    type: shell
    command: echo ${total} ${dynamic}
";

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn upstream_outputs_are_transitive() {
    let s = WorkflowSpec::from_yaml(DAG, "w").unwrap();
    let names: Vec<BTreeSet<String>> = s.tasks.iter().map(|t| upstream_outputs(&s, t)).collect();
    assert_eq!(names[0], set(&[]));
    assert_eq!(names[1], set(&["rows"]));
    assert_eq!(names[2], set(&["rows", "total"]));
    assert_eq!(names[3], set(&[]));
}

#[test]
fn only_names_no_upstream_may_set_are_undefined() {
    let s = WorkflowSpec::from_yaml(DAG, "w").unwrap();
    let errs = check_all(&s, &map(&[]));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].task, "d");
    assert_eq!(errs[0].names, vec!["total", "dynamic"]);

    let errs = check(&s, &map(&[("total", "5")]), &set(&["dynamic"]));
    assert!(errs.is_empty(), "{errs:?}");
}

#[test]
fn check_reports_everything_and_check_all_only_undefined_names() {
    let s = WorkflowSpec::from_yaml(
        "name: w\nparams: {a: '${b}', b: '${a}'}\ntasks:\n  - {name: t, type: shell, command: 'echo $[yyyyMMdd-x] ${nope} ${a}'}\n  - {name: u, type: shell, command: 'echo ok'}\n",
        "w",
    )
    .unwrap();
    let errs = check(&s, &map(&[]), &BTreeSet::new());
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(matches!(errs[0], ParamError::BadExpression { .. }));
    assert!(matches!(errs[1], ParamError::Cycle { .. }));
    assert!(matches!(&errs[2], ParamError::Undefined(u) if u.names == ["nope"]));
    let undefined = check_all(&s, &map(&[]));
    assert_eq!(undefined.len(), 1);
    assert_eq!(undefined[0].names, vec!["nope"]);
}

//! The `${name}`-only API as it was before time expressions and system params.

use super::super::*;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn substitutes_known_names_and_leaves_shell_forms() {
    let p = map(&[("dt", "2026"), ("a.b", "x")]);
    let out = substitute("d=${dt} ${a.b} ${HOME:-h} $PATH ${#arr[@]} ${", |n| {
        p.get(n).cloned()
    });
    assert_eq!(out.unwrap(), "d=2026 x ${HOME:-h} $PATH ${#arr[@]} ${");
}

#[test]
fn escaped_reference_is_literal() {
    let out = substitute("echo $${HOME} ${x}", |n| {
        (n == "x").then(|| "1".to_string())
    });
    assert_eq!(out.unwrap(), "echo ${HOME} 1");
    assert!(references("$${HOME}").is_empty());
}

#[test]
fn undefined_names_are_all_reported_once() {
    let err = substitute("${a} ${b} ${a}", |_| None).unwrap_err();
    assert_eq!(err, vec!["a", "b"]);
}

#[test]
fn set_value_output_is_not_a_reference() {
    assert!(references("echo '${setValue(rows=1)}'").is_empty());
}

#[test]
fn add_task_output_is_not_a_reference_and_substitutes_as_itself() {
    let text = "echo '${addTask(name=p1, args=1)}' ${x}";
    assert_eq!(references(text), vec!["x".to_string()]);
    let out = substitute(text, |name| (name == "x").then(|| "v".to_string()));
    assert_eq!(out.unwrap(), "echo '${addTask(name=p1, args=1)}' v");
}

#[test]
fn check_all_names_task_and_param() {
    let spec = WorkflowSpec::from_yaml(
        "name: w\ntasks:\n  - {name: t, type: shell, command: 'echo ${nope}'}\n",
        "t",
    )
    .unwrap();
    let errs = check_all(&spec, &BTreeMap::new());
    assert_eq!(errs.len(), 1);
    assert!(errs[0]
        .to_string()
        .starts_with("task `t`: undefined param `${nope}`"));
    assert!(check_all(&spec, &map(&[("nope", "1")])).is_empty());
}

#[test]
fn assignments() {
    assert_eq!(
        parse_assignment("a=b=c").unwrap(),
        ("a".into(), "b=c".into())
    );
    assert!(parse_assignment("novalue").is_err());
    assert!(parse_assignment("=x").is_err());
}

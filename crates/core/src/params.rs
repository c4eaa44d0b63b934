//! `${name}` references in commands, scripts and env values, and the precedence of the places
//! a value can come from: start-time params win over a task's, which win over the workflow's.
//!
//! Only `${identifier}` is a reference (letters, digits, `_`, `.`); other shell forms such as
//! `${var:-x}`, `${#arr[@]}` or `$HOME` are left to bash. `$${name}` writes a literal `${name}`.

use crate::spec::{TaskSpec, WorkflowSpec};
use std::collections::BTreeMap;

/// A part of a text: literal, or a reference to a param.
enum Piece<'a> {
    Text(&'a str),
    Ref(&'a str),
}

fn is_ident(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// Splits `text` into literal runs and references; `$${x}` yields the literal `${x}`.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find("${") {
        let escaped = rest[..pos].ends_with('$');
        let after = &rest[pos + 2..];
        match after.find('}') {
            Some(end) if is_ident(&after[..end]) => {
                if escaped {
                    out.push(Piece::Text(&rest[..pos - 1]));
                    out.push(Piece::Text(&rest[pos..pos + 2 + end + 1]));
                } else {
                    out.push(Piece::Text(&rest[..pos]));
                    out.push(Piece::Ref(&after[..end]));
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push(Piece::Text(&rest[..pos + 2]));
                rest = after;
            }
        }
    }
    out.push(Piece::Text(rest));
    out
}

/// The param names referenced in `text`, in order, without repeats.
pub fn references(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for p in pieces(text) {
        if let Piece::Ref(name) = p {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// Replaces every reference by its value; the error lists the names that have none.
pub fn substitute(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(text.len());
    let mut missing: Vec<String> = Vec::new();
    for p in pieces(text) {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Ref(name) => match lookup(name) {
                Some(v) => out.push_str(&v),
                None => {
                    if !missing.iter().any(|m| m == name) {
                        missing.push(name.to_string())
                    }
                }
            },
        }
    }
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}

/// The params a task sees: workflow, then task, then start-time values, later winning.
pub fn merged(
    workflow: &WorkflowSpec,
    task: &TaskSpec,
    start: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut all = workflow.params.clone();
    all.extend(task.params.iter().map(|(k, v)| (k.clone(), v.clone())));
    all.extend(start.iter().map(|(k, v)| (k.clone(), v.clone())));
    all
}

/// A task with every reference replaced, ready to hand to a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedTask {
    /// The task's kind with its command or script substituted.
    pub kind: crate::spec::TaskKind,
    /// The task's env with values substituted.
    pub env: BTreeMap<String, String>,
}

/// An undefined `${name}` in a task.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("task `{task}`: undefined param{} {} (define it under `params`, pass `--param NAME=VALUE`, or write `$${{NAME}}` for a literal)", if names.len() > 1 { "s" } else { "" }, names.iter().map(|n| format!("`${{{n}}}`")).collect::<Vec<_>>().join(", "))]
pub struct UndefinedParams {
    /// The task whose text refers to them.
    pub task: String,
    /// The names without a value.
    pub names: Vec<String>,
}

/// Substitutes a task's command, script and env values.
pub fn resolve(
    workflow: &WorkflowSpec,
    task: &TaskSpec,
    start: &BTreeMap<String, String>,
) -> Result<ResolvedTask, UndefinedParams> {
    let params = merged(workflow, task, start);
    let lookup = |name: &str| params.get(name).cloned();
    let mut missing: Vec<String> = Vec::new();
    let mut note = |r: Result<String, Vec<String>>| match r {
        Ok(s) => s,
        Err(names) => {
            for n in names {
                if !missing.contains(&n) {
                    missing.push(n);
                }
            }
            String::new()
        }
    };
    let kind = match task.kind.body() {
        Some(body) => task.kind.with_body(note(substitute(body, lookup))),
        None => task.kind.clone(),
    };
    let env = task
        .env
        .iter()
        .map(|(k, v)| (k.clone(), note(substitute(v, lookup))))
        .collect();
    if missing.is_empty() {
        Ok(ResolvedTask { kind, env })
    } else {
        Err(UndefinedParams {
            task: task.name.clone(),
            names: missing,
        })
    }
}

/// Checks, before anything runs, that every task of the workflow resolves with these
/// start-time params. Returns one error per task that does not.
pub fn check_all(
    workflow: &WorkflowSpec,
    start: &BTreeMap<String, String>,
) -> Vec<UndefinedParams> {
    workflow
        .tasks
        .iter()
        .filter_map(|t| resolve(workflow, t, start).err())
        .collect()
}

/// Parses `KEY=VALUE` as given to `--param`.
pub fn parse_assignment(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if is_ident(k) => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("bad param `{text}`: write it as NAME=VALUE")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn precedence_start_over_task_over_workflow() {
        let spec = WorkflowSpec::from_yaml(
            "name: w\nparams: {a: wf, b: wf, c: wf}\ntasks:\n  - name: t\n    type: shell\n    command: echo ${a} ${b} ${c}\n    params: {b: task, c: task}\n    env: {V: '${a}'}\n",
            "t",
        )
        .unwrap();
        let r = resolve(&spec, &spec.tasks[0], &map(&[("c", "start")])).unwrap();
        assert_eq!(
            r.kind,
            crate::spec::TaskKind::Shell {
                command: "echo wf task start".into()
            }
        );
        assert_eq!(r.env["V"], "wf");
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
}

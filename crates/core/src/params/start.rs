//! Start-time params against the workflow's declarations: each value keeps its param's rule,
//! every required param is given, and a name the workflow does not declare is refused unless
//! it says `extra_params: allow`. Called wherever an instance is asked for with params: the
//! API's start, `baton run`, a parent's `sub_workflow`.

use super::check::placeholder_context;
use super::expr::eval_time_expr;
use super::text::expand_times;
use crate::spec::{ExtraParams, WorkflowSpec};
use std::collections::BTreeMap;

/// Why a start-time param is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartParamError {
    /// A name the workflow does not declare, and it does not take extra params.
    #[error("param `{name}` is not declared by workflow `{workflow}` ({declared}); declare it under `params:`, or let the workflow take any with `extra_params: allow`")]
    Undeclared {
        /// The workflow.
        workflow: String,
        /// The param given.
        name: String,
        /// The declared names, in words.
        declared: String,
    },
    /// A required param not given.
    #[error("param `{name}` is required ({rule})")]
    Missing {
        /// The param.
        name: String,
        /// Its rule, in words.
        rule: String,
    },
    /// A value that breaks its param's rule.
    #[error("param `{name}`: {reason}")]
    Invalid {
        /// The param.
        name: String,
        /// What is wrong, naming the rule.
        reason: String,
    },
}

impl StartParamError {
    /// The param it is about: where a form shows it.
    pub fn param(&self) -> &str {
        match self {
            StartParamError::Undeclared { name, .. }
            | StartParamError::Missing { name, .. }
            | StartParamError::Invalid { name, .. } => name,
        }
    }
}

/// Every problem of `start` for `workflow`, in name order: undeclared names, values that
/// break their rule, then required params not given.
pub fn check_start(
    workflow: &WorkflowSpec,
    start: &BTreeMap<String, String>,
) -> Vec<StartParamError> {
    let mut problems = Vec::new();
    for (name, value) in start {
        if !workflow.declares(name) {
            if workflow.extra_params == ExtraParams::Refuse {
                problems.push(StartParamError::Undeclared {
                    workflow: workflow.name.clone(),
                    name: name.clone(),
                    declared: declared_names(workflow),
                });
            }
            continue;
        }
        let Some(decl) = workflow.param_rules.get(name) else {
            continue;
        };
        let checked = as_run_sees(workflow, value).and_then(|v| decl.rule.check(&v));
        if let Err(reason) = checked {
            problems.push(StartParamError::Invalid {
                name: name.clone(),
                reason,
            });
        }
    }
    for (name, decl) in &workflow.param_rules {
        if decl.required && !start.contains_key(name) {
            problems.push(StartParamError::Missing {
                name: name.clone(),
                rule: decl.rule.describe(),
            });
        }
    }
    problems
}

/// The value with its `$[...]` evaluated against a placeholder time (a start value's only
/// expansion): `$[yyyy-MM-dd]` is then checked as the date it becomes.
fn as_run_sees(workflow: &WorkflowSpec, value: &str) -> Result<String, String> {
    if !value.contains("$[") {
        return Ok(value.to_string());
    }
    let at = placeholder_context(workflow).schedule_time;
    let mut failed = None;
    let out = expand_times(value, |e| {
        eval_time_expr(e, &at).unwrap_or_else(|error| {
            failed.get_or_insert(error.to_string());
            String::new()
        })
    });
    failed.map_or(Ok(out), Err)
}

fn declared_names(workflow: &WorkflowSpec) -> String {
    let mut names: Vec<&str> = workflow
        .params
        .keys()
        .chain(workflow.param_rules.keys())
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    names.dedup();
    match names.len() {
        0 => "it declares no params".into(),
        _ => format!("it declares {}", names.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workflow(params: &str) -> WorkflowSpec {
        let text =
            format!("name: w\n{params}\ntasks:\n  - {{name: a, type: shell, command: 'true'}}\n");
        WorkflowSpec::from_yaml(&text, "w.yaml").unwrap()
    }

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn messages(w: &WorkflowSpec, start: &[(&str, &str)]) -> Vec<String> {
        check_start(w, &given(start))
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn values_are_checked_against_their_rules_and_named_in_the_message() {
        let w = workflow(
            "params:\n  rows: {type: int, min: 1, default: 10}\n  day: {type: date, required: true}\n  region: {enum: [eu, us], default: eu}\n  plain: x",
        );
        assert!(messages(&w, &[("day", "2026-01-31")]).is_empty());
        assert!(messages(&w, &[("day", "2026-01-31"), ("plain", "$(id)")]).is_empty());
        assert_eq!(
            messages(
                &w,
                &[("day", "2026-01-31"), ("rows", "0"), ("region", "asia")]
            ),
            [
                "param `region`: `asia` is not one of eu, us",
                "param `rows`: 0 is out of range (int, at least 1)",
            ]
        );
        assert_eq!(
            messages(&w, &[]),
            ["param `day` is required (date (YYYY-MM-DD))"]
        );
    }

    #[test]
    fn a_time_expression_is_checked_as_the_value_it_becomes() {
        let w = workflow("params:\n  day: {type: date, required: true}");
        assert!(messages(&w, &[("day", "$[yyyy-MM-dd-1]")]).is_empty());
        assert!(!messages(&w, &[("day", "$[yyyyMMdd]")]).is_empty());
    }

    #[test]
    fn undeclared_params_are_refused_unless_the_workflow_allows_them() {
        let w = workflow("params:\n  dt: '1'");
        let refused = messages(&w, &[("dtt", "2")]);
        assert_eq!(refused.len(), 1);
        assert!(refused[0].contains("`dtt` is not declared by workflow `w` (it declares dt)"));
        let open = workflow("extra_params: allow\nparams:\n  dt: '1'");
        assert!(messages(&open, &[("dtt", "2")]).is_empty());
    }
}

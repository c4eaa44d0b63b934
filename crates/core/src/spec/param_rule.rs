//! Declared params: the type and rule a workflow gives a param, so that a value given at start
//! (CLI, API, a parent workflow) is checked before anything runs, and a caller (the UI's start
//! form) knows what to ask for.
//!
//! ```yaml
//! params:
//!   dt: $[yyyy-MM-dd-1]                 # a default: a string param
//!   day: {type: date, required: true}   # YYYY-MM-DD, must be given at start
//!   rows: {type: int, min: 1, max: 1000, default: 100}
//!   region: {enum: [eu, us], default: eu}
//!   tag: {pattern: '[a-z][a-z0-9-]*'}   # the whole value must match
//! extra_params: allow                   # accept start params the file does not declare
//! ```

use super::file::{ParamType, RawParam, RawParamDecl, Scalar};
use super::Problem;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The longest `pattern` accepted, and the most memory its compiled form may take: a rule is
/// compiled on every start, so it must stay cheap whatever a file says.
pub const MAX_PATTERN_LEN: usize = 1_000;
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// The most values an `enum` rule may list.
pub const MAX_ENUM_VALUES: usize = 1_000;

/// What a declared param's value must be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ParamRule {
    /// Any text; with a pattern, the whole value must match it.
    String {
        /// A regular expression (Rust `regex` syntax) the whole value must match.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pattern: Option<String>,
    },
    /// A whole number, optionally within bounds (inclusive).
    Int {
        /// The smallest value allowed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<i64>,
        /// The largest value allowed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<i64>,
    },
    /// A finite decimal number (`3`, `-0.5`, `1e3`).
    Number,
    /// `true` or `false`.
    Bool,
    /// A calendar date written `YYYY-MM-DD`.
    Date,
    /// One of the listed values, exactly.
    Enum {
        /// The values allowed.
        values: Vec<String>,
    },
}

impl Default for ParamRule {
    fn default() -> Self {
        ParamRule::String { pattern: None }
    }
}

/// A param the workflow declares with a rule (a plain `name: value` declares a string param
/// and needs no entry of this kind).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamDecl {
    /// What the value must be.
    #[serde(flatten)]
    pub rule: ParamRule,
    /// The value must be given at start: the workflow has no default for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// Free text for people (the UI's start form shows it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// Whether a start may pass params the workflow does not declare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtraParams {
    /// Refused with the names of the declared params (the default).
    #[default]
    Refuse,
    /// Passed to the tasks like declared ones.
    Allow,
}

impl ExtraParams {
    /// True for the default, which the stored form leaves out.
    pub fn is_refuse(&self) -> bool {
        *self == ExtraParams::Refuse
    }
}

impl ParamRule {
    /// The rule in a few words, as messages and `workflow show` print it.
    pub fn describe(&self) -> String {
        match self {
            ParamRule::String { pattern: None } => "string".into(),
            ParamRule::String { pattern: Some(p) } => format!("string matching `{p}`"),
            ParamRule::Int { min, max } => match (min, max) {
                (None, None) => "int".into(),
                (Some(lo), None) => format!("int, at least {lo}"),
                (None, Some(hi)) => format!("int, at most {hi}"),
                (Some(lo), Some(hi)) => format!("int from {lo} to {hi}"),
            },
            ParamRule::Number => "number".into(),
            ParamRule::Bool => "bool (true or false)".into(),
            ParamRule::Date => "date (YYYY-MM-DD)".into(),
            ParamRule::Enum { values } => format!("one of {}", values.join(", ")),
        }
    }

    /// Why `value` breaks the rule, in words; `Ok` when it keeps it.
    pub fn check(&self, value: &str) -> Result<(), String> {
        match self {
            ParamRule::String { pattern: None } => Ok(()),
            ParamRule::String { pattern: Some(p) } => {
                let re = compile(p)?;
                if re.is_match(value) {
                    Ok(())
                } else {
                    Err(format!("{} does not match the pattern `{p}`", shown(value)))
                }
            }
            ParamRule::Int { min, max } => {
                let n: i64 = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("{} is not a whole number (type: int)", shown(value)))?;
                if min.is_some_and(|lo| n < lo) || max.is_some_and(|hi| n > hi) {
                    return Err(format!("{n} is out of range ({})", self.describe()));
                }
                Ok(())
            }
            ParamRule::Number => match value.trim().parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(()),
                _ => Err(format!("{} is not a number (type: number)", shown(value))),
            },
            ParamRule::Bool => match value {
                "true" | "false" => Ok(()),
                _ => Err(format!(
                    "{} is not true or false (type: bool)",
                    shown(value)
                )),
            },
            ParamRule::Date => chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .filter(|_| value.len() == 10)
                .map(|_| ())
                .ok_or_else(|| format!("{} is not a date written YYYY-MM-DD", shown(value))),
            ParamRule::Enum { values } => {
                if values.iter().any(|v| v == value) {
                    Ok(())
                } else {
                    Err(format!(
                        "{} is not one of {}",
                        shown(value),
                        values.join(", ")
                    ))
                }
            }
        }
    }

    /// What is wrong with the rule itself (a pattern that does not compile, an empty enum,
    /// bounds the wrong way round), for the file's checks.
    pub fn problems(&self) -> Vec<String> {
        match self {
            ParamRule::String { pattern: Some(p) } => compile(p).err().into_iter().collect(),
            ParamRule::Int {
                min: Some(lo),
                max: Some(hi),
            } if lo > hi => vec![format!("`min` ({lo}) is above `max` ({hi})")],
            ParamRule::Enum { values } if values.is_empty() => {
                vec!["`enum` lists no value".into()]
            }
            ParamRule::Enum { values } if values.len() > MAX_ENUM_VALUES => {
                vec![format!("`enum` lists more than {MAX_ENUM_VALUES} values")]
            }
            ParamRule::String { .. }
            | ParamRule::Int { .. }
            | ParamRule::Number
            | ParamRule::Bool
            | ParamRule::Date
            | ParamRule::Enum { .. } => Vec::new(),
        }
    }
}

/// The pattern, anchored so that the whole value must match, under size limits.
fn compile(pattern: &str) -> Result<regex::Regex, String> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(format!(
            "`pattern` is longer than {MAX_PATTERN_LEN} characters"
        ));
    }
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            // The regex crate's message spans lines (the pattern, a caret, the error): the
            // last line says what is wrong.
            let text = e.to_string();
            let what = text.lines().last().unwrap_or_default().trim();
            let what = what.strip_prefix("error: ").unwrap_or(what);
            format!("`pattern` is not a valid regular expression: {what}")
        })
}

/// A value as a message quotes it: in backquotes, cut short when long.
fn shown(value: &str) -> String {
    const MOST: usize = 60;
    match value.char_indices().nth(MOST) {
        Some((at, _)) => format!("`{}…`", &value[..at]),
        None => format!("`{value}`"),
    }
}

/// The workflow's params as read from its file: the default values (which resolve as
/// before), the declarations with a rule, and every problem of the declarations.
pub(super) struct ReadParams {
    pub defaults: BTreeMap<String, String>,
    pub declared: BTreeMap<String, ParamDecl>,
    pub problems: Vec<Problem>,
}

/// Turns the file's `params:` into defaults and declarations, checking each declaration: its
/// fields fit its type, its rule can work, and its default keeps it.
pub(super) fn read_params(raw: BTreeMap<String, RawParam>) -> ReadParams {
    let mut read = ReadParams {
        defaults: BTreeMap::new(),
        declared: BTreeMap::new(),
        problems: Vec::new(),
    };
    for (name, param) in raw {
        match param {
            RawParam::Value(v) => {
                read.defaults.insert(name, v.into_string());
            }
            RawParam::Broken => {}
            RawParam::Declared(decl, at) => {
                let problem = |message: String| Problem {
                    task: None,
                    line: at.map(|a| a.line),
                    column: at.map(|a| a.column),
                    message: format!("param `{name}`: {message}"),
                };
                match declaration(decl) {
                    Ok((decl, default)) => {
                        if let Some(default) = default {
                            read.defaults.insert(name.clone(), default);
                        }
                        read.declared.insert(name, decl);
                    }
                    Err(messages) => read.problems.extend(messages.into_iter().map(problem)),
                }
            }
        }
    }
    read
}

/// One declaration, checked; its default value apart.
fn declaration(raw: RawParamDecl) -> Result<(ParamDecl, Option<String>), Vec<String>> {
    let mut problems = Vec::new();
    let kind = raw.kind;
    let misplaced = |field: &str, types: &str| format!("`{field}` is for {types} params only");
    if raw.one_of.is_some() && kind.is_some() {
        problems.push("`enum` takes no `type` (its values are the rule)".to_string());
    }
    if raw.pattern.is_some() && !matches!(kind, None | Some(ParamType::String)) {
        problems.push(misplaced("pattern", "string"));
    }
    if (raw.min.is_some() || raw.max.is_some()) && kind != Some(ParamType::Int) {
        problems.push(misplaced("min` / `max", "int"));
    }
    let rule = match (raw.one_of, kind) {
        (Some(values), _) => ParamRule::Enum {
            values: values.into_iter().map(Scalar::into_string).collect(),
        },
        (None, None | Some(ParamType::String)) => ParamRule::String {
            pattern: raw.pattern,
        },
        (None, Some(ParamType::Int)) => ParamRule::Int {
            min: raw.min,
            max: raw.max,
        },
        (None, Some(ParamType::Number)) => ParamRule::Number,
        (None, Some(ParamType::Bool)) => ParamRule::Bool,
        (None, Some(ParamType::Date)) => ParamRule::Date,
    };
    problems.extend(rule.problems());
    let required = raw.required.unwrap_or(false);
    let default = raw.default.map(Scalar::into_string);
    match &default {
        Some(_) if required => {
            problems.push("a `required` param takes no `default` (the start gives it)".into())
        }
        // A default that uses `${…}` or `$[…]` is only known when it is resolved.
        Some(v) if !v.contains("${") && !v.contains("$[") && problems.is_empty() => {
            if let Err(e) = rule.check(v) {
                problems.push(format!("the default {e}"));
            }
        }
        Some(_) | None => {}
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let decl = ParamDecl {
        rule,
        required,
        description: raw.description.unwrap_or_default(),
    };
    Ok((decl, default))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(min: Option<i64>, max: Option<i64>) -> ParamRule {
        ParamRule::Int { min, max }
    }

    #[test]
    fn each_type_accepts_its_values_and_names_what_is_wrong_with_others() {
        assert!(int(None, None).check("-42").is_ok());
        assert!(int(None, None)
            .check("4.2")
            .unwrap_err()
            .contains("whole number"));
        assert!(int(Some(1), Some(10))
            .check("11")
            .unwrap_err()
            .contains("from 1 to 10"));
        assert!(ParamRule::Number.check("1e3").is_ok());
        assert!(ParamRule::Number.check("NaN").is_err());
        assert!(ParamRule::Number.check("inf").is_err());
        assert!(ParamRule::Bool.check("true").is_ok());
        assert!(ParamRule::Bool.check("yes").is_err());
        assert!(ParamRule::Date.check("2026-02-28").is_ok());
        assert!(ParamRule::Date.check("2026-02-30").is_err());
        assert!(ParamRule::Date.check("20260228").is_err());
        assert!(ParamRule::Date.check("+2026-02-28").is_err());
        let region = ParamRule::Enum {
            values: vec!["eu".into(), "us".into()],
        };
        assert!(region.check("eu").is_ok());
        assert_eq!(region.check("EU").unwrap_err(), "`EU` is not one of eu, us");
    }

    #[test]
    fn a_pattern_must_match_the_whole_value() {
        let tag = ParamRule::String {
            pattern: Some("[a-z]+".into()),
        };
        assert!(tag.check("abc").is_ok());
        assert!(tag.check("abc; rm -rf /").is_err());
        assert!(tag.check("").is_err());
        // An alternation is anchored as a whole, not only its first branch.
        let either = ParamRule::String {
            pattern: Some("a|b".into()),
        };
        assert!(either.check("ab").is_err());
    }

    #[test]
    fn a_rule_that_cannot_work_is_a_problem_of_the_file() {
        let bad = ParamRule::String {
            pattern: Some("(".into()),
        };
        assert!(bad.problems()[0].contains("not a valid regular expression"));
        let huge = ParamRule::String {
            pattern: Some("a{1000}{1000}".into()),
        };
        assert!(
            !huge.problems().is_empty(),
            "a pattern too large to compile"
        );
        assert!(!int(Some(5), Some(1)).problems().is_empty());
        assert!(!ParamRule::Enum { values: vec![] }.problems().is_empty());
    }

    #[test]
    fn long_values_are_cut_short_in_messages() {
        let message = ParamRule::Bool.check(&"x".repeat(10_000)).unwrap_err();
        assert!(message.len() < 120, "{message}");
    }

    #[test]
    fn the_stored_form_names_the_type() {
        let decl = ParamDecl {
            rule: int(Some(1), None),
            required: true,
            description: String::new(),
        };
        let json = serde_json::to_string(&decl).unwrap();
        assert_eq!(json, r#"{"type":"int","min":1,"required":true}"#);
        assert_eq!(serde_json::from_str::<ParamDecl>(&json).unwrap(), decl);
    }
}

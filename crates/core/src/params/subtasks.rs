//! Sub-tasks a task emits at run time, for map-reduce in one task: the split step prints
//! `${addTask(name=N, args=A)}` lines (or writes `subtasks.jsonl` in its task directory),
//! and each sub-task becomes an item of the task. This module is the reading of both forms
//! and their limits, applied by a worker while it reads the output and again by a master to
//! every report. Nothing is ever silently dropped or cut: a sub-task that cannot be read, or
//! one past a limit, is an error that fails the attempt, since the reduce would otherwise
//! run over a partial list.

use crate::size::format_bytes;
use std::collections::HashMap;

const OPEN: &str = "${addTask(";
const CLOSE: &str = ")}";

/// Most sub-tasks one attempt may add (the most items any task may have).
pub const MAX_SUBTASKS: usize = 100_000;
/// Most bytes of one attempt's sub-tasks in all, names and args.
pub const MAX_SUBTASKS_BYTES: usize = 4 * 1024 * 1024;
/// Most bytes of a sub-task's name.
pub const MAX_SUBTASK_NAME_BYTES: usize = 128;
/// Most bytes of a sub-task's args (as an output param's value may have).
pub const MAX_SUBTASK_ARGS_BYTES: usize = super::limits::MAX_OUTPUT_VALUE_BYTES;
/// The file of a task directory a split step may write its sub-tasks to, one JSON object
/// `{"name": …, "args": …}` a line.
pub const SUBTASKS_FILE: &str = "subtasks.jsonl";

/// One sub-task, as its split step added it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subtask {
    /// Its name, unique within its task: the item is `task[name]`.
    pub name: String,
    /// What it is given to work on (`${subtask.args}`), verbatim.
    pub args: String,
}

/// Why the sub-tasks of an attempt cannot be taken; the attempt fails with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubtaskError {
    /// More than [`MAX_SUBTASKS`].
    #[error("the task added more than {MAX_SUBTASKS} sub-tasks (the most one task may add); `{name}` is one too many")]
    TooMany {
        /// The first sub-task past the limit.
        name: String,
    },
    /// Names and args larger than [`MAX_SUBTASKS_BYTES`] in all.
    #[error(
        "the task's sub-tasks come to more than {} in all (at `{name}`)",
        format_bytes(MAX_SUBTASKS_BYTES)
    )]
    TooLarge {
        /// The sub-task that took the total over.
        name: String,
    },
    /// A name that is not one.
    #[error("addTask: `{name}` is not a sub-task name (letters, digits, `_`, `-` and `.`, at most {MAX_SUBTASK_NAME_BYTES} bytes)")]
    BadName {
        /// The name as written (its first bytes if long).
        name: String,
    },
    /// Args longer than [`MAX_SUBTASK_ARGS_BYTES`].
    #[error(
        "addTask: sub-task `{name}` has args of {len} bytes or more, more than the {} args may have",
        format_bytes(MAX_SUBTASK_ARGS_BYTES)
    )]
    ArgsTooLarge {
        /// The sub-task.
        name: String,
        /// How many bytes of its args were read.
        len: usize,
    },
    /// Text after `${addTask(` that is not `name=N, args=A)}`.
    #[error("addTask: `{text}` is not `${{addTask(name=N, args=A)}}`")]
    Malformed {
        /// The first characters after `${addTask(`.
        text: String,
    },
    /// The same name added twice with different args.
    #[error("addTask: sub-task `{name}` was added twice with different args")]
    Conflict {
        /// The name.
        name: String,
    },
    /// A line of `subtasks.jsonl` that is not a sub-task.
    #[error("{SUBTASKS_FILE} line {line}: {problem}")]
    FileLine {
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        problem: String,
    },
}

/// How many characters of bad text a message shows.
const SHOWN: usize = 40;

fn shown(text: &str) -> String {
    text.chars().take(SHOWN).collect()
}

/// Whether `name` may name a sub-task: it goes between the brackets of `task[name]`.
pub fn is_subtask_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SUBTASK_NAME_BYTES
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The sub-tasks a line of output adds, in order. `cut`: only the first part of the line
/// was read, so an `${addTask(` with no `)}` after it is args too long to read (else it
/// is malformed). The first error ends the line.
pub fn parse_add_tasks(line: &str, cut: bool) -> Vec<Result<Subtask, SubtaskError>> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(pos) = rest.find(OPEN) {
        let body = &rest[pos + OPEN.len()..];
        let Some(end) = body.find(CLOSE) else {
            found.push(Err(unclosed(body, cut)));
            return found;
        };
        let one = add_task(&body[..end]);
        let failed = one.is_err();
        found.push(one);
        if failed {
            return found;
        }
        rest = &body[end + CLOSE.len()..];
    }
    found
}

/// `name=N, args=A` (or `name=N` alone, with empty args): A is everything to the `)}`.
fn add_task(text: &str) -> Result<Subtask, SubtaskError> {
    let malformed = || SubtaskError::Malformed { text: shown(text) };
    let after = text
        .trim_start()
        .strip_prefix("name")
        .ok_or_else(malformed)?;
    let after = after.trim_start().strip_prefix('=').ok_or_else(malformed)?;
    let (name, args) = match after.split_once(',') {
        Some((name, rest)) => {
            let rest = rest
                .trim_start()
                .strip_prefix("args")
                .ok_or_else(malformed)?;
            let args = rest.trim_start().strip_prefix('=').ok_or_else(malformed)?;
            (name.trim(), args)
        }
        None => (after.trim(), ""),
    };
    subtask(name, args.to_string())
}

/// A sub-task of a name and args, checked.
fn subtask(name: &str, args: String) -> Result<Subtask, SubtaskError> {
    if !is_subtask_name(name) {
        return Err(SubtaskError::BadName { name: shown(name) });
    }
    if args.len() > MAX_SUBTASK_ARGS_BYTES {
        return Err(SubtaskError::ArgsTooLarge {
            name: name.to_string(),
            len: args.len(),
        });
    }
    Ok(Subtask {
        name: name.to_string(),
        args,
    })
}

/// An `${addTask(` whose `)}` is not on its line.
fn unclosed(body: &str, cut: bool) -> SubtaskError {
    let name = body
        .trim_start()
        .strip_prefix("name")
        .and_then(|a| a.trim_start().strip_prefix('='))
        .and_then(|a| a.split(',').next())
        .map(str::trim)
        .filter(|n| is_subtask_name(n));
    match (cut, name) {
        (true, Some(name)) => SubtaskError::ArgsTooLarge {
            name: name.to_string(),
            len: body.len(),
        },
        _ => SubtaskError::Malformed { text: shown(body) },
    }
}

/// The sub-tasks `subtasks.jsonl` holds: one `{"name": …, "args": …}` a non-blank line;
/// args may be any JSON (a string is taken as itself, any other value as its JSON text),
/// or left out (empty).
pub fn parse_subtasks_file(text: &str) -> Result<Vec<Subtask>, SubtaskError> {
    let mut list = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |problem: String| SubtaskError::FileLine {
            line: i + 1,
            problem,
        };
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| at(format!("not JSON ({e})")))?;
        let serde_json::Value::Object(fields) = value else {
            return Err(at("not a JSON object `{\"name\": …, \"args\": …}`".into()));
        };
        let Some(serde_json::Value::String(name)) = fields.get("name") else {
            return Err(at("no string `name`".into()));
        };
        if let Some(other) = fields.keys().find(|k| *k != "name" && *k != "args") {
            return Err(at(format!(
                "unknown field `{other}` (only `name` and `args`)"
            )));
        }
        let args = match fields.get("args") {
            None => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        list.push(subtask(name, args).map_err(|e| at(e.to_string()))?);
    }
    Ok(list)
}

/// The sub-tasks of one attempt, in the order added, within the limits. The same sub-task
/// added again (same name and args, say a line printed twice) is kept once.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SubtaskSet {
    list: Vec<Subtask>,
    /// Each name's place in `list`.
    names: HashMap<String, usize>,
    bytes: usize,
}

impl SubtaskSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sub-task, or says which limit or rule it breaks (the set is unchanged then).
    pub fn add(&mut self, subtask: Subtask) -> Result<(), SubtaskError> {
        // A sub-task read here is checked already; one a worker reported, again.
        let subtask = self::subtask(&subtask.name, subtask.args)?;
        if let Some(&at) = self.names.get(&subtask.name) {
            return match self.list[at].args == subtask.args {
                true => Ok(()),
                false => Err(SubtaskError::Conflict { name: subtask.name }),
            };
        }
        if self.list.len() >= MAX_SUBTASKS {
            return Err(SubtaskError::TooMany { name: subtask.name });
        }
        let bytes = self.bytes + subtask.name.len() + subtask.args.len();
        if bytes > MAX_SUBTASKS_BYTES {
            return Err(SubtaskError::TooLarge { name: subtask.name });
        }
        self.bytes = bytes;
        self.names.insert(subtask.name.clone(), self.list.len());
        self.list.push(subtask);
        Ok(())
    }

    /// Adds every sub-task of `list`, up to the first error.
    pub fn add_all(&mut self, list: Vec<Subtask>) -> Result<(), SubtaskError> {
        list.into_iter().try_for_each(|s| self.add(s))
    }

    /// How many sub-tasks there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether none was added.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The sub-tasks, in the order added.
    pub fn into_list(self) -> Vec<Subtask> {
        self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Vec<Subtask> {
        parse_add_tasks(line, false)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn st(name: &str, args: &str) -> Subtask {
        Subtask {
            name: name.into(),
            args: args.into(),
        }
    }

    #[test]
    fn a_line_adds_its_sub_tasks_in_order_args_verbatim() {
        let line = "x ${addTask(name=part1, args=1)} ${addTask( name = p-2.b ,args= a, (b) = c)} ${addTask(name=solo)}";
        assert_eq!(
            ok(line),
            vec![st("part1", "1"), st("p-2.b", " a, (b) = c"), st("solo", "")]
        );
        assert!(ok("plain ${setValue(a=1)} $ {addTask(name=x)}").is_empty());
    }

    #[test]
    fn a_bad_name_or_form_is_an_error_never_skipped() {
        let e = parse_add_tasks("${addTask(name=a b, args=1)}", false);
        assert_eq!(e[0], Err(SubtaskError::BadName { name: "a b".into() }));
        let e = parse_add_tasks("${addTask(args=1)}", false);
        assert!(
            matches!(&e[0], Err(SubtaskError::Malformed { .. })),
            "{e:?}"
        );
        let e = parse_add_tasks("${addTask(name=ok, arg=1)}", false);
        assert!(
            matches!(&e[0], Err(SubtaskError::Malformed { .. })),
            "{e:?}"
        );
        let e = parse_add_tasks("${addTask(name=a, args=1)} ${addTask(name=b, args=", false);
        assert_eq!(e.len(), 2);
        assert!(
            matches!(&e[1], Err(SubtaskError::Malformed { .. })),
            "{e:?}"
        );
        let long = "n".repeat(MAX_SUBTASK_NAME_BYTES + 1);
        assert!(!is_subtask_name(&long) && !is_subtask_name(""));
        let message = SubtaskError::BadName { name: "a b".into() }.to_string();
        assert!(
            message.contains("`a b` is not a sub-task name"),
            "{message}"
        );
    }

    #[test]
    fn an_unclosed_add_in_a_cut_line_is_args_too_large() {
        let e = parse_add_tasks("${addTask(name=big, args=xxxxxxxx", true);
        assert_eq!(
            e[0],
            Err(SubtaskError::ArgsTooLarge {
                name: "big".into(),
                len: "name=big, args=xxxxxxxx".len()
            })
        );
        let args = "a".repeat(MAX_SUBTASK_ARGS_BYTES + 1);
        let e = parse_add_tasks(&format!("${{addTask(name=big, args={args})}}"), false);
        assert!(
            matches!(&e[0], Err(SubtaskError::ArgsTooLarge { .. })),
            "{e:?}"
        );
    }

    #[test]
    fn a_set_keeps_order_merges_repeats_and_refuses_conflicts() {
        let mut set = SubtaskSet::new();
        set.add(st("b", "1")).unwrap();
        set.add(st("a", "2")).unwrap();
        set.add(st("b", "1")).unwrap();
        assert_eq!(
            set.add(st("b", "3")),
            Err(SubtaskError::Conflict { name: "b".into() })
        );
        assert_eq!(set.len(), 2);
        assert_eq!(set.into_list(), vec![st("b", "1"), st("a", "2")]);
    }

    #[test]
    fn a_set_holds_at_most_the_count_and_bytes_it_may() {
        let mut set = SubtaskSet::new();
        for i in 0..MAX_SUBTASKS {
            set.add(st(&format!("p{i}"), "")).unwrap();
        }
        let e = set.add(st("one-more", "")).unwrap_err();
        assert_eq!(
            e,
            SubtaskError::TooMany {
                name: "one-more".into()
            }
        );
        assert!(e.to_string().contains("more than 100000 sub-tasks"), "{e}");
        let mut set = SubtaskSet::new();
        let args = "a".repeat(MAX_SUBTASK_ARGS_BYTES);
        let fit = MAX_SUBTASKS_BYTES / (MAX_SUBTASK_ARGS_BYTES + 3);
        for i in 0..fit {
            set.add(st(&format!("{i:03}"), &args)).unwrap();
        }
        let e = set.add(st("last", &args)).unwrap_err();
        assert_eq!(
            e,
            SubtaskError::TooLarge {
                name: "last".into()
            }
        );
        assert_eq!(set.len(), fit);
    }

    #[test]
    fn the_file_holds_one_object_a_line_args_any_json() {
        let text = "{\"name\": \"a\", \"args\": \"x y\"}\n\n{\"name\": \"b\", \"args\": {\"n\": [1]}}\n{\"name\": \"c\"}\n";
        assert_eq!(
            parse_subtasks_file(text).unwrap(),
            vec![st("a", "x y"), st("b", r#"{"n":[1]}"#), st("c", "")]
        );
        for (bad, says) in [
            ("{\"name\": \"a\"}\nnope\n", "line 2: not JSON"),
            ("[1]\n", "line 1: not a JSON object"),
            ("{\"args\": 1}\n", "line 1: no string `name`"),
            ("{\"name\": \"a\", \"arg\": 1}\n", "unknown field `arg`"),
            ("{\"name\": \"a b\"}\n", "`a b` is not a sub-task name"),
        ] {
            let e = parse_subtasks_file(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
            assert!(e.starts_with("subtasks.jsonl line"), "{e}");
        }
    }
}

//! The workflow file's YAML read into a value tree that remembers where each entry was written
//! and survives duplicate keys (each reported at its own line, the first one kept), so that
//! every other problem of the file can still be found in the same pass.
//!
//! The text is read by yaml-rust2's event parser (which gives each event its position); plain
//! scalars get their type (number, bool, null or text) from serde_yaml, the library the typed
//! fields are then read with, so that both agree on what `20260101` or `true` is.

use serde_yaml::{Mapping, Value};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// One step of a path into the document: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Step {
    Key(String),
    Index(usize),
}

/// Where a node starts: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pos {
    pub line: usize,
    pub column: usize,
}

impl From<Marker> for Pos {
    fn from(m: Marker) -> Pos {
        // yaml-rust2 counts lines from 1 and columns from 0.
        Pos {
            line: m.line(),
            column: m.col() + 1,
        }
    }
}

/// A key given twice in one mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Duplicate {
    /// The mapping's path.
    pub path: Vec<Step>,
    pub key: String,
    /// The second (ignored) occurrence, and the first.
    pub at: Pos,
    pub first: Pos,
}

/// A read document.
#[derive(Debug)]
pub(super) struct Document {
    pub value: Value,
    /// Of each mapping entry (its key) and each sequence item (its first scalar).
    pub positions: HashMap<Vec<Step>, Pos>,
    pub duplicates: Vec<Duplicate>,
}

impl Document {
    /// The position of the node at `path`, or of its closest ancestor that has one.
    pub(super) fn position(&self, path: &[Step]) -> Option<Pos> {
        (0..=path.len())
            .rev()
            .find_map(|n| self.positions.get(&path[..n]).copied())
    }
}

/// A YAML syntax error: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SyntaxError {
    pub at: Pos,
    pub message: String,
}

/// Reads the first document of `text`.
pub(super) fn read(text: &str) -> Result<Document, SyntaxError> {
    let mut builder = Builder::default();
    Parser::new_from_str(text)
        .load(&mut builder, false)
        .map_err(|e| SyntaxError {
            at: Pos::from(*e.marker()),
            message: e.info().to_string(),
        })?;
    if let Some(at) = builder.too_big {
        return Err(SyntaxError {
            at,
            message: format!(
                "the aliases (`*name`) of this file expand to more than {MAX_ALIAS_WEIGHT} values; \
                 a workflow needs far fewer"
            ),
        });
    }
    Ok(Document {
        value: builder.root.unwrap_or(Value::Null),
        positions: builder.positions,
        duplicates: builder.duplicates,
    })
}

/// How much alias expansions may add to a document, in values (a string counts one per 16
/// bytes): a few kilobytes of nested aliases can otherwise expand to gigabytes.
pub(super) const MAX_ALIAS_WEIGHT: usize = 1_000_000;

/// A value's weight against [`MAX_ALIAS_WEIGHT`].
fn weight(value: &Value) -> usize {
    match value {
        Value::Sequence(items) => items.iter().map(weight).fold(1, usize::saturating_add),
        Value::Mapping(map) => map
            .iter()
            .map(|(k, v)| weight(k).saturating_add(weight(v)))
            .fold(1, usize::saturating_add),
        Value::String(s) => 1 + s.len() / 16,
        Value::Tagged(t) => 1 + weight(&t.value),
        Value::Null | Value::Bool(_) | Value::Number(_) => 1,
    }
}

/// How deep positions are kept (`tasks[3].schedule.cron` is 4 deep); a problem deeper down is
/// reported at its closest ancestor that has one.
const MAX_DEPTH: usize = 4;

/// A collection being built.
enum Frame {
    Seq {
        path: Vec<Step>,
        anchor: usize,
        items: Vec<Value>,
    },
    Map {
        path: Vec<Step>,
        anchor: usize,
        map: Mapping,
        /// The key read, waiting for its value, and whether it repeats an earlier key.
        key: Option<(Value, bool)>,
        seen: HashMap<String, Pos>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    anchors: HashMap<usize, (Value, usize)>,
    /// What aliases have added so far, and where the first one past the limit is.
    expanded: usize,
    too_big: Option<Pos>,
    positions: HashMap<Vec<Step>, Pos>,
    /// Sequence items begun whose position is that of the next scalar.
    awaiting: Vec<Vec<Step>>,
    duplicates: Vec<Duplicate>,
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.begin_item();
                let at = Pos::from(mark);
                for path in self.awaiting.drain(..) {
                    self.positions.entry(path).or_insert(at);
                }
                // `!!str 123` is text, as a quoted scalar is.
                let as_text = tag.is_some_and(|t| t.suffix == "str");
                let value = match style {
                    TScalarStyle::Plain if !as_text => plain(&text),
                    _ => Value::String(text),
                };
                self.end_node(value, anchor, Some(at));
            }
            Event::Alias(id) => {
                self.begin_item();
                let value = match self.anchors.get(&id) {
                    Some((value, w)) if self.expanded.saturating_add(*w) <= MAX_ALIAS_WEIGHT => {
                        self.expanded += w;
                        value.clone()
                    }
                    Some(_) => {
                        self.too_big.get_or_insert(Pos::from(mark));
                        Value::Null
                    }
                    None => Value::Null,
                };
                self.end_node(value, 0, Some(Pos::from(mark)));
            }
            Event::SequenceStart(anchor, _) => {
                let path = self.begin_node();
                self.stack.push(Frame::Seq {
                    path,
                    anchor,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(anchor, _) => {
                let path = self.begin_node();
                self.stack.push(Frame::Map {
                    path,
                    anchor,
                    map: Mapping::new(),
                    key: None,
                    seen: HashMap::new(),
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor) = match self.stack.pop() {
                    Some(Frame::Seq { anchor, items, .. }) => (Value::Sequence(items), anchor),
                    Some(Frame::Map { anchor, map, .. }) => (Value::Mapping(map), anchor),
                    None => return,
                };
                self.end_node(value, anchor, None);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

impl Builder {
    /// A scalar or alias begins: only a sequence item needs its path (for its position).
    fn begin_item(&mut self) {
        if matches!(self.stack.last(), None | Some(Frame::Seq { .. })) {
            self.begin_node();
        }
    }

    /// A node begins: returns its path (a sequence item's position is taken from the next
    /// scalar; a mapping value's is its key's).
    fn begin_node(&mut self) -> Vec<Step> {
        match self.stack.last() {
            None => {
                // The document's own position is that of its first scalar.
                self.awaiting.push(Vec::new());
                Vec::new()
            }
            Some(Frame::Seq { path, items, .. }) => {
                let mut path = path.clone();
                path.push(Step::Index(items.len()));
                if path.len() <= MAX_DEPTH {
                    self.awaiting.push(path.clone());
                }
                path
            }
            Some(Frame::Map { path, key, .. }) => {
                let mut path = path.clone();
                if let Some((k, _)) = key {
                    path.push(Step::Key(key_text(k)));
                }
                path
            }
        }
    }

    /// A node is complete: it becomes an item, a key or a value of its parent.
    fn end_node(&mut self, value: Value, anchor: usize, at: Option<Pos>) {
        if anchor > 0 {
            self.anchors.insert(anchor, (value.clone(), weight(&value)));
        }
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map {
                path,
                map,
                key,
                seen,
                ..
            }) => match key.take() {
                Some((k, false)) => {
                    map.insert(k, value);
                }
                Some((_, true)) => {}
                None => {
                    let text = key_text(&value);
                    let at = at.unwrap_or(Pos { line: 0, column: 0 });
                    let repeated = match seen.get(&text) {
                        Some(first) => {
                            self.duplicates.push(Duplicate {
                                path: path.clone(),
                                key: text,
                                at,
                                first: *first,
                            });
                            true
                        }
                        None => {
                            if path.len() < MAX_DEPTH {
                                let mut entry = path.clone();
                                entry.push(Step::Key(text.clone()));
                                self.positions.insert(entry, at);
                            }
                            seen.insert(text, at);
                            false
                        }
                    };
                    *key = Some((value, repeated));
                }
            },
        }
    }
}

/// A mapping key as text, for paths and messages.
fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default(),
    }
}

/// The value of a plain (unquoted) scalar: typed as serde_yaml types it (YAML 1.2's core
/// schema). Only what may be a number goes to serde_yaml itself; the rest is decided here.
fn plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let may_be_number = text
        .as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii_digit() || b"-+.".contains(b));
    if !may_be_number {
        return Value::String(text.to_string());
    }
    match serde_yaml::from_str::<Value>(text) {
        Ok(v @ (Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_))) => v,
        _ => Value::String(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &[&str]) -> Vec<Step> {
        path.iter()
            .map(|s| match s.parse::<usize>() {
                Ok(i) => Step::Index(i),
                Err(_) => Step::Key(s.to_string()),
            })
            .collect()
    }

    #[test]
    fn values_are_typed_as_serde_yaml_types_them() {
        let text = "a: 1\nb: '1'\nc: true\nd: ~\ne: 2026-01-01\nf: [x, 1.5]\ng: {h: -3}\ni: !!str 7\n\
                    j: [null, Null, NULL, '', True, FALSE, yes, no, .inf, -.5, +1, 0o17, 1e3, nan]\n";
        let doc = read(text).unwrap();
        let direct: Value = serde_yaml::from_str(text).unwrap();
        assert_eq!(doc.value, direct);
    }

    #[test]
    fn entries_and_items_know_their_line_and_column() {
        let doc = read("name: a\ntasks:\n  - name: x\n    retries: 1\n  - {name: y}\n").unwrap();
        let at = |p: &[&str]| doc.positions[&key(p)];
        assert_eq!(at(&["tasks"]), Pos { line: 2, column: 1 });
        assert_eq!(at(&["tasks", "0"]), Pos { line: 3, column: 5 });
        assert_eq!(at(&["tasks", "0", "retries"]), Pos { line: 4, column: 5 });
        assert_eq!(at(&["tasks", "1", "name"]), Pos { line: 5, column: 6 });
    }

    #[test]
    fn a_duplicate_key_is_reported_at_its_line_and_the_first_is_kept() {
        let doc = read("tasks:\n  - name: x\n    retries: 1\n    retries: 2\n").unwrap();
        assert_eq!(
            doc.duplicates,
            [Duplicate {
                path: key(&["tasks", "0"]),
                key: "retries".into(),
                at: Pos { line: 4, column: 5 },
                first: Pos { line: 3, column: 5 },
            }]
        );
        assert_eq!(doc.value["tasks"][0]["retries"], Value::from(1));
    }

    #[test]
    fn aliases_that_expand_past_the_limit_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let Err(err) = read(&text) else {
            panic!("a file whose aliases expand past the limit is refused");
        };
        assert!(
            err.message.contains("expand to more than"),
            "{}",
            err.message
        );
        assert!(err.at.line > 1, "{:?}", err.at);
        // A few aliases are fine.
        assert!(read("a: &a [1, 2]\nb: [*a, *a]\n").is_ok());
    }

    #[test]
    fn aliases_copy_their_anchor() {
        let doc = read("a: &x {b: 1}\nc: *x\n").unwrap();
        assert_eq!(doc.value["c"]["b"], Value::from(1));
    }

    #[test]
    fn syntax_errors_say_where() {
        let e = read("a: [1\nb: 2\n").unwrap_err();
        assert_eq!(e.at.line, 2);
    }
}

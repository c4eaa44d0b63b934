//! One module per task type: the fields a file gives it, how they are checked, and the
//! [`TaskKind`] they make. The reader of a workflow file hands each task's own fields (those
//! that are not common to every task) to its type's module, through [`KindReader`], so that a
//! misspelt or foreign field is reported at its line, naming the type.
//!
//! Adding a task type: its module here (a [`KindDef`] and its checks), one line in [`KINDS`],
//! its [`TaskKind`] variant (whose exhaustive matches then point at every place that must
//! say how it is dispatched and run), and the protocol message for its spec.

mod conditions;
mod dependent;
pub mod http;
mod noop;
mod python;
pub mod service;
mod shell;
pub mod sql;
mod sub_workflow;
mod switch;

use super::file::Reader;
use super::yaml::Step;
use super::{Problem, TaskKind};
use serde::de::DeserializeOwned;
use serde_yaml::Mapping;

/// A task type as a workflow file names it.
pub(super) struct KindDef {
    /// The name written as `type:`.
    pub name: &'static str,
    /// The fields of its own it takes, beside the common ones.
    pub fields: &'static [&'static str],
    /// Reads and checks its fields; `None` when something is wrong (already reported).
    pub read: fn(&mut KindReader<'_, '_>) -> Option<TaskKind>,
}

/// Every task type, in the order messages list them.
pub(super) const KINDS: &[KindDef] = &[
    shell::KIND,
    python::KIND,
    noop::KIND,
    http::KIND,
    sql::KIND,
    service::KIND,
    sub_workflow::KIND,
    dependent::KIND,
    conditions::KIND,
    switch::KIND,
];

/// The type named `name`.
pub(super) fn find(name: &str) -> Option<&'static KindDef> {
    KINDS.iter().find(|k| k.name == name)
}

/// The task types a workflow file may name, in order.
pub fn task_types() -> Vec<&'static str> {
    KINDS.iter().map(|k| k.name).collect()
}

/// Whether some task type takes `field`.
pub(super) fn any_takes(field: &str) -> bool {
    KINDS.iter().any(|k| k.fields.contains(&field))
}

/// What a type's module reads its fields through: the task's own fields, where they stand,
/// and where problems go.
pub(super) struct KindReader<'r, 'd> {
    pub(super) reader: &'r mut Reader<'d>,
    pub(super) fields: Mapping,
    pub(super) path: Vec<Step>,
    pub(super) task: String,
    pub(super) type_name: &'static str,
}

impl KindReader<'_, '_> {
    /// The type's fields read into `T` (serde, with each bad value reported at its line);
    /// `None` when any could not be read.
    pub(super) fn read<T: DeserializeOwned + Default>(&mut self) -> Option<T> {
        let (value, broken) =
            self.reader
                .fields::<T>(self.fields.clone(), &self.path, Some(&self.task));
        broken.is_empty().then_some(value)
    }

    /// Reports a problem of the task.
    pub(super) fn problem(&mut self, message: String) {
        let at = self.reader.doc.position(&self.path);
        self.reader.problems.push(Problem {
            task: Some(self.task.clone()),
            line: at.map(|a| a.line),
            column: at.map(|a| a.column),
            message,
        });
    }

    /// Reports a problem of one of the task's fields, at the field's line.
    pub(super) fn problem_at(&mut self, field: &str, message: String) {
        let mut path = self.path.clone();
        path.push(Step::Key(field.to_string()));
        let at = self
            .reader
            .doc
            .position(&path)
            .or_else(|| self.reader.doc.position(&self.path));
        self.reader.problems.push(Problem {
            task: Some(self.task.clone()),
            line: at.map(|a| a.line),
            column: at.map(|a| a.column),
            message,
        });
    }

    /// A problem if `value` is `None`; the value otherwise.
    pub(super) fn need<T>(&mut self, value: Option<T>, what: &str) -> Option<T> {
        if value.is_none() {
            let message = format!("a {} task needs {what}", self.type_name);
            self.problem(message);
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_and_fields_are_unique_to_their_type() {
        let names = task_types();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "{names:?}");
        for kind in KINDS {
            for field in kind.fields {
                assert!(
                    !super::super::file::COMMON_TASK_FIELDS.contains(field),
                    "`{field}` of {} is a common field",
                    kind.name
                );
            }
        }
    }
}

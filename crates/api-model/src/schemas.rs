//! OpenAPI schemas for the core types the models carry (states, kinds, definitions), which
//! live in `baton-core` and do not derive `ToSchema` themselves.

use baton_core::event::EventKind;
use baton_core::{TaskState, WorkflowState};
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};

fn string_enum<'a>(description: &str, values: impl IntoIterator<Item = &'a str>) -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .description(Some(description))
        .enum_values(Some(values))
        .build()
}

/// The states of a workflow instance.
pub fn workflow_state() -> Object {
    string_enum(
        "The state of a workflow instance.",
        WorkflowState::ALL.iter().map(|s| s.as_str()),
    )
}

/// The states of a task instance or attempt.
pub fn task_state() -> Object {
    string_enum(
        "The state of a task instance or attempt.",
        TaskState::ALL.iter().map(|s| s.as_str()),
    )
}

/// The kinds of lifecycle events.
pub fn event_kind() -> Object {
    string_enum("What happened.", EventKind::ALL.iter().map(|k| k.as_str()))
}

/// A priority.
pub fn priority() -> Object {
    string_enum(
        "A priority.",
        ["highest", "high", "medium", "low", "lowest"],
    )
}

/// What a failure does to the rest of an instance.
pub fn failure_strategy() -> Object {
    string_enum(
        "What a failure does to the rest of the instance: `end` kills the rest and fails it, `continue` lets independent branches run on.",
        ["end", "continue"],
    )
}

/// A workflow definition, or a schedule block, as JSON (the fields of a workflow file).
pub fn definition() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Object))
        .description(Some(
            "The checked definition as JSON: the same fields as the YAML file.",
        ))
        .build()
}

/// The kinds of events an alert rule can be about.
pub fn alert_on() -> Object {
    string_enum(
        "An event an alert rule can be about.",
        baton_core::alert::AlertOn::ALL.iter().map(|k| k.as_str()),
    )
}

/// A list of alertable kinds.
pub fn alert_on_list() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(alert_on())
        .description(Some("Events an alert rule is about."))
        .build()
}

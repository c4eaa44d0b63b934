//! `shell`: a `command` (or a multi-line `script`, the same to bash) run by `bash -c`.

use super::{KindDef, KindReader};
use crate::spec::TaskKind;
use serde::Deserialize;

pub(super) const KIND: KindDef = KindDef {
    name: "shell",
    fields: &["command", "script"],
    read,
};

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    command: Option<String>,
    script: Option<String>,
}

fn read(r: &mut KindReader<'_, '_>) -> Option<TaskKind> {
    let f: Fields = r.read()?;
    match (f.command, f.script) {
        (Some(c), None) | (None, Some(c)) if !c.trim().is_empty() => {
            Some(TaskKind::Shell { command: c })
        }
        (Some(_), Some(_)) => {
            r.problem("give `command` or `script`, not both".into());
            None
        }
        _ => {
            r.problem("a shell task needs a `command` or a `script`".into());
            None
        }
    }
}

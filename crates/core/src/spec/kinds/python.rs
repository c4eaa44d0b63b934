//! `python`: a `script` run by the worker's python (`python3 -u -c`).

use super::{KindDef, KindReader};
use crate::spec::TaskKind;
use serde::Deserialize;

pub(super) const KIND: KindDef = KindDef {
    name: "python",
    fields: &["script"],
    read,
};

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    script: Option<String>,
}

fn read(r: &mut KindReader<'_, '_>) -> Option<TaskKind> {
    let f: Fields = r.read()?;
    match f.script {
        Some(s) if !s.trim().is_empty() => Some(TaskKind::Python { script: s }),
        _ => {
            r.problem("a python task needs a `script`".into());
            None
        }
    }
}

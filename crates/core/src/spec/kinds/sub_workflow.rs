//! `sub_workflow`: runs another workflow of the project as a child instance and ends as it
//! ends, with its output params (runs in the master).

use super::{KindDef, KindReader};
use crate::spec::{valid_name, TaskKind};
use serde::Deserialize;

pub(super) const KIND: KindDef = KindDef {
    name: "sub_workflow",
    fields: &["workflow", "version"],
    read,
};

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    workflow: Option<String>,
    version: Option<i64>,
}

fn read(r: &mut KindReader<'_, '_>) -> Option<TaskKind> {
    let f: Fields = r.read()?;
    let workflow = r.need(f.workflow, "`workflow` (the name of the workflow to run)")?;
    let mut ok = true;
    if !valid_name(&workflow) {
        r.problem(format!("bad workflow name `{workflow}`"));
        ok = false;
    }
    if let Some(v) = f.version.filter(|v| *v < 1) {
        r.problem(format!("`version: {v}` must be 1 or more"));
        ok = false;
    }
    ok.then_some(TaskKind::SubWorkflow {
        workflow,
        version: f.version,
    })
}

//! `conditions`: after its upstream tasks end, takes its `success` or its `failure` branch
//! (runs in the master).

use super::{KindDef, KindReader};
use crate::spec::logic::{opt_one_or_many, Condition};
use crate::spec::TaskKind;
use serde::Deserialize;

pub(super) const KIND: KindDef = KindDef {
    name: "conditions",
    fields: &["condition", "success", "failure"],
    read,
};

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    condition: Option<Condition>,
    #[serde(default, deserialize_with = "opt_one_or_many")]
    success: Option<Vec<String>>,
    #[serde(default, deserialize_with = "opt_one_or_many")]
    failure: Option<Vec<String>>,
}

fn read(r: &mut KindReader<'_, '_>) -> Option<TaskKind> {
    let f: Fields = r.read()?;
    let success = f.success.unwrap_or_default();
    let failure = f.failure.unwrap_or_default();
    if success.is_empty() && failure.is_empty() {
        r.problem("a conditions task needs a `success` or a `failure` branch (task names)".into());
        return None;
    }
    Some(TaskKind::Conditions {
        condition: f.condition,
        success,
        failure,
    })
}

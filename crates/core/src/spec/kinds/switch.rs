//! `switch`: takes the branch of the first case whose condition holds, or its default
//! (runs in the master).

use super::{KindDef, KindReader};
use crate::spec::logic::{opt_one_or_many, SwitchCase};
use crate::spec::TaskKind;
use serde::Deserialize;

pub(super) const KIND: KindDef = KindDef {
    name: "switch",
    fields: &["cases", "default"],
    read,
};

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    cases: Option<Vec<SwitchCase>>,
    #[serde(default, deserialize_with = "opt_one_or_many")]
    default: Option<Vec<String>>,
}

fn read(r: &mut KindReader<'_, '_>) -> Option<TaskKind> {
    let f: Fields = r.read()?;
    let cases = f.cases.unwrap_or_default();
    if cases.is_empty() {
        r.problem("a switch task needs `cases` (a list of `when:` / `then:`)".into());
        return None;
    }
    let mut ok = true;
    for (i, case) in cases.iter().enumerate() {
        if case.when.trim().is_empty() {
            r.problem(format!("case {} has an empty `when`", i + 1));
            ok = false;
        }
        if case.then.is_empty() {
            r.problem(format!("case {} has an empty `then`", i + 1));
            ok = false;
        }
    }
    ok.then_some(TaskKind::Switch {
        cases,
        default: f.default.unwrap_or_default(),
    })
}

//! `dependent`: waits until other workflows (or tasks of them) succeeded for a date window
//! (runs in the master).

use super::{KindDef, KindReader};
use crate::spec::logic::{default_check_interval, Dependence};
use crate::spec::{valid_name, TaskKind};
use serde::Deserialize;
use std::time::Duration;

pub(super) const KIND: KindDef = KindDef {
    name: "dependent",
    fields: &["dependence", "check_interval"],
    read,
};

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    dependence: Option<Dependence>,
    #[serde(default, with = "crate::duration::option")]
    check_interval: Option<Duration>,
}

fn read(r: &mut KindReader<'_, '_>) -> Option<TaskKind> {
    let f: Fields = r.read()?;
    let dependence = r.need(
        f.dependence,
        "`dependence` (for example `{and: [{workflow: etl, date: today}]}`)",
    )?;
    let mut ok = true;
    for item in dependence.items() {
        if !valid_name(&item.workflow) {
            r.problem(format!("bad workflow name `{}`", item.workflow));
            ok = false;
        }
    }
    if matches!(&dependence, Dependence::And { and: p } | Dependence::Or { or: p } if p.is_empty())
    {
        r.problem("`dependence` lists nothing".into());
        ok = false;
    }
    let check_interval = f.check_interval.unwrap_or_else(default_check_interval);
    if check_interval.is_zero() {
        r.problem("`check_interval` must be more than 0".into());
        ok = false;
    }
    ok.then_some(TaskKind::Dependent {
        dependence,
        check_interval,
    })
}

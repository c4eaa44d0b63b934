//! `noop`: does nothing and succeeds (a join point; the engine's own cost in benchmarks).

use super::{KindDef, KindReader};
use crate::spec::TaskKind;

pub(super) const KIND: KindDef = KindDef {
    name: "noop",
    fields: &[],
    read,
};

fn read(_: &mut KindReader<'_, '_>) -> Option<TaskKind> {
    Some(TaskKind::Noop)
}

//! Noop tasks: placeholders in a DAG (joins, markers) that succeed at once without a process.

use super::Plan;

/// Nothing to start.
pub(crate) fn plan() -> Plan {
    Plan::Noop
}

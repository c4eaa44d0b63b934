//! `sql`: statements run by a worker on one of the project's data sources. Each `${param}`
//! becomes a bound parameter (see [`crate::params::embed::sql`]), never text in the SQL.
//!
//! ```yaml
//! - name: load
//!   type: sql
//!   datasource: warehouse
//!   sql: |
//!     insert into daily select * from staging where dt = ${dt};
//!     select count(*) as n from daily where dt = ${dt};
//!   outputs: first_row      # none (default) | first_row | all_rows
//!   max_rows: 1000          # rows of a result shown in the log; the rest are counted
//!   transaction: false      # true: all statements in one transaction, rolled back on failure
//! ```
//!
//! The data source is named here and looked up when an attempt is dispatched (a data source
//! may be created after the workflow is applied): a name that does not exist then fails the
//! attempt, saying so.

use super::{KindDef, KindReader};
use crate::spec::TaskKind;
use serde::{Deserialize, Serialize};

pub(super) const KIND: KindDef = KindDef {
    name: "sql",
    fields: &["datasource", "sql", "outputs", "max_rows", "transaction"],
    read,
};

/// Rows of one result written to the log when `max_rows` is not given.
pub const DEFAULT_MAX_ROWS: u32 = 1000;
/// The most rows of one result a task may ask to see in its log.
pub const MAX_MAX_ROWS: u32 = 100_000;
/// The longest `sql` text a task may have.
pub const MAX_SQL_BYTES: usize = 1024 * 1024;

/// What a `sql` task's last result gives its downstream tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqlOutputs {
    /// Nothing (the default).
    #[default]
    None,
    /// The first row: each column an output param named as the column.
    FirstRow,
    /// Every row: one output param `rows`, a JSON array of objects.
    AllRows,
}

impl SqlOutputs {
    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            SqlOutputs::None => "none",
            SqlOutputs::FirstRow => "first_row",
            SqlOutputs::AllRows => "all_rows",
        }
    }
}

/// The output param `outputs: all_rows` sets.
pub const ALL_ROWS_OUTPUT: &str = "rows";

/// What a `sql` task runs and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlSpec {
    /// The data source's name in the workflow's project.
    pub datasource: String,
    /// The statements, separated by `;`.
    pub sql: String,
    /// What the last result gives downstream tasks.
    #[serde(default, skip_serializing_if = "is_none")]
    pub outputs: SqlOutputs,
    /// Rows of a result shown in the log; the rest are counted.
    #[serde(default = "default_max_rows")]
    pub max_rows: u32,
    /// All statements in one transaction, rolled back when one fails.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub transaction: bool,
}

fn is_none(o: &SqlOutputs) -> bool {
    *o == SqlOutputs::None
}

fn default_max_rows() -> u32 {
    DEFAULT_MAX_ROWS
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    datasource: Option<String>,
    sql: Option<String>,
    outputs: Option<String>,
    max_rows: Option<i64>,
    transaction: Option<bool>,
}

fn read(r: &mut KindReader<'_, '_>) -> Option<TaskKind> {
    let f: Fields = r.read()?;
    let datasource = r.need(
        f.datasource,
        "a `datasource` (the name of one of the project's data sources)",
    );
    let sql = r.need(f.sql, "`sql` (the statements to run)");
    let (datasource, sql) = (datasource?, sql?);
    let mut problems = Vec::new();
    if !crate::spec::valid_name(&datasource) {
        problems.push(format!(
            "`datasource`: `{datasource}` is not a data source name"
        ));
    }
    if sql.trim().is_empty() {
        problems.push("`sql` is empty: give the statements to run".into());
    } else if sql.len() > MAX_SQL_BYTES {
        problems.push(format!(
            "`sql` is {} bytes, more than the {MAX_SQL_BYTES} a task may have",
            sql.len()
        ));
    }
    let outputs = match f.outputs.as_deref() {
        None | Some("none") => SqlOutputs::None,
        Some("first_row") => SqlOutputs::FirstRow,
        Some("all_rows") => SqlOutputs::AllRows,
        Some(other) => {
            problems.push(format!(
                "`outputs`: `{other}` is not one of none, first_row, all_rows"
            ));
            SqlOutputs::None
        }
    };
    let max_rows = match f.max_rows {
        None => DEFAULT_MAX_ROWS,
        Some(n) => match u32::try_from(n) {
            Ok(n) if n <= MAX_MAX_ROWS => n,
            _ => {
                problems.push(format!(
                    "`max_rows`: {n} is not between 0 and {MAX_MAX_ROWS}"
                ));
                DEFAULT_MAX_ROWS
            }
        },
    };
    if !problems.is_empty() {
        for p in problems {
            r.problem(p);
        }
        return None;
    }
    Some(TaskKind::Sql(SqlSpec {
        datasource,
        sql,
        outputs,
        max_rows,
        transaction: f.transaction.unwrap_or(false),
    }))
}

//! SQL tasks: statements run from inside the worker (no process) on the data source the
//! master put into the dispatch. Each statement is written with its database's placeholders
//! and its values bound as text; its number and what it did (rows affected, or a table of at
//! most `max_rows` rows, the rest counted) go to the task's log; the first that fails fails
//! the attempt, naming its number and the database's message. With `transaction`, all run
//! in one transaction, rolled back when one fails. Output params come from the last
//! statement's result (`first_row`, `all_rows`).
//!
//! A kill or a timeout drops the run (and its connection) and then asks the server to cancel
//! the statement that was running ([`baton_datasource::run::cancel`]): a dropped connection
//! does not stop a query on PostgreSQL or MySQL. The password is never written to the log
//! or a message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_core::params::limits::MAX_OUTPUT_VALUE_BYTES;
use baton_datasource::run::{self, Backend, Keep, Outcome};
use baton_datasource::{redact, Connection, Kind};
use baton_proto::{DataSourceKind, SqlConnection, SqlOutputs, SqlTask};

use super::{AfterDrop, InProcess, InProcessEnd, Plan, Run};
use crate::logfile::CappedLog;

/// Longest wait for a connection to the data source.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes of one result's values kept for the log's table; the rest are counted.
const LOG_KEPT_BYTES: usize = 4 * 1024 * 1024;
/// Most characters of one value shown in the log's table.
const SHOWN_VALUE_CHARS: usize = 200;
/// Most characters of a statement's text shown in the log.
const SHOWN_STATEMENT_CHARS: usize = 1000;

/// Runs `task`'s statements.
pub(crate) fn plan(task: &SqlTask) -> Plan {
    Plan::InProcess(Box::new(SqlRun {
        task: task.clone(),
        backend: Arc::default(),
    }))
}

/// A sql task's run; its `Debug` (from the protocol's) never shows the password.
#[derive(Debug)]
struct SqlRun {
    task: SqlTask,
    /// Who the connection is on its server while it is open, for the cancel after a kill.
    backend: Arc<Mutex<Option<Backend>>>,
}

/// The data source's kind.
fn kind_of(c: &SqlConnection) -> Kind {
    match DataSourceKind::try_from(c.kind).unwrap_or_default() {
        DataSourceKind::Postgresql => Kind::Postgresql,
        DataSourceKind::Mysql => Kind::Mysql,
        DataSourceKind::Sqlite => Kind::Sqlite,
    }
}

impl InProcess for SqlRun {
    fn run<'a>(self: Box<Self>, log: &'a mut CappedLog) -> Run<'a> {
        Box::pin(async move {
            match self.execute(log).await {
                Ok(outputs) => InProcessEnd::Succeeded(outputs),
                Err(message) => InProcessEnd::Failed(message),
            }
        })
    }

    fn after_drop(&self) -> Option<AfterDrop> {
        let connection = self.task.connection.clone()?;
        let backend = self.backend.clone();
        Some(Box::new(move || {
            Box::pin(async move {
                let backend = backend.lock().expect("backend lock").take()?;
                let kind = kind_of(&connection);
                let password = connection.password.as_deref();
                Some(
                    match run::cancel(kind, &connection.url, password, backend).await {
                        Ok(()) => "asked the database to cancel the running statement".into(),
                        Err(e) => redact(
                            &format!("could not cancel the running statement: {e}"),
                            password,
                        ),
                    },
                )
            })
        }))
    }
}

impl SqlRun {
    async fn execute(&self, log: &mut CappedLog) -> Result<HashMap<String, String>, String> {
        let connection = self
            .task
            .connection
            .as_ref()
            .ok_or("the dispatch names no data source (a master of another version?)")?;
        let password = connection.password.as_deref();
        let hide = |text: String| redact(&text, password);
        let kind = kind_of(connection);
        let mut conn = self.connect(connection).await.map_err(hide)?;
        let result = self.statements(&mut conn, kind, log).await;
        let result = match result {
            Ok(outcome) => self.outputs(outcome),
            Err(message) => Err(message),
        };
        self.backend.lock().expect("backend lock").take();
        conn.close().await;
        result.map_err(hide)
    }

    /// Connects (within [`CONNECT_TIMEOUT`]) and notes who the connection is on its server.
    async fn connect(&self, c: &SqlConnection) -> Result<Connection, String> {
        let kind = kind_of(c);
        let what = format!("data source `{}` ({kind})", c.name);
        let connecting = async {
            let mut conn = baton_datasource::connect(kind, &c.url, c.password.as_deref()).await?;
            let backend = conn.backend().await?;
            Ok::<_, baton_datasource::ConnectError>((conn, backend))
        };
        let (conn, backend) = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| {
                format!(
                    "cannot connect to {what}: no answer within {} s",
                    CONNECT_TIMEOUT.as_secs()
                )
            })?
            .map_err(|e| format!("cannot connect to {what}: {e}"))?;
        *self.backend.lock().expect("backend lock") = backend;
        Ok(conn)
    }

    /// Runs every statement (in a transaction when asked); the last one's outcome.
    async fn statements(
        &self,
        conn: &mut Connection,
        kind: Kind,
        log: &mut CappedLog,
    ) -> Result<Outcome, String> {
        let t = &self.task;
        if t.transaction {
            conn.plain("BEGIN")
                .await
                .map_err(|e| format!("cannot begin a transaction: {e}"))?;
            log.write(b"[baton] BEGIN (all statements in one transaction)\n")
                .await;
        }
        let mut last = Outcome::default();
        let count = t.statements.len();
        for (i, statement) in t.statements.iter().enumerate() {
            let number = i + 1;
            let sql = render(statement, kind);
            log.write(format!("[{number}/{count}] {}\n", shown_statement(&sql)).as_bytes())
                .await;
            let keep = self.keep(number == count);
            match conn.run(&sql, &statement.args, keep).await {
                Ok(outcome) => {
                    log.write(describe(&outcome, t.max_rows).as_bytes()).await;
                    last = outcome;
                }
                Err(e) => {
                    let message = format!("statement {number} of {count} failed: {e}");
                    if t.transaction {
                        let undone = match conn.plain("ROLLBACK").await {
                            Ok(()) => "the transaction was rolled back".to_string(),
                            Err(e) => format!("the rollback failed too: {e}"),
                        };
                        log.write(format!("[baton] {undone}\n").as_bytes()).await;
                        return Err(format!("{message} ({undone})"));
                    }
                    return Err(message);
                }
            }
        }
        if t.transaction {
            conn.plain("COMMIT")
                .await
                .map_err(|e| format!("the transaction's COMMIT failed: {e}"))?;
            log.write(b"[baton] COMMIT\n").await;
        }
        Ok(last)
    }

    /// What of a statement's rows to keep: those the log shows, and for the last statement
    /// those its outputs need.
    fn keep(&self, last: bool) -> Keep {
        let shown = self.task.max_rows as usize;
        let outputs = SqlOutputs::try_from(self.task.outputs).unwrap_or_default();
        match (last, outputs) {
            (true, SqlOutputs::FirstRow) => Keep {
                rows: shown.max(1),
                bytes: LOG_KEPT_BYTES,
            },
            (true, SqlOutputs::AllRows) => Keep {
                rows: usize::MAX,
                bytes: LOG_KEPT_BYTES.max(MAX_OUTPUT_VALUE_BYTES),
            },
            (false, _) | (true, SqlOutputs::None) => Keep {
                rows: shown,
                bytes: LOG_KEPT_BYTES,
            },
        }
    }

    /// The output params the last statement's result gives.
    fn outputs(&self, last: Outcome) -> Result<HashMap<String, String>, String> {
        let outputs = SqlOutputs::try_from(self.task.outputs).unwrap_or_default();
        match outputs {
            SqlOutputs::None => Ok(HashMap::new()),
            SqlOutputs::FirstRow => first_row(&last),
            SqlOutputs::AllRows => all_rows(&last),
        }
    }
}

/// The statement with its database's placeholders.
fn render(statement: &baton_proto::SqlStatement, kind: Kind) -> String {
    let bound = baton_core::params::embed::sql::BoundStatement {
        parts: statement.parts.clone(),
        args: statement.args.clone(),
    };
    bound.render(|n| run::placeholder(kind, n))
}

/// `outputs: first_row`: each column of the first row, named as the column.
fn first_row(last: &Outcome) -> Result<HashMap<String, String>, String> {
    let Some(row) = last.rows.first() else {
        return Err(
            "outputs: first_row, but the last statement returned no row (its columns would \
             be the output params)"
                .into(),
        );
    };
    let mut out = HashMap::new();
    for (name, value) in last.columns.iter().zip(row) {
        if !baton_core::params::is_param_name(name) {
            return Err(format!(
                "outputs: first_row: the column `{name}` is not a param name (letters, digits, \
                 _): name it with AS, e.g. `count(*) AS n`"
            ));
        }
        out.insert(name.clone(), value.clone().unwrap_or_default());
    }
    Ok(out)
}

/// `outputs: all_rows`: one output `rows`, a JSON array of objects (values as strings, NULL
/// as null).
fn all_rows(last: &Outcome) -> Result<HashMap<String, String>, String> {
    let too_many = || {
        format!(
            "outputs: all_rows: the last statement's {} rows do not fit in an output param \
             (at most {} KiB): select fewer rows or columns, or use first_row",
            last.total_rows,
            MAX_OUTPUT_VALUE_BYTES / 1024
        )
    };
    if !last.complete() {
        return Err(too_many());
    }
    let rows: Vec<serde_json::Value> = last
        .rows
        .iter()
        .map(|row| {
            let fields = last
                .columns
                .iter()
                .zip(row)
                .map(|(c, v)| {
                    (
                        c.clone(),
                        v.clone().map_or(serde_json::Value::Null, Into::into),
                    )
                })
                .collect();
            serde_json::Value::Object(fields)
        })
        .collect();
    let text = serde_json::Value::Array(rows).to_string();
    if text.len() > MAX_OUTPUT_VALUE_BYTES {
        return Err(too_many());
    }
    Ok(HashMap::from([(
        baton_core::spec::kinds::sql::ALL_ROWS_OUTPUT.to_string(),
        text,
    )]))
}

/// A statement for the log: at most [`SHOWN_STATEMENT_CHARS`] characters, one line.
fn shown_statement(sql: &str) -> String {
    let one_line: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    cut(&one_line, SHOWN_STATEMENT_CHARS)
}

/// A value on one line: its control characters (line breaks, tabs) escaped.
fn one_line(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn cut(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// What a statement did, for the log: rows affected, or its rows as a table (at most
/// `max_rows`, the rest counted).
fn describe(outcome: &Outcome, max_rows: u32) -> String {
    if outcome.columns.is_empty() {
        return match outcome.rows_affected {
            0 => "done: no row returned or changed\n".to_string(),
            n => format!("{n} rows affected\n"),
        };
    }
    let shown: Vec<&Vec<Option<String>>> = outcome.rows.iter().take(max_rows as usize).collect();
    let cell = |v: &Option<String>| match v {
        None => "NULL".to_string(),
        Some(v) => cut(&one_line(v), SHOWN_VALUE_CHARS),
    };
    let cells: Vec<Vec<String>> = shown.iter().map(|r| r.iter().map(cell).collect()).collect();
    let mut widths: Vec<usize> = outcome.columns.iter().map(|c| c.chars().count()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |values: &[String]| {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        format!("{}\n", padded.join(" | ").trim_end())
    };
    let mut out = line(&outcome.columns);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&format!("{}\n", rule.join("-+-")));
    for row in &cells {
        out.push_str(&line(row));
    }
    let hidden = outcome.total_rows - shown.len() as u64;
    if hidden > 0 {
        out.push_str(&format!(
            "… {hidden} more rows not shown (max_rows: {max_rows})\n"
        ));
    }
    let plural = if outcome.total_rows == 1 { "" } else { "s" };
    out.push_str(&format!("({} row{plural})\n", outcome.total_rows));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(rows: u64) -> Outcome {
        Outcome {
            columns: vec!["n".into(), "s".into()],
            rows: (0..rows)
                .map(|i| vec![Some(i.to_string()), (i % 2 == 0).then(|| "a\nb".into())])
                .collect(),
            total_rows: rows,
            rows_affected: 0,
        }
    }

    #[test]
    fn a_result_is_a_bounded_table_and_the_rest_is_counted() {
        let text = describe(&outcome(5), 2);
        assert_eq!(
            text,
            "n | s\n--+-----\n0 | a\\nb\n1 | NULL\n… 3 more rows not shown (max_rows: 2)\n(5 rows)\n"
        );
        let changed = Outcome {
            rows_affected: 3,
            ..Outcome::default()
        };
        assert_eq!(describe(&changed, 10), "3 rows affected\n");
    }

    #[test]
    fn outputs_come_from_the_last_result() {
        let first = first_row(&outcome(2)).unwrap();
        assert_eq!(first["n"], "0");
        assert_eq!(first["s"], "a\nb");
        assert!(first_row(&outcome(0))
            .unwrap_err()
            .contains("returned no row"));
        let mut bad = outcome(1);
        bad.columns[0] = "count(*)".into();
        assert!(first_row(&bad).unwrap_err().contains("name it with AS"));
        let all = all_rows(&outcome(2)).unwrap();
        assert_eq!(all["rows"], r#"[{"n":"0","s":"a\nb"},{"n":"1","s":null}]"#);
        let mut partial = outcome(2);
        partial.total_rows = 3;
        assert!(all_rows(&partial).unwrap_err().contains("do not fit"));
    }

    #[test]
    fn a_long_statement_is_cut_for_the_log() {
        assert_eq!(shown_statement("select\n  1,\n  2"), "select 1, 2");
        let long = "x".repeat(2000);
        assert_eq!(
            shown_statement(&long).chars().count(),
            SHOWN_STATEMENT_CHARS + 1
        );
    }
}

//! Running a `sql` task's statements on a [`Connection`]: one statement at a time with its
//! values bound as text (never spliced into the SQL), its rows read as text, and a way to
//! cancel a statement that runs on the server from another connection.
//!
//! Dropping a connection does not stop a statement the server is running (PostgreSQL runs a
//! `pg_sleep` on until it next writes to the client; MySQL likewise): [`cancel`] asks the
//! server to stop it, with `pg_cancel_backend` or `KILL QUERY`, from a second connection.

use crate::{connect, message, ConnectError, Connection, Kind};
use futures::TryStreamExt;
use sqlx::types::chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sqlx::types::{Decimal, JsonValue, Uuid};
use sqlx::{Column, Either, Executor, Row};

/// The placeholder of the `n`th (0-based) bound value in a statement of `kind`: `$1…` on
/// PostgreSQL, `?` on MySQL and SQLite.
pub fn placeholder(kind: Kind, n: usize) -> String {
    match kind {
        Kind::Postgresql => format!("${}", n + 1),
        Kind::Mysql | Kind::Sqlite => "?".to_string(),
    }
}

/// How much of a statement's rows [`Connection::run`] keeps (the rest are only counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep {
    /// Rows.
    pub rows: usize,
    /// Bytes of their values, in all.
    pub bytes: usize,
}

/// What one statement did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The columns of its rows (empty when it returned none).
    pub columns: Vec<String>,
    /// The rows kept, each value as text (`None` for NULL).
    pub rows: Vec<Vec<Option<String>>>,
    /// How many rows it returned in all.
    pub total_rows: u64,
    /// Rows it changed (inserts, updates, deletes).
    pub rows_affected: u64,
}

impl Outcome {
    /// Whether every row it returned was kept.
    pub fn complete(&self) -> bool {
        self.rows.len() as u64 == self.total_rows
    }
}

/// What [`cancel`] needs to find a connection's statement on its server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A PostgreSQL backend's process id and when it started (so that a process id reused
    /// by another backend is never cancelled).
    Postgres(i32, String),
    /// A MySQL connection id.
    MySql(u64),
}

impl Connection {
    /// Who this connection is on its server, for [`cancel`]; `None` for SQLite (a dropped
    /// SQLite connection stops with it, in this process).
    pub async fn backend(&mut self) -> Result<Option<Backend>, ConnectError> {
        let err = |e: sqlx::Error| ConnectError::Database(message(&e, None));
        match self {
            Connection::Postgres(c) => {
                let (pid, start): (i32, String) = sqlx::query_as(
                    "SELECT pid, backend_start::text FROM pg_stat_activity \
                     WHERE pid = pg_backend_pid()",
                )
                .fetch_one(c)
                .await
                .map_err(err)?;
                Ok(Some(Backend::Postgres(pid, start)))
            }
            Connection::MySql(c) => {
                let (id,): (u64,) = sqlx::query_as("SELECT CONNECTION_ID()")
                    .fetch_one(c)
                    .await
                    .map_err(err)?;
                Ok(Some(Backend::MySql(id)))
            }
            Connection::Sqlite(_) => Ok(None),
        }
    }

    /// Runs a statement without values as it is (`BEGIN`, `COMMIT`, `ROLLBACK`).
    pub async fn plain(&mut self, sql: &str) -> Result<(), ConnectError> {
        let err = |e: sqlx::Error| ConnectError::Database(message(&e, None));
        match self {
            Connection::Postgres(c) => c.execute(sqlx::raw_sql(sql)).await.map(drop),
            Connection::MySql(c) => c.execute(sqlx::raw_sql(sql)).await.map(drop),
            Connection::Sqlite(c) => c.execute(sqlx::raw_sql(sql)).await.map(drop),
        }
        .map_err(err)
    }

    /// Runs one statement (`sql`, with [`placeholder`]s) with `args` bound as text, keeping
    /// what `keep` allows of its rows. A statement without values goes as it is (so that
    /// statements a server will not prepare, such as MySQL's `CREATE PROCEDURE`, run too).
    pub async fn run(
        &mut self,
        sql: &str,
        args: &[String],
        keep: Keep,
    ) -> Result<Outcome, ConnectError> {
        let err = |e: sqlx::Error| ConnectError::Database(message(&e, None));
        let mut out = Outcome::default();
        let mut kept_bytes = 0usize;
        macro_rules! drive {
            ($conn:expr, $cell:ident) => {{
                let conn = $conn;
                let mut stream = if args.is_empty() {
                    conn.fetch_many(sqlx::raw_sql(sql))
                } else {
                    let mut query = sqlx::query(sql);
                    for a in args {
                        query = query.bind(a.as_str());
                    }
                    conn.fetch_many(query)
                };
                while let Some(item) = stream.try_next().await.map_err(err)? {
                    match item {
                        Either::Left(done) => out.rows_affected += done.rows_affected(),
                        Either::Right(row) => {
                            out.total_rows += 1;
                            if out.columns.is_empty() {
                                out.columns =
                                    row.columns().iter().map(|c| c.name().to_string()).collect();
                            }
                            if out.rows.len() < keep.rows && kept_bytes < keep.bytes {
                                let cells: Vec<Option<String>> =
                                    (0..row.len()).map(|i| $cell(&row, i)).collect();
                                kept_bytes +=
                                    cells.iter().flatten().map(String::len).sum::<usize>();
                                out.rows.push(cells);
                            }
                        }
                    }
                }
            }};
        }
        match self {
            Connection::Postgres(c) => drive!(&mut *c, pg_cell),
            Connection::MySql(c) => drive!(&mut *c, mysql_cell),
            Connection::Sqlite(c) => drive!(&mut *c, sqlite_cell),
        }
        Ok(out)
    }
}

/// The first of the types that can read the value, as text (`None` for NULL).
macro_rules! first_of {
    ($row:expr, $i:expr, $($t:ty => $show:expr),+ $(,)?) => {{
        $(
            if let Ok(v) = $row.try_get::<Option<$t>, _>($i) {
                #[allow(clippy::redundant_closure_call)]
                return v.map($show);
            }
        )+
    }};
}

fn hex(bytes: Vec<u8>) -> String {
    format!("\\x{}", hex::encode(bytes))
}

fn shown<T: ToString>(v: T) -> String {
    v.to_string()
}

/// A value of another type than those Baton reads: its type's name.
fn unread(type_name: &str) -> Option<String> {
    Some(format!("<{type_name}>"))
}

fn pg_cell(row: &sqlx::postgres::PgRow, i: usize) -> Option<String> {
    first_of!(row, i,
        bool => shown, i16 => shown, i32 => shown, i64 => shown, f32 => shown, f64 => shown,
        Decimal => shown, String => |s| s, NaiveDate => shown, NaiveTime => shown,
        NaiveDateTime => shown, DateTime<Utc> => |t: DateTime<Utc>| t.to_rfc3339(),
        JsonValue => shown, Uuid => shown, Vec<u8> => hex,
    );
    let raw = row.try_get_raw(i).ok()?;
    if sqlx::ValueRef::is_null(&raw) {
        return None;
    }
    unread(sqlx::TypeInfo::name(&*sqlx::ValueRef::type_info(&raw)))
}

fn mysql_cell(row: &sqlx::mysql::MySqlRow, i: usize) -> Option<String> {
    first_of!(row, i,
        // Every integer column reads as either (sqlx reads any size into them).
        i64 => shown, u64 => shown, f32 => shown, f64 => shown, Decimal => shown,
        String => |s| s, NaiveDate => shown, NaiveTime => shown, NaiveDateTime => shown,
        DateTime<Utc> => |t: DateTime<Utc>| t.to_rfc3339(), JsonValue => shown,
        Vec<u8> => |b: Vec<u8>| String::from_utf8(b).unwrap_or_else(|e| hex(e.into_bytes())),
    );
    let raw = row.try_get_raw(i).ok()?;
    if sqlx::ValueRef::is_null(&raw) {
        return None;
    }
    unread(sqlx::TypeInfo::name(&*sqlx::ValueRef::type_info(&raw)))
}

fn sqlite_cell(row: &sqlx::sqlite::SqliteRow, i: usize) -> Option<String> {
    first_of!(row, i,
        i64 => shown, f64 => shown, String => |s| s, Vec<u8> => hex,
    );
    let raw = row.try_get_raw(i).ok()?;
    if sqlx::ValueRef::is_null(&raw) {
        return None;
    }
    unread(sqlx::TypeInfo::name(&*sqlx::ValueRef::type_info(&raw)))
}

/// Asks the server to stop the statement `backend` runs, from a new connection:
/// `pg_cancel_backend` on PostgreSQL, `KILL QUERY` on MySQL.
pub async fn cancel(
    kind: Kind,
    url: &str,
    password: Option<&str>,
    backend: Backend,
) -> Result<(), ConnectError> {
    let mut conn = connect(kind, url, password).await?;
    let err = |e: sqlx::Error| ConnectError::Database(message(&e, password));
    let result = match (&mut conn, backend) {
        (Connection::Postgres(c), Backend::Postgres(pid, start)) => sqlx::query(
            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity \
                 WHERE pid = $1 AND backend_start::text = $2",
        )
        .bind(pid)
        .bind(start)
        .execute(&mut *c)
        .await
        .map(drop)
        .map_err(err),
        // A number: nothing of it can be read as SQL.
        (Connection::MySql(c), Backend::MySql(id)) => c
            .execute(sqlx::raw_sql(&format!("KILL QUERY {id}")))
            .await
            .map(drop)
            .map_err(err),
        _ => Err(ConnectError::Database(
            "the connection to cancel is of another kind of database".into(),
        )),
    };
    conn.close().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEEP_ALL: Keep = Keep {
        rows: usize::MAX,
        bytes: usize::MAX,
    };

    #[test]
    fn placeholders_are_the_databases_own() {
        assert_eq!(placeholder(Kind::Postgresql, 0), "$1");
        assert_eq!(placeholder(Kind::Postgresql, 2), "$3");
        assert_eq!(placeholder(Kind::Mysql, 2), "?");
        assert_eq!(placeholder(Kind::Sqlite, 0), "?");
    }

    #[tokio::test]
    async fn sqlite_runs_statements_with_values_bound_and_reads_rows_as_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        std::fs::write(&path, b"").unwrap();
        let url = format!("sqlite://{}", path.display());
        let mut c = connect(Kind::Sqlite, &url, None).await.unwrap();
        assert_eq!(c.backend().await.unwrap(), None);
        c.run(
            "create table t (s text, n integer, f real, b blob)",
            &[],
            KEEP_ALL,
        )
        .await
        .unwrap();
        let hostile = "'; drop table t; --".to_string();
        let done = c
            .run(
                "insert into t values (?, 2, 1.5, x'00ff'), (?, null, null, null)",
                &[hostile.clone(), "b".into()],
                KEEP_ALL,
            )
            .await
            .unwrap();
        assert_eq!(done.rows_affected, 2);
        assert_eq!(done.total_rows, 0);
        let out = c
            .run("select s, n, f, b from t order by n desc", &[], KEEP_ALL)
            .await
            .unwrap();
        assert_eq!(out.columns, ["s", "n", "f", "b"]);
        assert_eq!(
            out.rows[0],
            [
                Some(hostile),
                Some("2".into()),
                Some("1.5".into()),
                Some("\\x00ff".into())
            ]
        );
        assert_eq!(out.rows[1], [Some("b".into()), None, None, None]);
        let few = c
            .run(
                "select s from t",
                &[],
                Keep {
                    rows: 1,
                    bytes: usize::MAX,
                },
            )
            .await
            .unwrap();
        assert_eq!((few.rows.len(), few.total_rows), (1, 2));
        assert!(!few.complete());
        let e = c
            .run("select nope from t", &[], KEEP_ALL)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no such column"), "{e}");
    }

    /// The real servers on 127.0.0.1 read their own types as text.
    #[tokio::test]
    async fn postgresql_and_mariadb_values_are_read_as_text() {
        let mut pg = connect(
            Kind::Postgresql,
            "postgres://postgres@127.0.0.1:5432/postgres",
            None,
        )
        .await
        .unwrap();
        assert!(matches!(
            pg.backend().await.unwrap(),
            Some(Backend::Postgres(..))
        ));
        let out = pg
            .run(
                "select $1::int + 1 as n, sum(x) as s, 1.5::float8 as f, true as b, \
                 date '2026-01-31' as d, '{\"a\":1}'::jsonb as j, null::text as z, \
                 $2 as t from (values (1), (2)) v(x)",
                &["41".into(), "x'y".into()],
                KEEP_ALL,
            )
            .await
            .unwrap();
        assert_eq!(out.columns, ["n", "s", "f", "b", "d", "j", "z", "t"]);
        assert_eq!(
            out.rows[0],
            [
                Some("42".into()),
                Some("3".into()),
                Some("1.5".into()),
                Some("true".into()),
                Some("2026-01-31".into()),
                Some("{\"a\":1}".into()),
                None,
                Some("x'y".into())
            ]
        );
        let mut my = connect(Kind::Mysql, "mariadb://root@127.0.0.1:3306/mysql", None)
            .await
            .unwrap();
        assert!(matches!(
            my.backend().await.unwrap(),
            Some(Backend::MySql(_))
        ));
        let out = my
            .run(
                "select CAST(? AS SIGNED) + 1 as n, 2.50 as d, 'x' as s, null as z, ? as t",
                &["41".into(), "x'y".into()],
                KEEP_ALL,
            )
            .await
            .unwrap();
        assert_eq!(
            out.rows[0],
            [
                Some("42".into()),
                Some("2.50".into()),
                Some("x".into()),
                None,
                Some("x'y".into())
            ]
        );
    }
}

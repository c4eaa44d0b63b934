//! The sql task end to end, with real `baton standalone` processes and the real databases:
//! PostgreSQL on 127.0.0.1:5432 and MariaDB on 127.0.0.1:3306 (each in a database of the
//! test's own, dropped at the end) and an SQLite file. Statements with a hostile param value
//! (it arrives as data), first_row and all_rows outputs reaching a downstream task, a failing
//! second statement named by its number with its transaction rolled back, a timeout and a stop
//! that cancel a running `pg_sleep(60)` / `SLEEP(60)` on the server, and the data source's
//! password in no answer, log or task log.

mod common;

use common::*;
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

/// A suffix no other run uses, for the databases and markers the test makes.
fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{}_{nanos}", std::process::id())
}

/// `sql` on the shared PostgreSQL, in database `db`: what it printed (unaligned, no header).
fn pg(db: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", db])
        .args(["-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
        .output()
        .expect("the psql client");
    assert!(out.status.success(), "psql `{sql}`: {:?}", text(&out));
    text(&out).0.trim().to_string()
}

/// `sql` on the shared MariaDB: what it printed (no header).
fn maria(sql: &str) -> String {
    let out = Command::new("mysql")
        .args([
            "-h",
            "127.0.0.1",
            "-P",
            "3306",
            "-u",
            "root",
            "-N",
            "-B",
            "-e",
            sql,
        ])
        .output()
        .expect("the mysql client");
    assert!(out.status.success(), "mysql `{sql}`: {:?}", text(&out));
    text(&out).0.trim().to_string()
}

/// A PostgreSQL database of the test's own, dropped (with its connections) at the end.
struct PgDb(String);

impl PgDb {
    fn create(name: &str) -> PgDb {
        pg("postgres", &format!("CREATE DATABASE {name}"));
        PgDb(name.to_string())
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c"])
            .arg(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0))
            .output();
    }
}

/// A MariaDB database of the test's own, dropped at the end.
struct MariaDb(String);

impl MariaDb {
    fn create(name: &str) -> MariaDb {
        maria(&format!("CREATE DATABASE {name}"));
        MariaDb(name.to_string())
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = Command::new("mysql")
            .args(["-h", "127.0.0.1", "-u", "root", "-e"])
            .arg(format!("DROP DATABASE IF EXISTS {}", self.0))
            .output();
    }
}

/// Creates a data source through the API.
fn datasource(s: &Standalone, name: &str, kind: &str, url: &str, password: Option<&str>) {
    let mut body = json!({"name": name, "type": kind, "url": url});
    if let Some(p) = password {
        body["password"] = json!(p);
    }
    let response = s
        .request(reqwest::Method::POST, "/datasources?project=default")
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(response.status(), 201, "{:?}", response.text());
}

/// The task log of the task `name` of an instance view.
fn task_log(s: &Standalone, view: &Value, name: &str) -> String {
    s.ok(&["logs", &Standalone::task(view, name)["id"].to_string()])
}

/// The load workflow on data source `ds`: the same statements on every kind of database.
fn load_workflow(dir: &std::path::Path, ds: &str, out: &std::path::Path) -> std::path::PathBuf {
    write(
        dir,
        &format!("load-{ds}.yaml"),
        &format!(
            r#"name: load-{ds}
params: {{dt: x}}
tasks:
  - name: load
    type: sql
    datasource: {ds}
    sql: |
      create table if not exists daily (dt text, n integer);
      insert into daily values (${{dt}}, 1), ('${{dt}}', 2);
      select count(*) as n, max(dt) as day from daily where dt = ${{dt}};
    outputs: first_row
  - name: all
    type: sql
    datasource: {ds}
    depends_on: [load]
    sql: select dt, n from daily order by n
    outputs: all_rows
  - name: after
    type: shell
    depends_on: [all]
    command: printf '%s\n%s\n%s\n' "${{n}}" "${{day}}" "${{rows}}" > {}
"#,
            out.display()
        ),
    )
}

#[test]
fn statements_bind_a_hostile_value_as_data_and_their_outputs_reach_the_next_task() {
    let dir = tempfile::tempdir().unwrap();
    let suffix = unique();
    let pg_db = PgDb::create(&format!("baton_sql_{suffix}"));
    let my_db = MariaDb::create(&format!("baton_sql_{suffix}"));
    let lite = dir.path().join("lite.db");
    std::fs::write(&lite, b"").unwrap();
    let s = Standalone::start(&dir.path().join("data"), None, &[]);
    datasource(
        &s,
        "lite",
        "sqlite",
        &format!("sqlite://{}", lite.display()),
        None,
    );
    datasource(
        &s,
        "pg",
        "postgresql",
        &format!("postgres://postgres@127.0.0.1:5432/{}", pg_db.0),
        None,
    );
    datasource(
        &s,
        "maria",
        "mysql",
        &format!("mariadb://root@127.0.0.1:3306/{}", my_db.0),
        None,
    );
    let hostile = "x'); drop table daily; -- \"$1 ? ${y}";
    for ds in ["lite", "pg", "maria"] {
        let out = dir.path().join(format!("{ds}.out"));
        let file = load_workflow(dir.path(), ds, &out);
        let id = s.start_workflow(&file, &format!("load-{ds}"), &[&format!("dt={hostile}")]);
        let view = s.wait_end(id, Duration::from_secs(60));
        assert_eq!(
            view["instance"]["state"],
            "succeeded",
            "{ds}: {view:#}\n{}",
            task_log(&s, &view, "load")
        );
        let rows = json!([{"dt": hostile, "n": "1"}, {"dt": hostile, "n": "2"}]);
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            format!("2\n{hostile}\n{rows}\n"),
            "{ds}: the value arrived as data and the outputs reached the next task"
        );
        let log = task_log(&s, &view, "load");
        for shown in [
            "[1/3] create table",
            "[2/3] insert into daily",
            "2 rows affected",
            "n | day",
            "(1 row)",
        ] {
            assert!(log.contains(shown), "{ds}: the log shows `{shown}`: {log}");
        }
        let statements: Vec<&str> = log.lines().filter(|l| l.starts_with('[')).collect();
        assert!(
            statements.iter().all(|l| !l.contains("drop table")),
            "{ds}: a value is not in the statements: {log}"
        );
        assert!(
            log.contains(hostile),
            "{ds}: the table shows the value: {log}"
        );
    }
    assert_eq!(
        pg(&pg_db.0, "select count(*) from daily"),
        "2",
        "the table is there with the two rows"
    );
    assert_eq!(
        maria(&format!("select count(*) from {}.daily", my_db.0)),
        "2"
    );
}

#[test]
fn a_failing_statement_is_named_its_transaction_rolled_back_and_the_password_shown_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let suffix = unique();
    let db = PgDb::create(&format!("baton_sqltx_{suffix}"));
    pg(&db.0, "create table t (n int)");
    let role = format!("baton_sqltx_{suffix}");
    let password = format!("Sql-Pw-{suffix}-z");
    pg(
        "postgres",
        &format!("CREATE ROLE {role} LOGIN PASSWORD '{password}'"),
    );
    pg(&db.0, &format!("GRANT ALL ON t TO {role}"));
    let s = Standalone::start(&dir.path().join("data"), None, &[]);
    datasource(
        &s,
        "wh",
        "postgresql",
        &format!("postgres://{role}@127.0.0.1:5432/{}", db.0),
        Some(&password),
    );
    let file = write(
        dir.path(),
        "tx.yaml",
        "name: tx\nfailure_strategy: continue\ntasks:\n  - name: load\n    type: sql\n    datasource: wh\n    transaction: true\n    sql: |\n      insert into t values (1);\n      insert into t values ('not a number');\n      insert into t values (3);\n  - {name: missing, type: sql, datasource: nowhere, sql: 'select 1'}\n",
    );
    let id = s.start_workflow(&file, "tx", &[]);
    let view = s.wait_end(id, Duration::from_secs(60));
    assert_eq!(view["instance"]["state"], "failed", "{view:#}");
    let load = Standalone::task(&view, "load");
    let message = load["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("statement 2 of 3 failed")
            && message.contains("invalid input syntax for type integer")
            && message.contains("rolled back"),
        "{view:#}"
    );
    assert_eq!(
        pg(&db.0, "select count(*) from t"),
        "0",
        "the first insert was undone"
    );
    let log = task_log(&s, &view, "load");
    assert!(
        log.contains("[baton] the transaction was rolled back"),
        "{log}"
    );
    assert!(
        !log.contains("[3/3]"),
        "the third statement did not run: {log}"
    );
    let missing = Standalone::task(&view, "missing")["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        missing.contains("data source `nowhere` does not exist in project `default`"),
        "{missing}"
    );

    // The password is in no answer, no log and no task log.
    let events = s.get("/events?limit=500").to_string();
    let instance = s.instance(id).to_string();
    let shown = s.ok(&["datasource", "show", "wh"]);
    for (what, text) in [
        ("the task log", &log),
        ("the instance", &instance),
        ("the event log", &events),
        ("datasource show", &shown),
        ("the server's log", &s.log_text()),
    ] {
        assert!(
            !text.contains(&password),
            "{what} shows the password: {text}"
        );
    }
    drop(s);
    pg("postgres", &format!("DROP DATABASE {} WITH (FORCE)", db.0));
    pg("postgres", &format!("DROP ROLE {role}"));
}

/// Statements of the server that hold `marker` and run now (the probe's own excluded).
fn running_pg(marker: &str) -> u32 {
    pg(
        "postgres",
        &format!(
            "select count(*) from pg_stat_activity where state = 'active' \
             and query like '%{marker}%' and pid <> pg_backend_pid()"
        ),
    )
    .parse()
    .unwrap()
}

/// How many statements holding a marker run on a server.
type Probe = fn(&str) -> u32;

fn running_maria(marker: &str) -> u32 {
    maria(&format!(
        "select count(*) from information_schema.processlist where command = 'Query' \
         and info like '%{marker}%' and id <> connection_id()"
    ))
    .parse()
    .unwrap()
}

#[test]
fn a_timeout_and_a_stop_cancel_the_running_statement_on_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let suffix = unique();
    let pg_db = PgDb::create(&format!("baton_sqlcancel_{suffix}"));
    let my_db = MariaDb::create(&format!("baton_sqlcancel_{suffix}"));
    let s = Standalone::start(&dir.path().join("data"), None, &[]);
    datasource(
        &s,
        "pg",
        "postgresql",
        &format!("postgres://postgres@127.0.0.1:5432/{}", pg_db.0),
        None,
    );
    datasource(
        &s,
        "maria",
        "mysql",
        &format!("mariadb://root@127.0.0.1:3306/{}", my_db.0),
        None,
    );
    let cases: [(&str, &str, Probe); 2] = [
        ("pg", "select pg_sleep(60)", running_pg),
        ("maria", "SELECT SLEEP(60)", running_maria),
    ];
    for (ds, sleep, running) in cases {
        // A timeout.
        let marker = format!("timeout_{ds}_{suffix}");
        let file = write(
            dir.path(),
            &format!("t-{ds}.yaml"),
            &format!(
                "name: t-{ds}\ntasks:\n  - {{name: sleep, type: sql, datasource: {ds}, timeout: 2s, sql: \"{sleep} /* {marker} */\"}}\n"
            ),
        );
        let started = std::time::Instant::now();
        let id = s.start_workflow(&file, &format!("t-{ds}"), &[]);
        let view = s.wait_end(id, Duration::from_secs(40));
        assert_eq!(view["instance"]["state"], "failed", "{view:#}");
        assert!(started.elapsed() < Duration::from_secs(40));
        wait_for(
            &format!("{ds}: the timed out statement to be gone from the server"),
            Duration::from_secs(15),
            || (running(&marker) == 0).then_some(()),
        );
        let log = task_log(&s, &view, "sleep");
        assert!(
            log.contains("asked the database to cancel the running statement"),
            "{log}"
        );

        // A stop.
        let marker = format!("stop_{ds}_{suffix}");
        let file = write(
            dir.path(),
            &format!("s-{ds}.yaml"),
            &format!(
                "name: s-{ds}\ntasks:\n  - {{name: sleep, type: sql, datasource: {ds}, sql: \"{sleep} /* {marker} */\"}}\n"
            ),
        );
        let id = s.start_workflow(&file, &format!("s-{ds}"), &[]);
        wait_for(
            &format!("{ds}: the statement to run on the server"),
            Duration::from_secs(30),
            || (running(&marker) == 1).then_some(()),
        );
        s.ok(&["instance", "stop", &id.to_string()]);
        let view = s.wait_end(id, Duration::from_secs(40));
        assert_eq!(view["instance"]["state"], "stopped", "{view:#}");
        wait_for(
            &format!("{ds}: the stopped statement to be gone from the server"),
            Duration::from_secs(15),
            || (running(&marker) == 0).then_some(()),
        );
    }
}

#[test]
fn the_example_runs_on_an_sqlite_file_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Standalone::start(&data, None, &[]);
    let file = data.join("warehouse.db");
    std::fs::write(&file, b"").unwrap();
    s.ok(&[
        "datasource",
        "create",
        "warehouse",
        "--type",
        "sqlite",
        "--url",
        &format!("sqlite://{}", file.display()),
    ]);
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sql-report.yaml");
    for run in 0..2 {
        let id = s.start_workflow(
            std::path::Path::new(example),
            "sql-report",
            &["day=2026-01-31"],
        );
        let view = s.wait_end(id, Duration::from_secs(60));
        assert_eq!(
            view["instance"]["state"], "succeeded",
            "run {run}: {view:#}"
        );
        let report = task_log(&s, &view, "report");
        assert!(
            report.contains(r#"2026-01-31: 165 hits on 2 pages; top pages [{"hits":"120","page":"/"},{"hits":"45","page":"/docs"}]"#),
            "run {run}: {report}"
        );
    }
}

#[test]
fn a_postgresql_data_source_speaks_tls_as_its_url_asks_and_verifies_the_server_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let s = Standalone::start(dir.path(), None, &[]);
    // The test server speaks TLS with Debian's snakeoil certificate, made for `localhost`:
    // at 127.0.0.1, verify-full finds it wrong (its name, or its signer where the system
    // does not trust it).
    let url = |mode: &str| format!("postgres://postgres@127.0.0.1:5432/postgres?sslmode={mode}");
    datasource(&s, "tls", "postgresql", &url("require"), None);
    datasource(&s, "verified", "postgresql", &url("verify-full"), None);
    let file = write(
        dir.path(),
        "tls.yaml",
        "name: tls\ntasks:\n  - name: q\n    type: sql\n    datasource: tls\n    sql: select ssl::text as encrypted from pg_stat_ssl where pid = pg_backend_pid()\n    outputs: first_row\n  - name: show\n    type: shell\n    depends_on: [q]\n    command: echo \"encrypted=${encrypted}\"\n",
    );
    let id = s.start_workflow(&file, "tls", &[]);
    let view = s.wait_end(id, Duration::from_secs(60));
    assert_eq!(view["instance"]["state"], "succeeded", "{view:#}");
    let shown = task_log(&s, &view, "show");
    assert!(
        shown.contains("encrypted=true"),
        "the connection is encrypted (if not: is ssl on in the test PostgreSQL server?): {shown}"
    );
    let out = s.cli(&["datasource", "test", "verified"]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stderr.to_lowercase().contains("certificate"),
        "verify-full refuses a certificate that does not check: {stderr}"
    );
}

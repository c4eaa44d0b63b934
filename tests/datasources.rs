//! Data sources end to end, on the real databases: a PostgreSQL server of the test's own that
//! checks passwords over TCP (scram-sha-256; the shared one on :5432 trusts every loopback
//! login, so it could not tell a wrong password), MariaDB on 127.0.0.1:3306 (its `root` has
//! no password; the test makes a user with one), and an SQLite file. Each is created through
//! the CLI or the API and tested; a wrong password says what failed; the password is never in
//! an answer, the server's log or the metadata store's file; a viewer cannot create one; a
//! rotated key still opens (and re-seals) them; a refused key file stops the start.

mod common;

use common::pg::OwnPostgres;
use common::*;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

/// A suffix no other run uses, for the database users the test makes.
fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{}_{nanos}", std::process::id())
}

fn mariadb(sql: &str) {
    let out = Command::new("mysql")
        .args(["-h", "127.0.0.1", "-P", "3306", "-u", "root", "-e", sql])
        .output()
        .expect("the mysql client");
    assert!(out.status.success(), "mysql `{sql}`: {:?}", text(&out));
}

/// A MariaDB user with a password, dropped at the end of the test.
struct MariaUser(String);

impl MariaUser {
    fn create(name: &str, password: &str) -> MariaUser {
        for host in ["localhost", "127.0.0.1", "%"] {
            mariadb(&format!(
                "CREATE USER '{name}'@'{host}' IDENTIFIED BY '{password}'"
            ));
        }
        MariaUser(name.to_string())
    }
}

impl Drop for MariaUser {
    fn drop(&mut self) {
        for host in ["localhost", "127.0.0.1", "%"] {
            let _ = Command::new("mysql")
                .args(["-h", "127.0.0.1", "-u", "root", "-e"])
                .arg(format!("DROP USER IF EXISTS '{}'@'{host}'", self.0))
                .output();
        }
    }
}

/// A `baton` client command with `stdin`, as the server's admin.
fn cli_in(
    s: &Standalone,
    config: &std::path::Path,
    args: &[&str],
    stdin: &str,
) -> (i32, String, String) {
    let env = [
        ("BATON_SERVER", s.api.as_str()),
        ("BATON_TOKEN", s.token.as_str()),
    ];
    let out = baton_in(config, args, stdin, &env);
    let (o, e) = text(&out);
    (out.status.code().unwrap_or(-1), o, e)
}

/// `baton datasource test NAME`: its exit code and what it printed.
fn test_ds(s: &Standalone, name: &str) -> (i32, String) {
    let out = s.cli(&["datasource", "test", name]);
    let (o, e) = text(&out);
    (out.status.code().unwrap_or(-1), format!("{o}{e}"))
}

/// Writes a new key with `baton secret key`, mode 0600.
fn new_key(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let out = baton(&["secret", "key"], &[]);
    assert!(out.status.success(), "{:?}", text(&out));
    let path = dir.join(name);
    std::fs::write(&path, &out.stdout).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// Every byte of the metadata store (the SQLite file and its write-ahead log).
fn store_bytes(data_dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for file in ["baton.db", "baton.db-wal"] {
        if let Ok(b) = std::fs::read(data_dir.join(file)) {
            all.extend(b);
        }
    }
    assert!(!all.is_empty(), "the store's file was read");
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn data_sources_of_each_type_connect_keep_their_password_sealed_and_survive_a_key_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("config");
    let suffix = unique();
    // Passwords that nothing else in the test, the log or the store could hold by chance.
    let pg_password = format!("pg-Pw-{suffix}-x");
    let my_password = format!("my-Pw-{suffix}-y");

    let pg = OwnPostgres::start_with("scram-sha-256");
    let pg_user = format!("baton_ds_{suffix}");
    pg.psql(&format!(
        "CREATE ROLE {pg_user} LOGIN PASSWORD '{pg_password}'"
    ));
    let my_user = MariaUser::create(&format!("bds_{suffix}"), &my_password);
    let sqlite_file = dir.path().join("warehouse.db");
    std::fs::write(&sqlite_file, b"").unwrap();

    let mut s = Standalone::start(&data, None, &[]);
    let key_file = data.join("secret.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "standalone makes its key private");

    // PostgreSQL through the CLI, the password on stdin.
    let pg_url = format!("postgres://{pg_user}@127.0.0.1:{}/postgres", pg.port);
    let (code, _, err) = cli_in(
        &s,
        &config,
        &[
            "datasource",
            "create",
            "pg",
            "--type",
            "postgresql",
            "--url",
            &pg_url,
            "--password-stdin",
        ],
        &format!("{pg_password}\n"),
    );
    assert_eq!(code, 0, "{err}");
    // MariaDB through the CLI, the password inside the URL (it is moved out of it).
    let my_url = format!("mysql://{}:{my_password}@127.0.0.1:3306/", my_user.0);
    let (code, _, err) = cli_in(
        &s,
        &config,
        &[
            "datasource",
            "create",
            "maria",
            "--type",
            "mariadb",
            "--url",
            &my_url,
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    // SQLite through the API (it has no password).
    let lite_url = format!("sqlite://{}", sqlite_file.display());
    let created: Value = s
        .request(reqwest::Method::POST, "/datasources?project=default")
        .json(&json!({"name": "lite", "type": "sqlite", "url": lite_url}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(created["has_password"], false, "{created}");

    for name in ["pg", "maria", "lite"] {
        let (code, out) = test_ds(&s, name);
        assert_eq!(code, 0, "{name} tests ok: {out}");
        assert!(out.contains("ok"), "{out}");
    }

    // Wrong passwords: the test fails, saying what failed in the database's words.
    for (name, kind, url, said) in [
        (
            "pg-bad",
            "postgresql",
            pg_url.as_str(),
            "password authentication failed",
        ),
        (
            "maria-bad",
            "mysql",
            &format!("mysql://{}@127.0.0.1:3306/", my_user.0),
            "Access denied",
        ),
    ] {
        let status = s
            .request(reqwest::Method::POST, "/datasources")
            .json(&json!({"name": name, "type": kind, "url": url, "password": "wrong-one"}))
            .send()
            .unwrap()
            .status();
        assert_eq!(status, 201);
        let (code, out) = test_ds(&s, name);
        assert_eq!(code, 1, "{name}: {out}");
        assert!(out.contains(said), "{name} says what failed: {out}");
        assert!(!out.contains("wrong-one"), "{out}");
        s.ok(&["datasource", "delete", name]);
    }

    // A URL of the wrong scheme is refused (bad input: exit 2), naming what it takes.
    let out = s.cli(&[
        "datasource",
        "create",
        "x",
        "--type",
        "mysql",
        "--url",
        "postgres://h/d",
    ]);
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
    assert!(text(&out).1.contains("mysql://"), "{:?}", text(&out));

    // The password is in no answer, no log line and not in the store's file.
    let shown = s.ok(&["datasource", "show", "maria"]);
    assert!(shown.contains("set (sealed)"), "{shown}");
    assert!(
        shown.contains(&format!("mysql://{}@127.0.0.1:3306/", my_user.0)),
        "{shown}"
    );
    let listed = s.ok(&["datasource", "list"]);
    for name in ["pg", "maria", "lite"] {
        assert!(listed.contains(name), "{listed}");
    }
    let json_list = s.get("/datasources?project=default").to_string();
    let json_show = s.get("/datasources/pg").to_string();
    assert!(json_show.contains("\"has_password\":true"), "{json_show}");
    let store = store_bytes(&data);
    for secret in [&pg_password, &my_password] {
        for (what, text) in [
            ("show", &shown),
            ("list", &listed),
            ("the API's list", &json_list),
            ("the API's show", &json_show),
            ("the server's log", &s.log_text()),
        ] {
            assert!(
                !text.contains(secret.as_str()),
                "{what} shows a password: {text}"
            );
        }
        assert!(
            !contains(&store, secret),
            "the store's file holds a password in the clear"
        );
    }

    // A viewer reads but cannot create.
    let viewer = s
        .ok(&[
            "token",
            "create",
            "--project",
            "default",
            "--role",
            "viewer",
            "--expires",
            "1h",
        ])
        .trim()
        .to_string();
    let as_viewer = |method: reqwest::Method, path: &str| {
        s.client
            .request(method, format!("{}/api/v1{path}", s.api))
            .bearer_auth(&viewer)
    };
    let status = as_viewer(reqwest::Method::POST, "/datasources")
        .json(&json!({"name": "v", "type": "sqlite", "url": lite_url}))
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 403, "a viewer cannot create");
    let status = as_viewer(reqwest::Method::POST, "/datasources/pg/test")
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 403, "a viewer cannot test");
    let status = as_viewer(reqwest::Method::GET, "/datasources")
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 200, "a viewer reads");

    // Rotation: a new key, the old one given as previous; the start re-seals everything.
    let rotated = new_key(dir.path(), "new.key");
    s.terminate();
    s.extra = vec![
        "--secret-key-file".into(),
        rotated.display().to_string(),
        "--previous-secret-key-file".into(),
        key_file.display().to_string(),
    ];
    s.restart();
    wait_for("the re-seal to be logged", Duration::from_secs(10), || {
        s.log_text()
            .contains("re-sealed 2 data source password(s)")
            .then_some(())
    });
    for name in ["pg", "maria"] {
        let (code, out) = test_ds(&s, name);
        assert_eq!(code, 0, "{name} tests ok after the rotation: {out}");
    }
    // Then the old key is dropped: the secrets were sealed again with the new one.
    s.terminate();
    s.extra = vec!["--secret-key-file".into(), rotated.display().to_string()];
    s.restart();
    for name in ["pg", "maria", "lite"] {
        let (code, out) = test_ds(&s, name);
        assert_eq!(code, 0, "{name} tests ok with only the new key: {out}");
    }
    // With only the first key, the message names the key that is missing.
    s.terminate();
    let other = new_key(dir.path(), "other.key");
    s.extra = vec!["--secret-key-file".into(), other.display().to_string()];
    s.restart();
    let (code, out) = test_ds(&s, "pg");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("which is not configured"), "{out}");
    assert!(
        !s.log_text().contains(&pg_password),
        "the log never shows a password"
    );

    // Deleting: the project keeps none, and its deletion is no longer refused for them.
    for name in ["pg", "maria", "lite"] {
        s.ok(&["datasource", "delete", name]);
    }
    assert!(!s.ok(&["datasource", "list"]).contains("maria"));
    s.terminate();
    pg.psql(&format!("DROP ROLE {pg_user}"));
}

#[test]
fn a_key_file_others_can_read_or_of_the_wrong_length_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let open = new_key(dir.path(), "open.key");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let short = dir.path().join("short.key");
    std::fs::write(&short, "c2hvcnQ=\n").unwrap();
    std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
    for (file, said) in [(&open, "mode 0644"), (&short, "5 bytes")] {
        let listen = format!("127.0.0.1:{}", free_port());
        let grpc = format!("127.0.0.1:{}", free_port());
        let out = baton(
            &[
                "standalone",
                "--listen",
                &listen,
                "--grpc-listen",
                &grpc,
                "--data-dir",
                dir.path().join("data").to_str().unwrap(),
                "--secret-key-file",
                file.to_str().unwrap(),
            ],
            &[],
        );
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(file.to_str().unwrap()) && err.contains(said),
            "{err}"
        );
    }
}

//! Identity and access as a new user meets them on the real binary: the first start prints
//! the admin's password once, the CLI logs in and keeps the session in a 0600 file, a
//! narrowed API token can read but not start, a revoked one is refused with what to do, and
//! every refused change is in the audit log.

mod common;
use common::*;
use std::io::BufRead;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A standalone server without `BATON_ADMIN_PASSWORD`, its output in `data/server.log`.
fn first_start(data: &Path, api: &str, grpc: &str) -> std::process::Child {
    std::fs::create_dir_all(data).unwrap();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data.join("server.log"))
        .unwrap();
    let child = Command::new(baton_bin())
        .args(["standalone", "--listen", api, "--grpc-listen", grpc])
        .arg("--data-dir")
        .arg(data)
        .env_remove("BATON_ADMIN_PASSWORD")
        .env("BATON_LOG", "warn")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let url = format!("http://{api}/api/v1/health");
    wait_for("the API", Duration::from_secs(30), || {
        reqwest::blocking::get(&url)
            .ok()
            .filter(|r| r.status().is_success())
    });
    child
}

/// The password the log shows after "shown only this once", and how often it says so.
fn printed_password(log: &str) -> (Option<String>, usize) {
    let times = log.matches("shown only this once").count();
    let password = log
        .lines()
        .skip_while(|l| !l.contains("shown only this once"))
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.contains("shown only this once"))
        .map(str::to_string);
    (password, times)
}

#[test]
fn first_start_login_tokens_and_refusals_as_a_new_user_meets_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("config");
    let (api, grpc) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let url = format!("http://{api}");
    let mut server = first_start(&data, &api, &grpc);
    let log = std::fs::read_to_string(data.join("server.log")).unwrap();
    let (password, times) = printed_password(&log);
    let password = password.expect("the admin password is printed");
    assert_eq!(times, 1, "{log}");
    assert!(
        log.contains(&format!("baton login --server {url} --username admin")),
        "{log}"
    );

    // Not logged in: the error says what to do.
    let out = baton_in(&config, &["workflow", "list", "--server", &url], "", &[]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("not logged in to {url}")) && err.contains("baton login --server"),
        "{err}"
    );

    let login = [
        "login",
        "--server",
        &url,
        "--username",
        "admin",
        "--password-stdin",
    ];
    let wrong = baton_in(&config, &login, "not-the-password\n", &[]);
    assert_eq!(wrong.status.code(), Some(1), "{:?}", text(&wrong));
    let ok = baton_in(&config, &login, &format!("{password}\n"), &[]);
    assert!(ok.status.success(), "{:?}", text(&ok));
    let file = config.join("baton").join("contexts.toml");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // The current context names the server: no --server needed.
    let me = baton_in(&config, &["whoami"], "", &[]);
    assert!(
        text(&me).0.starts_with("admin (global admin)"),
        "{:?}",
        text(&me)
    );

    let hello = write(
        dir.path(),
        "hello.yaml",
        "name: hello\ntasks:\n  - {name: a, type: noop}\n",
    );
    let applied = baton_in(
        &config,
        &["workflow", "apply", "-f", hello.to_str().unwrap()],
        "",
        &[],
    );
    assert!(applied.status.success(), "{:?}", text(&applied));
    let token_args = [
        "token",
        "create",
        "--project",
        "default",
        "--role",
        "viewer",
        "--expires",
        "1h",
    ];
    let made = baton_in(&config, &token_args, "", &[]);
    let token = text(&made).0;
    assert_eq!(
        token.lines().count(),
        1,
        "the token alone on stdout: {token}"
    );
    let token = token.trim().to_string();
    assert!(token.starts_with("baton_"), "{token}");

    let as_token = [
        ("BATON_TOKEN", token.as_str()),
        ("BATON_SERVER", url.as_str()),
    ];
    let listed = baton_in(&config, &["workflow", "list"], "", &as_token);
    assert!(
        text(&listed).0.contains("hello"),
        "a viewer token reads: {:?}",
        text(&listed)
    );
    let start = baton_in(&config, &["workflow", "start", "hello"], "", &as_token);
    assert_eq!(start.status.code(), Some(1));
    assert!(text(&start).1.contains("operator"), "{:?}", text(&start));

    let tokens = text(&baton_in(&config, &["token", "list"], "", &[])).0;
    let id = tokens.split('\t').next().unwrap().trim().to_string();
    let revoked = baton_in(&config, &["token", "revoke", &id], "", &[]);
    assert!(revoked.status.success(), "{:?}", text(&revoked));
    let refused = baton_in(&config, &["workflow", "list"], "", &as_token);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused).1.contains("not valid"),
        "{:?}",
        text(&refused)
    );

    let audit = text(&baton_in(&config, &["audit", "list"], "", &[])).0;
    let denied = audit
        .lines()
        .find(|l| l.contains("/start") && l.contains("denied"));
    assert!(
        denied.is_some_and(|l| l.contains("admin") && l.contains("403")),
        "{audit}"
    );

    // A restart does not make (or print) another admin.
    let _ = server.kill();
    let _ = server.wait();
    let mut again = first_start(&data, &api, &grpc);
    let log = std::fs::read_to_string(data.join("server.log")).unwrap();
    assert_eq!(printed_password(&log).1, 1, "{log}");
    let _ = again.kill();
    let _ = again.wait();
}

#[test]
fn contexts_keep_one_login_per_server_and_logout_forgets_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let one = Standalone::start(&dir.path().join("one"), None, &[]);
    let two = Standalone::start(&dir.path().join("two"), None, &[]);
    let password = format!("{}\n", baton_testkit::TEST_ADMIN_PASSWORD);
    for s in [&one, &two] {
        let args = [
            "login",
            "--server",
            &s.api,
            "--username",
            "admin",
            "--password-stdin",
        ];
        assert!(baton_in(&config, &args, &password, &[]).status.success());
    }
    let list = text(&baton_in(&config, &["context", "list"], "", &[])).0;
    let current: Vec<&str> = list.lines().filter(|l| l.starts_with('*')).collect();
    assert_eq!(current.len(), 1, "{list}");
    assert!(
        current[0].contains(&two.api),
        "the last login is current: {list}"
    );
    assert!(baton_in(&config, &["context", "use", &one.api], "", &[])
        .status
        .success());
    let out = baton_in(&config, &["cluster", "status", "--json"], "", &[]);
    let status = text(&out).0;
    assert!(
        status.contains(one.listen.as_str()),
        "the current context's server: {status}"
    );
    assert!(baton_in(&config, &["logout"], "", &[]).status.success());
    let after = baton_in(
        &config,
        &["workflow", "list", "--server", &one.api],
        "",
        &[],
    );
    assert_eq!(after.status.code(), Some(1), "{:?}", text(&after));
    let lines =
        std::io::BufReader::new(std::fs::File::open(config.join("baton/contexts.toml")).unwrap())
            .lines()
            .map_while(Result::ok)
            .filter(|l| l.contains(&one.api))
            .count();
    assert_eq!(lines, 0, "the logged-out context is forgotten");
}

//! Alerts end to end, on loopback: real `baton` processes send to receivers the test runs (an
//! axum server for webhook and Slack formats; for email, aiosmtpd as a process of its own,
//! `make smtpd`, plain or STARTTLS with a login). A failed instance reaches Slack and email
//! with its params, its failed task's log and a link; a webhook answering 500 twice then 200
//! gets one alert after three attempts, all in the history; a server SIGKILLed while the
//! receiver is down delivers exactly once after its restart; a black-hole channel does not
//! slow an instance; loopback is refused unless the server allows the host.

mod common;

use common::*;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a receiver was sent, by path, and how many times each path still answers 500.
#[derive(Default)]
struct Received {
    bodies: Vec<(String, Value)>,
    fail_first: std::collections::HashMap<String, usize>,
}

/// An HTTP receiver on a loopback port, in a runtime of its own (stops when dropped).
struct Receiver {
    port: u16,
    got: Arc<Mutex<Received>>,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    /// Listens on `port` (0: any), answering 500 `fail_first[path]` times, then 200.
    fn start(port: u16, fail_first: &[(&str, usize)]) -> Receiver {
        use axum::extract::{Path, State};
        let got = Arc::new(Mutex::new(Received::default()));
        for (path, n) in fail_first {
            got.lock().unwrap().fail_first.insert(path.to_string(), *n);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new()
            .route(
                "/{path}",
                axum::routing::post(
                    |State(got): State<Arc<Mutex<Received>>>,
                     Path(path): Path<String>,
                     body: String| async move {
                        let mut got = got.lock().unwrap();
                        let left = got.fail_first.entry(path.clone()).or_default();
                        if *left > 0 {
                            *left -= 1;
                            return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down");
                        }
                        let json = serde_json::from_str(&body).unwrap_or(Value::Null);
                        got.bodies.push((path, json));
                        (axum::http::StatusCode::OK, "ok")
                    },
                ),
            )
            .with_state(got.clone());
        runtime.spawn(async move { axum::serve(listener, app).await });
        Receiver {
            port,
            got,
            _runtime: runtime,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// The bodies received on `path`.
    fn bodies(&self, path: &str) -> Vec<Value> {
        let got = self.got.lock().unwrap();
        got.bodies
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// Waits until `path` has received `n` bodies.
    fn wait_for(&self, path: &str, n: usize, limit: Duration) -> Vec<Value> {
        wait_for(&format!("{n} alert(s) on /{path}"), limit, || {
            let b = self.bodies(path);
            (b.len() >= n).then_some(b)
        })
    }
}

/// A `baton` client command with `stdin`, as the server's admin: exit code, stdout, stderr.
fn cli_in(s: &Standalone, args: &[&str], stdin: &str) -> (i32, String, String) {
    let config = s.data_dir.join("client-config");
    let env = [
        ("BATON_SERVER", s.api.as_str()),
        ("BATON_TOKEN", s.token.as_str()),
    ];
    let out = baton_in(&config, args, stdin, &env);
    let (o, e) = text(&out);
    (out.status.code().unwrap_or(-1), o, e)
}

/// `alert channel create NAME --type webhook --url URL` on the server.
fn create_webhook(s: &Standalone, name: &str, url: &str) {
    s.ok(&[
        "alert", "channel", "create", name, "--type", "webhook", "--url", url,
    ]);
}

/// The project's deliveries, newest first, as the API shows them.
fn deliveries(s: &Standalone) -> Vec<Value> {
    s.get("/alerts/deliveries?project=default")["deliveries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

const FAILING: &str = "name: nightly
params: {dt: '2026-12-01'}
alerts:
  - {on: [instance_failed], channels: [ops-slack]}
tasks:
  - {name: extract, type: shell, command: 'echo extracted'}
  - name: load
    type: shell
    depends_on: [extract]
    command: 'echo loading ${dt}; echo boom-the-table-is-locked; exit 3'
";

#[test]
fn slack_and_webhook_alerts_of_a_failed_instance_with_retries_in_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(0, &[("hook", 2)]);
    let s = Standalone::start(dir.path(), None, &["--alert-allow-host", "127.0.0.1"]);

    // A Slack channel: its URL (with the token) from stdin, never argv, never shown again.
    let (code, _, err) = cli_in(
        &s,
        &[
            "alert",
            "channel",
            "create",
            "ops-slack",
            "--type",
            "slack",
            "--secret-stdin",
        ],
        &format!("{}\n", rx.url("slack-T0KEN")),
    );
    assert_eq!(code, 0, "{err}");
    let shown = s.ok(&["alert", "channel", "show", "ops-slack", "--json"]);
    assert!(!shown.contains("T0KEN"), "the secret is not shown: {shown}");
    assert!(shown.contains("\"has_secret\": true"), "{shown}");
    // A generic webhook, from a project rule, that answers 500 twice.
    create_webhook(&s, "hook", &rx.url("hook"));
    let rule = s.ok(&[
        "alert",
        "rule",
        "create",
        "--on",
        "instance_failed,task_failed",
        "--channel",
        "hook",
    ]);
    assert!(rule.trim().parse::<i64>().is_ok(), "{rule}");
    let rules = s.ok(&["alert", "rule", "list"]);
    assert!(
        rules.contains("instance_failed,task_failed") && rules.contains("hook"),
        "{rules}"
    );

    let file = write(dir.path(), "nightly.yaml", FAILING);
    let id = s.start_workflow(&file, "nightly", &[]);
    let end = s.wait_end(id, Duration::from_secs(60));
    assert_eq!(end["instance"]["state"], "failed");

    let slack = rx.wait_for("slack-T0KEN", 1, Duration::from_secs(30));
    let message = slack[0]["text"].as_str().unwrap();
    let title = format!("[Baton] instance_failed: default/nightly #{id}");
    assert!(message.starts_with(&title), "{message}");
    let link = format!("{}/instances/{id}", s.api);
    for part in [
        link.as_str(),
        "params: dt=2026-12-01",
        "failed task load",
        "boom-the-table-is-locked",
    ] {
        assert!(
            message.contains(part),
            "`{part}` in the Slack message:\n{message}"
        );
    }

    // The webhook: task_failed and instance_failed, each once, after 500, 500, 200.
    let hook = rx.wait_for("hook", 2, Duration::from_secs(60));
    let mut kinds: Vec<&str> = hook.iter().map(|b| b["kind"].as_str().unwrap()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, vec!["instance_failed", "task_failed"]);
    assert!(hook.iter().all(|b| b["instance_id"] == id));
    let history = wait_for(
        "both webhook deliveries sent",
        Duration::from_secs(30),
        || {
            let d: Vec<Value> = deliveries(&s)
                .into_iter()
                .filter(|d| d["channel"] == "hook")
                .collect();
            (d.len() == 2 && d.iter().all(|d| d["state"] == "sent")).then_some(d)
        },
    );
    let attempts: usize = history
        .iter()
        .map(|d| d["attempts"].as_array().unwrap().len())
        .sum();
    assert_eq!(attempts, 4, "two failures and two successes: {history:#?}");
    let errors: Vec<&str> = history
        .iter()
        .flat_map(|d| d["attempts"].as_array().unwrap())
        .filter_map(|a| a["error"].as_str())
        .collect();
    assert_eq!(errors.len(), 2, "{history:#?}");
    assert!(errors.iter().all(|e| e.contains("500")), "{errors:?}");
    assert_eq!(
        rx.bodies("slack-T0KEN").len(),
        1,
        "Slack got the alert once"
    );
    let printed = s.ok(&["alert", "history"]);
    assert!(
        printed.contains("ops-slack") && printed.contains("sent"),
        "{printed}"
    );

    // A test message now; and a channel to a host the server does not allow says why.
    let tested = s.ok(&["alert", "channel", "test", "ops-slack"]);
    assert!(tested.starts_with("ok"), "{tested}");
    let test = rx.wait_for("slack-T0KEN", 2, Duration::from_secs(10));
    assert!(
        test[1]["text"].as_str().unwrap().contains("test"),
        "{test:?}"
    );
    let loopback = format!("http://localhost:{}/hook", rx.port);
    create_webhook(&s, "local", &loopback);
    let out = s.cli(&["alert", "channel", "test", "local"]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("--alert-allow-host localhost"), "{err}");
    assert!(
        !s.log_text().contains("T0KEN"),
        "the secret is not in the server's log"
    );
}

#[test]
fn the_email_of_a_failed_instance_reaches_a_real_smtp_server() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = smtp::Server::start(smtp::Options::default());
    let s = Standalone::start(dir.path(), None, &["--alert-allow-host", "127.0.0.1"]);
    s.ok(&[
        "alert",
        "channel",
        "create",
        "ops-mail",
        "--type",
        "email",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        &smtp.port.to_string(),
        "--smtp-tls",
        "none",
        "--from",
        "baton@example.com",
        "--to",
        "ops@example.com,dba@example.com",
    ]);
    let yaml = FAILING.replace("channels: [ops-slack]", "channels: [ops-mail]");
    let file = write(dir.path(), "nightly.yaml", &yaml);
    let id = s.start_workflow(&file, "nightly", &[]);
    assert_eq!(
        s.wait_end(id, Duration::from_secs(60))["instance"]["state"],
        "failed"
    );
    let (to, mail) = wait_for("the email", Duration::from_secs(30), || smtp.first_mail());
    assert_eq!(to, vec!["ops@example.com", "dba@example.com"]);
    assert!(
        mail.contains(&format!(
            "Subject: [Baton] instance_failed: default/nightly #{id}"
        )),
        "{mail}"
    );
    assert!(mail.contains("boom-the-table-is-locked"), "{mail}");
    assert!(mail.contains(&format!("/instances/{id}")), "{mail}");
    let d = wait_for(
        "the delivery recorded as sent",
        Duration::from_secs(10),
        || deliveries(&s).into_iter().find(|d| d["state"] == "sent"),
    );
    assert_eq!(d["channel"], "ops-mail");
}

/// `alert channel create` for an email channel on the test SMTP server with STARTTLS and a
/// login, the password on stdin.
fn create_starttls_channel(s: &Standalone, name: &str, port: u16, password: &str) {
    let out = baton_in(
        &s.data_dir,
        &[
            "alert",
            "channel",
            "create",
            name,
            "--type",
            "email",
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            &port.to_string(),
            "--smtp-tls",
            "starttls",
            "--from",
            "baton@example.com",
            "--to",
            "ops@example.com",
            "--username",
            "alerts",
            "--secret-stdin",
        ],
        &format!("{password}\n"),
        &[("BATON_SERVER", &s.api), ("BATON_TOKEN", &s.token)],
    );
    assert!(out.status.success(), "{:?}", text(&out));
}

/// Test certificates in `dir`, and an SMTP server that speaks STARTTLS with them and wants
/// the login `alerts` / `S3cret-smtp-pw`.
fn starttls_server(dir: &std::path::Path) -> (baton_testkit::tls::TestCerts, smtp::Server) {
    let certs = baton_testkit::tls::TestCerts::generate(dir).unwrap();
    let options = smtp::Options::default()
        .starttls(&certs.server_cert, &certs.server_key)
        .login("alerts", "S3cret-smtp-pw");
    (certs, smtp::Server::start(options))
}

#[test]
fn email_goes_over_starttls_with_a_login_sent_only_once_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let (certs, smtp) = starttls_server(dir.path());
    // The server trusts the test CA the way a user trusts a private one: SSL_CERT_FILE.
    let ca = certs.ca_cert.display().to_string();
    let s = Standalone::start_env(
        dir.path(),
        &["--alert-allow-host", "127.0.0.1"],
        &[("SSL_CERT_FILE", &ca)],
    );
    create_starttls_channel(&s, "mail", smtp.port, "S3cret-smtp-pw");
    let sent = s.ok(&["alert", "channel", "test", "mail"]);
    assert!(sent.starts_with("ok"), "{sent}");
    let (to, mail) = wait_for("the email", Duration::from_secs(10), || smtp.first_mail());
    assert_eq!(to, vec!["ops@example.com"]);
    assert!(mail.contains("Subject: [Baton]"), "{mail}");
    let logins = smtp.logins();
    assert_eq!(
        logins,
        vec![smtp::Login {
            user: "alerts".into(),
            password: "S3cret-smtp-pw".into(),
            encrypted: true
        }]
    );

    // A wrong password: the test says the server refused the login, and sends nothing.
    create_starttls_channel(&s, "wrong", smtp.port, "not-the-password");
    let out = s.cli(&["alert", "channel", "test", "wrong"]);
    let (_, err) = text(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("535"), "{err}");
    assert_eq!(smtp.mails().len(), 1);
    for secret in ["S3cret-smtp-pw", "not-the-password"] {
        assert!(!s.log_text().contains(secret), "{secret} is in the log");
        let shown = s.ok(&["alert", "channel", "show", "mail", "--json"]);
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[test]
fn email_over_starttls_to_a_server_whose_certificate_is_not_trusted_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_certs, smtp) = starttls_server(dir.path());
    let s = Standalone::start(dir.path(), None, &["--alert-allow-host", "127.0.0.1"]);
    create_starttls_channel(&s, "mail", smtp.port, "S3cret-smtp-pw");
    let out = s.cli(&["alert", "channel", "test", "mail"]);
    let (_, err) = text(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(
        smtp.logins().is_empty(),
        "no password went to an unverified server"
    );
    assert!(smtp.mails().is_empty());
}

#[test]
fn a_server_killed_while_the_receiver_is_down_delivers_exactly_once_after_its_restart() {
    let dir = tempfile::tempdir().unwrap();
    // The receiver's port, with nobody listening on it yet.
    let port = free_port();
    let mut s = Standalone::start(dir.path(), None, &["--alert-allow-host", "127.0.0.1"]);
    let url = format!("http://127.0.0.1:{port}/late");
    create_webhook(&s, "late", &url);
    s.ok(&[
        "alert",
        "rule",
        "create",
        "--on",
        "instance_failed",
        "--channel",
        "late",
    ]);
    let file = write(
        dir.path(),
        "nightly.yaml",
        &FAILING.replace("ops-slack", "late"),
    );
    let id = s.start_workflow(&file, "nightly", &[]);
    assert_eq!(
        s.wait_end(id, Duration::from_secs(60))["instance"]["state"],
        "failed"
    );
    wait_for(
        "a failed attempt (the receiver is down)",
        Duration::from_secs(30),
        || {
            deliveries(&s)
                .iter()
                .any(|d| d["attempts"].as_array().is_some_and(|a| !a.is_empty()))
                .then_some(())
        },
    );
    s.kill();

    let rx = Receiver::start(port, &[]);
    s.restart();
    let got = rx.wait_for("late", 2, Duration::from_secs(60));
    assert!(got
        .iter()
        .all(|b| b["instance_id"] == id && b["kind"] == "instance_failed"));
    let sent = wait_for("both deliveries sent", Duration::from_secs(30), || {
        let d = deliveries(&s);
        (d.len() == 2 && d.iter().all(|d| d["state"] == "sent")).then_some(d)
    });
    let rules: Vec<&str> = sent.iter().map(|d| d["rule"].as_str().unwrap()).collect();
    assert!(rules.contains(&"workflow nightly alerts[1]"), "{rules:?}");
    assert_eq!(
        rx.bodies("late").len(),
        2,
        "once per rule, no repeat after the restart"
    );
}

#[test]
fn a_dead_channel_does_not_slow_an_instance() {
    let dir = tempfile::tempdir().unwrap();
    let s = Standalone::start(dir.path(), None, &[]);
    // 10.255.255.1 takes the connection attempt and never answers.
    s.ok(&[
        "alert",
        "channel",
        "create",
        "void",
        "--type",
        "webhook",
        "--url",
        "http://10.255.255.1:9/void",
        "--timeout",
        "3s",
    ]);
    s.ok(&[
        "alert",
        "rule",
        "create",
        "--on",
        "instance_succeeded,task_retrying",
        "--channel",
        "void",
    ]);
    let yaml = "name: steps
tasks:
  - {name: a, type: shell, command: 'true'}
  - {name: b, type: shell, command: 'test -e FLAG || { touch FLAG; exit 1; }', retries: 1, retry_interval: 1s, depends_on: [a]}
  - {name: c, type: shell, command: 'true', depends_on: [b]}
";
    let flag = dir.path().join("retried-once");
    let yaml = yaml.replace("FLAG", flag.to_str().unwrap());
    let file = write(dir.path(), "steps.yaml", &yaml);
    for _ in 0..3 {
        let id = s.start_workflow(&file, "steps", &[]);
        // Its normal bound: three short tasks and a 1 s retry, whatever the channel does.
        let end = s.wait_end(id, Duration::from_secs(20));
        assert_eq!(end["instance"]["state"], "succeeded");
    }
    let d = wait_for(
        "a failed attempt at the dead channel",
        Duration::from_secs(30),
        || {
            deliveries(&s).into_iter().find(|d| {
                d["attempts"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|a| a["ok"] == false))
            })
        },
    );
    assert_eq!(d["state"], "pending", "it is retried later: {d:#}");
    let error = d["attempts"][0]["error"].as_str().unwrap();
    assert!(error.contains("10.255.255.1"), "{error}");
}

#[test]
fn script_and_pagerduty_channels_take_the_alert_on_stdin_and_with_a_dedup_key() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir_all(&scripts).unwrap();
    let out = dir.path().join("out");
    let script = write(
        &scripts,
        "page.sh",
        &format!(
            "#!/bin/sh\necho \"$#\" > {o}.argc\ncat > {o}.json\n",
            o = out.display()
        ),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let rx = Receiver::start(0, &[]);
    let s = Standalone::start(
        dir.path(),
        None,
        &[
            "--alert-allow-host",
            "127.0.0.1",
            "--alert-script-dir",
            scripts.to_str().unwrap(),
        ],
    );
    s.ok(&[
        "alert", "channel", "create", "pager", "--type", "script", "--script", "page.sh",
    ]);
    assert!(s
        .ok(&["alert", "channel", "test", "pager"])
        .starts_with("ok"));
    assert_eq!(
        std::fs::read_to_string(out.with_extension("argc"))
            .unwrap()
            .trim(),
        "0"
    );
    let sent: Value =
        serde_json::from_str(&std::fs::read_to_string(out.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(sent["test"], true, "{sent}");
    assert_eq!(sent["project"], "default");
    let out = s.cli(&[
        "alert",
        "channel",
        "create",
        "escape",
        "--type",
        "script",
        "--script",
        "../page.sh",
    ]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("plain file name"), "{:?}", text(&out));

    let key = write(dir.path(), "routing.key", "R0UTING-KEY\n");
    s.ok(&[
        "alert",
        "channel",
        "create",
        "pd",
        "--type",
        "pagerduty",
        "--url",
        &rx.url("pd"),
        "--secret-file",
        key.to_str().unwrap(),
    ]);
    assert!(s.ok(&["alert", "channel", "test", "pd"]).starts_with("ok"));
    let pd = rx.wait_for("pd", 1, Duration::from_secs(10));
    assert_eq!(pd[0]["routing_key"], "R0UTING-KEY");
    assert_eq!(pd[0]["event_action"], "trigger");
    assert_eq!(pd[0]["dedup_key"], "baton:default:test");
    assert!(!s
        .ok(&["alert", "channel", "show", "pd", "--json"])
        .contains("R0UTING"));
}

#[test]
fn in_a_two_master_cluster_the_other_master_delivers_after_a_kill_exactly_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(baton_store::testing::TestDb::postgres());
    let dir = tempfile::tempdir().unwrap();
    let mut launch = baton_testkit::Launch::new(baton_bin(), dir.path(), &db.url);
    launch.workers = 1;
    launch.master_args = vec!["--alert-allow-host".into(), "127.0.0.1".into()];
    let mut c = baton_testkit::Cluster::start(launch).unwrap_or_else(|e| panic!("{e}"));
    // The receiver's port, with nobody listening on it yet.
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/late");
    c.ok(&[
        "alert", "channel", "create", "late", "--type", "webhook", "--url", &url,
    ]);
    c.ok(&[
        "alert",
        "rule",
        "create",
        "--on",
        "instance_failed",
        "--channel",
        "late",
    ]);
    let yaml = "name: fails\ntasks:\n  - {name: a, type: shell, command: 'exit 4'}\n";
    let file = write(dir.path(), "fails.yaml", yaml);
    c.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);
    let id: i64 = c
        .ok(&["workflow", "start", "fails"])
        .trim()
        .parse()
        .unwrap();
    let states = c.wait_all(&[id], Duration::from_secs(60));
    assert_eq!(states[&id], "failed");
    let history = |c: &baton_testkit::Cluster| {
        c.get("/alerts/deliveries?project=default").unwrap()["deliveries"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    wait_for(
        "a failed attempt (the receiver is down)",
        Duration::from_secs(30),
        || {
            history(&c)
                .iter()
                .any(|d| d["attempts"].as_array().is_some_and(|a| !a.is_empty()))
                .then_some(())
        },
    );
    c.masters[0].kill();

    let rx = Receiver::start(port, &[]);
    let got = rx.wait_for("late", 1, Duration::from_secs(60));
    assert_eq!(got[0]["instance_id"], id);
    let sent = wait_for("the delivery sent", Duration::from_secs(30), || {
        let d = history(&c);
        (d.len() == 1 && d[0]["state"] == "sent").then_some(d)
    });
    assert!(
        sent[0]["attempts"].as_array().unwrap().len() >= 2,
        "{sent:#?}"
    );
    assert_eq!(rx.bodies("late").len(), 1, "delivered exactly once");
}

#[test]
fn a_service_that_restarts_is_alerted_by_a_task_restarted_rule_in_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(0, &[]);
    let s = Standalone::start(dir.path(), None, &["--alert-allow-host", "127.0.0.1"]);
    create_webhook(&s, "hook", &rx.url("hook"));
    // A service that dies a moment after each start: restarted, and alerted each time.
    let yaml = "name: flaky
alerts:
  - {on: [task_restarted], channels: [hook]}
tasks:
  - name: server
    type: service
    command: 'sleep 0.2; exit 7'
    restart_backoff: 100ms..200ms
";
    let file = write(dir.path(), "flaky.yaml", yaml);
    let id = s.start_workflow(&file, "flaky", &[]);
    let alerts = rx.wait_for("hook", 2, Duration::from_secs(30));
    for alert in &alerts {
        let text = alert.to_string();
        assert!(text.contains("task_restarted"), "{text}");
        assert!(text.contains("server"), "the task is named: {text}");
    }
    assert!(
        alerts
            .iter()
            .any(|a| a.to_string().contains("exited with code 7")),
        "an alert says why: {alerts:?}"
    );
    let stopped = s.ok(&["instance", "stop", &id.to_string()]);
    assert!(!stopped.is_empty());
}

//! The HTTP listener on the real binary: TLS with a private CA (the CLI logs in and lists
//! over https, plain http to the TLS port is refused, the browser cookie is `Secure`, a bad
//! certificate stops the start naming the file), and the limits (a client that sends its
//! headers or its body too slowly is cut off while others are served, a request past the
//! concurrency limit is refused at once while `GET /health` still answers).

mod common;
use baton_testkit::tls::TestCerts;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// `baton standalone` with `args` that must refuse to start: its exit code and stderr.
fn refused_start(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let data = dir.join("refused");
    let listen = format!("127.0.0.1:{}", free_port());
    let grpc = format!("127.0.0.1:{}", free_port());
    let mut all = vec!["standalone", "--listen", &listen, "--grpc-listen", &grpc];
    all.extend_from_slice(&["--data-dir", data.to_str().unwrap()]);
    all.extend_from_slice(args);
    let out = baton(&all, &[]);
    (out.status.code(), text(&out).1)
}

#[test]
fn over_tls_the_cli_logs_in_and_lists_with_the_ca_plain_http_is_refused_and_the_cookie_is_secure() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::generate(dir.path()).unwrap();
    let s = Standalone::start_tls(&dir.path().join("data"), &certs, &[]);
    assert!(s.api.starts_with("https://"), "{}", s.api);
    assert!(s.log_text().contains(&format!("API on {}/api/v1", s.api)));

    // The CLI logs in with the CA, keeps it in the context, and lists without naming it again.
    let config = dir.path().join("config");
    let ca = certs.ca_cert.to_str().unwrap();
    let login = [
        "login",
        "--server",
        &s.api,
        "--username",
        "admin",
        "--password-stdin",
        "--ca-cert",
        ca,
    ];
    let password = format!("{}\n", baton_testkit::TEST_ADMIN_PASSWORD);
    let out = baton_in(&config, &login, &password, &[]);
    assert!(out.status.success(), "{:?}", text(&out));
    let out = baton_in(&config, &["workflow", "list"], "", &[]);
    assert!(out.status.success(), "{:?}", text(&out));
    let out = baton_in(&config, &["whoami"], "", &[]);
    assert!(text(&out).0.contains("admin"), "{:?}", text(&out));

    // Without the CA, the certificate is not trusted, and the CLI says what to do.
    let out = baton_in(
        dir.path(),
        &["workflow", "list", "--server", &s.api],
        "",
        &[("BATON_TOKEN", &s.token)],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--ca-cert"), "{stderr}");

    // Plain http to the TLS port gets a plain refusal, from the raw socket and the CLI alike.
    let plain = format!("http://{}", s.listen);
    let r = reqwest::blocking::get(format!("{plain}/api/v1/health")).unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("HTTPS"));
    let out = baton_in(&config, &["workflow", "list", "--server", &plain], "", &[]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("HTTPS"), "{:?}", text(&out));

    // A browser login gets a Secure cookie.
    let cookie = login_cookie(&s);
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
}

/// The `Set-Cookie` of a browser login to `s`.
fn login_cookie(s: &Standalone) -> String {
    let body = serde_json::json!({"username": "admin",
        "password": baton_testkit::TEST_ADMIN_PASSWORD, "session": "cookie"});
    let r = s
        .client
        .post(format!("{}/api/v1/auth/login", s.api))
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    r.headers()["set-cookie"].to_str().unwrap().to_string()
}

#[test]
fn behind_a_proxy_that_ends_tls_the_cookie_is_secure_over_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let s = Standalone::start(&dir.path().join("data"), None, &["--behind-tls-proxy"]);
    assert!(s.api.starts_with("http://"), "{}", s.api);
    let cookie = login_cookie(&s);
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
}

#[test]
fn a_bad_tls_setting_stops_the_start_and_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::generate(dir.path()).unwrap();
    let cert = certs.server_cert.to_str().unwrap();
    let key = certs.server_key.to_str().unwrap();

    let (code, stderr) = refused_start(dir.path(), &["--tls-cert", cert]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--tls-cert") && stderr.contains("--tls-key"),
        "{stderr}"
    );

    let missing = dir.path().join("missing.pem");
    let args = ["--tls-cert", missing.to_str().unwrap(), "--tls-key", key];
    let (code, stderr) = refused_start(dir.path(), &args);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("missing.pem"), "{stderr}");

    let (code, stderr) = refused_start(dir.path(), &["--tls-cert", key, "--tls-key", cert]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("server.key") && stderr.contains("no PEM certificate"),
        "{stderr}"
    );

    let (code, stderr) = refused_start(dir.path(), &["--header-read-timeout", "0s"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("header_read_timeout"), "{stderr}");
}

/// A raw connection that has sent `head` and nothing more.
fn partial(listen: &str, head: &str) -> TcpStream {
    let mut stream = TcpStream::connect(listen).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream
}

/// Whether the server has sent something on `stream` (without taking it).
fn answered(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let seen = matches!(stream.peek(&mut [0u8; 1]), Ok(n) if n > 0);
    stream.set_nonblocking(false).unwrap();
    seen
}

/// Reads `stream` until the server closes it (or `limit` passes, which fails the test);
/// returns what it sent.
fn until_closed(stream: &mut TcpStream, limit: Duration) -> String {
    let start = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        assert!(
            start.elapsed() < limit,
            "the server kept the connection open past {limit:?}"
        );
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("reading the connection: {e}"),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn slow_headers_and_slow_bodies_are_cut_off_while_other_requests_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let limits = [
        "--header-read-timeout",
        "1s",
        "--request-timeout",
        "2s",
        "--max-requests",
        "1",
    ];
    let s = Standalone::start(&dir.path().join("data"), None, &limits);

    // Slowloris: half a request head, then silence.
    let opened = Instant::now();
    let mut slow_head = partial(
        &s.listen,
        "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n",
    );
    let listed = s
        .request(reqwest::Method::GET, "/workflows")
        .send()
        .unwrap();
    assert_eq!(listed.status(), 200, "served while a head is half sent");
    let answer = until_closed(&mut slow_head, Duration::from_secs(10));
    assert!(!answer.contains("200 OK"), "{answer}");
    let after = opened.elapsed();
    assert!(
        after >= Duration::from_millis(900),
        "closed after {after:?}"
    );

    // A body that never arrives holds the one request slot until the request timeout.
    let head = format!(
        "POST /api/v1/workflows HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{",
        s.token
    );
    let mut slow_body = partial(&s.listen, &head);
    // Until the slow request holds the slot: a request that came first and took it made the
    // slow one be refused, which then starts again.
    let refused = wait_for(
        "a request past the limit to be refused",
        Duration::from_secs(10),
        || {
            if answered(&slow_body) {
                slow_body = partial(&s.listen, &head);
            }
            // A pooled connection the server closed meanwhile (its idle timeout) fails to
            // send: ask again.
            let r = s.request(reqwest::Method::GET, "/workflows").send().ok()?;
            (r.status() == 503).then(|| {
                let retry = r.headers().get("retry-after").cloned();
                (retry, r.text().unwrap())
            })
        },
    );
    let (retry_after, refused) = refused;
    assert!(refused.contains("overloaded"), "{refused}");
    assert_eq!(
        retry_after.as_ref().and_then(|v| v.to_str().ok()),
        Some("1"),
        "a shed request says when to try again"
    );
    let health = s
        .client
        .get(format!("{}/api/v1/health", s.api))
        .send()
        .unwrap();
    assert_eq!(health.status(), 200, "health answers past the limit");

    let answer = until_closed(&mut slow_body, Duration::from_secs(10));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    wait_for("the slot to be free again", Duration::from_secs(5), || {
        let r = s
            .request(reqwest::Method::GET, "/workflows")
            .send()
            .unwrap();
        (r.status() == 200).then_some(())
    });
}

#[test]
fn past_the_connection_cap_a_client_waits_until_a_connection_closes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Standalone::start(&dir.path().join("data"), None, &["--max-connections", "2"]);
    // Two idle connections take both slots, once the server has accepted them.
    let a = TcpStream::connect(&s.listen).unwrap();
    let b = TcpStream::connect(&s.listen).unwrap();
    let quick = reqwest::blocking::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let url = format!("{}/api/v1/health", s.api);
    wait_for(
        "the third connection to wait",
        Duration::from_secs(10),
        || quick.get(&url).send().is_err().then_some(()),
    );
    drop(a);
    drop(b);
    wait_for(
        "a client to be served again",
        Duration::from_secs(10),
        || quick.get(&url).send().ok().filter(|r| r.status() == 200),
    );
}

//! `type: service` end to end: a server its downstream job reaches once it is healthy, kept
//! up through a crash (restarted on the same worker, same attempt), stopped by `baton
//! instance stop`, and relaunched on another worker when its worker is SIGKILLed — with a
//! sink outside Baton (an exclusive lock the server takes, and its start/stop lines) that
//! shows two copies never ran at once.

mod common;
use common::cluster::{Cluster, Options};
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The server: takes an exclusive lock on `LOCK` (or writes `overlap` and exits: a second
/// copy runs), writes `start PID` to `SINK`, waits a little (not healthy yet), then serves
/// `/health` on `PORT`; on SIGTERM writes `stop PID` and exits.
const SERVER: &str = r#"
import fcntl, http.server, os, signal, sys, time
sink, lock, port = os.environ["SINK"], os.environ["LOCK"], int(os.environ["PORT"])
def note(what):
    with open(sink, "a") as f:
        f.write(f"{what} {os.getpid()}\n")
fd = os.open(lock, os.O_CREAT | os.O_RDWR)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError:
    note("overlap")
    sys.exit(1)
note("start")
def stop(*_):
    note("stop")
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
time.sleep(1)
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
"#;

/// Where the server writes and what it serves on.
struct Sink {
    sink: PathBuf,
    port: u16,
    file: PathBuf,
}

/// The workflow: `server` (the service) and `check` after it, which fails unless the server
/// answers.
fn workflow(dir: &Path) -> Sink {
    let script = write(dir, "server.py", SERVER);
    let sink = dir.join("sink");
    let port = free_port();
    let yaml = format!(
        "name: svc
tasks:
  - name: server
    type: service
    command: exec python3 {script}
    env: {{SINK: {sink}, LOCK: {lock}, PORT: '{port}'}}
    restart_backoff: 200ms..1s
    health: {{http: 'http://127.0.0.1:{port}/health', interval: 200ms, failures: 3, timeout: 200ms, start_period: 10s}}
  - name: check
    type: python
    depends_on: [server]
    script: |
      import urllib.request
      print(urllib.request.urlopen('http://127.0.0.1:{port}/health', timeout=5).read().decode())
",
        script = script.display(),
        sink = sink.display(),
        lock = dir.join("lock").display(),
    );
    let file = write(dir, "svc.yaml", &yaml);
    Sink { sink, port, file }
}

impl Sink {
    /// The pids of the `start` lines so far.
    fn starts(&self) -> Vec<i32> {
        self.lines("start")
    }

    fn lines(&self, what: &str) -> Vec<i32> {
        std::fs::read_to_string(&self.sink)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix(what)?.trim().parse().ok())
            .collect()
    }

    /// No second copy ever found the lock taken.
    fn never_two_at_once(&self) {
        let text = std::fs::read_to_string(&self.sink).unwrap_or_default();
        assert!(!text.contains("overlap"), "two copies ran at once:\n{text}");
    }
}

/// The instance's events, oldest first.
fn events(server: &Standalone, id: i64) -> Vec<Value> {
    let page = server.get(&format!("/events?instance={id}&after=0&limit=1000"));
    page["events"].as_array().cloned().unwrap_or_default()
}

/// The row of task `name`, once it has one.
fn row<'a>(view: &'a Value, name: &str) -> Option<&'a Value> {
    view["tasks"]
        .as_array()?
        .iter()
        .find(|t| t["task_name"] == name)
}

fn event_id(events: &[Value], kind: &str, task: &str) -> Option<i64> {
    events
        .iter()
        .find(|e| e["kind"] == kind && e["task_name"] == task)
        .and_then(|e| e["id"].as_i64())
}

#[test]
fn a_service_serves_its_downstream_survives_a_crash_and_stops_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let sink = workflow(dir.path());
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let id = server.start_workflow(&sink.file, "svc", &[]);

    // The check ran against the server only once it was healthy, and succeeded.
    wait_for("the check to succeed", Duration::from_secs(60), || {
        let view = server.instance(id);
        let check = row(&view, "check")?;
        assert_ne!(check["state"], "failed", "{view:#}");
        (check["state"] == "succeeded").then_some(())
    });
    let view = server.instance(id);
    let check = Standalone::task(&view, "check")["id"].to_string();
    let log = server.ok(&["logs", &check]);
    assert!(log.contains("ok"), "{log}");
    let seen = events(&server, id);
    let healthy = event_id(&seen, "task_healthy", "server").expect("a task_healthy event");
    let started = event_id(&seen, "task_started", "check").expect("the check started");
    assert!(
        healthy < started,
        "the check started before the server was healthy"
    );
    let view = server.instance(id);
    assert_eq!(view["instance"]["state"], "running", "the service runs on");
    assert_eq!(Standalone::task(&view, "server")["state"], "running");

    // A crash: the server is started again, on the same worker, in the same attempt.
    let first = sink.starts()[0];
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let second = wait_for("the server to start again", Duration::from_secs(30), || {
        sink.starts().get(1).copied()
    });
    assert_ne!(second, first);
    wait_for("a task_restarted event", Duration::from_secs(30), || {
        event_id(&events(&server, id), "task_restarted", "server")
    });
    wait_for(
        "the server to be healthy again",
        Duration::from_secs(30),
        || std::net::TcpStream::connect(("127.0.0.1", sink.port)).ok(),
    );
    let view = server.instance(id);
    let row = Standalone::task(&view, "server");
    assert_eq!(row["state"], "running");
    assert_eq!(row["attempt"], 1, "a restart is not a new attempt: {row}");

    // A stop ends it gracefully: SIGTERM reached it, and it is gone.
    server.ok(&["instance", "stop", &id.to_string()]);
    let end = server.wait_end(id, Duration::from_secs(30));
    assert_eq!(end["instance"]["state"], "stopped");
    assert_eq!(Standalone::task(&end, "server")["state"], "killed");
    assert_eq!(
        sink.lines("stop"),
        vec![second],
        "SIGTERM reached the server"
    );
    wait_for("the server to be gone", Duration::from_secs(10), || {
        (!alive(second)).then_some(())
    });
    sink.never_two_at_once();
}

#[test]
fn a_standalone_stop_does_not_wait_its_grace_for_a_service_and_the_next_start_relaunches_it() {
    let dir = tempfile::tempdir().unwrap();
    let sink = workflow(dir.path());
    // A grace longer than `terminate` waits: a stop that waited it for the service fails.
    let data = dir.path().join("data");
    let mut server = Standalone::start(&data, None, &["--shutdown-grace", "60s"]);
    let id = server.start_workflow(&sink.file, "svc", &[]);
    wait_for("the check to succeed", Duration::from_secs(60), || {
        let view = server.instance(id);
        (row(&view, "check")?["state"] == "succeeded").then_some(())
    });
    let first = sink.starts()[0];
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    assert_eq!(
        sink.lines("stop"),
        vec![first],
        "SIGTERM reached the server"
    );

    server.restart();
    let second = wait_for("the server to run again", Duration::from_secs(60), || {
        sink.starts().get(1).copied()
    });
    assert_ne!(second, first);
    let view = server.instance(id);
    assert_eq!(view["instance"]["state"], "running", "{view:#}");
    server.ok(&["instance", "stop", &id.to_string()]);
    server.wait_end(id, Duration::from_secs(30));
    sink.never_two_at_once();
}

#[test]
fn a_service_is_relaunched_on_another_worker_when_its_worker_is_sigkilled_or_paused() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(baton_store::testing::TestDb::postgres());
    let dir = tempfile::tempdir().unwrap();
    let sink = workflow(dir.path());
    let session = Duration::from_secs(3);
    let mut c = Cluster::start(
        dir.path(),
        Options {
            database: &db.url,
            registry: "db",
            masters: 1,
            workers: 2,
            session_timeout: "3s",
            heartbeat_interval: "500ms",
        },
    );
    c.ok(&["workflow", "apply", "-f", sink.file.to_str().unwrap()]);
    let id: i64 = c.ok(&["workflow", "start", "svc"]).trim().parse().unwrap();
    let server_row = |c: &Cluster| -> Value {
        let view = c.get(&format!("/instances/{id}")).unwrap();
        Standalone::task(&view, "server").clone()
    };
    let first_worker = wait_for("the check to succeed", Duration::from_secs(60), || {
        let view = c.get(&format!("/instances/{id}")).ok()?;
        let check = row(&view, "check")?;
        (check["state"] == "succeeded").then(|| Standalone::task(&view, "server")["worker"].clone())
    });
    let first_worker = first_worker.as_str().unwrap().to_string();
    let victim = c
        .workers
        .iter()
        .position(|w| w.address == first_worker)
        .expect("the server's worker is one of ours");

    let killed = std::time::Instant::now();
    c.workers[victim].kill();
    // Relaunched on the other worker within two session timeouts (the new attempt's start
    // is what the sink sees; the lock shows the old copy was gone first).
    wait_for(
        "the server to start on the other worker",
        2 * session + Duration::from_secs(2),
        || (sink.starts().len() >= 2).then_some(()),
    );
    eprintln!(
        "relaunched {:?} after the worker was killed",
        killed.elapsed()
    );
    let row = wait_for("the new attempt to run", Duration::from_secs(30), || {
        let row = server_row(&c);
        (row["state"] == "running" && row["attempt"] == 2).then_some(row)
    });
    assert_eq!(
        row["worker"],
        c.workers[1 - victim].address.as_str(),
        "{row}"
    );
    wait_for(
        "the relaunched server to answer",
        Duration::from_secs(30),
        || std::net::TcpStream::connect(("127.0.0.1", sink.port)).ok(),
    );
    let view = c.get(&format!("/instances/{id}")).unwrap();
    assert_eq!(view["instance"]["state"], "running");
    assert_eq!(
        Standalone::task(&view, "check")["attempt"],
        1,
        "the check does not run again"
    );

    sink.never_two_at_once();

    // A paused worker: the killed one comes back, the server's worker is frozen (SIGSTOP) past
    // its session; the server runs again on the other, and the frozen one's copy was gone by
    // then (its lease with the watchdog ran out), so the lock never saw two.
    let survivor = 1 - victim;
    c.workers[victim].restart();
    c.wait_registered(None).unwrap();
    c.workers[survivor].signal(nix::sys::signal::Signal::SIGSTOP);
    let frozen = std::time::Instant::now();
    let third = wait_for(
        "the server to start on the worker that came back",
        2 * session + Duration::from_secs(5),
        || sink.starts().get(2).copied(),
    );
    eprintln!(
        "relaunched {:?} after the worker was paused",
        frozen.elapsed()
    );
    let row = wait_for("the third attempt to run", Duration::from_secs(30), || {
        let row = server_row(&c);
        (row["state"] == "running" && row["attempt"] == 3).then_some(row)
    });
    assert_eq!(row["worker"], c.workers[victim].address.as_str(), "{row}");
    assert!(!alive(sink.starts()[1]), "the paused worker's copy is gone");
    c.workers[survivor].signal(nix::sys::signal::Signal::SIGCONT);
    sink.never_two_at_once();

    c.ok(&["instance", "stop", &id.to_string()]);
    let ended = c.wait_all(&[id], Duration::from_secs(30));
    assert_eq!(ended[&id], "stopped");
    wait_for("the server to be gone", Duration::from_secs(10), || {
        (!alive(third)).then_some(())
    });
    sink.never_two_at_once();
}

#[test]
fn the_example_serves_its_smoke_test_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/service.yaml");
    let id = server.start_workflow(&example, "service-demo", &[]);
    wait_for("the smoke test to succeed", Duration::from_secs(60), || {
        let view = server.instance(id);
        let test = row(&view, "smoke-test")?;
        assert_ne!(test["state"], "failed", "{view:#}");
        (test["state"] == "succeeded").then_some(())
    });
    server.ok(&["instance", "stop", &id.to_string()]);
    let end = server.wait_end(id, Duration::from_secs(30));
    assert_eq!(end["instance"]["state"], "stopped");
    wait_for("the web server to be gone", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", 18787))
            .is_err()
            .then_some(())
    });
}

#[test]
fn a_service_runs_on_in_the_same_attempt_across_a_master_failover() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(baton_store::testing::TestDb::postgres());
    let dir = tempfile::tempdir().unwrap();
    let sink = workflow(dir.path());
    let mut c = Cluster::start(
        dir.path(),
        Options {
            database: &db.url,
            registry: "db",
            masters: 2,
            workers: 1,
            session_timeout: "3s",
            heartbeat_interval: "500ms",
        },
    );
    c.ok(&["workflow", "apply", "-f", sink.file.to_str().unwrap()]);
    let id: i64 = c.ok(&["workflow", "start", "svc"]).trim().parse().unwrap();
    let view = |c: &Cluster| c.get(&format!("/instances/{id}")).unwrap();
    wait_for("the check to succeed", Duration::from_secs(60), || {
        let v = view(&c);
        (row(&v, "check")?["state"] == "succeeded").then_some(())
    });
    let owner = view(&c)["instance"]["owner"].as_str().unwrap().to_string();
    let m = c.masters.iter().position(|p| p.address == owner).unwrap();
    c.masters[m].kill();
    wait_for(
        "another master to adopt the instance",
        Duration::from_secs(30),
        || {
            let v = view(&c);
            let now = v["instance"]["owner"].as_str()?.to_string();
            (now != owner).then_some(())
        },
    );
    // Its reports reach the new owner (the restart below is recorded), and it is the same
    // attempt and process all along: nothing ran it again.
    let first = sink.starts()[0];
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_for(
        "the restart to be recorded",
        Duration::from_secs(30),
        || {
            let page = c
                .get(&format!("/events?instance={id}&kind=task_restarted"))
                .ok()?;
            (!page["events"].as_array()?.is_empty()).then_some(())
        },
    );
    wait_for("the server to start again", Duration::from_secs(30), || {
        (sink.starts().len() >= 2).then_some(())
    });
    let v = view(&c);
    let server = row(&v, "server").unwrap();
    assert_eq!(
        (server["state"].as_str(), server["attempt"].as_i64()),
        (Some("running"), Some(1))
    );
    assert_eq!(
        row(&v, "check").unwrap()["attempt"],
        1,
        "the check did not run again"
    );
    assert_eq!(
        sink.starts().len(),
        2,
        "one start, one restart: {:?}",
        sink.starts()
    );

    c.ok(&["instance", "stop", &id.to_string()]);
    assert_eq!(c.wait_all(&[id], Duration::from_secs(30))[&id], "stopped");
    let second = sink.starts()[1];
    wait_for("the server to be gone", Duration::from_secs(10), || {
        (!alive(second)).then_some(())
    });
    sink.never_two_at_once();
}

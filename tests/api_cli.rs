//! The API and CLI as a new user meets them: logs come out byte for byte, a command the API
//! accepted is seen by the next read, an export describes the schedule as it is, and times
//! say their zone.

mod common;
use common::*;
use std::path::Path;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn logs_come_out_byte_for_byte_where_pages_meet() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Standalone::start(&data, None, &[]);
    // 4,000 lines of 99 three-byte characters (1.2 MB, more than one 1 MiB read of a
    // download): the page size, 262,144 bytes, falls inside a character.
    let file = write(
        dir.path(),
        "chinese.yaml",
        "name: chinese\ntasks:\n  - name: talk\n    type: python\n    script: |\n      for i in range(4000):\n          print('调' * 99)\n",
    );
    let id = server.start_workflow(&file, "chinese", &[]);
    let view = server.wait_end(id, LONG);
    assert_eq!(view["instance"]["state"], "succeeded", "{view:#}");
    let task = Standalone::task(&view, "talk")["id"].as_i64().unwrap();
    let on_disk = std::fs::read(data.join(format!("logs/{id}/{task}/1.log"))).unwrap();
    assert!(on_disk.len() > 1 << 20, "{}", on_disk.len());
    assert!(
        std::str::from_utf8(&on_disk[..262_144]).is_err(),
        "the page ends mid-character"
    );
    for args in [
        vec!["logs", &*task.to_string()],
        vec!["logs", &*task.to_string(), "--follow"],
    ] {
        let out = server.cli(&args);
        assert!(out.status.success(), "{:?}", text(&out));
        let differs = out.stdout.iter().zip(&on_disk).position(|(a, b)| a != b);
        assert_eq!(differs, None, "{args:?}: first difference");
        assert_eq!(out.stdout.len(), on_disk.len(), "{args:?}");
    }
    // The JSON form never cuts a character either: its pages join up to the same text.
    let mut text_read = String::new();
    let mut offset = 0;
    loop {
        let chunk = server.get(&format!("/task-instances/{task}/log?offset={offset}"));
        text_read.push_str(chunk["data"].as_str().unwrap());
        let next = chunk["next_offset"].as_u64().unwrap();
        if next == offset {
            break;
        }
        offset = next;
    }
    assert_eq!(text_read.as_bytes(), &on_disk[..]);

    // `offset=-N` reads the last N bytes; one that falls inside a character starts after it
    // and says where, with the log's size.
    let size = on_disk.len() as u64;
    let tail = server.get(&format!("/task-instances/{task}/log?offset=-1000"));
    assert_eq!(tail["size"].as_u64(), Some(size), "{tail:#}");
    let start = tail["offset"].as_u64().unwrap();
    assert!((size - 1000..size - 997).contains(&start), "{tail:#}");
    assert!(std::str::from_utf8(&on_disk[start as usize..]).is_ok());
    assert_eq!(
        tail["data"].as_str().unwrap().as_bytes(),
        &on_disk[start as usize..]
    );
    assert_eq!(tail["next_offset"].as_u64(), Some(size));

    // The download is the whole file, byte for byte, named for the task and attempt.
    let file = server
        .request(
            reqwest::Method::GET,
            &format!("/task-instances/{task}/log/file"),
        )
        .send()
        .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(
        file.headers()["content-disposition"],
        &*format!("attachment; filename=\"task-{task}-attempt-1.log\"")
    );
    let bytes = file.bytes().unwrap();
    assert_eq!(bytes.len(), on_disk.len());
    assert!(
        bytes[..] == on_disk[..],
        "the download differs from the file"
    );
    // Compressed (as a browser asks for it), it comes to its end too.
    let gzipped = server
        .request(
            reqwest::Method::GET,
            &format!("/task-instances/{task}/log/file"),
        )
        .header("accept-encoding", "gzip")
        .send()
        .unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    let mut unzipped = Vec::new();
    let body = gzipped.bytes().expect("the whole compressed download");
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut unzipped)
        .unwrap();
    assert!(
        unzipped == on_disk,
        "the compressed download differs from the file"
    );
    let missing = server
        .request(
            reqwest::Method::GET,
            &format!("/task-instances/{task}/log/file?attempt=2"),
        )
        .send()
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[test]
fn wait_after_recover_waits_for_the_recovered_run() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let marker = dir.path().join("second-time");
    let file = write(
        dir.path(),
        "flaky.yaml",
        &format!(
            "name: flaky\ntasks:\n  - {{name: t, type: shell, command: 'test -e {m} || {{ touch {m}; exit 1; }}'}}\n",
            m = marker.display()
        ),
    );
    let id = server.start_workflow(&file, "flaky", &[]).to_string();
    let out = server.cli(&["instance", "wait", &id]);
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    server.ok(&["instance", "recover", &id]);
    // At once: the accepted recover is part of what the next read sees.
    let view = server.instance(id.parse().unwrap());
    let pending = view["instance"]["pending_commands"]
        .as_array()
        .unwrap()
        .clone();
    let state = view["instance"]["state"].as_str().unwrap();
    assert!(
        pending.iter().any(|c| c == "recover") || state != "failed",
        "the recover is neither pending nor carried out: {view:#}"
    );
    let out = server.cli(&["instance", "wait", &id]);
    assert_eq!(
        (out.status.code(), text(&out).0.trim()),
        (Some(0), &*format!("instance {id} succeeded")),
        "{:?}",
        text(&out)
    );
}

#[test]
fn an_export_says_whether_the_schedule_is_online_and_apply_restores_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let file = write(
        dir.path(),
        "nightly.yaml",
        "name: nightly\nschedule:\n  cron: '0 0 2 * * *'\n  timezone: Asia/Shanghai\ntasks:\n  - {name: t, type: shell, command: 'true'}\n",
    );
    server.ok(&["workflow", "apply", "-f", path(&file)]);
    let online = || {
        server.get("/schedules")["schedules"][0]["online"]
            .as_bool()
            .unwrap()
    };
    server.ok(&["schedule", "offline", "nightly"]);
    let exported = server.ok(&["workflow", "export", "nightly"]);
    assert!(exported.contains("online: false"), "{exported}");
    let offline_file = write(dir.path(), "exported.yaml", &exported);

    server.ok(&["schedule", "online", "nightly"]);
    assert!(online());
    // Applying the export makes the schedule what the file says: offline.
    server.ok(&["workflow", "apply", "-f", path(&offline_file)]);
    assert!(!online(), "apply follows the file's `online: false`");
    // And the original file (online by default) puts it back online, unchanged as it is.
    server.ok(&["workflow", "apply", "-f", path(&file)]);
    assert!(online(), "apply follows the file's default `online: true`");
    server.ok(&["schedule", "offline", "nightly"]);
    let out = server.ok(&["workflow", "apply", "-f", path(&file)]);
    assert!(online(), "{out}");

    // Times say their zone: the list in local time with its offset, like the preview.
    let env = [
        ("TZ", "Asia/Shanghai"),
        ("BATON_SERVER", server.api.as_str()),
        ("BATON_TOKEN", server.token.as_str()),
    ];
    let list = baton(&["schedule", "list"], &env);
    let listed = text(&list).0;
    let row = listed.lines().find(|l| l.contains("nightly")).unwrap();
    assert!(row.contains(" 02:00:00.000 +08:00"), "{listed}");
    let preview = baton(&["schedule", "preview", "nightly", "--count", "1"], &env);
    assert!(
        text(&preview).0.trim().ends_with("T02:00:00+08:00"),
        "{:?}",
        text(&preview)
    );
}

#[test]
fn the_api_serves_its_reference_and_pages_with_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let doc = server.get("/openapi.json");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    let docs = reqwest::blocking::get(format!("{}/api/docs/", server.api)).unwrap();
    assert!(docs.status().is_success());
    assert!(docs.text().unwrap().contains("swagger-ui"));

    let file = write(
        dir.path(),
        "quick.yaml",
        "name: quick\ntasks:\n  - {name: t, type: noop}\n",
    );
    let mut ids: Vec<i64> = (0..5)
        .map(|_| server.start_workflow(&file, "quick", &[]))
        .collect();
    ids.reverse();
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = server.get(&format!("/instances?workflow=quick&limit=2{cursor}"));
        let list = page["instances"].as_array().unwrap();
        assert!(list.len() <= 2);
        seen.extend(list.iter().map(|i| i["id"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ids, "newest first, each once");
    let view = server.instance(ids[0]);
    let submitted = view["instance"]["submitted_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(submitted).is_ok() && submitted.ends_with('Z'),
        "{submitted}"
    );
    let bad = server.get("/instances?limit=5000");
    assert_eq!(bad["error"]["code"], "bad_query", "{bad}");
    let bad = server.get("/instances?cursor=nonsense");
    assert_eq!(bad["error"]["code"], "bad_query", "{bad}");
}

/// The lines of a Server-Sent Events stream, read in a thread; dropped with the receiver.
fn sse_lines(
    server: &Standalone,
    url: &str,
    last_event_id: Option<i64>,
) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let client = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .unwrap();
    let mut request = client.get(url).bearer_auth(&server.token);
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id.to_string());
    }
    let response = request.send().unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(response).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next event of a stream: its `id:` and its `data:` as JSON.
fn next_event(lines: &std::sync::mpsc::Receiver<String>) -> (i64, serde_json::Value) {
    let mut id = None;
    loop {
        let line = lines
            .recv_timeout(LONG)
            .expect("an event within the deadline");
        if let Some(v) = line.strip_prefix("id:") {
            id = Some(v.trim().parse().unwrap());
        } else if let Some(data) = line.strip_prefix("data:") {
            return (
                id.expect("`id:` before `data:`"),
                serde_json::from_str(data.trim()).unwrap(),
            );
        }
    }
}

#[test]
fn the_event_stream_sends_each_event_with_its_id_and_resumes_after_the_last_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let file = write(
        dir.path(),
        "slow.yaml",
        "name: slow\ntasks:\n  - {name: t, type: shell, command: 'sleep 1.5', timeout: 500ms, timeout_strategy: warn}\n",
    );
    let stream = format!("{}/api/v1/events/stream?kind=task_timeout", server.api);
    let live = sse_lines(&server, &stream, None);
    let first = server.start_workflow(&file, "slow", &[]);
    let (id1, e1) = next_event(&live);
    assert_eq!(
        (e1["id"].as_i64(), e1["kind"].as_str()),
        (Some(id1), Some("task_timeout"))
    );
    assert_eq!(e1["workflow_instance_id"].as_i64(), Some(first), "{e1}");
    let second = server.start_workflow(&file, "slow", &[]);
    let (id2, e2) = next_event(&live);
    assert!(id2 > id1);
    assert_eq!(e2["workflow_instance_id"].as_i64(), Some(second), "{e2}");
    drop(live);

    // A reconnect with `Last-Event-ID` (or `?after=`) starts just after that event.
    let resumed = sse_lines(&server, &stream, Some(id1));
    assert_eq!(next_event(&resumed).0, id2);
    let after = sse_lines(&server, &format!("{stream}&after={id1}"), None);
    assert_eq!(next_event(&after).0, id2);
    // Filters: another instance's events are not sent.
    let other = sse_lines(
        &server,
        &format!(
            "{}/api/v1/events/stream?kind=task_timeout&instance={second}&after=0",
            server.api
        ),
        None,
    );
    assert_eq!(next_event(&other).0, id2);
    // An unknown kind is refused before the stream opens.
    let refused = server
        .request(reqwest::Method::GET, "/events/stream?kind=task_faild")
        .send()
        .unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    let body: serde_json::Value = refused.json().unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expected one of: instance_submitted"),
        "{body}"
    );
}

#[test]
fn events_follow_resumes_after_the_last_event_when_the_server_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Standalone::start(&dir.path().join("data"), None, &[]);
    let follower = server.follow(&["events", "--follow", "--kind", "task_timeout", "--json"]);
    let lines = &follower.lines;
    let next = || -> serde_json::Value {
        let line = lines.recv_timeout(LONG).expect("a followed event");
        serde_json::from_str(&line).unwrap()
    };
    let file = write(
        dir.path(),
        "slow.yaml",
        "name: slow\ntasks:\n  - {name: t, type: shell, command: 'sleep 1.5', timeout: 500ms, timeout_strategy: warn}\n",
    );
    let first = server.start_workflow(&file, "slow", &[]);
    assert_eq!(next()["workflow_instance_id"].as_i64(), Some(first));
    server.wait_end(first, LONG);

    // The server dies and comes back: the follower reconnects by itself, after the last
    // event it printed (nothing twice, nothing lost).
    server.kill();
    server.restart();
    let second = server.start_workflow(&file, "slow", &[]);
    assert_eq!(next()["workflow_instance_id"].as_i64(), Some(second));
    assert!(
        lines.recv_timeout(Duration::from_millis(500)).is_err(),
        "nothing else"
    );
    drop(follower);
}

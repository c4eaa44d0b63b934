//! `baton events`: the alerting events (tasks past their timeout, …), and with `--follow` the
//! new ones as they are recorded.

use crate::args::EventsArgs;
use crate::client::{encode, Client};
use crate::exit::Exit;
use crate::format;
use serde_json::Value;
use std::time::Duration;

/// How often `--follow` asks for new events.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

pub async fn run(args: EventsArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.server.server);
    let mut query = Vec::new();
    if let Some(since) = &args.since {
        let us = since_us(since, chrono::Utc::now()).map_err(Exit::BadInput)?;
        query.push(format!("since={us}"));
    }
    if let Some(kind) = &args.kind {
        query.push(format!("kind={}", encode(kind)));
    }
    if let Some(instance) = args.instance {
        query.push(format!("instance={instance}"));
    }
    let path = |extra: String| {
        let mut q = query.clone();
        q.push(extra);
        format!("/events?{}", q.join("&"))
    };
    // The newest page, printed oldest first.
    let r: Value = client.get(&path(format!("limit={}", args.limit))).await?;
    let mut events: Vec<Value> = r["events"].as_array().cloned().unwrap_or_default();
    events.reverse();
    let mut last = events.last().and_then(|e| e["id"].as_i64()).unwrap_or(0);
    for e in &events {
        print_event(e, args.json)?;
    }
    if !args.follow {
        return Ok(());
    }
    if last == 0 {
        // Nothing yet: follow from the newest event of any time (the filter may hide it).
        let r: Value = client.get("/events?limit=1").await?;
        last = r["events"][0]["id"].as_i64().unwrap_or(0);
    }
    loop {
        let r: Value = client
            .get(&path(format!("after={last}&limit=1000")))
            .await?;
        let fresh = r["events"].as_array().cloned().unwrap_or_default();
        for e in &fresh {
            print_event(e, args.json)?;
            last = last.max(e["id"].as_i64().unwrap_or(last));
        }
        if fresh.len() < 1000 {
            tokio::time::sleep(FOLLOW_EVERY).await;
        }
    }
}

fn print_event(e: &Value, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(e)?);
    } else {
        println!("{}", line(e));
    }
    Ok(())
}

/// One event as a line: time, kind, where, message.
pub(crate) fn line(e: &Value) -> String {
    let mut place = format!(
        "instance {} {}/{}",
        e["workflow_instance_id"],
        e["project"].as_str().unwrap_or(""),
        e["workflow"].as_str().unwrap_or("")
    );
    if let Some(task) = e["task_name"].as_str() {
        place.push_str(&format!(
            " task {task} (task instance {}, attempt {})",
            e["task_instance_id"], e["attempt"]
        ));
    }
    if let Some(worker) = e["worker"].as_str() {
        place.push_str(&format!(" on {worker}"));
    }
    format!(
        "{}  {}  {}: {}",
        format::time(e["at"].as_i64()),
        e["kind"].as_str().unwrap_or(""),
        place,
        e["message"].as_str().unwrap_or("")
    )
}

/// `--since`: a duration back from `now` (`30m`, `1h 30m`), an RFC 3339 time, or a date
/// (midnight UTC); microseconds since the epoch.
fn since_us(text: &str, now: chrono::DateTime<chrono::Utc>) -> Result<i64, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_micros());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp_micros());
    }
    match baton_core::duration::parse(text) {
        Ok(d) => Ok(now.timestamp_micros() - d.as_micros() as i64),
        Err(_) => Err(format!(
            "bad --since `{text}`: give a duration back from now (30m, 2h), an RFC 3339 time or a date (YYYY-MM-DD)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn since_takes_durations_times_and_dates() {
        let now = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 0, 0).unwrap();
        let at = |h, m| {
            chrono::Utc
                .with_ymd_and_hms(2026, 1, 2, h, m, 0)
                .unwrap()
                .timestamp_micros()
        };
        assert_eq!(since_us("30m", now), Ok(at(2, 30)));
        assert_eq!(since_us("1h 30m", now), Ok(at(1, 30)));
        assert_eq!(since_us("2026-01-02T01:00:00Z", now), Ok(at(1, 0)));
        assert_eq!(since_us("2026-01-02T09:00:00+08:00", now), Ok(at(1, 0)));
        assert_eq!(since_us("2026-01-02", now), Ok(at(0, 0)));
        assert!(since_us("yesterday", now)
            .unwrap_err()
            .contains("bad --since"));
    }

    #[test]
    fn an_event_line_names_where_it_happened() {
        let e = serde_json::json!({
            "id": 1, "kind": "task_timeout", "workflow_instance_id": 3, "project": "demo",
            "workflow": "etl", "task_instance_id": 7, "task_name": "slow", "attempt": 1,
            "worker": "127.0.0.1:5690", "message": "timed out after 1s; the task goes on",
            "at": null, "recorded_at": 5
        });
        assert_eq!(
            line(&e),
            "-  task_timeout  instance 3 demo/etl task slow (task instance 7, attempt 1) on 127.0.0.1:5690: timed out after 1s; the task goes on"
        );
    }
}

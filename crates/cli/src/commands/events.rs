//! `baton events`: the lifecycle event log, and with `--follow` the new events as they are
//! recorded, from the server's event stream (a dropped connection resumes after the last
//! event printed).

use crate::args::EventsArgs;
use crate::client::{encode, Client};
use crate::exit::Exit;
use crate::format;
use baton_api_model::{Event, EventList};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use std::time::Duration;

pub async fn run(args: EventsArgs) -> anyhow::Result<()> {
    let client = args.server.client()?;
    let filters = filters(&args)?;
    let limit = args.limit.clamp(1, 1000);
    // The newest page, printed oldest first.
    let r: EventList = client
        .get(&format!("/events?{}limit={limit}", filters))
        .await?;
    let mut events = r.events;
    events.reverse();
    for e in &events {
        print_event(e, args.json)?;
    }
    if !args.follow {
        return Ok(());
    }
    let last = match events.last() {
        Some(e) => e.id,
        // Nothing yet: follow from the newest event of any kind (the filter may hide it).
        None => {
            let newest: EventList = client.get("/events?limit=1").await?;
            newest.events.first().map(|e| e.id).unwrap_or(0)
        }
    };
    follow(&client, &filters, last, args.json).await
}

/// The query filters (each followed by `&`).
fn filters(args: &EventsArgs) -> anyhow::Result<String> {
    let mut query = String::new();
    if let Some(since) = &args.since {
        let us = since_us(since, chrono::Utc::now()).map_err(Exit::BadInput)?;
        let t = baton_api_model::time::from_us(us).to_rfc3339();
        query.push_str(&format!("since={}&", encode(&t)));
    }
    if let Some(kind) = &args.kind {
        query.push_str(&format!("kind={}&", encode(kind)));
    }
    if let Some(instance) = args.instance {
        query.push_str(&format!("instance={instance}&"));
    }
    Ok(query)
}

/// Prints the stream's events after `last`, reconnecting (after the last one printed) when
/// the connection drops.
async fn follow(client: &Client, filters: &str, mut last: i64, json: bool) -> anyhow::Result<()> {
    let path = format!("/events/stream?{filters}");
    let mut pause = Duration::from_millis(200);
    loop {
        match client.stream(&path, Some(last)).await {
            Ok(response) => {
                pause = Duration::from_millis(200);
                let mut stream = response.bytes_stream().eventsource();
                while let Some(Ok(message)) = stream.next().await {
                    let event: Event = serde_json::from_str(&message.data)?;
                    last = event.id;
                    print_event(&event, json)?;
                }
            }
            // A refused request (a bad filter) will not get better.
            Err(e) if matches!(e.downcast_ref::<Exit>(), Some(Exit::BadInput(_))) => return Err(e),
            Err(e) => tracing::debug!("event stream: {e}"),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

fn print_event(e: &Event, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(e)?);
    } else {
        println!("{}", line(e));
    }
    Ok(())
}

/// One event as a line: time, kind, where, message.
pub(crate) fn line(e: &Event) -> String {
    let mut place = String::new();
    if let Some(instance) = e.workflow_instance_id {
        place.push_str(&format!(
            "instance {instance} {}/{}",
            e.project.as_deref().unwrap_or(""),
            e.workflow.as_deref().unwrap_or("")
        ));
    }
    if let Some(task) = &e.task_name {
        place.push_str(&format!(
            " task {task} (task instance {}, attempt {})",
            e.task_instance_id.unwrap_or_default(),
            e.attempt.unwrap_or_default()
        ));
    }
    if let Some(worker) = &e.worker {
        place.push_str(&format!(" on {worker}"));
    }
    format!(
        "{}  {}  {}: {}",
        format::at(Some(e.at)),
        e.kind,
        place.trim_start(),
        e.message
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
        let at = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 0, 0).unwrap();
        let e = Event {
            id: 1,
            kind: baton_core::event::EventKind::TaskTimeout,
            workflow_instance_id: Some(3),
            project: Some("demo".into()),
            workflow: Some("etl".into()),
            task_instance_id: Some(7),
            task_name: Some("slow".into()),
            attempt: Some(1),
            worker: Some("127.0.0.1:5690".into()),
            message: "timed out after 1s; the task goes on".into(),
            detail: None,
            at,
            recorded_at: at,
        };
        assert_eq!(
            line(&e),
            format!(
                "{}  task_timeout  instance 3 demo/etl task slow (task instance 7, attempt 1) on 127.0.0.1:5690: timed out after 1s; the task goes on",
                format::at(Some(at))
            )
        );
    }
}

//! `baton logs`: print an attempt's log, and with `--follow` keep printing while it runs.
//! The log is read as raw bytes and written to stdout as they are: a page boundary never
//! splits a character, and output that is not UTF-8 comes out unchanged.

use crate::args::LogsArgs;
use anyhow::Context;
use baton_api_model::headers;
use std::io::Write;
use std::time::Duration;

/// What the headers of a raw log answer say.
struct Page {
    attempt: i64,
    next_offset: u64,
    complete: bool,
}

fn header<T: std::str::FromStr>(response: &reqwest::Response, name: &str) -> anyhow::Result<T> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("the log answer has no valid `{name}` header"))
}

pub async fn run(args: LogsArgs) -> anyhow::Result<()> {
    let client = args.server.client()?;
    let mut offset = 0u64;
    let mut attempt = args.attempt;
    loop {
        let mut path = format!("/task-instances/{}/log?offset={offset}", args.task_instance);
        if let Some(a) = attempt {
            path.push_str(&format!("&attempt={a}"));
        }
        let response = client.get_raw(&path).await?;
        let page = Page {
            attempt: header(&response, headers::ATTEMPT)?,
            next_offset: header(&response, headers::NEXT_OFFSET)?,
            complete: header(&response, headers::COMPLETE)?,
        };
        let bytes = response.bytes().await.context("reading the log")?;
        // Stay on the attempt we started reading, even if a retry begins meanwhile.
        attempt = Some(page.attempt);
        let got = page.next_offset > offset;
        if !bytes.is_empty() {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)?;
            out.flush()?;
        }
        offset = page.next_offset;
        if got {
            continue;
        }
        if page.complete || !args.follow {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

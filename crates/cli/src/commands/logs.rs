//! `baton logs`: print an attempt's log, and with `--follow` keep printing while it runs.

use crate::args::LogsArgs;
use crate::client::Client;
use baton_api::LogChunk;
use std::io::Write;
use std::time::Duration;

pub async fn run(args: LogsArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.server.server);
    let mut offset = 0u64;
    let mut attempt = args.attempt;
    loop {
        let mut path = format!("/task-instances/{}/log?offset={offset}", args.task_instance);
        if let Some(a) = attempt {
            path.push_str(&format!("&attempt={a}"));
        }
        let chunk: LogChunk = client.get(&path).await?;
        // Stay on the attempt we started reading, even if a retry begins meanwhile.
        attempt = Some(chunk.attempt);
        let got = chunk.next_offset > offset;
        if !chunk.data.is_empty() {
            let mut out = std::io::stdout().lock();
            out.write_all(chunk.data.as_bytes())?;
            out.flush()?;
        }
        offset = chunk.next_offset;
        if got {
            continue;
        }
        if chunk.complete || !args.follow {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

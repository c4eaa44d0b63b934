//! `baton history purge`: removes ended history older than a time.

use crate::args::HistoryCommand;
use baton_api_model::{PurgeOutcome, PurgeRequest};

pub async fn run(cmd: HistoryCommand) -> anyhow::Result<()> {
    match cmd {
        HistoryCommand::Purge {
            before,
            project,
            dry_run,
            server,
        } => {
            let client = server.client()?;
            let body = PurgeRequest {
                before,
                project: project.clone(),
                dry_run,
            };
            let mut total = PurgeOutcome {
                dry_run,
                finished: false,
                instances: 0,
                task_instances: 0,
                attempts: 0,
                events: 0,
            };
            // The server purges for a while per request and says whether it is done.
            while !total.finished {
                let r: PurgeOutcome = client.post("/history/purge", &body).await?;
                total = PurgeOutcome {
                    instances: total.instances + r.instances,
                    task_instances: total.task_instances + r.task_instances,
                    attempts: total.attempts + r.attempts,
                    events: total.events + r.events,
                    ..r
                };
            }
            let whose = project.map_or("every project".to_string(), |p| format!("project {p}"));
            let verb = if dry_run { "would remove" } else { "removed" };
            println!(
                "{verb} {} instances ended before {} ({whose}): {} task instances, {} attempts, {} events",
                total.instances,
                before.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                total.task_instances,
                total.attempts,
                total.events
            );
            Ok(())
        }
    }
}

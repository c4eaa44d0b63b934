//! `baton taskgroup …`: pools with a cluster-wide limit of tasks running at once.

use crate::args::TaskGroupCommand;
use crate::client::Client;
use crate::format;
use serde_json::{json, Value};

pub async fn run(cmd: TaskGroupCommand) -> anyhow::Result<()> {
    match cmd {
        TaskGroupCommand::Create {
            name,
            slots,
            server,
        } => {
            let body = json!({ "name": name, "slots": slots });
            let _: Value = Client::new(&server.server)
                .post("/task-groups", &body)
                .await?;
            println!("task group {name}: {slots} slots");
            Ok(())
        }
        TaskGroupCommand::List { server } => {
            let r: Value = Client::new(&server.server).get("/task-groups").await?;
            let rows: Vec<Vec<String>> = r["task_groups"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|g| {
                    vec![
                        g["name"].as_str().unwrap_or("").to_string(),
                        g["slots"].to_string(),
                        g["used"].to_string(),
                    ]
                })
                .collect();
            println!("{}", format::table(&["NAME", "SLOTS", "USED"], &rows));
            Ok(())
        }
    }
}

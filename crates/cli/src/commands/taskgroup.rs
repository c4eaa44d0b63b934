//! `baton taskgroup …`: pools with a cluster-wide limit of tasks running at once.

use crate::args::TaskGroupCommand;
use crate::format;
use baton_api_model::{TaskGroupList, TaskGroupRequest};

pub async fn run(cmd: TaskGroupCommand) -> anyhow::Result<()> {
    match cmd {
        TaskGroupCommand::Create {
            name,
            slots,
            server,
        } => {
            let body = TaskGroupRequest {
                name: name.clone(),
                slots,
            };
            let _: TaskGroupRequest = server.client()?.post("/task-groups", &body).await?;
            println!("task group {name}: {slots} slots");
            Ok(())
        }
        TaskGroupCommand::List { server } => {
            let r: TaskGroupList = server.client()?.get("/task-groups?limit=1000").await?;
            let rows: Vec<Vec<String>> = r
                .task_groups
                .iter()
                .map(|g| vec![g.name.clone(), g.slots.to_string(), g.used.to_string()])
                .collect();
            println!("{}", format::table(&["NAME", "SLOTS", "USED"], &rows));
            Ok(())
        }
    }
}

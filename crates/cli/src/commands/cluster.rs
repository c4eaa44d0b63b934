//! `baton cluster status`: the members and what they own.

use crate::args::ClusterCommand;
use crate::format;
use baton_api_model::{Cluster, MemberRole};
use chrono::{DateTime, Utc};

pub async fn run(cmd: ClusterCommand) -> anyhow::Result<()> {
    match cmd {
        ClusterCommand::Secret => {
            println!("{}", baton_proto::auth::ClusterKey::generate_secret()?);
            Ok(())
        }
        ClusterCommand::Status { json, server } => {
            let r: Cluster = server.client()?.get("/cluster").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(());
            }
            print!("{}", describe(&r, Utc::now()));
            Ok(())
        }
    }
}

fn describe(r: &Cluster, now: DateTime<Utc>) -> String {
    let mut rows: Vec<Vec<String>> = r
        .members
        .iter()
        .map(|m| {
            let load = &m.load;
            let owned = r.owners.get(&m.id).map(Vec::len).unwrap_or(0);
            let running = match m.role {
                MemberRole::Master => owned.to_string(),
                MemberRole::Worker | MemberRole::Api => load.running.to_string(),
            };
            vec![
                m.role.as_str().to_string(),
                m.address.clone(),
                m.version.clone(),
                "alive".to_string(),
                format::ago(Some(m.heartbeat_at), now),
                format!("{:.0}%", load.cpu * 100.0),
                format!("{}/{} MiB", load.memory_used_mb, load.memory_total_mb),
                format!("{:.2}", load.load1),
                running,
                match m.role {
                    MemberRole::Worker => load.slots.to_string(),
                    MemberRole::Master | MemberRole::Api => "-".into(),
                },
                m.group.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    rows.sort();
    let mut out = format::table(
        &[
            "ROLE",
            "ADDRESS",
            "VERSION",
            "STATE",
            "HEARTBEAT",
            "CPU",
            "MEMORY",
            "LOAD",
            "RUNNING",
            "SLOTS",
            "GROUP",
        ],
        &rows,
    );
    out.push('\n');
    if !r.owners.is_empty() {
        out.push_str("\nrunning instances by owner:\n");
        for (owner, ids) in &r.owners {
            let ids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
            out.push_str(&format!("  {owner}: {}\n", ids.join(", ")));
        }
    }
    out
}

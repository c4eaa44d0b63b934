//! `baton cluster status`: the members and what they own.

use crate::args::ClusterCommand;
use crate::client::Client;
use crate::format;
use serde_json::Value;

pub async fn run(cmd: ClusterCommand) -> anyhow::Result<()> {
    match cmd {
        ClusterCommand::Status { json, server } => {
            let client = Client::new(&server.server);
            let r: Value = client.get("/cluster").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(());
            }
            print!("{}", describe(&r, baton_store::now_us()));
            Ok(())
        }
    }
}

fn describe(r: &Value, now: i64) -> String {
    let owners = &r["owners"];
    let mut rows: Vec<Vec<String>> = r["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let member = &m["member"];
            let load = &member["load"];
            let id = member["id"].as_str().unwrap_or("");
            let role = member["role"].as_str().unwrap_or("");
            let owned = owners[id].as_array().map(|a| a.len()).unwrap_or(0);
            let running = if role == "master" {
                owned.to_string()
            } else {
                load["running"].to_string()
            };
            let age = m["heartbeat_at"]
                .as_i64()
                .map(|t| format::duration_us((now - t).max(0)));
            vec![
                role.to_string(),
                member["address"].as_str().unwrap_or("").to_string(),
                member["version"].as_str().unwrap_or("").to_string(),
                "alive".to_string(),
                age.map(|a| format!("{a} ago"))
                    .unwrap_or_else(|| "-".into()),
                format!("{:.0}%", load["cpu"].as_f64().unwrap_or(0.0) * 100.0),
                format!(
                    "{}/{} MiB",
                    load["memory_used_mb"].as_u64().unwrap_or(0),
                    load["memory_total_mb"].as_u64().unwrap_or(0)
                ),
                format!("{:.2}", load["load1"].as_f64().unwrap_or(0.0)),
                running,
                if role == "worker" {
                    load["slots"].to_string()
                } else {
                    "-".into()
                },
                member["group"].as_str().unwrap_or("-").to_string(),
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
    if let Some(map) = owners.as_object().filter(|m| !m.is_empty()) {
        out.push_str("\nrunning instances by owner:\n");
        for (owner, ids) in map {
            let ids: Vec<String> = ids
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| i.to_string())
                .collect();
            out.push_str(&format!("  {owner}: {}\n", ids.join(", ")));
        }
    }
    out
}

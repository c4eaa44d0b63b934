//! `baton workflow …`: apply, list, show, versions, export, start.

use crate::args::{StartArgs, WorkflowCommand};
use crate::client::{encode, Client};
use crate::format;
use baton_api_model::{
    Applied, ApplyRequest, StartPreview, StartRequest, Started, VersionList, Workflow, WorkflowList,
};

pub async fn run(cmd: WorkflowCommand) -> anyhow::Result<()> {
    match cmd {
        WorkflowCommand::Apply { files, server } => apply(&server.client()?, &files).await,
        WorkflowCommand::List { project, server } => {
            list(&server.client()?, project.as_deref()).await
        }
        WorkflowCommand::Show {
            name,
            project,
            version,
            json,
            server,
        } => {
            let client = server.client()?;
            let w: Workflow = client
                .get(&definition_path(&name, &project, version))
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&w)?);
                return Ok(());
            }
            println!(
                "workflow {}/{}  version {} of {}  created {}",
                w.project,
                w.name,
                w.version,
                w.latest_version,
                format::at(Some(w.created_at))
            );
            if let Some(online) = w.schedule_online {
                println!("schedule {}", if online { "online" } else { "offline" });
            }
            println!("---");
            print!("{}", w.source);
            Ok(())
        }
        WorkflowCommand::Versions {
            name,
            project,
            server,
        } => {
            let path = format!(
                "/workflows/{}/versions?project={}",
                encode(&name),
                encode(&project)
            );
            let versions = server
                .client()?
                .all_pages(&path, |p: VersionList| (p.versions, p.next_cursor))
                .await?;
            let rows: Vec<Vec<String>> = versions
                .iter()
                .map(|v| vec![v.version.to_string(), format::at(Some(v.created_at))])
                .collect();
            println!("{}", format::table(&["VERSION", "CREATED"], &rows));
            Ok(())
        }
        WorkflowCommand::Export {
            name,
            project,
            version,
            server,
        } => {
            let client = server.client()?;
            let w: Workflow = client
                .get(&definition_path(&name, &project, version))
                .await?;
            print!("{}", exported(w).to_yaml()?);
            Ok(())
        }
        WorkflowCommand::Start(args) => start(args).await,
    }
}

/// `baton workflow start`: starts an instance and prints its id, or with `--dry-run` prints
/// what would run.
async fn start(args: StartArgs) -> anyhow::Result<()> {
    let scope = args
        .scope
        .as_deref()
        .map(str::parse::<baton_core::dag::Scope>)
        .transpose()
        .map_err(crate::Exit::BadInput)?;
    let client = args.server.client()?;
    let body = StartRequest {
        params: super::parse_params(&args.params)?,
        from_task: args.from_task,
        scope,
        failure_strategy: args.failure_strategy,
        priority: args.priority,
        worker_group: args.worker_group,
    };
    let (name, project) = (encode(&args.name), encode(&args.project));
    if args.dry_run {
        let path = format!("/workflows/{name}/start/preview?project={project}");
        let preview: StartPreview = client.post(&path, &body).await?;
        print!("{}", preview_text(&args.name, &preview));
        return Ok(());
    }
    let path = format!("/workflows/{name}/start?project={project}");
    let r: Started = client.post(&path, &body).await?;
    println!("{}", r.id);
    if args.wait {
        super::wait_for(&client, r.id).await?;
    }
    Ok(())
}

/// A dry run as the CLI prints it: the version, the params, then a table of the tasks in
/// the order they would run.
fn preview_text(name: &str, p: &StartPreview) -> String {
    let mut out = format!(
        "dry run of workflow {name} version {}: nothing started\nfailure strategy {}  priority {}\n",
        p.version,
        p.failure_strategy.as_str(),
        p.priority.as_str()
    );
    for (k, v) in &p.params {
        out.push_str(&format!("param {k}={v}\n"));
    }
    let rows: Vec<Vec<String>> = p
        .tasks
        .iter()
        .map(|t| {
            let params = t
                .params
                .iter()
                .map(|v| match &v.value {
                    Some(value) => format!("{}={value}", v.name),
                    None => format!("{}=(at run time)", v.name),
                })
                .collect::<Vec<_>>()
                .join(" ");
            vec![
                t.name.clone(),
                t.task_type.clone(),
                t.worker_group.clone().unwrap_or_else(|| "(master)".into()),
                t.depends_on.join(","),
                params,
            ]
        })
        .collect();
    out.push_str(&format::table(
        &["TASK", "TYPE", "WORKER GROUP", "AFTER", "PARAMS"],
        &rows,
    ));
    out.push('\n');
    out
}

async fn apply(client: &Client, files: &[std::path::PathBuf]) -> anyhow::Result<()> {
    // Check everything first: one bad file means nothing is applied.
    let specs = super::load_specs(files)?;
    if specs.is_empty() {
        return Err(crate::Exit::BadInput("no workflow files found".into()).into());
    }
    for (file, text, _) in specs {
        let body = ApplyRequest {
            source: text,
            file: Some(file.display().to_string()),
        };
        let r: Applied = client.post("/workflows", &body).await?;
        println!(
            "workflow {}/{} {} (version {})",
            r.project,
            r.name,
            r.outcome.as_str(),
            r.version
        );
    }
    Ok(())
}

async fn list(client: &Client, project: Option<&str>) -> anyhow::Result<()> {
    let path = match project {
        Some(p) => format!("/workflows?project={}", encode(p)),
        None => "/workflows".to_string(),
    };
    let workflows = client
        .all_pages(&path, |p: WorkflowList| (p.workflows, p.next_cursor))
        .await?;
    let rows: Vec<Vec<String>> = workflows
        .iter()
        .map(|w| {
            vec![
                w.project.clone(),
                w.name.clone(),
                w.latest_version.to_string(),
                format::at(Some(w.updated_at)),
            ]
        })
        .collect();
    println!(
        "{}",
        format::table(&["PROJECT", "NAME", "VERSION", "UPDATED"], &rows)
    );
    Ok(())
}

/// The definition as a file that, applied, describes the workflow as it is: the schedule's
/// `online` is its live state (switched by `schedule online|offline`), not the one of the
/// file it was last applied from.
fn exported(w: Workflow) -> baton_core::WorkflowSpec {
    let mut spec = w.spec;
    if w.version == w.latest_version {
        if let (Some(schedule), Some(online)) = (spec.schedule.as_mut(), w.schedule_online) {
            schedule.online = online;
        }
    }
    spec
}

/// The API path of a workflow's definition, at `version` or the latest.
fn definition_path(name: &str, project: &str, version: Option<i64>) -> String {
    let mut path = format!("/workflows/{}?project={}", encode(name), encode(project));
    if let Some(v) = version {
        path.push_str(&format!("&version={v}"));
    }
    path
}

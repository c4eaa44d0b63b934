//! One module per command group; this one routes and holds what they share.

pub(crate) mod access;
mod backfill;
mod cluster;
mod datasource;
mod events;
mod history;
mod instance;
mod logs;
mod schedule;
mod secret;
mod taskgroup;
mod workflow;

use crate::args::{Cli, Command};
use crate::exit::Exit;
use anyhow::Context;
use baton_core::WorkflowSpec;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub(crate) use instance::wait_for;

/// Runs the parsed command.
pub async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Standalone(args) => crate::standalone::run(args).await,
        Command::Run(args) => crate::run::run(args).await,
        Command::Workflow(cmd) => workflow::run(cmd).await,
        Command::Instance(cmd) => instance::run(cmd).await,
        Command::Logs(args) => logs::run(args).await,
        Command::Api(args) => crate::roles::api(args).await,
        Command::Master(args) => crate::roles::master(args).await,
        Command::Worker(args) => crate::roles::worker(args).await,
        Command::Cluster(cmd) => cluster::run(cmd).await,
        Command::Schedule(cmd) => schedule::run(cmd).await,
        Command::Backfill(args) => backfill::run(args).await,
        Command::Taskgroup(cmd) => taskgroup::run(cmd).await,
        Command::History(cmd) => history::run(cmd).await,
        Command::Events(args) => events::run(args).await,
        Command::Login(args) => access::login(args).await,
        Command::Logout { server } => access::logout(server).await,
        Command::Whoami { server } => access::whoami(server).await,
        Command::Context(cmd) => access::context(cmd),
        Command::User(cmd) => access::user(cmd).await,
        Command::Token(cmd) => access::token(cmd).await,
        Command::Project(cmd) => access::project(cmd).await,
        Command::Audit(cmd) => access::audit(cmd).await,
        Command::Datasource(cmd) => datasource::run(cmd).await,
        Command::Secret(cmd) => secret::run(cmd).await,
        Command::Task(crate::args::TaskCommand::MarkSuccess {
            task_instance,
            server,
        }) => {
            let client = server.client()?;
            let _: baton_api_model::MarkedSuccess = client
                .post(
                    &format!("/task-instances/{task_instance}/mark-success"),
                    &crate::client::Empty {},
                )
                .await?;
            println!("task instance {task_instance} marked succeeded");
            Ok(())
        }
    }
}

/// The workflow files named: files as given, directories by their `*.yaml` and `*.yml`, sorted.
pub fn workflow_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path)
            .map_err(|e| Exit::BadInput(format!("{}: {e}", path.display())))?;
        if meta.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("reading {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
                })
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Reads and checks every file before anything is applied; all problems at once, exit 2.
pub fn load_specs(paths: &[PathBuf]) -> anyhow::Result<Vec<(PathBuf, String, WorkflowSpec)>> {
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    for file in workflow_files(paths)? {
        match read_spec(&file) {
            Ok((text, spec)) => loaded.push((file, text, spec)),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(Exit::BadInput(errors.join("\n")).into());
    }
    Ok(loaded)
}

/// Reads and checks one workflow file; the error is the message to print.
pub fn read_spec(file: &Path) -> Result<(String, WorkflowSpec), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let spec =
        WorkflowSpec::from_yaml(&text, &file.display().to_string()).map_err(|e| e.to_string())?;
    Ok((text, spec))
}

/// `NAME=VALUE` flags as a map.
pub fn parse_params(items: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut params = BTreeMap::new();
    for item in items {
        let (k, v) = baton_core::params::parse_assignment(item).map_err(Exit::BadInput)?;
        params.insert(k, v);
    }
    Ok(params)
}

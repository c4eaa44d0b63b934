//! `baton datasource …`: a project's data sources.

use crate::args::DatasourceCommand;
use crate::client::encode;
use crate::exit::Exit;
use crate::format;
use baton_api_model::{
    DataSource, DataSourceList, DataSourceRequest, DataSourceTest, DataSourceType,
};

/// `?project=P`, or nothing for the default project.
pub(super) fn project_query(project: &Option<String>) -> String {
    project
        .as_deref()
        .map(|p| format!("?project={}", encode(p)))
        .unwrap_or_default()
}

fn kind_of(text: &str) -> Result<DataSourceType, Exit> {
    match text.to_ascii_lowercase().as_str() {
        "postgresql" | "postgres" => Ok(DataSourceType::Postgresql),
        "mysql" | "mariadb" => Ok(DataSourceType::Mysql),
        "sqlite" => Ok(DataSourceType::Sqlite),
        _ => Err(Exit::BadInput(format!(
            "unknown data source type `{text}`: use postgresql, mysql (MariaDB too) or sqlite"
        ))),
    }
}

/// The password: the first line of standard input (its newline dropped).
fn password_from_stdin() -> Result<String, Exit> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Exit::BadInput(format!("cannot read the password from stdin: {e}")))?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return Err(Exit::BadInput(
            "--password-stdin: standard input held no password".into(),
        ));
    }
    Ok(password)
}

fn print(d: &DataSource) {
    println!("name:       {}", d.name);
    println!("project:    {}", d.project);
    println!("type:       {}", d.kind);
    println!("url:        {}", d.url);
    println!(
        "password:   {}",
        if d.has_password {
            "set (sealed)"
        } else {
            "none"
        }
    );
    println!("created:    {}", format::at(Some(d.created_at)));
    println!("updated:    {}", format::at(Some(d.updated_at)));
}

/// `baton datasource …`.
pub async fn run(cmd: DatasourceCommand) -> anyhow::Result<()> {
    match cmd {
        DatasourceCommand::Create {
            name,
            kind,
            url,
            password_stdin,
            project,
            server,
        } => {
            let kind = kind_of(&kind)?;
            let password = password_stdin.then(password_from_stdin).transpose()?;
            let body = DataSourceRequest {
                name,
                kind,
                url,
                password,
            };
            let path = format!("/datasources{}", project_query(&project));
            let created: DataSource = server.client()?.post(&path, &body).await?;
            eprintln!(
                "data source {} created in project {} ({})",
                created.name,
                created.project,
                if created.has_password {
                    "password sealed"
                } else {
                    "no password"
                }
            );
        }
        DatasourceCommand::List { project, server } => {
            let path = format!("/datasources{}", project_query(&project));
            let list = server
                .client()?
                .all_pages(&path, |p: DataSourceList| (p.datasources, p.next_cursor))
                .await?;
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|d| {
                    vec![
                        d.name.clone(),
                        d.kind.to_string(),
                        d.url.clone(),
                        if d.has_password { "yes" } else { "no" }.to_string(),
                    ]
                })
                .collect();
            println!(
                "{}",
                format::table(&["NAME", "TYPE", "URL", "PASSWORD"], &rows)
            );
        }
        DatasourceCommand::Show {
            name,
            project,
            json,
            server,
        } => {
            let path = format!("/datasources/{}{}", encode(&name), project_query(&project));
            let d: DataSource = server.client()?.get(&path).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                print(&d);
            }
        }
        DatasourceCommand::Test {
            name,
            project,
            server,
        } => {
            let path = format!(
                "/datasources/{}/test{}",
                encode(&name),
                project_query(&project)
            );
            let t: DataSourceTest = server
                .client()?
                .post(&path, &crate::client::Empty {})
                .await?;
            if !t.ok {
                return Err(Exit::Failed(t.message).into());
            }
            println!("ok: {}", t.message);
        }
        DatasourceCommand::Delete {
            name,
            project,
            server,
        } => {
            let path = format!("/datasources/{}{}", encode(&name), project_query(&project));
            let () = server.client()?.delete(&path).await?;
            eprintln!("data source {name} deleted");
        }
    }
    Ok(())
}

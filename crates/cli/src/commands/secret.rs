//! `baton secret …`: a project's secrets (`set`, `list`, `delete`), and `secret key`.

use super::datasource::project_query;
use crate::args::SecretCommand;
use crate::client::encode;
use crate::exit::Exit;
use crate::format;
use baton_api_model::{Secret, SecretList, SecretRequest};
use std::io::Read;

/// The value: all of standard input, one final newline dropped (so that `echo x |` and a
/// file both work).
fn value_from_stdin() -> Result<String, Exit> {
    let mut value = String::new();
    std::io::stdin()
        .take(MAX_READ)
        .read_to_string(&mut value)
        .map_err(|e| Exit::BadInput(format!("cannot read the secret from stdin: {e}")))?;
    let value = value
        .strip_suffix('\n')
        .map(|v| v.strip_suffix('\r').unwrap_or(v))
        .unwrap_or(&value)
        .to_string();
    if value.is_empty() {
        return Err(Exit::BadInput(
            "standard input held no value: pipe the secret in, e.g. `baton secret set NAME < file`"
                .into(),
        ));
    }
    Ok(value)
}

/// Most bytes read from stdin (the API refuses more than 64 KiB anyway).
const MAX_READ: u64 = 1024 * 1024;

/// `baton secret …`.
pub async fn run(cmd: SecretCommand) -> anyhow::Result<()> {
    match cmd {
        SecretCommand::Key => {
            let key = baton_secrets::SecretKey::generate()?;
            println!("{}", key.to_text().as_str());
        }
        SecretCommand::Set {
            name,
            project,
            server,
        } => {
            let value = value_from_stdin()?;
            let path = format!("/secrets/{}{}", encode(&name), project_query(&project));
            let set: Secret = server
                .client()?
                .put(&path, &SecretRequest { value })
                .await?;
            eprintln!(
                "secret {} set in project {} (sealed)",
                set.name, set.project
            );
        }
        SecretCommand::List { project, server } => {
            let path = format!("/secrets{}", project_query(&project));
            let list = server
                .client()?
                .all_pages(&path, |p: SecretList| (p.secrets, p.next_cursor))
                .await?;
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|s| {
                    vec![
                        s.name.clone(),
                        format::at(Some(s.created_at)),
                        format::at(Some(s.updated_at)),
                    ]
                })
                .collect();
            println!("{}", format::table(&["NAME", "CREATED", "UPDATED"], &rows));
        }
        SecretCommand::Delete {
            name,
            project,
            server,
        } => {
            let path = format!("/secrets/{}{}", encode(&name), project_query(&project));
            let () = server.client()?.delete(&path).await?;
            eprintln!("secret {name} deleted");
        }
    }
    Ok(())
}

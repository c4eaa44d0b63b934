//! Project secrets in a workflow: `${secret.NAME}` stands for the value of the project's
//! secret `NAME`, and only in an `http` task's header values and body, where the master puts
//! the value into the one dispatch that sends it. Anywhere else (a URL, a shell or python
//! program, SQL, an env value, a param's value, a condition) it would reach a log, a process
//! environment or the stored params, so the file is refused ([`misplaced`]).

use crate::spec::{TaskKind, WorkflowSpec};

/// What a secret's reference starts with.
pub const SECRET_PREFIX: &str = "secret.";

/// The secret `reference` names (`token` for `secret.token`), if it names one.
pub fn secret_name(reference: &str) -> Option<&str> {
    reference.strip_prefix(SECRET_PREFIX)
}

/// The secrets `text` refers to.
fn in_text(text: &str) -> impl Iterator<Item = String> + '_ {
    super::references(text)
        .into_iter()
        .filter_map(|r| secret_name(&r).map(str::to_string))
}

/// The secrets a task's kind uses where they may stand (an http task's headers and body),
/// without repeats, in order.
pub fn used(kind: &TaskKind) -> Vec<String> {
    let TaskKind::Http(http) = kind else {
        return Vec::new();
    };
    let mut texts: Vec<&str> = http.headers.values().map(String::as_str).collect();
    if let Some(body) = &http.body {
        json_strings(body, &mut texts);
    }
    texts.extend(http.body_text.as_deref());
    let mut names: Vec<String> = Vec::new();
    for name in texts.into_iter().flat_map(in_text) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

fn json_strings<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    use serde_json::Value;
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| json_strings(v, out)),
        Value::Object(fields) => fields.iter().for_each(|(k, v)| {
            out.push(k);
            json_strings(v, out);
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// A `${secret.NAME}` where a secret may not stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misplaced {
    /// The task, or none for a workflow param.
    pub task: Option<String>,
    /// Where it stands, in the file's words (`command`, `url`, `env.TOKEN`, `params.auth`).
    pub field: String,
    /// The secret's name.
    pub secret: String,
}

impl std::fmt::Display for Misplaced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`${{secret.{}}}` cannot be used in `{}`: secrets are only for http task headers and \
             bodies (anywhere else a value could reach a log, a process or the stored params)",
            self.secret, self.field
        )
    }
}

/// Every `${secret.NAME}` of the workflow that stands where a secret may not.
pub fn misplaced(spec: &WorkflowSpec) -> Vec<Misplaced> {
    let mut out = Vec::new();
    let mut note = |task: Option<&str>, field: String, text: &str| {
        for secret in in_text(text) {
            out.push(Misplaced {
                task: task.map(str::to_string),
                field: field.clone(),
                secret,
            });
        }
    };
    for (name, value) in &spec.params {
        note(None, format!("params.{name}"), value);
    }
    for task in &spec.tasks {
        let t = Some(task.name.as_str());
        for (name, value) in &task.params {
            note(t, format!("params.{name}"), value);
        }
        for (name, value) in &task.env {
            note(t, format!("env.{name}"), value);
        }
        match &task.kind {
            TaskKind::Shell { command } => note(t, "command".into(), command),
            TaskKind::Python { script } => note(t, "script".into(), script),
            TaskKind::Http(http) => note(t, "url".into(), &http.url),
            TaskKind::Sql(sql) => note(t, "sql".into(), &sql.sql),
            TaskKind::Service(service) => {
                note(t, "command".into(), &service.command);
                match service.health.as_ref().map(|h| &h.probe) {
                    Some(crate::spec::HealthProbe::Http(url)) => note(t, "health.http".into(), url),
                    Some(crate::spec::HealthProbe::Command(cmd)) => {
                        note(t, "health.command".into(), cmd)
                    }
                    None => {}
                }
            }
            TaskKind::Switch { cases, .. } => {
                for case in cases {
                    note(t, "cases.when".into(), &case.when);
                }
            }
            TaskKind::Noop
            | TaskKind::SubWorkflow { .. }
            | TaskKind::Dependent { .. }
            | TaskKind::Conditions { .. } => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_found_in_headers_and_bodies_and_refused_elsewhere() {
        let spec = WorkflowSpec::from_yaml(
            "name: w\nparams: {p: '${secret.a}'}\ntasks:\n  - name: h\n    type: http\n    url: 'https://h.test/${secret.b}'\n    headers: {Authorization: 'Bearer ${secret.token}', X-Other: '${secret.token}'}\n    body: {key: '${secret.key}'}\n    env: {E: '${secret.c}'}\n  - {name: s, type: shell, command: 'echo ${secret.d}'}\n  - {name: q, type: sql, datasource: wh, sql: 'select ${secret.e}'}\n",
            "w",
        );
        // The file reads; the check of where secrets stand is part of validation.
        let e = spec.unwrap_err().to_string();
        for expected in [
            "`${secret.a}` cannot be used in `params.p`",
            "task `h`: `${secret.b}` cannot be used in `url`: secrets are only for http task headers and bodies",
            "task `h`: `${secret.c}` cannot be used in `env.E`",
            "task `s`: `${secret.d}` cannot be used in `command`",
            "task `q`: `${secret.e}` cannot be used in `sql`",
        ] {
            assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
        }
        assert!(
            !e.contains("secret.token") && !e.contains("secret.key"),
            "{e}"
        );
        let ok = WorkflowSpec::from_yaml(
            "name: w\ntasks:\n  - name: h\n    type: http\n    url: 'https://h.test/'\n    headers: {Authorization: 'Bearer ${secret.token}', X-Other: '${secret.token}'}\n    body: {key: '${secret.key}'}\n",
            "w",
        )
        .unwrap();
        assert_eq!(used(&ok.tasks[0].kind), ["token", "key"]);
    }
}

//! Shell tasks: the command runs under `bash -c`, so pipes, `&&` and `&` work as people expect
//! (a command too long for one argument runs as `bash FILE`, see [`ProgramText`]).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::OnceLock;

use baton_proto::ShellTask;

use super::Plan;
use crate::process::{ProcessSpec, ProgramText};

/// `bash -c <command>`.
pub(crate) fn plan(task: &ShellTask) -> Plan {
    Plan::Process(ProcessSpec {
        program: bash().to_string(),
        args: Vec::new(),
        text: ProgramText {
            inline_flag: "-c",
            file_name: ".baton-command.sh",
            text: task.command.clone(),
        },
    })
}

/// bash's full path, looked up in `PATH` once: starting a process by bare name makes every
/// start try each `PATH` entry in turn.
pub(crate) fn bash() -> &'static str {
    static BASH: OnceLock<String> = OnceLock::new();
    BASH.get_or_init(|| find_in_path("bash").unwrap_or_else(|| "bash".to_string()))
}

fn find_in_path(name: &str) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
        .and_then(|found| found.to_str().map(str::to_string))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_under_bash_c() {
        let Plan::Process(spec) = plan(&ShellTask {
            command: "echo hi".into(),
        }) else {
            panic!("a shell task runs a process");
        };
        assert!(spec.program.ends_with("bash"), "{}", spec.program);
        assert!(Path::new(&spec.program).is_absolute());
        assert!(spec.args.is_empty());
        assert_eq!(
            (spec.text.inline_flag, spec.text.text.as_str()),
            ("-c", "echo hi")
        );
    }
}

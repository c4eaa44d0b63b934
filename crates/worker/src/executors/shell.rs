//! Shell tasks: the command runs under `bash -c`, so pipes, `&&` and `&` work as people expect.

use baton_proto::ShellTask;

use super::Plan;
use crate::process::ProcessSpec;

/// `bash -c <command>`.
pub(crate) fn plan(task: &ShellTask) -> Plan {
    Plan::Process(ProcessSpec {
        program: "bash".to_string(),
        args: vec!["-c".to_string(), task.command.clone()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_under_bash_c() {
        let plan = plan(&ShellTask {
            command: "echo hi".into(),
        });
        assert_eq!(
            plan,
            Plan::Process(ProcessSpec {
                program: "bash".into(),
                args: vec!["-c".into(), "echo hi".into()],
            })
        );
    }
}

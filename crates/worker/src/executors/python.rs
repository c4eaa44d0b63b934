//! Python tasks: the script runs with `-u` (unbuffered), so its output reaches the log as it is
//! printed and a live tail shows progress.

use baton_proto::PythonTask;

use super::Plan;
use crate::process::{ProcessSpec, ProgramText};

/// `<python> -u -c <script>` (or `<python> -u FILE` for a script too long for one argument).
pub(crate) fn plan(task: &PythonTask, python: &str) -> Plan {
    Plan::Process(ProcessSpec {
        program: python.to_string(),
        args: vec!["-u".to_string()],
        text: ProgramText {
            inline_flag: "-c",
            file_name: ".baton-script.py",
            text: task.script.clone(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_unbuffered_with_the_configured_interpreter() {
        let Plan::Process(spec) = plan(
            &PythonTask {
                script: "print(1)".into(),
            },
            "/opt/py/bin/python3",
        ) else {
            panic!("a python task runs a process");
        };
        assert_eq!(
            spec,
            ProcessSpec {
                program: "/opt/py/bin/python3".into(),
                args: vec!["-u".into()],
                text: ProgramText {
                    inline_flag: "-c",
                    file_name: ".baton-script.py",
                    text: "print(1)".into(),
                },
            }
        );
    }
}

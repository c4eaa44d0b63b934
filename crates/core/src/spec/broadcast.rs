//! `broadcast: true` on a task: one task instance on each worker of its group that is live
//! when the task becomes ready (PowerJob's BROADCAST), to clear a cache on every host or
//! collect per-host stats. This module is the field as a file writes it and its checks at
//! apply; the rules of a broadcast run are in [`crate::run::broadcast`] (its items run under
//! those of a mapped task, [`crate::run::map`]).

use super::file::Reader;
use super::yaml::Step;
use super::TaskKind;
use serde_yaml::Value;

/// Whether a task of this kind may be broadcast: those a worker runs as a program. The
/// others either run in the master (logic tasks) or reach one outside system whatever
/// worker sends them (http, sql), where running once per worker is a mistake; a service is
/// one copy, relaunched elsewhere when its worker is lost.
fn broadcastable(kind: &TaskKind) -> bool {
    match kind {
        TaskKind::Shell { .. } | TaskKind::Python { .. } => true,
        TaskKind::Noop
        | TaskKind::Service(_)
        | TaskKind::Http(_)
        | TaskKind::Sql(_)
        | TaskKind::SubWorkflow { .. }
        | TaskKind::Dependent { .. }
        | TaskKind::Conditions { .. }
        | TaskKind::Switch { .. } => false,
    }
}

impl Reader<'_> {
    /// Reads and checks a task's `broadcast:` (at `path`, the task's), each problem at its
    /// line; `mapped` when the task also has `map:`. `Err(())` when it is wrong (already
    /// reported).
    pub(super) fn broadcast(
        &mut self,
        value: Value,
        path: &[Step],
        task: &str,
        kind: Option<&TaskKind>,
        mapped: bool,
    ) -> Result<bool, ()> {
        let mut at = path.to_vec();
        at.push(Step::Key("broadcast".into()));
        let Value::Bool(broadcast) = value else {
            let message = "`broadcast` is `true` or `false`".into();
            self.report(task, &at, message);
            return Err(());
        };
        if !broadcast {
            return Ok(false);
        }
        let before = self.problems.len();
        if let Some(kind) = kind.filter(|k| !broadcastable(k)) {
            let message = format!(
                "a {} task cannot be broadcast (`broadcast: true` is for shell and python tasks)",
                kind.type_name()
            );
            self.report(task, &at, message);
        }
        if mapped {
            let message = "`broadcast: true` and `map:` cannot go together: a broadcast task's items are the live workers of its group".into();
            self.report(task, &at, message);
        }
        match self.problems.len() == before {
            true => Ok(true),
            false => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::{Items, WorkflowSpec};

    fn wf(task: &str) -> String {
        format!("name: w\nparams: {{l: '[1]'}}\ntasks:\n  - name: b\n{task}")
    }

    fn error(text: &str) -> String {
        WorkflowSpec::from_yaml(text, "w.yaml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_shell_or_python_task_may_be_broadcast() {
        for kind in [
            "shell\n    command: hostname",
            "python\n    script: print(1)",
        ] {
            let text = wf(&format!("    type: {kind}\n    broadcast: true\n"));
            let spec = WorkflowSpec::from_yaml(&text, "w").unwrap();
            assert!(spec.tasks[0].broadcast);
            assert_eq!(spec.tasks[0].items(), Some(Items::Broadcast));
        }
        let text = wf("    type: shell\n    command: hostname\n    broadcast: false\n");
        let spec = WorkflowSpec::from_yaml(&text, "w").unwrap();
        assert_eq!(spec.tasks[0].items(), None);
    }

    #[test]
    fn a_broadcast_survives_export_and_json() {
        let text = wf("    type: shell\n    command: hostname\n    broadcast: true\n");
        let spec = WorkflowSpec::from_yaml(&text, "w").unwrap();
        let yaml = spec.to_yaml().unwrap();
        assert!(yaml.contains("broadcast: true"), "{yaml}");
        assert_eq!(WorkflowSpec::from_yaml(&yaml, "w").unwrap(), spec);
        assert_eq!(WorkflowSpec::from_json(&spec.to_json()).unwrap(), spec);
        let plain = wf("    type: shell\n    command: hostname\n");
        let plain = WorkflowSpec::from_yaml(&plain, "w").unwrap();
        assert!(!plain.to_yaml().unwrap().contains("broadcast"));
    }

    #[test]
    fn other_kinds_are_refused_at_the_line_of_broadcast() {
        for (kind, name) in [
            ("noop", "noop"),
            ("http\n    url: http://example.com/", "http"),
            ("sub_workflow\n    workflow: child", "sub_workflow"),
        ] {
            let text = wf(&format!("    type: {kind}\n    broadcast: true\n"));
            let e = error(&text);
            let line = 6 + kind.matches('\n').count();
            assert!(e.contains(&format!("line {line}")), "{e}");
            assert!(
                e.contains(&format!("a {name} task cannot be broadcast")),
                "{e}"
            );
            assert!(e.contains("task `b`"), "{e}");
        }
    }

    #[test]
    fn broadcast_with_map_is_refused_and_a_non_bool_is_named() {
        let text = wf(
            "    type: shell\n    command: echo ${x}\n    map: {over: '${l}', as: x}\n    broadcast: true\n",
        );
        let e = error(&text);
        assert!(e.contains("line 8"), "{e}");
        assert!(
            e.contains("`broadcast: true` and `map:` cannot go together"),
            "{e}"
        );
        let text = wf("    type: shell\n    command: hostname\n    broadcast: yes please\n");
        let e = error(&text);
        assert!(
            e.contains("line 7") && e.contains("`broadcast` is `true` or `false`"),
            "{e}"
        );
    }

    #[test]
    fn the_worker_param_is_defined_in_a_broadcast_task_only_and_its_outputs_are_a_list() {
        let text = "name: w\ntasks:\n  - name: b\n    type: shell\n    broadcast: true\n    command: echo ${system.worker.id} '${setValue(free=1)}'\n  - name: r\n    type: shell\n    depends_on: [b]\n    command: echo ${b.outputs}\n";
        let spec = WorkflowSpec::from_yaml(text, "w").unwrap();
        assert!(crate::params::check_all(&spec, &Default::default()).is_empty());
        let text = "name: w\ntasks:\n  - name: b\n    type: shell\n    command: echo ${system.worker.id}\n";
        let spec = WorkflowSpec::from_yaml(text, "w").unwrap();
        let undefined = crate::params::check_all(&spec, &Default::default());
        assert_eq!(undefined.len(), 1, "{undefined:?}");
        assert_eq!(undefined[0].names, vec!["system.worker.id".to_string()]);
    }
}

//! The rules of a broadcast task (`broadcast: true`), pure: its items are the live workers
//! of its group when it becomes ready, one item pinned to each, in id order; the list kept
//! on its row (so that a master rebuilding the instance runs the same items); what each
//! item sees of its worker; and what a worker that is gone does to its item (it fails:
//! the point of the item is that worker). The items then run under the rules of a mapped
//! task ([`crate::run::map`]) with [`rules`]: all at once, every one to its end.

use crate::attempt::Rules;
use crate::run::map::{Item, ItemRules};
use crate::spec::{FailoverPolicy, MapFailure};

/// The param a broadcast item's task reads its worker's id from (`${system.worker.id}`),
/// bound above every other source, as a mapped item's `as` is.
pub const WORKER_PARAM: &str = "system.worker.id";

/// The rules a broadcast task's items run under: every worker at once (its slots still
/// count), and each item runs to its end whatever the others did; the task fails if any
/// item failed.
pub fn rules() -> ItemRules {
    ItemRules {
        parallel: None,
        failure: MapFailure::Continue,
    }
}

/// A broadcast task that cannot pick its workers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BroadcastError {
    /// No worker of the group was live when the task became ready.
    #[error("broadcast: no live worker in group `{group}` when the task became ready")]
    NoLiveWorker {
        /// The task's worker group.
        group: String,
    },
    /// The list kept on the task's row is not a JSON list of worker ids (a hand-edited store).
    #[error("broadcast: the stored list of workers is not a JSON list of ids ({error})")]
    BadList {
        /// What the JSON reader said.
        error: String,
    },
}

/// The workers a broadcast task in `group` runs on: those of `live` (`(id, group)`, as the
/// master knows them) in that group, each once, by id.
pub fn choose<'a>(
    group: &str,
    live: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<String>, BroadcastError> {
    let mut workers: Vec<String> = live
        .into_iter()
        .filter(|(_, g)| *g == group)
        .map(|(id, _)| id.to_string())
        .collect();
    workers.sort_unstable();
    workers.dedup();
    if workers.is_empty() {
        return Err(BroadcastError::NoLiveWorker {
            group: group.to_string(),
        });
    }
    Ok(workers)
}

/// The list a broadcast task's row keeps: its workers' ids as a JSON list.
pub fn list(workers: &[String]) -> String {
    serde_json::Value::Array(
        workers
            .iter()
            .map(|w| serde_json::Value::String(w.clone()))
            .collect(),
    )
    .to_string()
}

/// The items of a kept list, in its order: one per worker, its text the worker's id.
pub fn items(list: &str) -> Result<Vec<Item>, BroadcastError> {
    let workers: Vec<String> = serde_json::from_str(list).map_err(|e| BroadcastError::BadList {
        error: e.to_string(),
    })?;
    Ok(workers
        .into_iter()
        .map(|id| Item {
            value: serde_json::Value::String(id.clone()),
            text: id,
        })
        .collect())
}

/// The param an item's task sees for its worker: `(system.worker.id, id)`.
pub fn binding(item: &Item) -> (String, String) {
    (WORKER_PARAM.to_string(), item.text.clone())
}

/// The worker an item is pinned to.
pub fn worker(item: &Item) -> &str {
    &item.text
}

/// Why a broadcast item failed without running, when its worker left the cluster before
/// the item could be dispatched to it.
pub fn gone_message(worker: &str) -> String {
    format!("worker `{worker}` is gone: a broadcast item runs only on its own worker")
}

/// Why a broadcast item's attempt failed when its worker was lost while it ran.
pub fn lost_message(worker: &str) -> String {
    format!("lost with its worker `{worker}`: a broadcast item is not run again elsewhere")
}

/// The attempt rules of a broadcast item: the task's, but a lost worker fails the item
/// (`failover: fail`) whatever the task says, since no other worker may run it.
pub fn item_rules(task: Rules) -> Rules {
    Rules {
        failover: FailoverPolicy::Fail,
        ..task
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attempt::{After, Attempt, Change, TaskEnd};
    use crate::run::map::{MapOutcome, MapRun, MapStep};
    use crate::state::TaskState;
    use std::time::Duration;

    #[test]
    fn the_workers_of_the_group_are_chosen_once_each_by_id() {
        let live = [
            ("w3", "default"),
            ("gpu1", "gpu"),
            ("w1", "default"),
            ("w2", "default"),
            ("w1", "default"),
        ];
        assert_eq!(
            choose("default", live).unwrap(),
            vec!["w1".to_string(), "w2".into(), "w3".into()]
        );
        assert_eq!(choose("gpu", live).unwrap(), vec!["gpu1".to_string()]);
    }

    #[test]
    fn no_live_worker_in_the_group_names_the_group() {
        let e = choose("edge", [("w1", "default")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "broadcast: no live worker in group `edge` when the task became ready"
        );
    }

    #[test]
    fn the_kept_list_gives_back_the_same_items_and_bindings() {
        let workers = vec!["127.0.0.1:7001".to_string(), "host-b:7001".into()];
        let kept = list(&workers);
        assert_eq!(kept, r#"["127.0.0.1:7001","host-b:7001"]"#);
        let items = items(&kept).unwrap();
        let ids: Vec<&str> = items.iter().map(worker).collect();
        assert_eq!(ids, vec!["127.0.0.1:7001", "host-b:7001"]);
        assert_eq!(
            binding(&items[1]),
            ("system.worker.id".to_string(), "host-b:7001".to_string())
        );
        let e = super::items("[1, 2]").unwrap_err().to_string();
        assert!(e.contains("not a JSON list of ids"), "{e}");
    }

    #[test]
    fn a_lost_worker_fails_its_item_whatever_the_task_says() {
        let task = Rules {
            retries: 2,
            retry_interval: Duration::from_secs(1),
            failover: FailoverPolicy::Rerun,
        };
        let rules = item_rules(task);
        assert_eq!(rules.failover, FailoverPolicy::Fail);
        assert_eq!(rules.retries, 2, "retries stay (on the same worker)");
        let running = Attempt {
            state: TaskState::Running,
            number: 1,
            retries_used: 0,
            ended: false,
        };
        match running.lose(&rules) {
            Change::Ended { state, after, .. } => {
                assert_eq!(state, TaskState::Failed);
                assert_eq!(after, After::Final(TaskEnd::Failed));
            }
            other => panic!("{other:?}"),
        }
        assert!(gone_message("w2").contains("worker `w2` is gone"));
        assert!(lost_message("w2").contains("not run again elsewhere"));
    }

    #[test]
    fn every_item_starts_at_once_and_one_failure_fails_the_task_naming_its_worker() {
        let workers = ["w1", "w2", "w3"];
        let mut run = MapRun::new(rules(), workers.len());
        assert_eq!(run.step(), MapStep::Start(vec![0, 1, 2]));
        assert_eq!(run.item_changed(1, TaskState::Failed), MapStep::Wait);
        run.item_changed(0, TaskState::Succeeded);
        let done = run.item_changed(2, TaskState::Succeeded);
        let MapStep::Done(outcome) = done else {
            panic!("{done:?}");
        };
        assert_eq!(outcome.state(), TaskState::Failed);
        assert!(matches!(outcome, MapOutcome::Failed { .. }));
        let message = outcome.message_naming(|i| workers[i].to_string());
        assert_eq!(message, "1 of 3 items failed: [w2]");
    }
}

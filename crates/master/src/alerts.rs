//! Alerting events the engine records (today: an attempt past its timeout, with the `warn` or
//! `both` strategy). Kept out of the engine: it only hands each worker event here and writes
//! what comes back with its tick, under the instance's lease.

use crate::engine::Slot;
use baton_core::spec::TimeoutStrategy;
use baton_core::EventKind;
use baton_core::{TaskState, WorkflowInstanceId};
use baton_store::NewEvent;

/// The dispatch's form of a task's timeout strategy.
pub(crate) fn strategy(s: TimeoutStrategy) -> i32 {
    let p = match s {
        TimeoutStrategy::Fail => baton_proto::TimeoutStrategy::Fail,
        TimeoutStrategy::Warn => baton_proto::TimeoutStrategy::Warn,
        TimeoutStrategy::Both => baton_proto::TimeoutStrategy::Both,
    };
    p as i32
}

/// The event to record for a worker's TimedOut report about the current attempt of `slot`,
/// or why it is refused (the attempt has ended here already: a late or repeated report).
/// Which attempt is current was checked by the caller; a repeated report of a recorded event
/// is harmless (stored once per task instance, attempt and kind).
pub(crate) fn task_timeout(
    instance: WorkflowInstanceId,
    project: &str,
    workflow: &str,
    slot: &Slot,
    worker: &str,
    report: &baton_proto::TimedOut,
) -> Result<NewEvent, &'static str> {
    if !matches!(slot.state, TaskState::Dispatched | TaskState::Running) {
        return Err("the attempt has ended already");
    }
    let message = if report.message.is_empty() {
        format!("timed out after {} ms", report.timeout_ms)
    } else {
        report.message.clone()
    };
    let at = if report.at_us > 0 {
        report.at_us
    } else {
        baton_store::now_us()
    };
    // A worker re-sends an event it got no acknowledgement for: recorded once per attempt.
    let once = format!("task_timeout:{}:{}", slot.id, slot.attempt);
    Ok(NewEvent::new(EventKind::TaskTimeout, at, message)
        .instance(instance, project, workflow)
        .task(slot.id, &slot.task_name, slot.attempt)
        .worker(Some(worker))
        .once(once))
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::TaskInstanceId;
    use std::collections::BTreeMap;

    fn slot(state: TaskState) -> Slot {
        Slot {
            id: TaskInstanceId(5),
            workflow_instance_id: WorkflowInstanceId(2),
            task_name: "slow".into(),
            state,
            attempt: 3,
            retries_used: 2,
            worker: Some("w".into()),
            submitted_at: 1,
            started_at: Some(2),
            ended_at: None,
            exit_code: None,
            message: None,
            next_retry_at: None,
            outputs: BTreeMap::new(),
            task_group: None,
            map: None,
        }
    }

    #[test]
    fn a_timed_out_report_of_a_running_attempt_becomes_an_event() {
        let report = baton_proto::TimedOut {
            at_us: 42,
            timeout_ms: 1000,
            message: "timed out after 1s; the task goes on (timeout_strategy: warn)".into(),
        };
        let e = task_timeout(
            WorkflowInstanceId(2),
            "demo",
            "etl",
            &slot(TaskState::Running),
            "w1",
            &report,
        )
        .unwrap();
        assert_eq!(e.kind, EventKind::TaskTimeout);
        assert_eq!(
            (e.task_instance_id, e.attempt, e.at),
            (Some(TaskInstanceId(5)), Some(3), 42)
        );
        assert_eq!(e.task_name.as_deref(), Some("slow"));
        assert_eq!(
            (e.project.as_deref(), e.workflow.as_deref()),
            (Some("demo"), Some("etl"))
        );
        assert_eq!(e.worker.as_deref(), Some("w1"));
        assert_eq!(e.message, report.message);

        for ended in [
            TaskState::Succeeded,
            TaskState::Failed,
            TaskState::RetryWait,
        ] {
            assert!(task_timeout(
                WorkflowInstanceId(2),
                "demo",
                "etl",
                &slot(ended),
                "w1",
                &report
            )
            .is_err());
        }
    }

    #[test]
    fn strategies_map_to_the_protocol() {
        assert_eq!(strategy(TimeoutStrategy::Fail), 0);
        assert_eq!(
            strategy(TimeoutStrategy::Warn),
            baton_proto::TimeoutStrategy::Warn as i32
        );
        assert_eq!(
            strategy(TimeoutStrategy::Both),
            baton_proto::TimeoutStrategy::Both as i32
        );
    }
}

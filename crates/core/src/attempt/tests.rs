use super::*;

fn rules(retries: u32) -> Rules {
    Rules {
        retries,
        retry_interval: Duration::from_secs(2),
        failover: FailoverPolicy::Rerun,
    }
}

fn at(state: TaskState, number: i64, retries_used: i64) -> Attempt {
    Attempt {
        state,
        number,
        retries_used,
        ended: matches!(state, TaskState::RetryWait | TaskState::NeedFailover),
    }
}

#[test]
fn dispatch_then_start_then_success() {
    let a = at(TaskState::Submitted, 1, 0);
    assert_eq!(
        a.dispatch(),
        Change::moved(TaskState::Dispatched, Some(EventKind::TaskDispatched))
    );
    let a = at(TaskState::Dispatched, 1, 0);
    assert_eq!(
        a.start(),
        Change::moved(TaskState::Running, Some(EventKind::TaskStarted))
    );
    let a = at(TaskState::Running, 1, 0);
    assert_eq!(
        a.finish(Outcome::Succeeded, &rules(0), false, 10),
        Change::Ended {
            attempt_state: TaskState::Succeeded,
            state: TaskState::Succeeded,
            retries_used: 0,
            after: After::Final(TaskEnd::Succeeded),
            event: EventKind::TaskSucceeded,
        }
    );
}

#[test]
fn a_success_may_overtake_its_start() {
    let a = at(TaskState::Dispatched, 1, 0);
    assert!(matches!(
        a.finish(Outcome::Succeeded, &rules(0), false, 10),
        Change::Ended {
            state: TaskState::Succeeded,
            ..
        }
    ));
    assert!(matches!(
        at(TaskState::Running, 1, 0).start(),
        Change::Stale(_)
    ));
}

#[test]
fn a_failure_waits_for_its_retry_interval_then_queues_the_next_attempt() {
    let a = at(TaskState::Running, 1, 0);
    assert_eq!(
        a.finish(Outcome::Failed, &rules(2), false, 1_000_000),
        Change::Ended {
            attempt_state: TaskState::Failed,
            state: TaskState::RetryWait,
            retries_used: 1,
            after: After::RetryAt { due_us: 3_000_000 },
            event: EventKind::TaskRetrying,
        }
    );
    let waiting = at(TaskState::RetryWait, 1, 1);
    assert_eq!(waiting.retry_due(), Change::Queued { number: 2 });
    assert!(matches!(
        at(TaskState::Running, 2, 1).retry_due(),
        Change::Stale(_)
    ));
}

#[test]
fn the_last_failure_fails_the_task() {
    let a = at(TaskState::Running, 3, 2);
    assert_eq!(
        a.finish(Outcome::Failed, &rules(2), false, 5),
        Change::Ended {
            attempt_state: TaskState::Failed,
            state: TaskState::Failed,
            retries_used: 3,
            after: After::Final(TaskEnd::Failed),
            event: EventKind::TaskFailed,
        }
    );
}

#[test]
fn an_ending_instance_retries_nothing() {
    let a = at(TaskState::Running, 1, 0);
    let change = a.finish(Outcome::Failed, &rules(5), true, 5);
    assert!(
        matches!(
            change,
            Change::Ended {
                after: After::Final(TaskEnd::Failed),
                ..
            }
        ),
        "{change:?}"
    );
}

#[test]
fn a_report_about_an_ended_attempt_is_stale() {
    for state in [
        TaskState::Succeeded,
        TaskState::RetryWait,
        TaskState::Killed,
    ] {
        let a = at(state, 1, 0);
        assert!(matches!(
            a.finish(Outcome::Failed, &rules(1), false, 5),
            Change::Stale(_)
        ));
    }
}

fn refused(refusal: Refusal) -> DispatchFailure {
    DispatchFailure::Refused {
        refusal,
        reason: "as the worker says".into(),
    }
}

#[test]
fn a_refused_dispatch_queues_the_same_attempt_and_an_unreachable_one_the_next() {
    let a = at(TaskState::Dispatched, 4, 1);
    for refusal in [Refusal::Busy, Refusal::Stale] {
        assert_eq!(
            a.dispatch_failed(&refused(refusal), &rules(0), false, 5),
            Change::Queued { number: 4 }
        );
    }
    assert_eq!(
        a.dispatch_failed(
            &DispatchFailure::Unreachable("timed out".into()),
            &rules(0),
            false,
            5
        ),
        Change::Ended {
            attempt_state: TaskState::NeedFailover,
            state: TaskState::NeedFailover,
            retries_used: 1,
            after: After::Requeue { next: 5 },
            event: EventKind::TaskNeedFailover,
        }
    );
    let running = at(TaskState::Running, 4, 1);
    assert!(matches!(
        running.dispatch_failed(&refused(Refusal::Stale), &rules(0), false, 5),
        Change::Stale(_)
    ));
}

#[test]
fn an_unrunnable_dispatch_fails_the_attempt_under_its_retries() {
    let a = at(TaskState::Dispatched, 1, 0);
    let unrunnable = refused(Refusal::Unrunnable);
    assert_eq!(
        a.dispatch_failed(&unrunnable, &rules(1), false, 5),
        a.finish(Outcome::Failed, &rules(1), false, 5)
    );
    assert!(matches!(
        a.dispatch_failed(&unrunnable, &rules(1), false, 5),
        Change::Ended {
            after: After::RetryAt { .. },
            event: EventKind::TaskRetrying,
            ..
        }
    ));
    assert!(matches!(
        a.dispatch_failed(&unrunnable, &rules(0), false, 5),
        Change::Ended {
            after: After::Final(TaskEnd::Failed),
            event: EventKind::TaskFailed,
            ..
        }
    ));
}

#[test]
fn a_lost_worker_reruns_the_attempt_or_fails_the_task_by_policy() {
    let a = at(TaskState::Running, 1, 0);
    assert!(matches!(
        a.lose(&rules(0)),
        Change::Ended {
            after: After::Requeue { next: 2 },
            retries_used: 0,
            ..
        }
    ));
    let fail = Rules {
        failover: FailoverPolicy::Fail,
        ..rules(3)
    };
    assert_eq!(
        a.lose(&fail),
        Change::Ended {
            attempt_state: TaskState::NeedFailover,
            state: TaskState::Failed,
            retries_used: 0,
            after: After::Final(TaskEnd::Failed),
            event: EventKind::TaskNeedFailover,
        }
    );
    assert!(matches!(
        at(TaskState::Submitted, 1, 0).lose(&rules(0)),
        Change::Stale(_)
    ));
}

#[test]
fn a_kill_is_sent_to_a_worker_or_cancels_what_is_not_on_one() {
    assert_eq!(at(TaskState::Running, 1, 0).kill(), Change::SendKill);
    assert_eq!(at(TaskState::Dispatched, 1, 0).kill(), Change::SendKill);
    for state in [
        TaskState::Submitted,
        TaskState::RetryWait,
        TaskState::Paused,
    ] {
        assert!(matches!(
            at(state, 1, 0).kill(),
            Change::Ended {
                state: TaskState::Killed,
                after: After::Final(TaskEnd::Killed),
                event: EventKind::TaskKilled,
                ..
            }
        ));
    }
    assert!(matches!(
        at(TaskState::Succeeded, 1, 0).kill(),
        Change::Stale(_)
    ));
}

#[test]
fn a_pause_holds_a_retry_and_the_resume_runs_the_next_attempt() {
    let waiting = at(TaskState::RetryWait, 1, 1);
    assert_eq!(waiting.hold(), Change::moved(TaskState::Paused, None));
    let held = Attempt {
        state: TaskState::Paused,
        ..waiting
    };
    assert_eq!(held.hold(), Change::Stale("the task is held already"));
    assert_eq!(held.release(), Change::Queued { number: 2 });
    // A queued attempt that never ran runs as itself.
    let queued = at(TaskState::Submitted, 1, 0);
    let held = Attempt {
        state: TaskState::Paused,
        ..queued
    };
    assert_eq!(held.release(), Change::Queued { number: 1 });
    assert!(matches!(
        at(TaskState::Running, 1, 0).hold(),
        Change::Stale(_)
    ));
}

#[test]
fn an_attempt_that_cannot_be_prepared_fails_without_retry() {
    assert!(matches!(
        at(TaskState::Submitted, 1, 0).fail_to_prepare(),
        Change::Ended {
            state: TaskState::Failed,
            after: After::Final(TaskEnd::Failed),
            ..
        }
    ));
}

#[test]
fn a_huge_retry_interval_saturates_instead_of_wrapping() {
    let long = Rules {
        retry_interval: Duration::MAX,
        ..rules(1)
    };
    let change = at(TaskState::Running, 1, 0).finish(Outcome::Failed, &long, false, 7);
    assert!(matches!(
        change,
        Change::Ended {
            after: After::RetryAt { due_us: i64::MAX },
            ..
        }
    ));
}

#[test]
fn a_logic_task_runs_in_the_master_and_its_failure_is_not_a_retry() {
    let queued = at(TaskState::Submitted, 1, 0);
    assert_eq!(
        queued.begin_in_master(),
        Change::moved(TaskState::Running, Some(EventKind::TaskStarted))
    );
    let running = at(TaskState::Running, 1, 0);
    assert!(matches!(
        running.end_in_master(TaskEnd::Failed),
        Change::Ended {
            state: TaskState::Failed,
            retries_used: 0,
            after: After::Final(TaskEnd::Failed),
            event: EventKind::TaskFailed,
            ..
        }
    ));
    assert!(matches!(
        at(TaskState::Succeeded, 1, 0).end_in_master(TaskEnd::Killed),
        Change::Stale(_)
    ));
}

#[test]
fn a_recover_reopens_failed_killed_and_lost_tasks_only() {
    for state in [
        TaskState::Failed,
        TaskState::Killed,
        TaskState::NeedFailover,
    ] {
        assert_eq!(at(state, 2, 1).reopen(), Change::Reopened { number: 3 });
    }
    assert!(matches!(
        at(TaskState::Succeeded, 1, 0).reopen(),
        Change::Stale(_)
    ));
}

#[test]
fn a_running_service_reports_up_and_restarts_without_changing_its_row() {
    let running = at(TaskState::Running, 1, 0);
    assert_eq!(running.healthy(), Change::Up);
    assert_eq!(running.restarted(), Change::Restarted);
    for state in [
        TaskState::Submitted,
        TaskState::Dispatched,
        TaskState::Succeeded,
        TaskState::Killed,
        TaskState::NeedFailover,
    ] {
        assert!(
            matches!(at(state, 1, 0).healthy(), Change::Stale(_)),
            "{state}"
        );
        assert!(
            matches!(at(state, 1, 0).restarted(), Change::Stale(_)),
            "{state}"
        );
    }
}

#[test]
fn a_service_is_relaunched_when_its_worker_is_lost_and_its_end_follows_its_retries() {
    let spec = crate::spec::WorkflowSpec::from_yaml(
        "name: w\ntasks:\n  - {name: s, type: service, command: x, retries: 1}\n",
        "t",
    )
    .unwrap();
    let mut task = spec.tasks[0].clone();
    // Even a definition saying otherwise (a file cannot) reruns a service.
    task.failover = FailoverPolicy::Fail;
    let rules = Rules::of(&task);
    assert_eq!(rules.failover, FailoverPolicy::Rerun);
    let lost = at(TaskState::Running, 1, 0).lose(&rules);
    assert!(
        matches!(
            lost,
            Change::Ended {
                after: After::Requeue { next: 2 },
                ..
            }
        ),
        "{lost:?}"
    );
    // Its process ended for good (restart: never): a failure is retried, then final.
    let failed = at(TaskState::Running, 1, 0).finish(Outcome::Failed, &rules, false, 0);
    assert!(matches!(
        failed,
        Change::Ended {
            after: After::RetryAt { .. },
            ..
        }
    ));
    let failed = at(TaskState::Running, 2, 1).finish(Outcome::Failed, &rules, false, 0);
    assert!(matches!(
        failed,
        Change::Ended {
            after: After::Final(TaskEnd::Failed),
            ..
        }
    ));
    assert_eq!(at(TaskState::Running, 1, 0).kill(), Change::SendKill);
}

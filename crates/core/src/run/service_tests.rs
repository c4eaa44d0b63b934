//! The state machine with services: their downstream starts once they are up, the instance
//! runs on while they do, and a stop or the failure strategy ends them.

use super::*;
use crate::spec::WorkflowSpec;

fn run(yaml: &str) -> InstanceRun {
    let spec = WorkflowSpec::from_yaml(yaml, "t").unwrap();
    InstanceRun::new(Arc::new(Dag::new(&spec)), spec.failure_strategy)
}

/// server (service) -> check, and prep -> check; other alone.
fn server(strategy: &str) -> InstanceRun {
    run(&format!(
        "name: w
failure_strategy: {strategy}
tasks:
  - {{name: server, type: service, command: ./serve}}
  - {{name: prep, type: noop}}
  - {{name: check, type: noop, depends_on: [server, prep]}}
"
    ))
}
const SERVER: usize = 0;
const PREP: usize = 1;
const CHECK: usize = 2;

#[test]
fn downstream_starts_once_the_service_is_up_and_the_instance_runs_on() {
    let mut r = server("end");
    assert_eq!(r.start(), vec![Step::Run(SERVER), Step::Run(PREP)]);
    assert_eq!(
        r.succeeded(PREP),
        vec![],
        "check waits for the server to be up"
    );
    assert_eq!(r.healthy(SERVER), vec![Step::Run(CHECK)]);
    assert_eq!(r.node(SERVER), Node::Active);
    assert!(r.is_up(SERVER));
    assert_eq!(
        r.healthy(SERVER),
        vec![],
        "up again after a restart: nothing new"
    );
    assert_eq!(
        r.succeeded(CHECK),
        vec![],
        "the instance runs while the service does"
    );
    assert!(!r.is_finished());
    assert_eq!(r.stop(), vec![Step::Kill(SERVER)]);
    assert_eq!(r.killed(SERVER), vec![Step::Finish(WorkflowState::Stopped)]);
}

#[test]
fn a_service_that_ends_for_good_does_not_release_its_downstream_twice() {
    let mut r = server("end");
    r.start();
    r.healthy(SERVER);
    assert_eq!(r.succeeded(SERVER), vec![], "check waits for prep still");
    assert_eq!(r.succeeded(PREP), vec![Step::Run(CHECK)]);
    assert_eq!(
        r.succeeded(CHECK),
        vec![Step::Finish(WorkflowState::Succeeded)]
    );
}

#[test]
fn a_service_that_ends_before_it_was_up_releases_its_downstream_on_success_only() {
    let mut r = server("continue");
    r.start();
    r.succeeded(PREP);
    assert_eq!(r.succeeded(SERVER), vec![Step::Run(CHECK)]);
    let mut r = server("continue");
    r.start();
    r.succeeded(PREP);
    assert_eq!(r.failed(SERVER), vec![Step::Finish(WorkflowState::Failed)]);
    assert_eq!(r.node(CHECK), Node::Waiting);
}

#[test]
fn a_failed_downstream_under_end_kills_the_service() {
    let mut r = server("end");
    r.start();
    r.succeeded(PREP);
    r.healthy(SERVER);
    assert_eq!(r.failed(CHECK), vec![Step::Kill(SERVER)]);
    assert_eq!(r.killed(SERVER), vec![Step::Finish(WorkflowState::Failed)]);
}

#[test]
fn a_failed_up_service_fails_the_instance_under_end() {
    let mut r = server("end");
    r.start();
    r.succeeded(PREP);
    r.healthy(SERVER);
    assert_eq!(r.failed(SERVER), vec![Step::Kill(CHECK)]);
    assert_eq!(r.killed(CHECK), vec![Step::Finish(WorkflowState::Failed)]);
}

#[test]
fn a_pause_lets_an_up_service_run_on() {
    let mut r = server("end");
    r.start();
    assert_eq!(r.pause(), vec![]);
    assert_eq!(
        r.succeeded(PREP),
        vec![],
        "the server is not up yet: pausing"
    );
    assert_eq!(
        r.healthy(SERVER),
        vec![Step::Paused],
        "check waits for the resume"
    );
    assert_eq!(r.resume(), vec![Step::Run(CHECK)]);
    // Relaunched after a lost worker while paused: held, counted once.
    let mut r = server("end");
    r.start();
    r.healthy(SERVER);
    r.succeeded(PREP);
    r.pause();
    assert_eq!(r.hold(SERVER), vec![], "check still runs");
    assert_eq!(r.succeeded(CHECK), vec![Step::Paused]);
    assert_eq!(r.release_held(), vec![SERVER]);
}

#[test]
fn a_restored_up_service_counts_as_met() {
    let r0 = server("end");
    let nodes = vec![Node::Active, Node::Active, Node::Waiting];
    let mut r = InstanceRun::restore(r0.dag().clone(), FailureStrategy::End, nodes, false);
    r.restore_up(SERVER);
    assert_eq!(r.start(), vec![]);
    assert_eq!(r.succeeded(PREP), vec![Step::Run(CHECK)]);
    assert_eq!(r.healthy(SERVER), vec![], "up already");
}

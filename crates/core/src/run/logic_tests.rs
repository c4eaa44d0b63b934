//! The state machine with branching tasks: skipped branches, joins after them, failures
//! handled by a conditions task, and pauses that pass into child instances.

use super::*;
use crate::spec::WorkflowSpec;

fn run(yaml: &str) -> InstanceRun {
    let spec = WorkflowSpec::from_yaml(yaml, "t").unwrap();
    InstanceRun::new(Arc::new(Dag::new(&spec)), spec.failure_strategy)
}

/// count -> route (switch) -> big | small | none (default); join after big and small;
/// after_none only after none.
const SWITCH: &str = "name: w
tasks:
  - {name: count, type: noop}
  - name: route
    type: switch
    depends_on: [count]
    cases:
      - {when: '${rows} > 100', then: big}
      - {when: '${rows} > 0', then: small}
    default: none
  - {name: big, type: noop}
  - {name: small, type: noop}
  - {name: none, type: noop}
  - {name: join, type: noop, depends_on: [big, small]}
  - {name: after_none, type: noop, depends_on: [none]}
";
const COUNT: usize = 0;
const ROUTE: usize = 1;
const BIG: usize = 2;
const SMALL: usize = 3;
const NONE: usize = 4;
const JOIN: usize = 5;
const AFTER_NONE: usize = 6;

#[test]
fn a_switch_runs_one_branch_and_skips_the_others() {
    let mut r = run(SWITCH);
    assert_eq!(r.start(), vec![Step::Run(COUNT)]);
    assert_eq!(r.succeeded(COUNT), vec![Step::Run(ROUTE)]);
    assert_eq!(
        r.branch(ROUTE, Some(1)),
        vec![
            Step::Skip(BIG),
            Step::Skip(NONE),
            Step::Skip(AFTER_NONE),
            Step::Run(SMALL)
        ]
    );
    assert_eq!(r.node(BIG), Node::Skipped);
    assert_eq!(r.node(NONE), Node::Skipped);
    assert_eq!(
        r.node(AFTER_NONE),
        Node::Skipped,
        "after only skipped tasks: skipped"
    );
    assert_eq!(
        r.succeeded(SMALL),
        vec![Step::Run(JOIN)],
        "a join after a taken branch runs"
    );
    assert_eq!(
        r.succeeded(JOIN),
        vec![Step::Finish(WorkflowState::Succeeded)]
    );
}

#[test]
fn the_default_branch_and_no_branch_at_all() {
    let mut r = run(SWITCH);
    r.start();
    r.succeeded(COUNT);
    assert_eq!(
        r.branch(ROUTE, Some(2)),
        vec![
            Step::Skip(BIG),
            Step::Skip(SMALL),
            Step::Skip(JOIN),
            Step::Run(NONE)
        ]
    );
    assert_eq!(
        r.node(JOIN),
        Node::Skipped,
        "both its branches were skipped"
    );
    assert_eq!(r.succeeded(NONE), vec![Step::Run(AFTER_NONE)]);
    assert_eq!(
        r.succeeded(AFTER_NONE),
        vec![Step::Finish(WorkflowState::Succeeded)]
    );

    let mut r = run(SWITCH);
    r.start();
    r.succeeded(COUNT);
    let steps = r.branch(ROUTE, None);
    assert_eq!(steps.len(), 6, "{steps:?}");
    assert_eq!(steps[5], Step::Finish(WorkflowState::Succeeded));
}

/// load -> check (conditions) -> publish | alert
const CONDITIONS: &str = "name: w
failure_strategy: end
tasks:
  - {name: load, type: noop}
  - {name: other, type: noop}
  - {name: check, type: conditions, depends_on: [load], success: publish, failure: [alert]}
  - {name: publish, type: noop}
  - {name: alert, type: noop}
";
const LOAD: usize = 0;
const OTHER: usize = 1;
const CHECK: usize = 2;
const PUBLISH: usize = 3;
const ALERT: usize = 4;

#[test]
fn a_failure_before_conditions_takes_the_failure_branch_and_is_handled() {
    let mut r = run(CONDITIONS);
    assert_eq!(r.start(), vec![Step::Run(LOAD), Step::Run(OTHER)]);
    // Under `failure_strategy: end`, a handled failure kills nothing.
    assert_eq!(r.failed(LOAD), vec![Step::Run(CHECK)]);
    assert_eq!(
        r.branch(CHECK, Some(1)),
        vec![Step::Skip(PUBLISH), Step::Run(ALERT)]
    );
    assert_eq!(r.node(PUBLISH), Node::Skipped);
    r.succeeded(ALERT);
    assert_eq!(
        r.succeeded(OTHER),
        vec![Step::Finish(WorkflowState::Succeeded)]
    );
}

#[test]
fn conditions_wait_for_every_upstream_end() {
    let mut r = run("name: w
tasks:
  - {name: a, type: noop}
  - {name: b, type: noop}
  - {name: c, type: conditions, depends_on: [a, b], success: ok}
  - {name: ok, type: noop}
");
    r.start();
    assert_eq!(r.succeeded(0), vec![]);
    assert_eq!(r.failed(1), vec![Step::Run(2)]);
    assert_eq!(
        r.branch(2, Some(1)),
        vec![Step::Skip(3), Step::Finish(WorkflowState::Succeeded)]
    );
    assert_eq!(r.node(3), Node::Skipped);
}

#[test]
fn an_unhandled_failure_still_fails_fast() {
    let mut r = run("name: w
failure_strategy: end
tasks:
  - {name: a, type: noop}
  - {name: b, type: noop, depends_on: [a]}
  - {name: c, type: conditions, depends_on: [a], success: d}
  - {name: d, type: noop}
  - {name: e, type: noop}
");
    r.start();
    assert_eq!(
        r.failed(0),
        vec![Step::Kill(4)],
        "b after a is not a conditions task"
    );
    assert_eq!(r.killed(4), vec![Step::Finish(WorkflowState::Failed)]);
}

#[test]
fn restore_keeps_skipped_tasks_and_their_joins() {
    let r0 = run(SWITCH);
    let nodes = vec![
        Node::Succeeded,
        Node::Succeeded,
        Node::Skipped,
        Node::Active,
        Node::Skipped,
        Node::Waiting,
        Node::Skipped,
    ];
    let mut r = InstanceRun::restore(r0.dag().clone(), FailureStrategy::End, nodes, false);
    assert_eq!(r.start(), vec![]);
    assert_eq!(r.succeeded(SMALL), vec![Step::Run(JOIN)]);
}

#[test]
fn a_pause_passes_into_child_instances() {
    let mut r = run("name: w
tasks:
  - {name: child, type: sub_workflow, workflow: other}
  - {name: after, type: noop, depends_on: [child]}
");
    assert_eq!(r.start(), vec![Step::Run(0)]);
    assert_eq!(r.pause(), vec![Step::Paused], "only a child instance runs");
    assert_eq!(r.resume(), vec![]);
    assert_eq!(r.succeeded(0), vec![Step::Run(1)]);
}

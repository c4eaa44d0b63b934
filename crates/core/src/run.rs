//! The rules of one running workflow instance, as a pure state machine: the engine feeds it
//! what happened (a task ended, a stop was asked) and performs the steps it returns. Retries
//! are below this level: a task is "active" here from its first attempt to its last.

pub mod broadcast;
pub mod map;
pub mod map_reduce;

use crate::dag::{Dag, TaskIndex};
use crate::spec::FailureStrategy;
use crate::state::WorkflowState;
use std::sync::Arc;

/// Where one task of the DAG stands, from the instance's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// Not started: its dependencies have not all succeeded (or the instance is ending).
    Waiting,
    /// Started: an attempt is queued, running, or waiting for a retry.
    Active,
    /// Ended well.
    Succeeded,
    /// Ended badly after its retries.
    Failed,
    /// Killed by a stop or the failure strategy.
    Killed,
    /// Not run: on a branch not taken, or after tasks that were all skipped.
    Skipped,
}

/// What the engine must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Start the task's first attempt.
    Run(TaskIndex),
    /// Kill the task's current attempt (or cancel it if it is not on a worker).
    Kill(TaskIndex),
    /// Record the task as skipped: on a branch not taken, or after skipped tasks only.
    Skip(TaskIndex),
    /// The instance is over, in this state.
    Finish(WorkflowState),
    /// A pausing instance has nothing running any more: it is paused.
    Paused,
}

/// Why the instance is winding down, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// A user asked for a stop.
    Stop,
    /// A task failed under `failure_strategy: end`.
    FailFast,
}

/// The DAG state of one workflow instance.
#[derive(Debug, Clone)]
pub struct InstanceRun {
    dag: Arc<Dag>,
    strategy: FailureStrategy,
    nodes: Vec<Node>,
    /// Per task, how many of its dependencies are not met yet (succeeded or skipped; for a
    /// task that runs after its upstream ends, failed too).
    unmet: Vec<usize>,
    /// Per task, how many of its dependencies were not skipped: a task after only skipped
    /// tasks is skipped too.
    live: Vec<usize>,
    /// How many nodes are active.
    active: usize,
    ending: Option<Ending>,
    finished: bool,
    /// Paused (or pausing): nothing new starts until resumed.
    paused: bool,
    /// Per task, whether a pause holds it (active, but not on a worker: queued, or waiting
    /// for a retry). The instance is paused once every active task is held.
    held: Vec<bool>,
    /// How many tasks are held.
    held_count: usize,
    /// How many active tasks a pause passes into (child instances).
    pass_active: usize,
    /// Per task, whether it is a service that was up once in this run: its successors were
    /// released then, while it stays active (see [`InstanceRun::healthy`]).
    up: Vec<bool>,
    /// How many active tasks are up services: a pause lets them run on.
    up_active: usize,
    /// How many of those a pause holds (relaunched after a lost worker, not on one yet), so
    /// that they are not counted twice.
    up_held: usize,
}

impl InstanceRun {
    /// A fresh instance: nothing started.
    pub fn new(dag: Arc<Dag>, strategy: FailureStrategy) -> InstanceRun {
        let nodes = vec![Node::Waiting; dag.len()];
        InstanceRun::with_nodes(dag, strategy, nodes)
    }

    fn with_nodes(dag: Arc<Dag>, strategy: FailureStrategy, nodes: Vec<Node>) -> InstanceRun {
        let unmet = (0..nodes.len())
            .map(|t| {
                let preds = dag.predecessors(t);
                preds.iter().filter(|p| !met(&dag, nodes[**p], t)).count()
            })
            .collect();
        let live = (0..nodes.len())
            .map(|t| {
                let preds = dag.predecessors(t);
                preds.iter().filter(|p| nodes[**p] != Node::Skipped).count()
            })
            .collect();
        let active = nodes.iter().filter(|n| **n == Node::Active).count();
        let held = vec![false; nodes.len()];
        let up = vec![false; nodes.len()];
        let pass_active = (0..nodes.len())
            .filter(|t| nodes[*t] == Node::Active && dag.passes_pause(*t))
            .count();
        InstanceRun {
            dag,
            strategy,
            nodes,
            unmet,
            live,
            active,
            ending: None,
            finished: false,
            paused: false,
            held,
            held_count: 0,
            pass_active,
            up,
            up_active: 0,
            up_held: 0,
        }
    }

    /// An instance rebuilt from the store after a restart: `nodes` as recorded; `stopping`
    /// if a stop was under way.
    pub fn restore(
        dag: Arc<Dag>,
        strategy: FailureStrategy,
        nodes: Vec<Node>,
        stopping: bool,
    ) -> InstanceRun {
        assert_eq!(nodes.len(), dag.len(), "one node per task");
        let mut run = InstanceRun::with_nodes(dag, strategy, nodes);
        if stopping {
            run.ending = Some(Ending::Stop);
        } else if strategy == FailureStrategy::End
            && run
                .nodes
                .iter()
                .any(|n| matches!(n, Node::Failed | Node::Killed))
        {
            run.ending = Some(Ending::FailFast);
        }
        run
    }

    /// The graph this instance runs.
    pub fn dag(&self) -> &Arc<Dag> {
        &self.dag
    }

    /// The state of one task.
    pub fn node(&self, task: TaskIndex) -> Node {
        self.nodes[task]
    }

    /// True while the instance winds down (stop or fail-fast): no new attempt may start,
    /// not even a retry.
    pub fn is_ending(&self) -> bool {
        self.ending.is_some()
    }

    /// True once a `Finish` step has been returned.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Starts (or, after [`InstanceRun::restore`], resumes) the instance: every task whose
    /// dependencies have all succeeded is run; a stop or fail-fast under way is carried on.
    pub fn start(&mut self) -> Vec<Step> {
        let mut steps = Vec::new();
        if self.ending.is_some() {
            steps.extend(self.kill_active());
        } else if !self.paused {
            for task in 0..self.nodes.len() {
                self.try_ready(task, &mut steps);
            }
        }
        steps.extend(self.settle());
        steps
    }

    /// The task's last attempt succeeded: its successors whose dependencies are now all met
    /// run (unless it is a service that released them when it was up).
    pub fn succeeded(&mut self, task: TaskIndex) -> Vec<Step> {
        let was_up = self.up[task];
        if !self.end_active(task, Node::Succeeded) {
            return Vec::new();
        }
        let mut steps = Vec::new();
        if !was_up {
            self.release(task, |_| true, &mut steps);
        }
        steps.extend(self.settle());
        steps
    }

    /// A branching task (`conditions`, `switch`) decided: it succeeded, the tasks of branch
    /// `chosen` may run, and those of the other branches (and of none, for `None`) are
    /// skipped, with what comes after only them.
    pub fn branch(&mut self, task: TaskIndex, chosen: Option<usize>) -> Vec<Step> {
        if !self.end_active(task, Node::Succeeded) {
            return Vec::new();
        }
        let dag = self.dag.clone();
        let branches = dag.branches(task);
        let taken: &[TaskIndex] = chosen.and_then(|c| branches.get(c)).map_or(&[], |b| b);
        let mut steps = Vec::new();
        for (i, branch) in branches.iter().enumerate() {
            if Some(i) == chosen {
                continue;
            }
            for &x in branch {
                if !taken.contains(&x) && self.nodes[x] == Node::Waiting {
                    self.skip(x, &mut steps);
                }
            }
        }
        self.release(task, |_| true, &mut steps);
        steps.extend(self.settle());
        steps
    }

    /// `task` is done for the tasks after it that `counts`: they may be ready now.
    fn release(
        &mut self,
        task: TaskIndex,
        counts: impl Fn(TaskIndex) -> bool,
        steps: &mut Vec<Step>,
    ) {
        let dag = self.dag.clone();
        for &next in dag.successors(task) {
            if counts(next) {
                self.unmet[next] -= 1;
                self.try_ready(next, steps);
            }
        }
    }

    /// Runs (or skips, if everything before it was skipped) a waiting task whose
    /// dependencies are met, unless the instance is ending or paused.
    fn try_ready(&mut self, task: TaskIndex, steps: &mut Vec<Step>) {
        if self.ending.is_some()
            || self.paused
            || self.nodes[task] != Node::Waiting
            || self.unmet[task] != 0
        {
            return;
        }
        if self.live[task] == 0 && !self.dag.predecessors(task).is_empty() {
            self.skip(task, steps);
        } else {
            self.activate(task);
            steps.push(Step::Run(task));
        }
    }

    /// Marks a waiting task skipped; what comes after it may be ready (or skipped) now.
    fn skip(&mut self, task: TaskIndex, steps: &mut Vec<Step>) {
        self.nodes[task] = Node::Skipped;
        steps.push(Step::Skip(task));
        let dag = self.dag.clone();
        for &next in dag.successors(task) {
            self.unmet[next] -= 1;
            self.live[next] -= 1;
            self.try_ready(next, steps);
        }
    }

    /// The task failed and has no retry left.
    pub fn failed(&mut self, task: TaskIndex) -> Vec<Step> {
        let was_up = self.up[task];
        if !self.end_active(task, Node::Failed) {
            return Vec::new();
        }
        let mut steps = Vec::new();
        let handled = self.dag.failure_is_handled(task);
        if self.strategy == FailureStrategy::End && self.ending.is_none() && !handled {
            self.ending = Some(Ending::FailFast);
            steps.extend(self.kill_active());
        }
        // Tasks that run after their upstream ends (conditions) count a failure as an end;
        // an up service released its successors already.
        let dag = self.dag.clone();
        if !was_up {
            self.release(task, |next| dag.runs_after_end(next), &mut steps);
        }
        steps.extend(self.settle());
        steps
    }

    /// The task's attempt was killed (after a `Kill` step, or by someone outside).
    pub fn killed(&mut self, task: TaskIndex) -> Vec<Step> {
        if !self.end_active(task, Node::Killed) {
            return Vec::new();
        }
        let mut steps = Vec::new();
        if self.ending.is_none() {
            // A kill nobody asked for counts as a failure.
            if self.strategy == FailureStrategy::End {
                self.ending = Some(Ending::FailFast);
                steps.extend(self.kill_active());
            }
        }
        steps.extend(self.settle());
        steps
    }

    /// A service is up (started, and healthy by its check): the tasks after it whose
    /// dependencies are now all met run, while it stays active. Only its first time up in this
    /// run counts: a service restarted, or relaunched on another worker, released them then.
    /// The instance does not finish while a service runs: it ends when stopped, when the
    /// failure strategy kills the rest, or when the service ends for good.
    pub fn healthy(&mut self, task: TaskIndex) -> Vec<Step> {
        if self.finished || self.nodes[task] != Node::Active || self.up[task] {
            return Vec::new();
        }
        self.mark_up(task);
        let mut steps = Vec::new();
        self.release(task, |_| true, &mut steps);
        steps.extend(self.settle());
        steps
    }

    /// Marks a restored instance's active service as up before [`InstanceRun::start`] (it
    /// was up before the store was read): its successors count it as met.
    pub fn restore_up(&mut self, task: TaskIndex) {
        if self.nodes[task] != Node::Active || self.up[task] {
            return;
        }
        self.mark_up(task);
        let dag = self.dag.clone();
        for &next in dag.successors(task) {
            self.unmet[next] -= 1;
        }
    }

    /// True when the task is a service that was up in this run.
    pub fn is_up(&self, task: TaskIndex) -> bool {
        self.up[task]
    }

    fn mark_up(&mut self, task: TaskIndex) {
        self.up[task] = true;
        self.up_active += 1;
    }

    /// A user asked to pause: running tasks finish (up services run on), nothing new starts.
    pub fn pause(&mut self) -> Vec<Step> {
        if self.finished || self.paused || self.ending.is_some() {
            return Vec::new();
        }
        self.paused = true;
        self.settle()
    }

    /// A paused instance runs on: every task whose dependencies have succeeded starts.
    pub fn resume(&mut self) -> Vec<Step> {
        if self.finished || !self.paused {
            return Vec::new();
        }
        self.paused = false;
        self.start()
    }

    /// A pause holds an active task that is not on a worker (the engine keeps it off the
    /// queue): the instance may be paused now.
    pub fn hold(&mut self, task: TaskIndex) -> Vec<Step> {
        if !self.paused || self.nodes[task] != Node::Active || self.held[task] {
            return Vec::new();
        }
        self.held[task] = true;
        self.held_count += 1;
        self.up_held += usize::from(self.up[task]);
        self.settle()
    }

    /// The tasks held by the pause, released (on resume, the engine queues them again).
    pub fn release_held(&mut self) -> Vec<TaskIndex> {
        let held: Vec<TaskIndex> = (0..self.held.len()).filter(|t| self.held[*t]).collect();
        self.held.iter_mut().for_each(|h| *h = false);
        self.held_count = 0;
        self.up_held = 0;
        held
    }

    /// True when a pause holds the task.
    pub fn is_held(&self, task: TaskIndex) -> bool {
        self.held[task]
    }

    /// Marks a restored instance as paused (it was pausing or paused when the store was read).
    pub fn restore_paused(&mut self) {
        self.paused = true;
    }

    /// True while paused or pausing.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// A user asked to stop: kill everything active, start nothing new.
    pub fn stop(&mut self) -> Vec<Step> {
        if self.finished || self.ending == Some(Ending::Stop) {
            return Vec::new();
        }
        self.ending = Some(Ending::Stop);
        let mut steps = self.kill_active();
        steps.extend(self.settle());
        steps
    }

    fn end_active(&mut self, task: TaskIndex, to: Node) -> bool {
        if self.finished || self.nodes[task] != Node::Active {
            return false;
        }
        if std::mem::replace(&mut self.held[task], false) {
            self.held_count -= 1;
            self.up_held -= usize::from(self.up[task]);
        }
        if self.dag.passes_pause(task) {
            self.pass_active -= 1;
        }
        if self.up[task] {
            self.up_active -= 1;
        }
        self.nodes[task] = to;
        self.active -= 1;
        true
    }

    fn activate(&mut self, task: TaskIndex) {
        self.nodes[task] = Node::Active;
        self.active += 1;
        if self.dag.passes_pause(task) {
            self.pass_active += 1;
        }
    }

    fn kill_active(&self) -> Vec<Step> {
        (0..self.nodes.len())
            .filter(|t| self.nodes[*t] == Node::Active)
            .map(Step::Kill)
            .collect()
    }

    /// Ends the instance when nothing is active any more.
    fn settle(&mut self) -> Vec<Step> {
        if self.finished {
            return Vec::new();
        }
        if self.active > 0 {
            // Every active task held, a child instance the pause passed into, or an up
            // service: paused. (Counted, not scanned: this runs after every event of a large
            // instance.)
            if self.paused
                && self.ending.is_none()
                && self.active == self.held_count + self.pass_active + self.up_active - self.up_held
            {
                return vec![Step::Paused];
            }
            return Vec::new();
        }
        let runnable =
            || (0..self.nodes.len()).any(|t| self.nodes[t] == Node::Waiting && self.unmet[t] == 0);
        if self.paused && self.ending.is_none() && runnable() {
            return vec![Step::Paused];
        }
        self.finished = true;
        let outcome = if self.ending == Some(Ending::Stop) {
            WorkflowState::Stopped
        } else if (0..self.nodes.len()).all(|t| match self.nodes[t] {
            Node::Succeeded | Node::Skipped => true,
            // A failure that took a conditions branch was handled.
            Node::Failed => self.dag.failure_is_handled(t),
            _ => false,
        }) {
            WorkflowState::Succeeded
        } else {
            WorkflowState::Failed
        };
        vec![Step::Finish(outcome)]
    }
}

/// Whether a dependency in state `node` is met for `task`.
fn met(dag: &Dag, node: Node, task: TaskIndex) -> bool {
    match node {
        Node::Succeeded | Node::Skipped => true,
        Node::Failed => dag.runs_after_end(task),
        _ => false,
    }
}

#[cfg(test)]
mod logic_tests;

#[cfg(test)]
mod service_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::WorkflowSpec;

    /// a -> b -> d, a -> c -> d, and e alone.
    fn diamond(strategy: &str) -> InstanceRun {
        let spec = WorkflowSpec::from_yaml(
            &format!(
                "name: w\nfailure_strategy: {strategy}\ntasks:\n  - {{name: a, type: noop}}\n  - {{name: b, type: noop, depends_on: [a]}}\n  - {{name: c, type: noop, depends_on: [a]}}\n  - {{name: d, type: noop, depends_on: [b, c]}}\n  - {{name: e, type: noop}}\n"
            ),
            "t",
        )
        .unwrap();
        InstanceRun::new(Arc::new(Dag::new(&spec)), spec.failure_strategy)
    }

    const A: usize = 0;
    const B: usize = 1;
    const C: usize = 2;
    const D: usize = 3;
    const E: usize = 4;

    #[test]
    fn roots_start_and_join_waits_for_all() {
        let mut r = diamond("end");
        assert_eq!(r.start(), vec![Step::Run(A), Step::Run(E)]);
        assert_eq!(r.succeeded(A), vec![Step::Run(B), Step::Run(C)]);
        assert_eq!(r.succeeded(B), vec![]);
        assert_eq!(r.succeeded(C), vec![Step::Run(D)]);
        assert_eq!(r.succeeded(E), vec![]);
        assert_eq!(r.succeeded(D), vec![Step::Finish(WorkflowState::Succeeded)]);
        assert!(r.is_finished());
    }

    #[test]
    fn end_strategy_kills_running_tasks_then_fails() {
        let mut r = diamond("end");
        r.start();
        r.succeeded(A);
        assert_eq!(r.failed(B), vec![Step::Kill(C), Step::Kill(E)]);
        assert_eq!(r.killed(C), vec![]);
        assert_eq!(r.killed(E), vec![Step::Finish(WorkflowState::Failed)]);
        assert_eq!(r.node(D), Node::Waiting);
    }

    #[test]
    fn end_strategy_starts_nothing_after_a_failure() {
        let mut r = diamond("end");
        r.start();
        r.succeeded(A);
        r.failed(B);
        // C finished before its kill landed: D must not start.
        assert_eq!(r.succeeded(C), vec![]);
        assert_eq!(r.killed(E), vec![Step::Finish(WorkflowState::Failed)]);
    }

    #[test]
    fn continue_strategy_runs_independent_branches() {
        let mut r = diamond("continue");
        r.start();
        r.succeeded(A);
        assert_eq!(r.failed(B), vec![]);
        assert_eq!(r.succeeded(C), vec![], "d depends on the failed b");
        assert_eq!(r.succeeded(E), vec![Step::Finish(WorkflowState::Failed)]);
        assert_eq!(r.node(D), Node::Waiting);
    }

    #[test]
    fn stop_kills_active_and_ends_stopped() {
        let mut r = diamond("continue");
        r.start();
        assert_eq!(r.stop(), vec![Step::Kill(A), Step::Kill(E)]);
        assert_eq!(r.stop(), vec![], "a second stop does nothing");
        r.killed(A);
        assert_eq!(r.succeeded(E), vec![Step::Finish(WorkflowState::Stopped)]);
    }

    #[test]
    fn events_for_inactive_tasks_are_ignored() {
        let mut r = diamond("end");
        r.start();
        assert_eq!(r.succeeded(D), vec![]);
        assert_eq!(r.node(D), Node::Waiting);
        r.succeeded(A);
        assert_eq!(r.succeeded(A), vec![], "a duplicate end changes nothing");
    }

    #[test]
    fn pause_lets_running_tasks_finish_and_starts_nothing_until_resumed() {
        let mut r = diamond("end");
        r.start();
        assert_eq!(r.pause(), vec![]);
        assert_eq!(r.succeeded(A), vec![], "b and c wait");
        assert_eq!(r.succeeded(E), vec![Step::Paused]);
        assert!(!r.is_finished());
        assert_eq!(r.resume(), vec![Step::Run(B), Step::Run(C)]);
        r.succeeded(B);
        r.succeeded(C);
        assert_eq!(r.succeeded(D), vec![Step::Finish(WorkflowState::Succeeded)]);
    }

    #[test]
    fn a_paused_instance_can_be_stopped() {
        let mut r = diamond("end");
        r.start();
        r.pause();
        r.succeeded(A);
        assert_eq!(r.succeeded(E), vec![Step::Paused]);
        assert_eq!(r.stop(), vec![Step::Finish(WorkflowState::Stopped)]);
    }

    #[test]
    fn restore_resumes_where_the_store_left_off() {
        let r0 = diamond("end");
        let nodes = vec![
            Node::Succeeded,
            Node::Succeeded,
            Node::Active,
            Node::Waiting,
            Node::Succeeded,
        ];
        let mut r = InstanceRun::restore(r0.dag().clone(), FailureStrategy::End, nodes, false);
        assert_eq!(r.start(), vec![]);
        assert_eq!(r.succeeded(C), vec![Step::Run(D)]);
    }

    #[test]
    fn restore_of_a_finished_dag_finishes_at_once() {
        let r0 = diamond("end");
        let nodes = vec![Node::Succeeded; 5];
        let mut r = InstanceRun::restore(r0.dag().clone(), FailureStrategy::End, nodes, false);
        assert_eq!(r.start(), vec![Step::Finish(WorkflowState::Succeeded)]);
    }

    #[test]
    fn restore_while_stopping_kills_what_is_left() {
        let r0 = diamond("end");
        let nodes = vec![
            Node::Active,
            Node::Waiting,
            Node::Waiting,
            Node::Waiting,
            Node::Killed,
        ];
        let mut r = InstanceRun::restore(r0.dag().clone(), FailureStrategy::End, nodes, true);
        assert_eq!(r.start(), vec![Step::Kill(A)]);
        assert_eq!(r.killed(A), vec![Step::Finish(WorkflowState::Stopped)]);
    }
}

//! Whole-workflow checks on a parsed file: names, types and their fields, dependencies and
//! cycles. Every problem is collected, so a user fixes a file in one pass.

use super::file::{RawTask, RawWorkflow};
use super::{
    default_group, default_retry_interval, Problem, TaskSpec, WorkflowSpec, DEFAULT_PROJECT,
};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Names of workflows, projects, tasks, params and groups: letters, digits, `_`, `-`, `.`,
/// at most 100 characters, so that they are safe in paths, URLs and shell variables.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn at_task(task: &str, message: String) -> Problem {
    Problem {
        task: Some(task.to_string()),
        line: None,
        column: None,
        message,
    }
}

fn general(message: String) -> Problem {
    Problem {
        task: None,
        line: None,
        column: None,
        message,
    }
}

/// Checks the file as a whole, adding to the `problems` found while reading it; the checks
/// between tasks (dependencies, branches, cycles) run as far as the tasks allow.
pub(super) fn check(
    mut raw: RawWorkflow,
    mut problems: Vec<Problem>,
) -> Result<WorkflowSpec, Vec<Problem>> {
    let name = raw.name.unwrap_or_default();
    if name.is_empty() {
        problems.push(general("the workflow has no `name`".into()));
    } else if !valid_name(&name) {
        problems.push(general(format!(
            "workflow name `{name}` may only use letters, digits, `_`, `-` and `.` (at most 100)"
        )));
    }
    let project = raw.project.unwrap_or_else(|| DEFAULT_PROJECT.to_string());
    if !valid_name(&project) {
        problems.push(general(format!(
            "project `{project}` may only use letters, digits, `_`, `-` and `.` (at most 100)"
        )));
    }
    if let Some(tz) = &raw.timezone {
        if tz.parse::<chrono_tz::Tz>().is_err() {
            problems.push(general(format!(
                "unknown time zone `{tz}` (use an IANA name such as `UTC` or `Asia/Shanghai`)"
            )));
        }
    }
    if let Some(schedule) = &raw.schedule {
        problems.extend(
            schedule
                .check(raw.timezone.as_deref())
                .into_iter()
                .map(general),
        );
    }
    if raw.tasks.is_empty() {
        problems.push(general("the workflow has no `tasks`".into()));
    }
    let params = super::param_rule::read_params(std::mem::take(&mut raw.params));
    problems.extend(params.problems);
    if raw.schedule.is_some() {
        for (name, _) in params.declared.iter().filter(|(_, d)| d.required) {
            problems.push(general(format!(
                "param `{name}` is required, but a scheduled run passes no params: give it a `default`"
            )));
        }
    }

    // Every task named counts as known, even one with problems of its own, so that its
    // dependents are not reported as well.
    let known: HashSet<String> = raw.tasks.iter().filter_map(|t| t.name.clone()).collect();
    let edges: Vec<(String, Vec<String>)> = raw
        .tasks
        .iter()
        .filter_map(|t| Some((t.name.clone()?, t.depends_on.clone())))
        .collect();
    let mut tasks = Vec::with_capacity(raw.tasks.len());
    let mut all_read = true;
    let mut seen = HashSet::new();
    for (index, raw_task) in raw.tasks.into_iter().enumerate() {
        if let Some(name) = &raw_task.name {
            if !seen.insert(name.clone()) {
                problems.push(at_task(name, "the name is used by another task".into()));
            }
        }
        match check_task(index, raw_task) {
            Ok(task) => tasks.push(task),
            Err(mut p) => {
                all_read = false;
                problems.append(&mut p);
            }
        }
    }
    let dependency_problems = check_dependencies(&edges, &known);
    let dependencies_known = dependency_problems.is_empty();
    problems.extend(dependency_problems);
    if all_read && dependencies_known && seen.len() == tasks.len() {
        let logic = super::logic::check_workflow(&name, &mut tasks);
        let branches_known = logic.is_empty();
        problems.extend(logic);
        if branches_known {
            problems.extend(find_cycles(&tasks));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let spec = WorkflowSpec {
        name,
        project,
        description: raw.description.unwrap_or_default(),
        params: params.defaults,
        param_rules: params.declared,
        extra_params: raw.extra_params.unwrap_or_default(),
        failure_strategy: raw.failure_strategy.unwrap_or_default(),
        priority: raw.priority.unwrap_or_default(),
        timezone: raw.timezone,
        schedule: raw.schedule,
        tasks,
        alerts: raw.alerts,
    };
    let misplaced: Vec<Problem> = crate::params::secrets::misplaced(&spec)
        .into_iter()
        .map(|m| match &m.task {
            Some(task) => at_task(task, m.to_string()),
            None => general(m.to_string()),
        })
        .collect();
    if !misplaced.is_empty() {
        return Err(misplaced);
    }
    Ok(spec)
}

fn strings(map: BTreeMap<String, super::file::Scalar>) -> BTreeMap<String, String> {
    map.into_iter().map(|(k, v)| (k, v.into_string())).collect()
}

fn check_task(index: usize, mut raw: RawTask) -> Result<TaskSpec, Vec<Problem>> {
    let mut problems = Vec::new();
    let unnamed = format!("#{}", index + 1);
    let name = match raw.name.take() {
        Some(n) => {
            if !valid_name(&n) {
                problems.push(at_task(
                    &n,
                    "task names may only use letters, digits, `_`, `-` and `.` (at most 100)"
                        .into(),
                ));
            }
            n
        }
        None => {
            if !raw.broken.iter().any(|b| b == "name") {
                problems.push(general(format!("task {unnamed} has no `name`")));
            }
            unnamed
        }
    };
    let kind = raw.kind.take();
    // A field that could not be read was reported already: no derived complaint about it.
    let broken_fields = std::mem::take(&mut raw.broken);
    let broken = |field: &str| broken_fields.iter().any(|b| b == field);
    let worker_group = raw.worker_group.unwrap_or_else(default_group);
    if !valid_name(&worker_group) {
        problems.push(at_task(&name, format!("bad worker_group `{worker_group}`")));
    }
    if let Some(g) = &raw.task_group {
        if !valid_name(g) {
            problems.push(at_task(&name, format!("bad task_group `{g}`")));
        }
    }
    for key in raw.env.keys() {
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            problems.push(at_task(
                &name,
                format!("bad environment variable name `{key}`"),
            ));
        }
    }
    if let (Some(strategy), None, false) = (raw.timeout_strategy, raw.timeout, broken("timeout")) {
        problems.push(at_task(
            &name,
            format!(
                "`timeout_strategy: {}` needs a `timeout`",
                strategy.as_str()
            ),
        ));
    }
    if let Some(n) = raw.retries.filter(|n| *n > super::MAX_RETRIES) {
        problems.push(at_task(
            &name,
            format!("retries: {n} is too many: at most {}", super::MAX_RETRIES),
        ));
    }
    // Each dependency once, in the order written (a set: a fan-in may name thousands).
    let mut named = HashSet::new();
    let depends_on: Vec<String> = raw
        .depends_on
        .into_iter()
        .filter(|d| named.insert(d.clone()))
        .collect();
    match kind {
        Some(kind) if problems.is_empty() && broken_fields.is_empty() => Ok(TaskSpec {
            name,
            kind,
            depends_on,
            retries: raw.retries.unwrap_or(0),
            retry_interval: raw.retry_interval.unwrap_or_else(default_retry_interval),
            timeout: raw.timeout,
            timeout_strategy: raw.timeout_strategy.unwrap_or_default(),
            env: strings(raw.env),
            params: strings(raw.params),
            worker_group,
            priority: raw.priority.unwrap_or_default(),
            failover: raw.failover.unwrap_or_default(),
            task_group: raw.task_group,
            task_group_priority: raw.task_group_priority,
            map: raw.map,
            broadcast: raw.broadcast,
            map_reduce: raw.map_reduce,
        }),
        _ => Err(problems),
    }
}

/// Each task's `depends_on` (of every task named, read or not) against the names known.
fn check_dependencies(edges: &[(String, Vec<String>)], names: &HashSet<String>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (task, depends_on) in edges {
        for dep in depends_on {
            if dep == task {
                problems.push(at_task(task, "depends on itself".into()));
            } else if !names.contains(dep) {
                problems.push(at_task(
                    task,
                    format!("depends on `{dep}`, which is not a task of this workflow"),
                ));
            }
        }
    }
    problems
}

/// Reports each cycle once, naming its tasks in order (`a -> b -> c -> a`), as a problem of
/// its first task in file order.
fn find_cycles(tasks: &[TaskSpec]) -> Vec<Problem> {
    use petgraph::graph::DiGraph;
    let mut graph = DiGraph::<&str, ()>::new();
    let index: HashMap<&str, _> = tasks
        .iter()
        .map(|t| (t.name.as_str(), graph.add_node(t.name.as_str())))
        .collect();
    for task in tasks {
        for dep in &task.depends_on {
            graph.add_edge(index[dep.as_str()], index[task.name.as_str()], ());
        }
    }
    let mut problems = Vec::new();
    let mut sccs = petgraph::algo::tarjan_scc(&graph);
    sccs.retain(|scc| scc.len() > 1);
    // Report in file order of each cycle's first task.
    sccs.iter_mut().for_each(|scc| scc.sort());
    sccs.sort();
    for scc in sccs {
        let members: HashSet<_> = scc.iter().copied().collect();
        let start = scc[0];
        // Shortest path start -> ... -> start inside the component, by breadth-first search.
        let mut parent = HashMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut seen = HashSet::from([start]);
        let mut last = None;
        'search: while let Some(node) = queue.pop_front() {
            for next in graph.neighbors(node) {
                if !members.contains(&next) {
                    continue;
                }
                if next == start {
                    last = Some(node);
                    break 'search;
                }
                if seen.insert(next) {
                    parent.insert(next, node);
                    queue.push_back(next);
                }
            }
        }
        let mut path = vec![start];
        let mut cur = last.expect("a strongly connected component has a cycle through each node");
        while cur != start {
            path.push(cur);
            cur = parent[&cur];
        }
        path.push(start);
        let len = path.len();
        path[1..len - 1].reverse();
        let names: Vec<&str> = path.iter().map(|n| graph[*n]).collect();
        // The cycle's first task in file order carries it (an editor marks that task).
        problems.push(Problem {
            task: Some(names[0].to_string()),
            ..general(format!("dependency cycle: {}", names.join(" -> ")))
        });
    }
    problems
}

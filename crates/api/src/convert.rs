//! Store records to API models: the one place where the store's shapes (times in µs, ids as
//! newtypes) become the API's (RFC 3339 times, millisecond durations, plain ids).

use crate::ApiError;
use baton_api_model as m;
use baton_api_model::time::{duration_ms, from_us, opt_from_us};
use baton_store::{
    AttemptRecord, EventRecord, InstanceRecord, MapRole, ScheduleRecord, TaskGroupRecord,
    TaskInstanceRecord, WorkflowRecord, WorkflowSummary,
};

/// A stored event as the API shows it. Every event the API serves goes through here.
pub(crate) fn event(record: EventRecord) -> Result<m::Event, ApiError> {
    let e = record.event;
    Ok(m::Event {
        id: record.id,
        kind: e.kind,
        workflow_instance_id: e.workflow_instance_id.map(|i| i.0),
        project: e.project,
        workflow: e.workflow,
        task_instance_id: e.task_instance_id.map(|t| t.0),
        task_name: e.task_name,
        attempt: e.attempt,
        worker: e.worker,
        message: e.message,
        detail: e.detail,
        at: from_us(e.at),
        recorded_at: from_us(record.recorded_at),
    })
}

/// Every event of a list.
pub(crate) fn events(records: Vec<EventRecord>) -> Result<Vec<m::Event>, ApiError> {
    records.into_iter().map(event).collect()
}

/// A workflow instance, with the commands queued for it.
pub(crate) fn instance(r: InstanceRecord, pending: Vec<m::PendingCommand>) -> m::Instance {
    m::Instance {
        id: r.id.0,
        workflow_id: r.workflow_id.0,
        version: r.version,
        project: r.project,
        name: r.name,
        state: r.state,
        pending_commands: pending,
        params: r.params,
        priority: r.priority,
        owner: r.owner,
        epoch: r.epoch,
        submitted_at: from_us(r.submitted_at),
        started_at: opt_from_us(r.started_at),
        ended_at: opt_from_us(r.ended_at),
        duration_ms: duration_ms(r.started_at, r.ended_at),
        schedule_time: opt_from_us(r.schedule_time),
        schedule_id: r.schedule_id.map(|w| w.0),
        only_tasks: r.only_tasks,
        parent_instance_id: r.parent_instance_id.map(|i| i.0),
        parent_task_instance_id: r.parent_task_instance_id.map(|t| t.0),
        overrides: r.overrides.into(),
    }
}

/// A child instance of a sub_workflow task (`None` for a record that has no parent task).
pub(crate) fn child(r: InstanceRecord) -> Option<m::ChildInstance> {
    Some(m::ChildInstance {
        id: r.id.0,
        parent_task_instance_id: r.parent_task_instance_id?.0,
        name: r.name,
        state: r.state,
    })
}

/// A command kind of the store's queue as the API names it.
pub(crate) fn command(kind: baton_store::CommandKind) -> m::PendingCommand {
    use baton_store::CommandKind as K;
    match kind {
        K::Start => m::PendingCommand::Start,
        K::Stop => m::PendingCommand::Stop,
        K::Recover => m::PendingCommand::Recover,
        K::Pause => m::PendingCommand::Pause,
        K::Resume => m::PendingCommand::Resume,
        K::ChildEnded => m::PendingCommand::ChildEnded,
    }
}

/// A task instance.
pub(crate) fn task(r: TaskInstanceRecord) -> m::TaskInstance {
    m::TaskInstance {
        id: r.id.0,
        workflow_instance_id: r.workflow_instance_id.0,
        task_name: r.task_name,
        state: r.state,
        attempt: r.attempt,
        retries_used: r.retries_used,
        worker: r.worker,
        submitted_at: from_us(r.submitted_at),
        started_at: opt_from_us(r.started_at),
        ended_at: opt_from_us(r.ended_at),
        duration_ms: duration_ms(r.started_at, r.ended_at),
        exit_code: r.exit_code,
        message: r.message,
        next_retry_at: opt_from_us(r.next_retry_at),
        outputs: r.outputs,
        task_group: r.task_group,
        map: match r.map {
            Some(MapRole::Item { task, index }) => Some(m::MapPart::Item { task, index }),
            // Counted by the caller that read the counts ([`mapped`]).
            Some(MapRole::Mapped { .. }) | None => None,
        },
    }
}

/// A task instance, with its items counted when it is a mapped task: `counts` are
/// `(mapped task, state, count)` of the instance's items ([`baton_store::Store::item_counts`]).
pub(crate) fn task_counted(
    r: TaskInstanceRecord,
    counts: &[(String, baton_core::TaskState, i64)],
) -> m::TaskInstance {
    let items = match &r.map {
        Some(MapRole::Mapped { list }) => Some(list_len(list)),
        Some(MapRole::Item { .. }) | None => None,
    };
    let name = r.task_name.clone();
    let mut task = task(r);
    if let Some(items) = items {
        let states: Vec<m::StateCount> = counts
            .iter()
            .filter(|(t, _, _)| *t == name)
            .map(|(_, state, count)| m::StateCount {
                state: *state,
                count: *count,
            })
            .collect();
        let started: i64 = states.iter().map(|s| s.count).sum();
        task.map = Some(m::MapPart::Mapped(m::ItemCounts {
            items,
            not_started: (items - started).max(0),
            states,
        }));
    }
    task
}

/// How many items a mapped task's stored list has (0 if it is not a list: the master
/// failed the task then).
fn list_len(list: &str) -> i64 {
    serde_json::from_str::<Vec<serde::de::IgnoredAny>>(list)
        .map(|items| i64::try_from(items.len()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// An ended attempt.
pub(crate) fn attempt(r: AttemptRecord) -> m::Attempt {
    m::Attempt {
        task_instance_id: r.task_instance_id.0,
        attempt: r.attempt,
        state: r.state,
        worker: r.worker,
        started_at: opt_from_us(r.started_at),
        ended_at: from_us(r.ended_at),
        duration_ms: duration_ms(r.started_at, Some(r.ended_at)),
        exit_code: r.exit_code,
        message: r.message,
    }
}

/// One version of a workflow; `schedule_online` is the schedule's live state, if it has one.
pub(crate) fn workflow(r: WorkflowRecord, schedule_online: Option<bool>) -> m::Workflow {
    m::Workflow {
        id: r.id.0,
        project: r.project,
        name: r.name,
        version: r.version,
        latest_version: r.latest_version,
        spec: r.spec,
        source: r.source,
        created_at: from_us(r.created_at),
        schedule_online,
    }
}

/// What a valid file would make, as `POST /workflows:validate` answers it.
pub(crate) fn validated(spec: &baton_core::WorkflowSpec) -> m::Validated {
    let tasks = spec
        .tasks
        .iter()
        .map(|t| m::ValidatedTask {
            name: t.name.clone(),
            kind: t.kind.type_name().to_string(),
            depends_on: t.depends_on.clone(),
        })
        .collect();
    let mut names: Vec<&String> = spec.params.keys().chain(spec.param_rules.keys()).collect();
    names.sort();
    names.dedup();
    let params = names
        .into_iter()
        .map(|name| {
            let decl = spec.param_rules.get(name);
            m::ValidatedParam {
                name: name.clone(),
                default: spec.params.get(name).cloned(),
                rule: decl.map(|d| d.rule.describe()),
                required: decl.is_some_and(|d| d.required),
            }
        })
        .collect();
    m::Validated {
        project: spec.project.clone(),
        name: spec.name.clone(),
        tasks,
        params,
    }
}

/// A line of the workflow list.
pub(crate) fn workflow_summary(
    r: WorkflowSummary,
    runs: Vec<baton_store::RecentRun>,
) -> m::WorkflowSummary {
    m::WorkflowSummary {
        id: r.id.0,
        project: r.project,
        name: r.name,
        latest_version: r.latest_version,
        updated_at: from_us(r.updated_at),
        recent_runs: runs.into_iter().map(recent_run).collect(),
    }
}

/// One of a workflow's recent instances.
fn recent_run(r: baton_store::RecentRun) -> m::RecentRun {
    m::RecentRun {
        id: r.id.0,
        state: r.state,
        submitted_at: from_us(r.submitted_at),
        started_at: opt_from_us(r.started_at),
        ended_at: opt_from_us(r.ended_at),
        duration_ms: duration_ms(r.started_at, r.ended_at),
    }
}

/// What an apply did.
pub(crate) fn applied(project: &str, name: &str, a: &baton_store::Applied) -> m::Applied {
    let outcome = match a.outcome {
        "created" => m::ApplyOutcome::Created,
        "unchanged" => m::ApplyOutcome::Unchanged,
        // The store says `updated` for a new version.
        _ => m::ApplyOutcome::Updated,
    };
    m::Applied {
        project: project.to_string(),
        name: name.to_string(),
        id: a.id.0,
        version: a.version,
        outcome,
    }
}

/// A schedule.
pub(crate) fn schedule(r: ScheduleRecord) -> m::Schedule {
    m::Schedule {
        workflow_id: r.workflow_id.0,
        project: r.project,
        name: r.name,
        spec: r.spec,
        workflow_timezone: r.workflow_timezone,
        online: r.online,
        next_fire_at: opt_from_us(r.next_fire_at),
        last_fire_at: opt_from_us(r.last_fire_at),
    }
}

/// A task group.
pub(crate) fn task_group(r: TaskGroupRecord) -> m::TaskGroup {
    m::TaskGroup {
        name: r.name,
        slots: r.slots,
        used: r.used,
    }
}

/// A registered member, with the load it last reported.
pub(crate) fn member(r: baton_registry::Registration) -> m::Member {
    use baton_registry::Role;
    let role = match r.member.role {
        Role::Master => m::MemberRole::Master,
        Role::Worker => m::MemberRole::Worker,
        Role::Api => m::MemberRole::Api,
    };
    let l = r.member.load;
    m::Member {
        id: r.member.id,
        role,
        address: r.member.address,
        group: r.member.group,
        version: r.member.version,
        started_at: from_us(r.member.started_at),
        heartbeat_at: from_us(r.heartbeat_at),
        load: m::MemberLoad {
            cpu: l.cpu,
            memory_used_mb: l.memory_used_mb,
            memory_total_mb: l.memory_total_mb,
            load1: l.load1,
            running: l.running,
            slots: l.slots,
        },
    }
}

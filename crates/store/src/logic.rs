//! What the master's logic tasks read and create: child instances of `sub_workflow` tasks,
//! the outputs they pass back, and the succeeded instances `dependent` tasks wait for.

use crate::engine::CommandKind;
use crate::error::{Context, StoreError};
use crate::records::{get, WorkflowRecord};
use crate::{now_us, SqlEngineTx};
use baton_core::{Priority, TaskInstanceId, WorkflowInstanceId, WorkflowState};
use std::collections::BTreeMap;

/// A child instance to create for a `sub_workflow` task.
#[derive(Debug, Clone)]
pub struct NewChild<'a> {
    /// The version the child runs.
    pub workflow: &'a WorkflowRecord,
    /// Its start-time params.
    pub params: BTreeMap<String, String>,
    /// The parent's priority, which the child inherits.
    pub priority: Priority,
    /// The parent's schedule time, which the child stands for too.
    pub schedule_time: i64,
    /// The parent instance.
    pub parent: WorkflowInstanceId,
    /// The parent's task instance that waits for the child.
    pub parent_task: TaskInstanceId,
}

/// One dependency of a `dependent` task, as a query.
#[derive(Debug, Clone)]
pub struct DependencyQuery<'a> {
    /// The workflow's project.
    pub project: &'a str,
    /// The workflow's name.
    pub workflow: &'a str,
    /// One task of it, rather than the whole instance.
    pub task: Option<&'a str>,
    /// The window of schedule times `[from, to)` (µs).
    pub from: i64,
    /// See `from`.
    pub to: i64,
}

impl SqlEngineTx {
    /// Creates a child instance and its start command (any master may take it).
    pub async fn create_child(
        &mut self,
        child: NewChild<'_>,
    ) -> Result<WorkflowInstanceId, StoreError> {
        let now = now_us();
        let params = serde_json::to_string(&child.params).expect("params serialize");
        let row = sqlx::query(
            "INSERT INTO workflow_instance (workflow_id, version, project, name, state, params, \
             priority, submitted_at, schedule_time, parent_instance_id, parent_task_instance_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(child.workflow.id.0)
        .bind(child.workflow.version)
        .bind(&child.workflow.project)
        .bind(&child.workflow.name)
        .bind(WorkflowState::Submitted.as_str())
        .bind(params)
        .bind(child.priority.as_str())
        .bind(now)
        .bind(child.schedule_time)
        .bind(child.parent.0)
        .bind(child.parent_task.0)
        .fetch_one(self.conn())
        .await
        .ctx("creating a child instance")?;
        let id = WorkflowInstanceId(get(&row, "id")?);
        self.queue_command(CommandKind::Start, id).await?;
        Ok(id)
    }

    /// Queues a command for an instance, for whichever master runs it (a master that does
    /// not forwards it to the owner).
    pub async fn queue_command(
        &mut self,
        kind: CommandKind,
        id: WorkflowInstanceId,
    ) -> Result<(), StoreError> {
        let backend = self.backend();
        crate::instances::insert_command(self.tx_mut(), backend, kind, id, None, now_us()).await
    }

    /// The child instance a `sub_workflow` task instance started, with its state.
    pub async fn child_of(
        &mut self,
        task: TaskInstanceId,
    ) -> Result<Option<(WorkflowInstanceId, WorkflowState)>, StoreError> {
        let row = sqlx::query(
            "SELECT id, state FROM workflow_instance WHERE parent_task_instance_id = $1 \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(task.0)
        .fetch_optional(self.conn())
        .await
        .ctx("reading a child instance")?;
        row.map(|r| {
            let state: String = get(&r, "state")?;
            let state = state.parse().map_err(|e: String| StoreError::Corrupt {
                context: "workflow_instance.state",
                detail: e,
            })?;
            Ok((WorkflowInstanceId(get(&r, "id")?), state))
        })
        .transpose()
    }

    /// The parent instance of an instance, if it is a child.
    pub async fn parent_of(
        &mut self,
        id: WorkflowInstanceId,
    ) -> Result<Option<WorkflowInstanceId>, StoreError> {
        let row = sqlx::query("SELECT parent_instance_id FROM workflow_instance WHERE id = $1")
            .bind(id.0)
            .fetch_optional(self.conn())
            .await
            .ctx("reading a parent instance")?;
        Ok(match row {
            Some(r) => get::<Option<i64>>(&r, "parent_instance_id")?.map(WorkflowInstanceId),
            None => None,
        })
    }

    /// The names of an instance's ancestors (parent first), to refuse a sub-workflow that
    /// would run one of them again inside itself.
    pub async fn ancestry(&mut self, id: WorkflowInstanceId) -> Result<Vec<String>, StoreError> {
        let mut names = Vec::new();
        let mut next = self.parent_of(id).await?;
        while let Some(parent) = next {
            if names.len() > 100 {
                break;
            }
            match self.instance(parent).await? {
                Some(record) => names.push(record.name),
                None => break,
            }
            next = self.parent_of(parent).await?;
        }
        Ok(names)
    }

    /// The output params an instance's tasks set, a later-ending task's value winning:
    /// what a child passes back to its parent.
    pub async fn instance_outputs(
        &mut self,
        id: WorkflowInstanceId,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let mut tasks = self.task_instances(id).await?;
        tasks.sort_by_key(|t| (t.ended_at.unwrap_or(0), t.id.0));
        let mut outputs = BTreeMap::new();
        for task in tasks {
            if task.state == baton_core::TaskState::Succeeded {
                outputs.extend(task.outputs);
            }
        }
        Ok(outputs)
    }

    /// Whether a succeeded instance of the workflow (or one with the task succeeded) stands
    /// for a time in the window. A manual start stands for its start time.
    pub async fn dependency_met(&mut self, q: &DependencyQuery<'_>) -> Result<bool, StoreError> {
        let time = "COALESCE(i.schedule_time, i.started_at, i.submitted_at)";
        let whole = format!(
            "SELECT i.id FROM workflow_instance i WHERE i.project = $1 AND i.name = $2 \
             AND i.state = 'succeeded' AND {time} >= $3 AND {time} < $4 LIMIT 1"
        );
        let one_task = format!(
            "SELECT i.id FROM workflow_instance i JOIN task_instance t \
             ON t.workflow_instance_id = i.id AND t.task_name = $5 AND t.state = 'succeeded' \
             WHERE i.project = $1 AND i.name = $2 AND {time} >= $3 AND {time} < $4 LIMIT 1"
        );
        let row = match q.task {
            None => sqlx::query(&whole)
                .bind(q.project)
                .bind(q.workflow)
                .bind(q.from)
                .bind(q.to),
            Some(task) => sqlx::query(&one_task)
                .bind(q.project)
                .bind(q.workflow)
                .bind(q.from)
                .bind(q.to)
                .bind(task),
        }
        .fetch_optional(self.conn())
        .await
        .ctx("looking for a dependency")?;
        Ok(row.is_some())
    }
}

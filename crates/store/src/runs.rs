//! The last runs of many workflows at once, for lists (the web UI's workflows page): a few
//! newest instances per workflow, read through the `(workflow_id, id)` index, in one query
//! per batch of workflows rather than one per workflow.

use crate::error::{Context, StoreError};
use crate::records::{corrupt, get};
use crate::Store;
use baton_core::{WorkflowId, WorkflowInstanceId, WorkflowState};
use std::collections::HashMap;

/// The most runs [`Store::recent_runs`] gives per workflow.
pub const MAX_RECENT_RUNS: i64 = 50;

/// Workflows per query: SQLite takes at most 500 selects in one compound select.
const BATCH: usize = 200;

/// One run of a workflow, as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentRun {
    /// The instance.
    pub id: WorkflowInstanceId,
    /// Where it is.
    pub state: WorkflowState,
    /// When it was asked for (µs).
    pub submitted_at: i64,
    /// When a master started it (µs).
    pub started_at: Option<i64>,
    /// When it ended (µs).
    pub ended_at: Option<i64>,
}

impl Store {
    /// The newest `per` instances (at most [`MAX_RECENT_RUNS`]) of each of `workflows`,
    /// newest first; a workflow that never ran has none.
    pub async fn recent_runs(
        &self,
        workflows: &[WorkflowId],
        per: i64,
    ) -> Result<HashMap<WorkflowId, Vec<RecentRun>>, StoreError> {
        let per = per.clamp(0, MAX_RECENT_RUNS);
        let mut out: HashMap<WorkflowId, Vec<RecentRun>> = HashMap::new();
        if per == 0 {
            return Ok(out);
        }
        for batch in workflows.chunks(BATCH) {
            let sql = batch_query(batch.len(), per);
            let mut query = sqlx::query(&sql);
            for w in batch {
                query = query.bind(w.0);
            }
            let rows = query
                .fetch_all(&self.read)
                .await
                .ctx("reading the recent runs of workflows")?;
            for row in &rows {
                let workflow = WorkflowId(get(row, "workflow_id")?);
                let state: String = get(row, "state")?;
                out.entry(workflow).or_default().push(RecentRun {
                    id: WorkflowInstanceId(get(row, "id")?),
                    state: state
                        .parse()
                        .map_err(|e| corrupt("workflow_instance.state", e))?,
                    submitted_at: get(row, "submitted_at")?,
                    started_at: get(row, "started_at")?,
                    ended_at: get(row, "ended_at")?,
                });
            }
        }
        for runs in out.values_mut() {
            runs.sort_by_key(|r| std::cmp::Reverse(r.id.0));
        }
        Ok(out)
    }
}

/// `n` index range reads of `per` rows each, joined: each member reads the newest instances
/// of one workflow through `workflow_instance_by_workflow`.
fn batch_query(n: usize, per: i64) -> String {
    (1..=n)
        .map(|i| {
            format!(
                "SELECT * FROM (SELECT workflow_id, id, state, submitted_at, started_at, ended_at \
                 FROM workflow_instance WHERE workflow_id = ${i} ORDER BY id DESC LIMIT {per}) r{i}"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// What the projects list shows of each project.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProjectCounts {
    /// Its workflows.
    pub workflows: i64,
    /// Its instances that have not ended (submitted, running, pausing, paused, stopping).
    pub running: i64,
    /// Its instances that failed since the time asked for.
    pub failed_since: i64,
}

impl Store {
    /// The counts of every project that has any, by project name: workflows, instances not
    /// ended, instances failed since `since` (µs). Three grouped reads, each on an index:
    /// `workflow (project, name)`, `workflow_instance (state, id)`, `(state, ended_at)`.
    pub async fn project_counts(
        &self,
        since: i64,
    ) -> Result<HashMap<String, ProjectCounts>, StoreError> {
        let mut out: HashMap<String, ProjectCounts> = HashMap::new();
        let workflows = "SELECT project, COUNT(*) AS n FROM workflow GROUP BY project";
        for (project, n) in self.grouped(workflows, None).await? {
            out.entry(project).or_default().workflows = n;
        }
        let open: Vec<String> = WorkflowState::ALL
            .iter()
            .filter(|s| !s.is_final())
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        let running = format!(
            "SELECT project, COUNT(*) AS n FROM workflow_instance WHERE state IN ({}) \
             GROUP BY project",
            open.join(", ")
        );
        for (project, n) in self.grouped(&running, None).await? {
            out.entry(project).or_default().running = n;
        }
        let failed = "SELECT project, COUNT(*) AS n FROM workflow_instance \
                      WHERE state = 'failed' AND ended_at >= $1 GROUP BY project";
        for (project, n) in self.grouped(failed, Some(since)).await? {
            out.entry(project).or_default().failed_since = n;
        }
        Ok(out)
    }

    async fn grouped(
        &self,
        sql: &str,
        bind: Option<i64>,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let mut query = sqlx::query(sql);
        if let Some(v) = bind {
            query = query.bind(v);
        }
        let rows = query
            .fetch_all(&self.read)
            .await
            .ctx("counting the projects' workflows and instances")?;
        rows.iter()
            .map(|r| Ok((get(r, "project")?, get(r, "n")?)))
            .collect()
    }
}

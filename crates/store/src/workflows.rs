//! Workflow definitions: apply makes a new version only when the definition changed.

use crate::error::{Context, StoreError};
use crate::records::{get, WorkflowRecord, WorkflowSummary};
use crate::{now_us, Store};
use baton_core::{WorkflowId, WorkflowSpec};
use serde::Serialize;
use sqlx::any::AnyRow;

/// What an apply did.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// The workflow's id.
    pub id: WorkflowId,
    /// The version now current.
    pub version: i64,
    /// `created`, `updated` (a new version) or `unchanged`.
    pub outcome: &'static str,
}

const SELECT_VERSION: &str =
    "SELECT w.id, w.project, w.name, w.latest_version, v.version, v.spec, v.source, v.created_at \
     FROM workflow w JOIN workflow_version v ON v.workflow_id = w.id";

impl Store {
    /// Stores a checked definition: a new workflow, a new version of a changed one, or
    /// nothing when it is unchanged. All or nothing.
    pub async fn apply_workflow(
        &self,
        spec: &WorkflowSpec,
        source: &str,
    ) -> Result<Applied, StoreError> {
        self.apply(spec, source, None).await
    }

    /// Applies a definition derived from version `base` of an existing workflow (e.g. its
    /// schedule changed through the API), like [`Store::apply_workflow`]; refused with
    /// [`StoreError::Conflict`] when another version was made since `base`, so that no
    /// change is lost, and [`StoreError::NotFound`] when the workflow does not exist.
    pub async fn apply_workflow_on(
        &self,
        spec: &WorkflowSpec,
        source: &str,
        base: i64,
    ) -> Result<Applied, StoreError> {
        self.apply(spec, source, Some(base)).await
    }

    /// Applies a definition in one transaction: checks it against `base` (when given), makes
    /// the workflow or a new version of it, and follows its schedule.
    async fn apply(
        &self,
        spec: &WorkflowSpec,
        source: &str,
        base: Option<i64>,
    ) -> Result<Applied, StoreError> {
        let now = now_us();
        let json = spec.to_json();
        let mut tx = self.write.begin().await.ctx("starting an apply")?;
        // Every workflow belongs to a project that exists (a global admin's first apply to a
        // new project creates it).
        sqlx::query(
            "INSERT INTO project (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(&spec.project)
        .bind(now)
        .execute(&mut *tx)
        .await
        .ctx("creating the workflow's project")?;
        let existing =
            sqlx::query("SELECT id, latest_version FROM workflow WHERE project = $1 AND name = $2")
                .bind(&spec.project)
                .bind(&spec.name)
                .fetch_optional(&mut *tx)
                .await
                .ctx("looking up the workflow")?;
        if let Some(base) = base {
            check_base(existing.as_ref(), base, spec)?;
        }
        let new = NewVersion {
            json: &json,
            source,
            now,
        };
        let applied = match existing {
            None => create_workflow(&mut tx, spec, &new).await?,
            Some(row) => update_workflow(&mut tx, &row, &new).await?,
        };
        crate::schedules::sync_schedule(&mut tx, applied.id, spec).await?;
        follow_online(&mut tx, applied.id, spec).await?;
        tx.commit().await.ctx("committing an apply")?;
        Ok(applied)
    }

    /// Every workflow, optionally of one project, by project and name.
    pub async fn list_workflows(
        &self,
        project: Option<&str>,
    ) -> Result<Vec<WorkflowSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, project, name, latest_version, updated_at FROM workflow \
             WHERE ($1 = '' OR project = $1) ORDER BY project, name",
        )
        .bind(project.unwrap_or(""))
        .fetch_all(&self.read)
        .await
        .ctx("listing workflows")?;
        rows.iter()
            .map(|r| {
                Ok(WorkflowSummary {
                    id: WorkflowId(get(r, "id")?),
                    project: get(r, "project")?,
                    name: get(r, "name")?,
                    latest_version: get(r, "latest_version")?,
                    updated_at: get(r, "updated_at")?,
                })
            })
            .collect()
    }

    /// A workflow by project and name, at `version` or the latest.
    pub async fn get_workflow(
        &self,
        project: &str,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        let sql = format!(
            "{SELECT_VERSION} WHERE w.project = $1 AND w.name = $2 \
             AND v.version = COALESCE($3, w.latest_version)"
        );
        let row = sqlx::query(&sql)
            .bind(project)
            .bind(name)
            .bind(version)
            .fetch_optional(&self.read)
            .await
            .ctx("reading a workflow")?;
        row.as_ref().map(WorkflowRecord::from_row).transpose()
    }

    /// Every version of a workflow (number and time made), newest first.
    pub async fn workflow_versions(
        &self,
        project: &str,
        name: &str,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT v.version, v.created_at FROM workflow w JOIN workflow_version v \
             ON v.workflow_id = w.id WHERE w.project = $1 AND w.name = $2 ORDER BY v.version DESC",
        )
        .bind(project)
        .bind(name)
        .fetch_all(&self.read)
        .await
        .ctx("listing versions")?;
        rows.iter()
            .map(|r| Ok((get(r, "version")?, get(r, "created_at")?)))
            .collect()
    }

    /// The latest version of a workflow by id.
    pub async fn get_latest_workflow(
        &self,
        id: WorkflowId,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        let sql = format!("{SELECT_VERSION} WHERE w.id = $1 AND v.version = w.latest_version");
        let row = sqlx::query(&sql)
            .bind(id.0)
            .fetch_optional(&self.read)
            .await
            .ctx("reading a workflow")?;
        row.as_ref().map(WorkflowRecord::from_row).transpose()
    }

    /// One version of a workflow by id (what an instance runs).
    pub async fn get_workflow_version(
        &self,
        id: WorkflowId,
        version: i64,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        let sql = format!("{SELECT_VERSION} WHERE w.id = $1 AND v.version = $2");
        let row = sqlx::query(&sql)
            .bind(id.0)
            .bind(version)
            .fetch_optional(&self.read)
            .await
            .ctx("reading a workflow version")?;
        row.as_ref().map(WorkflowRecord::from_row).transpose()
    }
}

/// A definition being applied, as it is stored: its spec as JSON, the file it came from, and
/// when.
struct NewVersion<'a> {
    json: &'a str,
    source: &'a str,
    now: i64,
}

/// Refuses an apply derived from version `base` when the workflow is gone or has a newer
/// version, so that a change made meanwhile is not overwritten.
fn check_base(existing: Option<&AnyRow>, base: i64, spec: &WorkflowSpec) -> Result<(), StoreError> {
    let latest: Option<i64> = match existing {
        Some(row) => Some(get(row, "latest_version")?),
        None => None,
    };
    match latest {
        None => Err(StoreError::NotFound(format!(
            "workflow `{}` in project `{}`",
            spec.name, spec.project
        ))),
        Some(latest) if latest != base => Err(StoreError::Conflict(format!(
            "workflow `{}` changed (version {latest}, not {base}) meanwhile",
            spec.name
        ))),
        Some(_) => Ok(()),
    }
}

/// Stores a workflow seen for the first time, with its first version.
async fn create_workflow(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    spec: &WorkflowSpec,
    new: &NewVersion<'_>,
) -> Result<Applied, StoreError> {
    let row = sqlx::query(
        "INSERT INTO workflow (project, name, latest_version, created_at, updated_at) \
         VALUES ($1, $2, 1, $3, $3) RETURNING id",
    )
    .bind(&spec.project)
    .bind(&spec.name)
    .bind(new.now)
    .fetch_one(&mut **tx)
    .await
    .ctx("creating the workflow")?;
    let id = WorkflowId(get(&row, "id")?);
    insert_version(tx, id, 1, new.json, new.source, new.now).await?;
    Ok(Applied {
        id,
        version: 1,
        outcome: "created",
    })
}

/// Makes a new version of the stored workflow `row` when the definition differs from its
/// current one; an unchanged definition makes none, so that re-applying a file is harmless.
async fn update_workflow(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    row: &AnyRow,
    new: &NewVersion<'_>,
) -> Result<Applied, StoreError> {
    let id = WorkflowId(get(row, "id")?);
    let latest: i64 = get(row, "latest_version")?;
    let current: String = sqlx::query_scalar(
        "SELECT spec FROM workflow_version WHERE workflow_id = $1 AND version = $2",
    )
    .bind(id.0)
    .bind(latest)
    .fetch_one(&mut **tx)
    .await
    .ctx("reading the current version")?;
    if current == new.json {
        return Ok(Applied {
            id,
            version: latest,
            outcome: "unchanged",
        });
    }
    let version = latest + 1;
    insert_version(tx, id, version, new.json, new.source, new.now).await?;
    sqlx::query("UPDATE workflow SET latest_version = $1, updated_at = $2 WHERE id = $3")
        .bind(version)
        .bind(new.now)
        .bind(id.0)
        .execute(&mut **tx)
        .await
        .ctx("advancing the workflow's version")?;
    Ok(Applied {
        id,
        version,
        outcome: "updated",
    })
}

async fn insert_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: WorkflowId,
    version: i64,
    spec: &str,
    source: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO workflow_version (workflow_id, version, spec, source, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id.0)
    .bind(version)
    .bind(spec)
    .bind(source)
    .bind(now)
    .execute(&mut **tx)
    .await
    .ctx("storing a workflow version")?;
    Ok(())
}

/// An apply sets the schedule's online state to the file's `online:` (default true), even
/// when the definition is unchanged: a file re-applied (an export) describes the state it
/// leaves, whatever `schedule online|offline` did since.
async fn follow_online(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    workflow: WorkflowId,
    spec: &WorkflowSpec,
) -> Result<(), StoreError> {
    let Some(schedule) = &spec.schedule else {
        return Ok(());
    };
    let now = now_us();
    sqlx::query(
        "UPDATE schedule SET online = $1, next_fire_at = $2, updated_at = $3 \
         WHERE workflow_id = $4 AND online <> $1",
    )
    .bind(i64::from(schedule.online))
    .bind(schedule.first_fire(spec.timezone.as_deref(), now))
    .bind(now)
    .bind(workflow.0)
    .execute(&mut **tx)
    .await
    .ctx("setting a schedule online or offline as its file says")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::TestDb;
    use baton_core::WorkflowSpec;

    async fn apply_sets_the_schedule_online_as_the_file_says(db: &TestDb) {
        let store = db.store().await;
        let file = |online: bool| {
            format!(
                "name: nightly\nschedule:\n  cron: '0 0 2 * * *'\n  online: {online}\ntasks:\n  - {{name: a, type: shell, command: 'true'}}\n"
            )
        };
        let apply = |text: String| {
            let store = store.clone();
            async move {
                let spec = WorkflowSpec::from_yaml(&text, "nightly.yaml").unwrap();
                store.apply_workflow(&spec, &text).await.unwrap()
            }
        };
        let online = |id| {
            let store = store.clone();
            async move { store.get_schedule(id).await.unwrap().unwrap() }
        };
        let first = apply(file(true)).await;
        assert!(online(first.id).await.online);
        store.set_schedule_online(first.id, false).await.unwrap();
        // The same file again: unchanged as a definition, but the schedule follows it.
        let again = apply(file(true)).await;
        assert_eq!(again.outcome, "unchanged");
        let s = online(first.id).await;
        assert!(s.online && s.next_fire_at.is_some(), "{s:?}");
        // A file that says offline: offline, with no fire due.
        apply(file(false)).await;
        let s = online(first.id).await;
        assert!(!s.online && s.next_fire_at.is_none(), "{s:?}");
    }

    #[tokio::test]
    async fn sqlite() {
        apply_sets_the_schedule_online_as_the_file_says(&TestDb::sqlite()).await;
    }

    #[tokio::test]
    async fn postgres() {
        apply_sets_the_schedule_online_as_the_file_says(&TestDb::postgres().await).await;
    }
}

//! Projects and their members.

use super::{role_of, unique, MemberRecord, ProjectRecord};
use crate::error::{Context, StoreError};
use crate::records::get;
use crate::{now_us, Store};
use baton_auth::{Role, UserId};

impl Store {
    /// Creates a project; a conflict if it exists.
    pub async fn create_project(&self, name: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO project (name, created_at) VALUES ($1, $2)")
            .bind(name)
            .bind(now_us())
            .execute(&self.write)
            .await
            .map_err(|e| unique(e, format!("project `{name}` exists"), "creating a project"))?;
        Ok(())
    }

    /// Every project, by name.
    pub async fn list_projects(&self) -> Result<Vec<ProjectRecord>, StoreError> {
        let rows = sqlx::query("SELECT name, created_at FROM project ORDER BY name")
            .fetch_all(&self.read)
            .await
            .ctx("listing projects")?;
        rows.iter()
            .map(|r| {
                Ok(ProjectRecord {
                    name: get(r, "name")?,
                    created_at: get(r, "created_at")?,
                })
            })
            .collect()
    }

    /// The project of a workflow, if the workflow exists (the API finds a backfill's so).
    pub async fn project_of_workflow(
        &self,
        id: baton_core::WorkflowId,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT project FROM workflow WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.read)
            .await
            .ctx("reading a workflow's project")
    }

    /// Whether the project exists.
    pub async fn project_exists(&self, name: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM project WHERE name = $1")
            .bind(name)
            .fetch_one(&self.read)
            .await
            .ctx("reading a project")?;
        Ok(n > 0)
    }

    /// Deletes an empty project (and its memberships); a conflict while it has workflows or
    /// data sources.
    pub async fn delete_project(&self, name: &str) -> Result<(), StoreError> {
        let mut tx = self.write.begin().await.ctx("starting a project delete")?;
        let workflows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM workflow WHERE project = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .ctx("counting a project's workflows")?;
        if workflows > 0 {
            return Err(StoreError::Conflict(format!(
                "project `{name}` has {workflows} workflow(s); it can be deleted once empty"
            )));
        }
        let datasources: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM datasource WHERE project = $1")
                .bind(name)
                .fetch_one(&mut *tx)
                .await
                .ctx("counting a project's data sources")?;
        if datasources > 0 {
            return Err(StoreError::Conflict(format!(
                "project `{name}` has {datasources} data source(s); it can be deleted once empty"
            )));
        }
        let secrets: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM secret WHERE project = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .ctx("counting a project's secrets")?;
        if secrets > 0 {
            return Err(StoreError::Conflict(format!(
                "project `{name}` has {secrets} secret(s); it can be deleted once empty"
            )));
        }
        let done = sqlx::query("DELETE FROM project WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .ctx("deleting a project")?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("project `{name}`")));
        }
        tx.commit().await.ctx("committing a project delete")?;
        Ok(())
    }

    /// Gives a user a role on a project (or changes it).
    pub async fn set_member(
        &self,
        project: &str,
        user: UserId,
        role: Role,
    ) -> Result<(), StoreError> {
        if !self.project_exists(project).await? {
            return Err(StoreError::NotFound(format!("project `{project}`")));
        }
        sqlx::query(
            "INSERT INTO project_member (project, user_id, role) VALUES ($1, $2, $3) \
             ON CONFLICT (project, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(project)
        .bind(user.0)
        .bind(role.as_str())
        .execute(&self.write)
        .await
        .ctx("setting a member")?;
        Ok(())
    }

    /// Takes a user's role on a project away; not found when they had none.
    pub async fn remove_member(&self, project: &str, user: UserId) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM project_member WHERE project = $1 AND user_id = $2")
            .bind(project)
            .bind(user.0)
            .execute(&self.write)
            .await
            .ctx("removing a member")?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "member {user} of `{project}`"
            )));
        }
        Ok(())
    }

    /// The members of a project, by name.
    pub async fn list_members(&self, project: &str) -> Result<Vec<MemberRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.user_id, u.name, m.role FROM project_member m \
             JOIN app_user u ON u.id = m.user_id WHERE m.project = $1 ORDER BY u.name",
        )
        .bind(project)
        .fetch_all(&self.read)
        .await
        .ctx("listing members")?;
        rows.iter()
            .map(|r| {
                Ok(MemberRecord {
                    user: UserId(get(r, "user_id")?),
                    user_name: get(r, "name")?,
                    role: role_of(&get::<String>(r, "role")?)?,
                })
            })
            .collect()
    }
}

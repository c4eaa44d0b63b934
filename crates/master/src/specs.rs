//! Workflow versions by (workflow, version), read once: instances of the same version share
//! one spec and one DAG.

use baton_core::{Dag, WorkflowId, WorkflowSpec};
use baton_store::{EngineStore, StoreError};
use std::collections::HashMap;
use std::sync::Arc;

/// A version's spec and its DAG.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    pub spec: Arc<WorkflowSpec>,
    pub dag: Arc<Dag>,
}

#[derive(Default)]
pub(crate) struct SpecCache {
    versions: HashMap<(WorkflowId, i64), Version>,
}

impl SpecCache {
    pub async fn get(
        &mut self,
        store: &dyn EngineStore,
        id: WorkflowId,
        version: i64,
    ) -> Result<Version, StoreError> {
        if let Some(v) = self.versions.get(&(id, version)) {
            return Ok(v.clone());
        }
        let record = store
            .get_workflow_version(id, version)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("workflow {id} version {version}")))?;
        let dag = Arc::new(Dag::new(&record.spec));
        let v = Version {
            spec: Arc::new(record.spec),
            dag,
        };
        self.versions.insert((id, version), v.clone());
        Ok(v)
    }
}

//! `GET /cluster`: the members, their load, and which master owns which instances.

use super::ApiResult;
use crate::{convert, ApiError, ApiState, Members};
use axum::extract::State;
use axum::Json;
use baton_api_model::{Cluster, ErrorBody};
use std::collections::BTreeMap;

/// `GET /cluster`.
#[utoipa::path(get, path = "/cluster", tag = "cluster",
    responses((status = 200, description = "The members and what they own", body = Cluster),
        (status = 503, description = "The registry cannot be reached", body = ErrorBody)))]
pub(crate) async fn cluster(State(state): State<ApiState>) -> ApiResult<Cluster> {
    let members = live_members(&state).await?;
    let mut owners: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (owner, id) in state.store.owners().await? {
        owners
            .entry(owner.unwrap_or_else(|| "-".into()))
            .or_default()
            .push(id.0);
    }
    Ok(Json(Cluster {
        members: members.into_iter().map(convert::member).collect(),
        owners,
    }))
}

/// The live members, as the registry (or, standalone, this process) knows them now.
pub(crate) async fn live_members(
    state: &ApiState,
) -> Result<Vec<baton_registry::Registration>, ApiError> {
    Ok(match &state.members {
        Members::Fixed(list) => list.iter().cloned().map(sampled_now).collect(),
        Members::Registry(registry) => registry
            .members()
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?,
    })
}

/// A member of this very process (standalone): its load and heartbeat are now's.
fn sampled_now(mut r: baton_registry::Registration) -> baton_registry::Registration {
    let load = baton_registry::host_load();
    r.member.load = baton_registry::Load {
        slots: r.member.load.slots,
        running: r.member.load.running,
        ..load
    };
    r.heartbeat_at = baton_store::now_us();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_member_reports_its_load_of_now() {
        let frozen = baton_registry::Registration {
            member: baton_registry::Member {
                id: "a".into(),
                role: baton_registry::Role::Master,
                address: "a".into(),
                group: None,
                version: "0".into(),
                started_at: 1,
                load: baton_registry::Load::default(),
            },
            heartbeat_at: 1,
            session: "s".into(),
        };
        let now = sampled_now(frozen);
        assert!(now.heartbeat_at > 1);
        assert!(now.member.load.memory_total_mb > 0, "{:?}", now.member.load);
    }
}

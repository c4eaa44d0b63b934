//! The `etcd` registry: each member is a key `/baton/members/<id>` holding its
//! [`Registration`] as JSON, attached to a lease whose TTL is the session timeout. etcd itself
//! expires the lease (and so the key) when the member stops renewing it, so expiry does not
//! depend on any member's clock. The session id is the lease id.
//!
//! The client is a small gRPC client generated at build time from `proto/etcd.proto` with
//! protox, so that building needs no `protoc` (the `etcd-client` crate requires one).

use crate::{now_micros, Member, Registration, Registry, RegistryError};
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};
use tonic::Code;

/// Code generated from `proto/etcd.proto`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
mod rpc {
    tonic::include_proto!("etcdserverpb");
}

use rpc::compare::{CompareResult, CompareTarget, TargetUnion};
use rpc::kv_client::KvClient;
use rpc::lease_client::LeaseClient;
use rpc::request_op::Request;
use rpc::{
    Compare, LeaseGrantRequest, LeaseKeepAliveRequest, LeaseRevokeRequest, PutRequest,
    RangeRequest, RequestOp, TxnRequest,
};

/// Where members live in etcd's key space.
pub const MEMBERS_PREFIX: &str = "/baton/members/";

/// Membership on etcd leases: for clusters that already run etcd, or that want membership
/// off the metadata database.
#[derive(Debug, Clone)]
pub struct EtcdRegistry {
    kv: KvClient<Channel>,
    lease: LeaseClient<Channel>,
    /// The lease TTL in whole seconds.
    ttl: i64,
    session_timeout: Duration,
    /// The endpoints, for error messages.
    endpoints: String,
}

/// The first key after every key that starts with `prefix` (etcd's range end for a prefix).
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

fn key_of(id: &str) -> Vec<u8> {
    format!("{MEMBERS_PREFIX}{id}").into_bytes()
}

/// etcd's answer when a lease has expired or was revoked.
fn is_lease_gone(status: &tonic::Status) -> bool {
    status.code() == Code::NotFound || status.message().contains("lease not found")
}

impl EtcdRegistry {
    /// Connects to etcd at `endpoints` (`host:port` or `http://host:port`) and checks that it
    /// answers; members that do not renew within `session_timeout` (rounded up to whole
    /// seconds, the unit of etcd leases) are dead.
    pub async fn connect(
        endpoints: &[String],
        session_timeout: Duration,
    ) -> Result<EtcdRegistry, RegistryError> {
        if endpoints.is_empty() {
            return Err(RegistryError::Config("no etcd endpoint given".into()));
        }
        if session_timeout.is_zero() {
            return Err(RegistryError::Config(
                "the session timeout must be positive".into(),
            ));
        }
        let ttl = session_timeout.as_secs() as i64 + i64::from(session_timeout.subsec_nanos() > 0);
        // A call must fail rather than hang past a session.
        let call_timeout = session_timeout.max(Duration::from_secs(1));
        let mut parsed = Vec::with_capacity(endpoints.len());
        for endpoint in endpoints {
            let url = if endpoint.contains("://") {
                endpoint.clone()
            } else {
                format!("http://{endpoint}")
            };
            if !url.starts_with("http://") {
                return Err(RegistryError::Config(format!(
                    "etcd endpoint `{endpoint}`: only plain http:// endpoints are supported"
                )));
            }
            let parsed_endpoint = Endpoint::from_shared(url)
                .map_err(|e| RegistryError::Config(format!("etcd endpoint `{endpoint}`: {e}")))?
                .connect_timeout(call_timeout)
                .timeout(call_timeout)
                .tcp_nodelay(true);
            parsed.push(parsed_endpoint);
        }
        let channel = if parsed.len() == 1 {
            parsed.remove(0).connect_lazy()
        } else {
            Channel::balance_list(parsed.into_iter())
        };
        let registry = EtcdRegistry {
            kv: KvClient::new(channel.clone()),
            lease: LeaseClient::new(channel),
            ttl: ttl.max(1),
            session_timeout,
            endpoints: endpoints.join(","),
        };
        registry
            .kv
            .clone()
            .range(RangeRequest {
                key: MEMBERS_PREFIX.as_bytes().to_vec(),
                range_end: prefix_end(MEMBERS_PREFIX),
                count_only: true,
                ..Default::default()
            })
            .await
            .map_err(|s| registry.unavailable("connecting", &s))?;
        tracing::debug!(endpoints = %registry.endpoints, ttl = registry.ttl, "etcd registry ready");
        Ok(registry)
    }

    fn unavailable(&self, what: &str, status: &tonic::Status) -> RegistryError {
        RegistryError::Unavailable(format!(
            "etcd at {}, {what}: {} ({:?})",
            self.endpoints,
            status.message(),
            status.code()
        ))
    }

    fn value(member: &Member, lease: i64) -> Vec<u8> {
        let registration = Registration {
            member: member.clone(),
            heartbeat_at: now_micros(),
            session: lease.to_string(),
        };
        // A Registration holds only strings, numbers and enums: serialising cannot fail.
        serde_json::to_vec(&registration).unwrap_or_default()
    }

    /// Revokes a lease, ignoring one that is already gone.
    async fn revoke(&self, lease: i64) -> Result<(), RegistryError> {
        match self
            .lease
            .clone()
            .lease_revoke(LeaseRevokeRequest { id: lease })
            .await
        {
            Ok(_) => Ok(()),
            Err(s) if is_lease_gone(&s) => Ok(()),
            Err(s) => Err(self.unavailable(&format!("revoking lease {lease}"), &s)),
        }
    }
}

#[async_trait::async_trait]
impl Registry for EtcdRegistry {
    async fn register(&self, member: &Member) -> Result<String, RegistryError> {
        let grant = self
            .lease
            .clone()
            .lease_grant(LeaseGrantRequest {
                ttl: self.ttl,
                id: 0,
            })
            .await
            .map_err(|s| self.unavailable(&format!("granting a lease for `{}`", member.id), &s))?
            .into_inner();
        if !grant.error.is_empty() {
            return Err(RegistryError::Unavailable(format!(
                "etcd at {}, granting a lease for `{}`: {}",
                self.endpoints, member.id, grant.error
            )));
        }
        let lease = grant.id;
        let put = self
            .kv
            .clone()
            .put(PutRequest {
                key: key_of(&member.id),
                value: Self::value(member, lease),
                lease,
                prev_kv: true,
                ..Default::default()
            })
            .await;
        let put = match put {
            Ok(put) => put.into_inner(),
            Err(s) => {
                let _ = self.revoke(lease).await;
                return Err(self.unavailable(&format!("registering `{}`", member.id), &s));
            }
        };
        // The registration this one replaces (an earlier run of the same member) ends now, so
        // that its holder learns at its next heartbeat that it lost its session.
        if let Some(previous) = put.prev_kv.filter(|kv| kv.lease != 0 && kv.lease != lease) {
            if let Err(e) = self.revoke(previous.lease).await {
                tracing::warn!(id = %member.id, error = %e, "could not revoke the replaced lease");
            }
        }
        tracing::info!(id = %member.id, role = member.role.as_str(), lease, "registered");
        Ok(lease.to_string())
    }

    async fn heartbeat(&self, member: &Member, session: &str) -> Result<(), RegistryError> {
        let lost = || RegistryError::SessionLost(member.id.clone());
        let lease: i64 = session.parse().map_err(|_| lost())?;
        let mut answers = self
            .lease
            .clone()
            .lease_keep_alive(tokio_stream::once(LeaseKeepAliveRequest { id: lease }))
            .await
            .map_err(|s| self.unavailable(&format!("heartbeat of `{}`", member.id), &s))?
            .into_inner();
        let answer = answers
            .message()
            .await
            .map_err(|s| self.unavailable(&format!("heartbeat of `{}`", member.id), &s))?
            .ok_or_else(|| {
                RegistryError::Unavailable(format!(
                    "etcd at {}, heartbeat of `{}`: no keep-alive answer",
                    self.endpoints, member.id
                ))
            })?;
        if answer.ttl <= 0 {
            return Err(lost());
        }
        // Fresh data, only while the key is still ours: a later registration of the same id
        // (a restarted process) holds it under another lease.
        let key = key_of(&member.id);
        let txn = TxnRequest {
            compare: vec![Compare {
                result: CompareResult::Equal as i32,
                target: CompareTarget::Lease as i32,
                key: key.clone(),
                target_union: Some(TargetUnion::Lease(lease)),
                range_end: Vec::new(),
            }],
            success: vec![RequestOp {
                request: Some(Request::RequestPut(PutRequest {
                    key,
                    value: Self::value(member, lease),
                    lease,
                    ..Default::default()
                })),
            }],
            failure: Vec::new(),
        };
        match self.kv.clone().txn(txn).await {
            Ok(reply) if reply.get_ref().succeeded => Ok(()),
            Ok(_) => Err(lost()),
            Err(s) if is_lease_gone(&s) => Err(lost()),
            Err(s) => Err(self.unavailable(&format!("heartbeat of `{}`", member.id), &s)),
        }
    }

    async fn deregister(&self, id: &str, session: &str) -> Result<(), RegistryError> {
        let Ok(lease) = session.parse::<i64>() else {
            return Ok(());
        };
        self.revoke(lease).await?;
        tracing::info!(%id, lease, "deregistered");
        Ok(())
    }

    async fn members(&self) -> Result<Vec<Registration>, RegistryError> {
        let range = self
            .kv
            .clone()
            .range(RangeRequest {
                key: MEMBERS_PREFIX.as_bytes().to_vec(),
                range_end: prefix_end(MEMBERS_PREFIX),
                ..Default::default()
            })
            .await
            .map_err(|s| self.unavailable("listing members", &s))?
            .into_inner();
        let mut members = Vec::with_capacity(range.kvs.len());
        for kv in range.kvs {
            match serde_json::from_slice::<Registration>(&kv.value) {
                Ok(mut registration) => {
                    // The lease is what etcd keeps alive: it is the session.
                    registration.session = kv.lease.to_string();
                    members.push(registration);
                }
                Err(e) => tracing::warn!(
                    key = %String::from_utf8_lossy(&kv.key),
                    error = %e,
                    "skipping an unreadable registry key"
                ),
            }
        }
        Ok(members)
    }

    fn session_timeout(&self) -> Duration {
        self.session_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_is_the_next_key() {
        assert_eq!(prefix_end("/a/"), b"/a0".to_vec());
        assert_eq!(prefix_end("a\u{7f}"), b"a\x80".to_vec());
    }
}

//! The `etcd` registry: each member is a key `/baton/members/<id>` holding its
//! [`Registration`] as JSON, attached to a lease whose TTL is the session timeout. etcd itself
//! expires the lease (and so the key) when the member stops renewing it, so expiry does not
//! depend on any member's clock. The session id is the lease id.
//!
//! The client is a small gRPC client generated at build time from `proto/etcd.proto` with
//! protox, so that building needs no `protoc` (the `etcd-client` crate requires one).

use crate::{now_micros, Member, Registration, Registry, RegistryError};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

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
    /// One lazily connected channel per endpoint; a call that cannot reach one tries the next.
    channels: Arc<[Channel]>,
    /// The endpoint that answered last: calls start there.
    current: Arc<AtomicUsize>,
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
        let mut channels = Vec::with_capacity(endpoints.len());
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
            let channel = Endpoint::from_shared(url)
                .map_err(|e| RegistryError::Config(format!("etcd endpoint `{endpoint}`: {e}")))?
                .connect_timeout(call_timeout)
                .timeout(call_timeout)
                .tcp_nodelay(true)
                .connect_lazy();
            channels.push(channel);
        }
        let registry = EtcdRegistry {
            channels: channels.into(),
            current: Arc::new(AtomicUsize::new(0)),
            ttl: ttl.max(1),
            session_timeout,
            endpoints: endpoints.join(","),
        };
        let probe = RangeRequest {
            key: MEMBERS_PREFIX.as_bytes().to_vec(),
            range_end: prefix_end(MEMBERS_PREFIX),
            count_only: true,
            ..Default::default()
        };
        registry
            .range(probe)
            .await
            .map_err(|s| registry.unavailable("connecting", &s))?;
        tracing::debug!(endpoints = %registry.endpoints, ttl = registry.ttl, "etcd registry ready");
        Ok(registry)
    }

    /// Runs `rpc` on the endpoint that answered last, and on the others in turn while the
    /// one tried cannot be reached. Every call the registry makes can be repeated safely.
    async fn call<T, F, Fut>(&self, rpc: F) -> Result<T, Status>
    where
        F: Fn(Channel) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let count = self.channels.len();
        let first = self.current.load(Ordering::Relaxed) % count;
        let mut failure = None;
        for step in 0..count {
            let at = (first + step) % count;
            match rpc(self.channels[at].clone()).await {
                Err(status)
                    if matches!(
                        status.code(),
                        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled
                    ) =>
                {
                    failure = Some(status);
                }
                answer => {
                    if at != first {
                        self.current.store(at, Ordering::Relaxed);
                        tracing::info!(endpoint = at, endpoints = %self.endpoints, "using another etcd endpoint");
                    }
                    return answer;
                }
            }
        }
        Err(failure.unwrap_or_else(|| Status::unavailable("no etcd endpoint")))
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

    async fn range(&self, request: RangeRequest) -> Result<rpc::RangeResponse, Status> {
        self.call(|channel| {
            let request = request.clone();
            async move { Ok(KvClient::new(channel).range(request).await?.into_inner()) }
        })
        .await
    }

    async fn put(&self, request: PutRequest) -> Result<rpc::PutResponse, Status> {
        self.call(|channel| {
            let request = request.clone();
            async move { Ok(KvClient::new(channel).put(request).await?.into_inner()) }
        })
        .await
    }

    async fn txn(&self, request: TxnRequest) -> Result<rpc::TxnResponse, Status> {
        self.call(|channel| {
            let request = request.clone();
            async move { Ok(KvClient::new(channel).txn(request).await?.into_inner()) }
        })
        .await
    }

    async fn grant(&self) -> Result<rpc::LeaseGrantResponse, Status> {
        let request = LeaseGrantRequest {
            ttl: self.ttl,
            id: 0,
        };
        self.call(|channel| async move {
            Ok(LeaseClient::new(channel)
                .lease_grant(request)
                .await?
                .into_inner())
        })
        .await
    }

    /// Renews a lease once; `None` if etcd closed the stream without answering.
    async fn keep_alive(&self, lease: i64) -> Result<Option<rpc::LeaseKeepAliveResponse>, Status> {
        self.call(|channel| async move {
            let request = tokio_stream::once(LeaseKeepAliveRequest { id: lease });
            let mut answers = LeaseClient::new(channel)
                .lease_keep_alive(request)
                .await?
                .into_inner();
            answers.message().await
        })
        .await
    }

    /// Revokes a lease, ignoring one that is already gone.
    async fn revoke(&self, lease: i64) -> Result<(), RegistryError> {
        let revoked = self
            .call(|channel| async move {
                LeaseClient::new(channel)
                    .lease_revoke(LeaseRevokeRequest { id: lease })
                    .await
            })
            .await;
        match revoked {
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
            .grant()
            .await
            .map_err(|s| self.unavailable(&format!("granting a lease for `{}`", member.id), &s))?;
        if !grant.error.is_empty() {
            return Err(RegistryError::Unavailable(format!(
                "etcd at {}, granting a lease for `{}`: {}",
                self.endpoints, member.id, grant.error
            )));
        }
        let lease = grant.id;
        let put = self
            .put(PutRequest {
                key: key_of(&member.id),
                value: Self::value(member, lease),
                lease,
                prev_kv: true,
                ..Default::default()
            })
            .await;
        let put = match put {
            Ok(put) => put,
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
        let answer = self
            .keep_alive(lease)
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
        match self.txn(txn).await {
            Ok(reply) if reply.succeeded => Ok(()),
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
            .range(RangeRequest {
                key: MEMBERS_PREFIX.as_bytes().to_vec(),
                range_end: prefix_end(MEMBERS_PREFIX),
                ..Default::default()
            })
            .await
            .map_err(|s| self.unavailable("listing members", &s))?;
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

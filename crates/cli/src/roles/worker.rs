//! `baton worker`: runs task attempts for the masters. It needs no database: with the etcd
//! registry it keeps its own session; with the database registry it heartbeats through the
//! masters, which renew its session for it.

use crate::args::WorkerArgs;
use crate::config::{Common, Disconnect, FileConfig};
use crate::exit::Exit;
use anyhow::Context;
use baton_proto::auth::MemberChannel;
use baton_proto::master_client::MasterClient;
use baton_proto::HeartbeatRequest;
use baton_registry::{host_load, Load, Membership, Role, SessionState};
use baton_worker::{Worker, WorkerConfig};
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub async fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let file = FileConfig::load(args.cluster.config.as_deref())?;
    let common = Common::resolve(&args.cluster, &file)?;
    let w = &file.worker;
    let listen = args
        .listen
        .or(w.listen)
        .unwrap_or_else(|| "127.0.0.1:5690".parse().expect("a literal address"));
    let group = args
        .group
        .or(w.group.clone())
        .unwrap_or_else(|| "default".into());
    if !baton_core::spec::valid_name(&group) {
        return Err(Exit::BadInput(format!("bad worker group `{group}`")).into());
    }
    let masters = args.masters.or(w.masters.clone()).unwrap_or_default();
    let via_masters = common.registry == "db";
    if via_masters && masters.is_empty() {
        return Err(Exit::BadInput(
            "with the db registry a worker needs the masters to heartbeat through: \
             `masters` in [worker], BATON_MASTERS or --masters host:port,host:port"
                .into(),
        )
        .into());
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (worker gRPC)"))?;
    let address = super::advertised(args.advertise.or(w.advertise.clone()), &listener)?;
    let reaped = baton_worker::reap_orphans(&address);
    if reaped > 0 {
        tracing::warn!("killed {reaped} task process groups left over from a previous run");
    }

    let data_dir = args
        .data_dir
        .or(w.data_dir.clone())
        .unwrap_or_else(|| "./baton-worker".into());
    baton_worker::create_private_dir(&data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let mut config = WorkerConfig::new(address.clone(), &data_dir);
    if let Some(slots) = args.slots.or(w.slots) {
        config.slots = slots.max(1);
    }
    if let Some(bytes) = args.log_max_bytes.or(w.log_max_bytes) {
        config.log_max_bytes = bytes;
    }
    if let Some(grace) = args.kill_grace.or(w.kill_grace) {
        config.kill_grace = grace;
    }
    if let Some(names) = args.task_env_pass.clone().or(w.task_env_pass.clone()) {
        config.pass_env = names;
    }
    config.http = crate::args::http_client(&args.http, &w.http_allow_hosts, &w.http_deny_hosts);
    // A service ends with its worker's pause well before the registry's session expires and
    // it runs elsewhere (see baton_worker::WorkerConfig::service_lease).
    let lease = common
        .session_timeout
        .saturating_sub(common.heartbeat_interval)
        / 2;
    config.service_lease = Some(lease.max(std::time::Duration::from_millis(200)));
    config.cluster_key = common.cluster_key.clone();
    config.cluster_tls = common.cluster_tls.clone();
    config.log_archive = crate::config::log_archive(&args.log_archive, &file, None)?;
    let shutdown_grace = args
        .shutdown_grace
        .or(w.shutdown_grace)
        .unwrap_or(Duration::from_secs(30));
    let worker = Worker::open(config)?;
    worker.set_masters(masters.clone());
    if let Some(at) = args.metrics_listen.or(w.metrics_listen) {
        let metrics = worker.metrics().clone();
        let readiness = crate::role_metrics::Readiness::Worker(metrics.clone());
        crate::role_metrics::start(at, metrics.registry().clone(), readiness).await?;
    }
    if let Some(keep) = args.log_retention.or(w.log_retention) {
        worker.spawn_log_retention(keep);
    }

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(baton_worker::serve(worker.clone(), listener, async move {
        let _ = stop_rx.await;
    }));
    let member = super::member(Role::Worker, &address, Some(group.clone()));
    let presence = if via_masters {
        let worker = worker.clone();
        let common = common.clone();
        tokio::spawn(
            async move { heartbeat_through_masters(worker, member, masters, common).await },
        );
        None
    } else {
        let registry = common.open_registry().await?;
        let membership = std::sync::Arc::new(
            Membership::join(registry, member, common.heartbeat_interval).await?,
        );
        Some(keep_direct_session(
            worker.clone(),
            membership,
            common.clone(),
        ))
    };
    println!(
        "Baton {} worker {address} (group {group}, {} slots)",
        env!("CARGO_PKG_VERSION"),
        worker.config().slots
    );
    crate::standalone::shutdown_signal().await;
    tracing::info!("stopping: letting running tasks finish (up to {shutdown_grace:?})");
    worker.shutdown(shutdown_grace).await;
    if let Some((task, membership)) = presence {
        task.abort();
        if let Ok(m) = std::sync::Arc::try_unwrap(membership) {
            m.leave().await;
        }
    }
    let _ = stop_tx.send(());
    let _ = server.await;
    Ok(())
}

/// The load a worker reports: its host's, with its own slots and running attempts.
fn load_of(worker: &Worker) -> Load {
    Load {
        running: worker.running() as u32,
        slots: worker.config().slots as u32,
        ..host_load()
    }
}

/// etcd: the worker holds its own session; losing it means the masters are re-running its
/// attempts, so (by default) it kills them.
fn keep_direct_session(
    worker: Worker,
    membership: std::sync::Arc<Membership>,
    common: Common,
) -> (tokio::task::JoinHandle<()>, std::sync::Arc<Membership>) {
    let m = membership.clone();
    let task = tokio::spawn(async move {
        let mut state = m.state();
        let alive = matches!(*state.borrow(), SessionState::Alive { .. });
        worker.metrics().set_session(alive);
        let mut tick = tokio::time::interval(common.heartbeat_interval);
        loop {
            tokio::select! {
                _ = tick.tick() => m.set_load(load_of(&worker)),
                changed = state.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let now = state.borrow_and_update().clone();
                    let lost = matches!(now, SessionState::Lost);
                    worker.metrics().set_session(matches!(now, SessionState::Alive { .. }));
                    if lost && common.disconnect == Disconnect::Stop {
                        tracing::warn!("registry session lost: killing running attempts (they run elsewhere now)");
                        worker.session_lost();
                    }
                }
            }
        }
    });
    (task, membership)
}

/// A client of the master at `addr`; none (with a warning) when the address is not one.
fn master_client(addr: &str, common: &Common) -> Option<MasterClient<MemberChannel>> {
    let endpoint = match baton_proto::tls::endpoint(addr, common.cluster_tls.as_ref()) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!("master address `{addr}` skipped: {e}");
            return None;
        }
    };
    let endpoint = endpoint
        .connect_timeout(common.heartbeat_interval)
        .timeout(common.heartbeat_interval);
    Some(baton_proto::sizes::master_client(
        endpoint.connect_lazy(),
        common.cluster_key.clone(),
    ))
}

/// The database registry: heartbeat through any reachable master, which renews our session.
/// No answer from any master for a session timeout means the cluster counts us dead.
async fn heartbeat_through_masters(
    worker: Worker,
    mut member: baton_registry::Member,
    configured: Vec<String>,
    common: Common,
) {
    let mut clients: HashMap<String, MasterClient<MemberChannel>> = HashMap::new();
    let mut known = configured.clone();
    let mut session = String::new();
    let mut last_ok = Instant::now();
    let mut written_off = false;
    let mut turn = 0usize;
    loop {
        member.load = load_of(&worker);
        let json = serde_json::to_string(&member).expect("a member serializes");
        let mut answered = false;
        for i in 0..known.len() {
            let addr = known[(turn + i) % known.len()].clone();
            let client = match clients.get_mut(&addr) {
                Some(c) => c,
                None => match master_client(&addr, &common) {
                    Some(c) => clients.entry(addr.clone()).or_insert(c),
                    None => continue,
                },
            };
            let request = HeartbeatRequest {
                member_json: json.clone(),
                session: session.clone(),
            };
            let reply = match client.heartbeat(request).await {
                Ok(reply) => reply,
                Err(status) if status.code() == tonic::Code::Unauthenticated => {
                    tracing::warn!(
                        "master {addr} refused our heartbeat: {} (is the cluster secret the same on every member?)",
                        status.message()
                    );
                    continue;
                }
                Err(_) => continue,
            };
            let reply = reply.into_inner();
            if reply.session_lost && common.disconnect == Disconnect::Stop && !written_off {
                tracing::warn!("our registry session had expired: killing running attempts");
                worker.session_lost();
            }
            session = reply.session;
            let mut all = configured.clone();
            for m in reply.masters {
                if !all.contains(&m) {
                    all.push(m);
                }
            }
            worker.set_masters(all.clone());
            known = all;
            turn = (turn + i) % known.len().max(1);
            answered = true;
            break;
        }
        if answered {
            last_ok = Instant::now();
            written_off = false;
            worker.metrics().set_session(true);
        } else if !written_off && last_ok.elapsed() >= common.session_timeout {
            written_off = true;
            session.clear();
            worker.metrics().set_session(false);
            if common.disconnect == Disconnect::Stop {
                tracing::warn!(
                    "no master answered for {:?}: killing running attempts",
                    common.session_timeout
                );
                worker.session_lost();
            }
        }
        tokio::time::sleep(common.heartbeat_interval).await;
    }
}

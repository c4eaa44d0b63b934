//! `baton master`: a master of a cluster. All masters are active: each takes commands, owns
//! the instances it started (under a lease with an epoch), and adopts those of masters that
//! leave the registry.

use crate::args::MasterArgs;
use crate::config::{Common, Disconnect, FileConfig};
use crate::exit::Exit;
use anyhow::Context;
use baton_master::{ClusterView, Master, MasterConfig, Registrar, Strategy, WorkerEndpoint};
use baton_registry::{host_load, watch_members, Membership, Registration, Role, SessionState};
use std::time::Duration;
use tokio_stream::wrappers::TcpListenerStream;

pub async fn run(args: MasterArgs) -> anyhow::Result<()> {
    let file = FileConfig::load(args.cluster.config.as_deref())?;
    let common = Common::resolve(&args.cluster, &file)?;
    // Checked at the start, so that a bad key stops it: a sql task's dispatch opens its data
    // source's password with it.
    let keyring = crate::config::keyring(&args.secrets, &file)?;
    if let Some(keyring) = &keyring {
        tracing::info!("secret key {} loaded", keyring.current_id());
    }
    // Bad alert settings stop the start too.
    crate::alerting::sender(&args.alerts)?;
    let database = common.database()?.to_string();
    let listen = args
        .listen
        .or(file.master.listen)
        .unwrap_or_else(|| "127.0.0.1:5680".parse().expect("a literal address"));
    let strategy: Strategy = args
        .strategy
        .or(file.master.strategy.clone())
        .unwrap_or_else(|| "lowest_load".into())
        .parse()
        .map_err(Exit::BadInput)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (master gRPC)"))?;
    let address = super::advertised(args.advertise.or(file.master.advertise.clone()), &listener)?;

    let store = baton_store::Store::connect(&database).await?;
    let registry = common.open_registry().await?;
    let config = MasterConfig {
        cluster: true,
        strategy,
        dispatch_timeout: args
            .dispatch_timeout
            .or(file.master.dispatch_timeout)
            .unwrap_or(Duration::from_secs(5)),
        event_retention: match args.event_retention.or(file.master.event_retention) {
            Some(keep) => keep,
            None => baton_master::DEFAULT_EVENT_RETENTION,
        },
        instance_retention: args.retention.instance_retention(
            file.master.instance_retention,
            &file.master.project_retention,
        ),
        cluster_key: common.cluster_key.clone(),
        cluster_tls: common.cluster_tls.clone(),
        keyring: keyring.clone().map(std::sync::Arc::new),
        ..MasterConfig::new(address.clone(), address.clone())
    };
    let metrics = config.metrics.clone();
    let master = Master::start(store.clone(), config, Vec::new()).await?;
    if let Some(at) = args.metrics_listen.or(file.master.metrics_listen) {
        let readiness = crate::role_metrics::Readiness::Master {
            metrics: metrics.clone(),
            store: store.clone(),
        };
        crate::role_metrics::start(at, metrics.registry().clone(), readiness).await?;
    }
    let waker = master.waker();
    store.on_commands(&database, move || waker.wake());
    let alerts = crate::alerting::start(
        &store,
        &args.alerts,
        crate::alerting::Delivery {
            owner: address.clone(),
            default_url: None,
            keyring,
            cluster_key: common.cluster_key.clone(),
            cluster_tls: common.cluster_tls.clone(),
        },
    )?;
    store.on_events(&database, move || alerts.notify_one());

    let membership = std::sync::Arc::new(
        Membership::join(
            registry.clone(),
            super::member(Role::Master, &address, None),
            common.heartbeat_interval,
        )
        .await?,
    );
    master.set_session(true);
    let members = watch_members(registry.clone(), common.heartbeat_interval);
    let view_task = {
        let mut members = members.clone();
        let master_view = master.clone();
        tokio::spawn(async move {
            while members.changed().await.is_ok() {
                let view = view_of(&members.borrow_and_update());
                master_view.set_view(view);
            }
        })
    };
    let session_task = {
        let mut state = membership.state();
        let handle = master.clone();
        let disconnect = common.disconnect;
        let metrics = metrics.clone();
        tokio::spawn(async move {
            while state.changed().await.is_ok() {
                let alive = matches!(*state.borrow_and_update(), SessionState::Alive { .. });
                metrics.set_session(alive);
                if alive || disconnect == Disconnect::Stop {
                    handle.set_session(alive);
                }
            }
        })
    };
    let load_task = {
        let membership = membership.clone();
        let interval = common.heartbeat_interval;
        tokio::spawn(async move {
            loop {
                membership.set_load(host_load());
                tokio::time::sleep(interval).await;
            }
        })
    };

    let registrar = Registrar {
        registry: registry.clone(),
        members,
    };
    let incoming = TcpListenerStream::new(listener);
    println!("Baton {} master {address}", env!("CARGO_PKG_VERSION"));
    baton_proto::tls::server(common.cluster_tls.as_ref())?
        .add_service(master.service(Some(registrar)))
        .serve_with_incoming_shutdown(incoming, crate::standalone::shutdown_signal())
        .await?;

    // Graceful: stop the engine, then leave, so the others adopt our instances at once.
    tracing::info!("stopping: handing the instances over");
    master.shutdown(Duration::ZERO).await;
    view_task.abort();
    session_task.abort();
    load_task.abort();
    if let Ok(membership) = std::sync::Arc::try_unwrap(membership) {
        membership.leave().await;
    }
    store.close().await;
    Ok(())
}

/// The masters and workers the registry lists.
fn view_of(members: &[Registration]) -> ClusterView {
    let mut view = ClusterView::default();
    for r in members {
        match r.member.role {
            Role::Master => view.masters.push(r.member.id.clone()),
            Role::Worker => view.workers.push(WorkerEndpoint {
                id: r.member.id.clone(),
                address: r.member.address.clone(),
                group: r.member.group.clone().unwrap_or_else(|| "default".into()),
                slots: r.member.load.slots as usize,
                cpu: r.member.load.cpu,
                load1: r.member.load.load1,
                session: r.session.clone(),
            }),
            Role::Api => {}
        }
    }
    view
}

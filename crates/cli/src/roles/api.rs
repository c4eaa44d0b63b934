//! `baton api`: the REST API of a cluster.

use crate::args::ApiArgs;
use crate::config::{Common, FileConfig};
use anyhow::Context;
use baton_api::{ApiState, Members};
use baton_registry::{host_load, Membership, Role};
use std::sync::Arc;

pub async fn run(args: ApiArgs) -> anyhow::Result<()> {
    let file = FileConfig::load(args.cluster.config.as_deref())?;
    let common = Common::resolve(&args.cluster, &file)?;
    let keyring = crate::config::keyring(&args.secrets, &file)?;
    let log_archive = crate::config::log_archive(&args.log_archive, &file, None)?;
    let database = common.database()?.to_string();
    let listen = args
        .listen
        .or(file.api.listen)
        .unwrap_or_else(|| "127.0.0.1:12345".parse().expect("a literal address"));
    let http = crate::config::http_config(&args.http, &file.api)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (API)"))?;
    let store = baton_store::Store::connect(&database).await?;
    let registry = common.open_registry().await?;
    let address = listener.local_addr()?.to_string();
    let membership = Membership::join(
        registry.clone(),
        super::member(Role::Api, &address, None),
        common.heartbeat_interval,
    )
    .await?;
    // Masters learn of commands by NOTIFY (PostgreSQL) or by their poll.
    let mut state = ApiState::new(store.clone(), Arc::new(|| {}), Members::Registry(registry))
        .with_public_hosts(crate::standalone::public_hosts(
            &args.public_hosts,
            listener.local_addr()?,
        ))
        .with_cluster_key(common.cluster_key.clone())
        .with_cluster_tls(common.cluster_tls.clone())
        .with_log_archive(log_archive)
        .with_secure_cookies(http.secure_cookies())
        .with_alert_sender(crate::alerting::sender(&args.alerts)?);
    match keyring {
        Some(keyring) => {
            crate::standalone::reseal(&store, &keyring).await?;
            state = state.with_keyring(keyring);
        }
        None => tracing::warn!(
            "no secret key (--secret-key-file): data sources with a password are refused"
        ),
    }
    // Event streams wake on the masters' NOTIFY.
    state.listen_events(&database);
    state.keep_tidy();
    let url = format!("{}://{address}", http.scheme());
    println!("Baton {} api on {url}/api/v1", env!("CARGO_PKG_VERSION"));
    crate::standalone::first_admin(&store, &url).await?;
    let app = baton_api::router(state);
    let serve = baton_api::serve::serve(listener, app, http, crate::standalone::shutdown_signal());
    // The load sent with each heartbeat is sampled anew, not the one of the start.
    let sample_load = async {
        let mut tick = tokio::time::interval(common.heartbeat_interval);
        loop {
            tick.tick().await;
            membership.set_load(host_load());
        }
    };
    tokio::select! {
        () = serve => {}
        () = sample_load => {}
    }
    membership.leave().await;
    store.close().await;
    Ok(())
}

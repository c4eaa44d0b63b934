//! `baton standalone`: api, master and worker in one process, until SIGTERM or Ctrl-C.

use crate::args::StandaloneArgs;
use crate::commands::load_specs;
use crate::embedded::{Node, NodeOptions};
use anyhow::Context;
use baton_api::ApiState;

pub async fn run(args: StandaloneArgs) -> anyhow::Result<()> {
    // Bad input stops us before anything starts (exit 2).
    let database = crate::config::standalone_database(&args)?;
    let specs = if args.apply.is_empty() {
        Vec::new()
    } else {
        load_specs(&args.apply)?
    };
    let http = crate::config::http_config(&args.http, &Default::default())?;
    let alert_sender = crate::alerting::sender(&args.alerts)?;
    let given_keyring = crate::config::keyring(&args.secrets, &Default::default())?;
    let api_listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (API)", args.listen))?;
    baton_worker::create_private_dir(&args.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            args.data_dir.display()
        )
    })?;
    let keyring = match given_keyring {
        Some(k) => k,
        None => data_dir_keyring(&args.data_dir)?,
    };
    let log_archive = crate::config::log_archive(
        &args.log_archive,
        &Default::default(),
        Some(default_log_archive(&args.data_dir)?),
    )?;
    let node = Node::start(NodeOptions {
        data_dir: args.data_dir.clone(),
        database: database.clone(),
        grpc_listen: args.grpc_listen,
        node: args.node.clone(),
        keyring: Some(keyring.clone()),
        log_archive: log_archive.clone(),
    })
    .await?;
    reseal(&node.store, &keyring).await?;
    let api_url = format!("{}://{}", http.scheme(), api_listener.local_addr()?);
    let alerts = crate::alerting::start(
        &node.store,
        &args.alerts,
        crate::alerting::Delivery {
            owner: args.grpc_listen.to_string(),
            default_url: Some(api_url),
            keyring: Some(keyring.clone()),
            cluster_key: node.worker.config().cluster_key.clone(),
            cluster_tls: None,
        },
    )?;
    wake_on_run_events(&node.master, move || alerts.notify_one());
    for (file, text, spec) in &specs {
        let applied = node.store.apply_workflow(spec, text).await?;
        tracing::info!(
            "applied {}: workflow {}/{} {} (version {})",
            file.display(),
            spec.project,
            spec.name,
            applied.outcome,
            applied.version
        );
    }
    let me = baton_registry::Registration {
        member: crate::roles::member_standalone(&address_of(&args)),
        heartbeat_at: baton_store::now_us(),
        session: "standalone".into(),
    };
    let members = baton_api::Members::Fixed(vec![me]);
    let state = ApiState::new(node.store.clone(), node.notify(), members)
        .with_public_hosts(public_hosts(&args.public_hosts, args.listen))
        .with_cluster_key(node.worker.config().cluster_key.clone())
        .with_secure_cookies(http.secure_cookies())
        .with_keyring(keyring)
        .with_alert_sender(alert_sender)
        .with_metrics_of(node.registries())
        .with_log_archive(log_archive);
    let waker = state.event_waker();
    wake_on_run_events(&node.master, move || waker.wake());
    if let Some(database) = &database {
        state.listen_events(database);
    }
    state.keep_tidy();
    let app = baton_api::router(state);
    let url = format!("{}://{}", http.scheme(), api_listener.local_addr()?);
    println!(
        "Baton {} standalone: API on {url}/api/v1, data in {}",
        env!("CARGO_PKG_VERSION"),
        args.data_dir.display()
    );
    first_admin(&node.store, &url).await?;
    baton_api::serve::serve(api_listener, app, http, shutdown_signal()).await;
    tracing::info!(
        "stopping: waiting up to {:?} for running tasks",
        args.shutdown_grace
    );
    node.stop(args.shutdown_grace).await;
    tracing::info!("stopped");
    Ok(())
}

/// Where standalone archives the logs of ended attempts when given no archive: a directory
/// beside its database, `file://DATA_DIR/log-archive` (the data directory made absolute).
fn default_log_archive(data_dir: &std::path::Path) -> anyhow::Result<String> {
    let dir = std::fs::canonicalize(data_dir)
        .with_context(|| format!("cannot find the data directory {}", data_dir.display()))?;
    Ok(format!("file://{}", dir.join("log-archive").display()))
}

/// Where standalone keeps its secret key when given none.
pub fn secret_key_path(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("secret.key")
}

/// The keyring of the data directory's key, made (mode 0600) at the first start.
fn data_dir_keyring(data_dir: &std::path::Path) -> anyhow::Result<baton_secrets::Keyring> {
    let path = secret_key_path(data_dir);
    if !path.exists() {
        let key = baton_secrets::SecretKey::create_file(&path)
            .map_err(|e| crate::exit::Exit::BadInput(e.to_string()))?;
        tracing::info!("made the secret key {} in {}", key.id(), path.display());
    }
    crate::config::keyring_of(&path, &[])
}

/// Seals again with the current key what another key sealed (a rotation), at the start.
pub async fn reseal(
    store: &baton_store::Store,
    keyring: &baton_secrets::Keyring,
) -> anyhow::Result<()> {
    let done = baton_api::reseal(store, keyring)
        .await
        .map_err(|e| anyhow::anyhow!("cannot re-seal secrets with the current key: {e}"))?;
    if done.unopened > 0 {
        tracing::warn!(
            "{} data source password(s) or project secret(s) are sealed with a key that is not configured: give it \
             with --previous-secret-key-file, or set those passwords again",
            done.unopened
        );
    }
    Ok(())
}

/// The names the API answers to besides loopback ones: those given, and the address it
/// listens on when that is a specific one.
pub fn public_hosts(given: &[String], listen: std::net::SocketAddr) -> Vec<String> {
    let mut hosts = given.to_vec();
    if !listen.ip().is_unspecified() {
        hosts.push(listen.to_string());
    }
    hosts
}

/// With no user yet, creates `admin` (password from `BATON_ADMIN_PASSWORD`, else a random
/// one printed once to stderr), and says how to log in.
pub async fn first_admin(store: &baton_store::Store, url: &str) -> anyhow::Result<()> {
    let given = std::env::var("BATON_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let login = format!(
        "baton login --server {url} --username {}",
        baton_api::ADMIN_USER
    );
    match baton_api::ensure_admin(store, given).await? {
        baton_api::FirstAdmin::Existing => {}
        baton_api::FirstAdmin::Given => {
            eprintln!("Created user `admin` with the password in BATON_ADMIN_PASSWORD.");
        }
        baton_api::FirstAdmin::Generated(password) => {
            eprintln!(
                "Created user `admin` (a global admin). Its password, shown only this once:\n\n    {password}\n\nChange it with `baton user passwd admin`."
            );
        }
    }
    eprintln!("Open the web UI at {url}/ (user `admin`)");
    eprintln!("Log in with: {login}");
    Ok(())
}

/// The master in this process records events as it runs instances: each of its run events
/// wakes a reader of the event log (the API's event streams, the alert delivery loop), which
/// then reads what was recorded.
fn wake_on_run_events(master: &baton_master::Master, wake: impl Fn() + Send + 'static) {
    let mut events = master.subscribe();
    tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        while let Ok(_) | Err(RecvError::Lagged(_)) = events.recv().await {
            wake();
        }
    });
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

fn address_of(args: &StandaloneArgs) -> String {
    args.listen.to_string()
}

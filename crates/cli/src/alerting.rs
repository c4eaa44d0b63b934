//! Alert delivery in the server roles: the sender every role with an API uses for test
//! messages, and the delivery loop every master (and standalone) runs beside its engine.

use crate::args::AlertArgs;
use std::sync::Arc;

/// The sender under the server's `--alert-allow-host` and `--alert-script-dir`.
pub fn sender(args: &AlertArgs) -> anyhow::Result<baton_alerts::Sender> {
    if let Some(dir) = &args.alert_script_dir {
        if !dir.is_dir() {
            return Err(crate::exit::Exit::BadInput(format!(
                "--alert-script-dir {}: not a directory",
                dir.display()
            ))
            .into());
        }
    }
    if let Some(url) = &args.public_url {
        baton_alerts::channel::check_url(url, "--public-url")
            .map_err(crate::exit::Exit::BadInput)?;
    }
    let policy = baton_alerts::SendPolicy {
        allow_hosts: args.alert_allow_hosts.clone(),
    };
    Ok(baton_alerts::Sender::new(
        policy,
        args.alert_script_dir.clone(),
    ))
}

/// What the delivery loop needs from its role.
pub struct Delivery {
    /// The process's stable identity (the master's id).
    pub owner: String,
    /// The links' base URL when `--public-url` is not given.
    pub default_url: Option<String>,
    /// Opens the channels' secrets.
    pub keyring: Option<baton_secrets::Keyring>,
    /// Reads failed tasks' logs from the workers.
    pub cluster_key: baton_proto::auth::ClusterKey,
    /// The cluster's mutual TLS, if any.
    pub cluster_tls: Option<baton_proto::tls::ClusterTls>,
}

/// Starts the delivery loop; the returned handle wakes it (events were recorded).
pub fn start(
    store: &baton_store::Store,
    args: &AlertArgs,
    d: Delivery,
) -> anyhow::Result<Arc<tokio::sync::Notify>> {
    let mut config = baton_alerts::DeliveryConfig::new(d.owner, sender(args)?);
    config.public_url = args.public_url.clone().or(d.default_url);
    config.keyring = d.keyring.map(Arc::new);
    config.logs = Some(baton_alerts::LogTail::new(d.cluster_key, d.cluster_tls));
    let wake = Arc::new(tokio::sync::Notify::new());
    baton_alerts::spawn(store.clone(), config, Some(wake.clone()));
    Ok(wake)
}

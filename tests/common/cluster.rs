//! A cluster of real `baton` processes on loopback (an api, masters and workers sharing a
//! PostgreSQL database and a registry), started by the one launcher the benchmarks use too.

use super::*;

#[allow(unused_imports)] // Used by some of the test binaries only.
pub use baton_testkit::Proc;

/// How to build a cluster.
pub struct Options<'a> {
    pub database: &'a str,
    pub registry: &'a str,
    pub masters: usize,
    pub workers: usize,
    pub session_timeout: &'a str,
    pub heartbeat_interval: &'a str,
}

/// The processes of one cluster, running the binary under test.
pub struct Cluster(baton_testkit::Cluster);

impl Cluster {
    /// Starts every role (workers with a 1 s kill grace, masters logging at debug) and waits
    /// until all are in the registry.
    pub fn start(dir: &Path, o: Options<'_>) -> Cluster {
        let mut launch = baton_testkit::Launch::new(baton_bin(), dir, o.database);
        launch.registry = o.registry.to_string();
        launch.masters = o.masters;
        launch.workers = o.workers;
        launch.session_timeout = o.session_timeout.to_string();
        launch.heartbeat_interval = o.heartbeat_interval.to_string();
        launch.worker_args = vec!["--kill-grace".into(), "1s".into()];
        launch.log_filter = Some("info,baton_master=debug".into());
        match baton_testkit::Cluster::start(launch) {
            Ok(c) => Cluster(c),
            Err(e) => panic!("{e}"),
        }
    }
}

impl std::ops::Deref for Cluster {
    type Target = baton_testkit::Cluster;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Cluster {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

//! A PostgreSQL server of the test's own (initdb + pg_ctl, run as the `postgres` user, on a
//! free loopback port), so that a test can restart it without touching anything else.

use super::*;

/// A private PostgreSQL cluster, stopped and removed when dropped.
pub struct OwnPostgres {
    dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
}

fn as_postgres(program: &Path, args: &[&str]) -> Output {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(program)
        .args(args)
        .output()
        .expect("run a PostgreSQL tool as the postgres user")
}

impl OwnPostgres {
    /// initdb and start; the database `baton` exists.
    pub fn start() -> OwnPostgres {
        OwnPostgres::start_with("trust")
    }

    /// As [`OwnPostgres::start`], with `host_auth` (e.g. `scram-sha-256`) for connections over
    /// TCP: a password is then checked. The unix socket in its directory trusts `postgres`.
    pub fn start_with(host_auth: &str) -> OwnPostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's server binaries under /usr/lib/postgresql")
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .find(|p| p.join("initdb").exists())
            .expect("initdb");
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        let data = dir.path().join("data");
        let out = as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "--auth-local=trust",
                &format!("--auth-host={host_auth}"),
                "-U",
                "postgres",
            ],
        );
        assert!(out.status.success(), "initdb: {:?}", text(&out));
        let pg = OwnPostgres {
            dir,
            port: free_port(),
            bin,
        };
        pg.ctl("start");
        pg.psql("CREATE DATABASE baton");
        pg
    }

    /// Runs `sql` as `postgres` through the unix socket (trusted whatever `host_auth` is).
    pub fn psql(&self, sql: &str) {
        let out = Command::new("psql")
            .args(["-h"])
            .arg(self.dir.path())
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "psql `{sql}`: {:?}", text(&out));
    }

    fn ctl(&self, action: &str) {
        let data = self.dir.path().join("data");
        let log = self.dir.path().join("pg.log");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300",
            self.port,
            self.dir.path().display()
        );
        let out = as_postgres(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &opts,
                "-w",
                "-m",
                "fast",
                action,
            ],
        );
        assert!(out.status.success(), "pg_ctl {action}: {:?}", text(&out));
    }

    /// The URL of the `baton` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/baton", self.port)
    }

    /// Stops and starts the server (clients see their connections drop).
    pub fn restart(&self) {
        self.ctl("restart");
    }

    /// Stops the server (clients see their connections drop, new ones are refused).
    pub fn stop(&self) {
        self.ctl("stop");
    }

    /// Starts the server again after [`OwnPostgres::stop`].
    pub fn start_again(&self) {
        self.ctl("start");
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = as_postgres(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}

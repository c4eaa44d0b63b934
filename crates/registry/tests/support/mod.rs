//! Real backends for the conformance tests: a SQLite file, a throwaway database on the local
//! PostgreSQL (reached through a TCP relay the test can cut), and an etcd server the test
//! starts on free loopback ports and can kill and restart.

pub use baton_registry::testing::EtcdServer;
use baton_registry::{DbRegistry, EtcdRegistry, Member, Registry, Role};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// The session timeout of every test registry.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Waits until `check` gives a value, polling every 50 ms, and fails the test after `limit`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A member for tests.
pub fn member(id: &str, role: Role, group: Option<&str>) -> Member {
    Member {
        id: id.to_string(),
        role,
        address: format!("127.0.0.1:{}", 7000 + id.len()),
        group: group.map(str::to_string),
        version: "0.1.0-test".to_string(),
        started_at: baton_registry::now_micros(),
        load: Default::default(),
    }
}

/// One backend under test, with what it needs to live and to fail on purpose.
pub struct Fixture {
    /// The registry under test.
    pub registry: Arc<dyn Registry>,
    backend: Backend,
}

enum Backend {
    Sqlite {
        url: String,
        _dir: tempfile::TempDir,
    },
    Postgres {
        url: String,
        relay: Relay,
        _db: PgDb,
    },
    Etcd(EtcdServer),
}

impl Fixture {
    /// The db backend on a fresh SQLite file.
    pub async fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("baton.db").display());
        let registry = DbRegistry::connect(&url, TIMEOUT)
            .await
            .expect("open the SQLite registry");
        Fixture {
            registry: Arc::new(registry),
            backend: Backend::Sqlite { url, _dir: dir },
        }
    }

    /// The db backend on a fresh database of the local PostgreSQL, through a relay.
    pub async fn postgres() -> Fixture {
        let db = PgDb::create().await;
        let relay = Relay::start(db.server_addr()).await;
        let url = format!("postgres://postgres@127.0.0.1:{}/{}", relay.port, db.name);
        let registry = DbRegistry::connect(&url, TIMEOUT)
            .await
            .expect("open the PostgreSQL registry");
        Fixture {
            registry: Arc::new(registry),
            backend: Backend::Postgres {
                url,
                relay,
                _db: db,
            },
        }
    }

    /// The etcd backend on an etcd server of its own.
    pub async fn etcd() -> Fixture {
        let server = EtcdServer::start().await;
        let registry = EtcdRegistry::connect(&[server.endpoint()], TIMEOUT)
            .await
            .expect("connect to the test etcd");
        Fixture {
            registry: Arc::new(registry),
            backend: Backend::Etcd(server),
        }
    }

    /// The database URL of a db fixture.
    pub fn database_url(&self) -> String {
        match &self.backend {
            Backend::Sqlite { url, .. } | Backend::Postgres { url, .. } => url.clone(),
            Backend::Etcd(_) => panic!("an etcd fixture has no database"),
        }
    }

    /// host:port of an etcd fixture's client API.
    pub fn etcd_host(&self) -> String {
        match &self.backend {
            Backend::Etcd(server) => server.host(),
            _ => panic!("not an etcd fixture"),
        }
    }

    /// Another connection to the same registry, as another process would have.
    pub async fn open_another(&self) -> Arc<dyn Registry> {
        match &self.backend {
            Backend::Sqlite { url, .. } | Backend::Postgres { url, .. } => Arc::new(
                DbRegistry::connect(url, TIMEOUT)
                    .await
                    .expect("open the db registry again"),
            ),
            Backend::Etcd(server) => Arc::new(
                EtcdRegistry::connect(&[server.endpoint()], TIMEOUT)
                    .await
                    .expect("connect to the test etcd again"),
            ),
        }
    }

    /// Makes the registry stop answering: etcd is killed, PostgreSQL is cut off.
    pub async fn outage(&mut self) {
        match &mut self.backend {
            Backend::Sqlite { .. } => panic!("no outage test on SQLite"),
            Backend::Postgres { relay, .. } => relay.stop(),
            Backend::Etcd(server) => server.kill(),
        }
    }

    /// Ends the outage: etcd restarts on its data and ports, PostgreSQL is reachable again.
    pub async fn restore(&mut self) {
        match &mut self.backend {
            Backend::Sqlite { .. } => panic!("no outage test on SQLite"),
            Backend::Postgres { relay, .. } => relay.restart().await,
            Backend::Etcd(server) => server.restart().await,
        }
    }
}

/// The PostgreSQL server tests use.
fn postgres_server() -> String {
    std::env::var("BATON_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
}

/// A uniquely named PostgreSQL database, dropped with the value.
struct PgDb {
    name: String,
}

impl PgDb {
    async fn create() -> PgDb {
        use sqlx::{Connection, Executor};
        let name = format!("baton_reg_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", postgres_server()))
            .await
            .expect("the test PostgreSQL server (127.0.0.1:5432, user postgres) is reachable");
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create a test database");
        PgDb { name }
    }

    /// host:port of the server, for the relay.
    fn server_addr(&self) -> SocketAddr {
        let server = postgres_server();
        let host_port = server
            .rsplit('@')
            .next()
            .and_then(|rest| rest.split('/').next())
            .expect("a host:port in BATON_TEST_POSTGRES")
            .replace("localhost", "127.0.0.1");
        let host_port = if host_port.contains(':') {
            host_port
        } else {
            format!("{host_port}:5432")
        };
        host_port
            .parse()
            .expect("BATON_TEST_POSTGRES names an IP address and port")
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime: do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async move {
                use sqlx::{Connection, Executor};
                let url = format!("{}/postgres", postgres_server());
                let mut admin = sqlx::PgConnection::connect(&url).await.ok()?;
                admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// A TCP relay on a loopback port to a target, that can be cut (every connection dropped,
/// new ones refused) and restored on the same port: a network outage between a member and
/// its database.
struct Relay {
    port: u16,
    target: SocketAddr,
    task: Option<JoinHandle<()>>,
}

impl Relay {
    async fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a relay");
        let port = listener.local_addr().expect("relay address").port();
        let task = Some(tokio::spawn(Self::serve(listener, target)));
        Relay { port, target, task }
    }

    async fn serve(listener: TcpListener, target: SocketAddr) {
        // Dropping the set (when the task is aborted) aborts every connection.
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((mut inbound, _)) = accepted else { continue };
                    connections.spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(target).await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                }
                Some(_) = connections.join_next() => {}
            }
        }
    }

    fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    async fn restart(&mut self) {
        self.stop();
        let addr = format!("127.0.0.1:{}", self.port);
        let listener = eventually("the relay's port to be free again", TIMEOUT * 5, || async {
            TcpListener::bind(&addr).await.ok()
        })
        .await;
        self.task = Some(tokio::spawn(Self::serve(listener, self.target)));
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

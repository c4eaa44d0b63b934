//! Throwaway databases for tests: a SQLite file in a temporary directory, or a uniquely named
//! PostgreSQL database (on `BATON_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432`)
//! that is dropped when the value is dropped.

use crate::Store;

/// The PostgreSQL server tests use.
pub fn postgres_server() -> String {
    std::env::var("BATON_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
}

/// Applies a workflow file to `store` and returns the stored workflow (its latest version).
pub async fn applied(store: &Store, yaml: &str) -> crate::WorkflowRecord {
    let spec = baton_core::WorkflowSpec::from_yaml(yaml, "test.yaml").expect("a valid workflow");
    store.apply_workflow(&spec, yaml).await.expect("applied");
    store
        .get_workflow(&spec.project, &spec.name, None)
        .await
        .expect("read back")
        .expect("the workflow just applied")
}

/// A database that exists for one test.
pub struct TestDb {
    /// The URL to give to [`Store::connect`] or `--database`.
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh SQLite file.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("baton.db").display());
        TestDb {
            url,
            pg_name: None,
            _dir: Some(dir),
        }
    }

    /// A fresh, empty PostgreSQL database.
    pub async fn postgres() -> TestDb {
        use sqlx::Connection;
        let server = postgres_server();
        let name = format!("baton_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
            .await
            .expect("the test PostgreSQL server is reachable");
        sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create a test database");
        TestDb {
            url: format!("{server}/{name}"),
            pg_name: Some(name),
            _dir: None,
        }
    }

    /// Runs one SQL statement on it, outside the store: a test that makes the database
    /// hold what no Baton wrote (a hand edit, another version's rows).
    pub async fn execute(&self, statement: &str) {
        use sqlx::Connection;
        if self.pg_name.is_some() {
            let mut c = sqlx::PgConnection::connect(&self.url)
                .await
                .expect("connect");
            sqlx::Executor::execute(&mut c, statement)
                .await
                .expect("the statement runs");
        } else {
            let mut c = sqlx::SqliteConnection::connect(&self.url)
                .await
                .expect("connect");
            sqlx::Executor::execute(&mut c, statement)
                .await
                .expect("the statement runs");
        }
    }

    /// Opens the store on it.
    pub async fn store(&self) -> Store {
        Store::connect(&self.url)
            .await
            .expect("open the test store")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        let server = postgres_server();
        // Drop may run inside a runtime; do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async move {
                use sqlx::Connection;
                let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
                    .await
                    .ok()?;
                sqlx::Executor::execute(
                    &mut admin,
                    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                )
                .await
                .ok()
            })
        })
        .join();
    }
}

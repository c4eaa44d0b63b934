//! Data sources: the databases a project's `sql` tasks talk to (PostgreSQL, MySQL or MariaDB,
//! SQLite), their URLs, and connections to them.
//!
//! This crate is the base the `sql` task's executor is built on: [`Kind`] and [`DataSourceUrl`]
//! say what a data source is and check it, [`connect`] opens a [`Connection`] with the
//! password kept apart from the URL (it is stored sealed, see `baton-secrets`, and handed in
//! only when connecting), and [`test`] is the "can we reach it" check the API offers. Every
//! error message here has the password removed, so it can be shown and logged.
//!
//! A data source's URL never holds its password: [`DataSourceUrl::parse`] moves a password
//! written inside the URL out of it.

pub mod run;

use sqlx::Connection as _;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The record a data source's password is sealed for (the associated data of its sealing):
/// a sealed password copied onto another data source does not open there. The API seals
/// with it; the master opens with it for a `sql` task's dispatch.
pub fn secret_context(project: &str, name: &str) -> String {
    format!("datasource:{project}/{name}")
}

/// How long [`test`] waits for the connection and `SELECT 1` together.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The kind of database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// PostgreSQL (`postgres://` or `postgresql://`).
    Postgresql,
    /// MySQL or MariaDB (`mysql://` or `mariadb://`).
    Mysql,
    /// An SQLite file (`sqlite://PATH`).
    Sqlite,
}

impl Kind {
    /// Every kind, in the order they are documented.
    pub const ALL: [Kind; 3] = [Kind::Postgresql, Kind::Mysql, Kind::Sqlite];

    /// The name stored and shown: `postgresql`, `mysql` or `sqlite`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Postgresql => "postgresql",
            Kind::Mysql => "mysql",
            Kind::Sqlite => "sqlite",
        }
    }

    /// The URL schemes of this kind.
    pub fn schemes(self) -> &'static [&'static str] {
        match self {
            Kind::Postgresql => &["postgres", "postgresql"],
            Kind::Mysql => &["mysql", "mariadb"],
            Kind::Sqlite => &["sqlite"],
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = UrlError;

    /// `postgresql` (or `postgres`), `mysql` (or `mariadb`: MariaDB counts as MySQL), `sqlite`.
    fn from_str(s: &str) -> Result<Kind, UrlError> {
        match s.to_ascii_lowercase().as_str() {
            "postgresql" | "postgres" => Ok(Kind::Postgresql),
            "mysql" | "mariadb" => Ok(Kind::Mysql),
            "sqlite" => Ok(Kind::Sqlite),
            _ => Err(UrlError::UnknownKind(s.to_string())),
        }
    }
}

/// Why a data source's type or URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not a kind Baton connects to.
    #[error("unknown data source type `{0}`: use postgresql, mysql (MariaDB too) or sqlite")]
    UnknownKind(String),
    /// The URL does not parse.
    #[error("bad data source URL: {0}")]
    Unparsable(String),
    /// The scheme is not one of the kind's.
    #[error("a {kind} data source's URL starts with {expected}, not `{scheme}:`")]
    Scheme {
        /// The kind asked for.
        kind: Kind,
        /// The schemes it takes.
        expected: String,
        /// The scheme given.
        scheme: String,
    },
    /// A server kind without a host.
    #[error("a {0} data source's URL names its server: {0}://USER@HOST[:PORT]/DATABASE")]
    NoHost(Kind),
    /// SQLite without a file.
    #[error("an sqlite data source's URL names its file: sqlite:///absolute/path.db or sqlite://relative.db")]
    NoPath,
    /// SQLite has no passwords.
    #[error("SQLite has no passwords: give an sqlite data source none")]
    SqlitePassword,
    /// A password both inside the URL and given apart.
    #[error("the password is given twice: inside the URL and on its own; give it once")]
    TwoPasswords,
}

/// A checked data source URL without its password, and the password that was inside it.
#[derive(Clone, PartialEq, Eq)]
pub struct DataSourceUrl {
    /// The kind.
    pub kind: Kind,
    /// The URL with no password in it (safe to store in the clear and show).
    pub url: String,
    /// The password the URL held, percent-decoded, if it held one.
    pub password_in_url: Option<String>,
}

impl fmt::Debug for DataSourceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataSourceUrl")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field(
                "password_in_url",
                &self.password_in_url.as_ref().map(|_| "…"),
            )
            .finish()
    }
}

impl DataSourceUrl {
    /// Checks `text` as a URL of `kind` (the scheme is the kind's; PostgreSQL and MySQL name a
    /// host, SQLite a file) and moves a password written in it out of it.
    pub fn parse(kind: Kind, text: &str) -> Result<DataSourceUrl, UrlError> {
        let text = text.trim();
        let scheme = text.split(':').next().unwrap_or("").to_ascii_lowercase();
        if !kind.schemes().contains(&scheme.as_str()) {
            return Err(UrlError::Scheme {
                kind,
                expected: kind
                    .schemes()
                    .iter()
                    .map(|s| format!("`{s}://`"))
                    .collect::<Vec<_>>()
                    .join(" or "),
                scheme,
            });
        }
        match kind {
            Kind::Sqlite => {
                let path = text
                    .strip_prefix("sqlite://")
                    .or_else(|| text.strip_prefix("sqlite:"))
                    .unwrap_or("");
                let file = path.split('?').next().unwrap_or("");
                if file.is_empty() || file == ":memory:" {
                    return Err(UrlError::NoPath);
                }
                Ok(DataSourceUrl {
                    kind,
                    url: text.to_string(),
                    password_in_url: None,
                })
            }
            Kind::Postgresql | Kind::Mysql => {
                let mut url =
                    url::Url::parse(text).map_err(|e| UrlError::Unparsable(e.to_string()))?;
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(UrlError::NoHost(kind));
                }
                let password = url
                    .password()
                    .map(|p| {
                        percent_decode(p).map_err(|()| {
                            UrlError::Unparsable("the password in it is not UTF-8".into())
                        })
                    })
                    .transpose()?;
                if password.is_some() {
                    url.set_password(None)
                        .map_err(|()| UrlError::Unparsable("cannot remove its password".into()))?;
                }
                Ok(DataSourceUrl {
                    kind,
                    url: url.to_string(),
                    password_in_url: password,
                })
            }
        }
    }

    /// The password to keep: the one given apart, or the one that was inside the URL (given
    /// both, refused; SQLite takes none).
    pub fn password(&self, given: Option<String>) -> Result<Option<String>, UrlError> {
        let password = match (given.filter(|p| !p.is_empty()), &self.password_in_url) {
            (Some(_), Some(_)) => return Err(UrlError::TwoPasswords),
            (Some(p), None) => Some(p),
            (None, p) => p.clone(),
        };
        if self.kind == Kind::Sqlite && password.is_some() {
            return Err(UrlError::SqlitePassword);
        }
        Ok(password)
    }
}

fn percent_decode(text: &str) -> Result<String, ()> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|p| p.into_owned())
        .map_err(|_| ())
}

/// Why connecting to a data source (or running a statement on it) failed, with any password
/// removed from the message.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL cannot be turned into connection options.
    #[error("bad data source URL: {0}")]
    Url(String),
    /// The database refused or failed; the message is the database's (or the driver's).
    #[error("{0}")]
    Database(String),
    /// Nothing answered within the time allowed.
    #[error("no answer within {} s", .0.as_secs())]
    Timeout(Duration),
}

/// An open connection to a data source. The `sql` task runs its statements on it.
#[derive(Debug)]
pub enum Connection {
    /// PostgreSQL.
    Postgres(sqlx::PgConnection),
    /// MySQL or MariaDB.
    MySql(sqlx::MySqlConnection),
    /// SQLite.
    Sqlite(sqlx::SqliteConnection),
}

/// The message of `error` in the database's words, with `password` removed.
fn message(error: &sqlx::Error, password: Option<&str>) -> String {
    let text = match error.as_database_error() {
        Some(db) => db.message().to_string(),
        None => error.to_string(),
    };
    redact(&text, password)
}

/// `text` with every occurrence of `password` replaced by `***`.
pub fn redact(text: &str, password: Option<&str>) -> String {
    match password.filter(|p| !p.is_empty()) {
        Some(p) => text.replace(p, "***"),
        None => text.to_string(),
    }
}

/// Opens a connection to the data source at `url` (which holds no password) with `password`.
/// Connecting is not timed here: wrap it in a timeout (as [`test`] does).
pub async fn connect(
    kind: Kind,
    url: &str,
    password: Option<&str>,
) -> Result<Connection, ConnectError> {
    let err = |e: sqlx::Error| ConnectError::Database(message(&e, password));
    let bad_url = |e: sqlx::Error| ConnectError::Url(message(&e, password));
    match kind {
        Kind::Postgresql => {
            let mut options = sqlx::postgres::PgConnectOptions::from_str(url).map_err(bad_url)?;
            if let Some(p) = password {
                options = options.password(p);
            }
            sqlx::PgConnection::connect_with(&options)
                .await
                .map(Connection::Postgres)
                .map_err(err)
        }
        Kind::Mysql => {
            // sqlx knows MariaDB's URLs as mysql://.
            let url = match url.strip_prefix("mariadb:") {
                Some(rest) => format!("mysql:{rest}"),
                None => url.to_string(),
            };
            let mut options = sqlx::mysql::MySqlConnectOptions::from_str(&url).map_err(bad_url)?;
            if let Some(p) = password {
                options = options.password(p);
            }
            sqlx::MySqlConnection::connect_with(&options)
                .await
                .map(Connection::MySql)
                .map_err(err)
        }
        Kind::Sqlite => {
            // A data source's file must exist: a typo must not make an empty database.
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                .map_err(bad_url)?
                .create_if_missing(false);
            sqlx::SqliteConnection::connect_with(&options)
                .await
                .map(Connection::Sqlite)
                .map_err(err)
        }
    }
}

impl Connection {
    /// Runs `SELECT 1`.
    pub async fn select_one(&mut self) -> Result<(), ConnectError> {
        let err = |e: sqlx::Error| ConnectError::Database(message(&e, None));
        match self {
            Connection::Postgres(c) => sqlx::query("SELECT 1").execute(c).await.map(drop),
            Connection::MySql(c) => sqlx::query("SELECT 1").execute(c).await.map(drop),
            Connection::Sqlite(c) => sqlx::query("SELECT 1").execute(c).await.map(drop),
        }
        .map_err(err)
    }

    /// Closes the connection politely (the server is told).
    pub async fn close(self) {
        let _ = match self {
            Connection::Postgres(c) => c.close().await,
            Connection::MySql(c) => c.close().await,
            Connection::Sqlite(c) => c.close().await,
        };
    }
}

/// What [`test`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    /// Connected and `SELECT 1` answered.
    pub ok: bool,
    /// What happened, in the database's words when it failed (without the password).
    pub message: String,
}

/// Connects and runs `SELECT 1`, all within `timeout` ([`TEST_TIMEOUT`] for the API).
pub async fn test(kind: Kind, url: &str, password: Option<&str>, timeout: Duration) -> TestOutcome {
    let attempt = async {
        let mut conn = connect(kind, url, password).await?;
        let result = conn.select_one().await;
        conn.close().await;
        result
    };
    let result = match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(ConnectError::Timeout(timeout)),
    };
    match result {
        Ok(()) => TestOutcome {
            ok: true,
            message: format!("connected to the {kind} database and ran SELECT 1"),
        },
        Err(e) => TestOutcome {
            ok: false,
            message: redact(&format!("cannot use the {kind} database: {e}"), password),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_their_names_and_mariadb_is_mysql() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), k);
        }
        assert_eq!("MariaDB".parse::<Kind>().unwrap(), Kind::Mysql);
        assert_eq!("postgres".parse::<Kind>().unwrap(), Kind::Postgresql);
        assert!("oracle".parse::<Kind>().is_err());
    }

    #[test]
    fn a_password_inside_the_url_is_moved_out_of_it() {
        let u =
            DataSourceUrl::parse(Kind::Postgresql, "postgres://app:s%40cret@db:5432/wh").unwrap();
        assert_eq!(u.url, "postgres://app@db:5432/wh");
        assert_eq!(u.password_in_url.as_deref(), Some("s@cret"));
        assert!(!format!("{u:?}").contains("cret"));
        assert_eq!(u.password(None).unwrap().as_deref(), Some("s@cret"));
        assert_eq!(u.password(Some("x".into())), Err(UrlError::TwoPasswords));
        let plain = DataSourceUrl::parse(Kind::Mysql, "mariadb://root@127.0.0.1/x").unwrap();
        assert_eq!(plain.password_in_url, None);
        assert_eq!(
            plain.password(Some("p".into())).unwrap().as_deref(),
            Some("p")
        );
    }

    #[test]
    fn urls_are_checked_against_their_kind() {
        let e = DataSourceUrl::parse(Kind::Mysql, "postgres://h/d").unwrap_err();
        assert_eq!(
            e.to_string(),
            "a mysql data source's URL starts with `mysql://` or `mariadb://`, not `postgres:`"
        );
        assert_eq!(
            DataSourceUrl::parse(Kind::Postgresql, "postgres:///d"),
            Err(UrlError::NoHost(Kind::Postgresql))
        );
        assert_eq!(
            DataSourceUrl::parse(Kind::Sqlite, "sqlite://"),
            Err(UrlError::NoPath)
        );
        assert_eq!(
            DataSourceUrl::parse(Kind::Sqlite, "sqlite::memory:"),
            Err(UrlError::NoPath)
        );
        let s = DataSourceUrl::parse(Kind::Sqlite, "sqlite:///tmp/x.db").unwrap();
        assert_eq!(s.password(Some("p".into())), Err(UrlError::SqlitePassword));
    }

    #[tokio::test]
    async fn sqlite_tests_ok_and_a_missing_file_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let missing = format!("sqlite://{}", path.display());
        let out = test(Kind::Sqlite, &missing, None, TEST_TIMEOUT).await;
        assert!(!out.ok, "{out:?}");
        assert!(!path.exists(), "testing made no file");
        std::fs::write(&path, b"").unwrap();
        let out = test(Kind::Sqlite, &missing, None, TEST_TIMEOUT).await;
        assert!(out.ok, "{out:?}");
    }

    /// The real servers on 127.0.0.1 (PostgreSQL with trust for `postgres`, MariaDB's `root`
    /// without a password); the end-to-end tests cover users with passwords.
    #[tokio::test]
    async fn the_real_servers_answer_and_a_closed_port_fails_in_time() {
        let pg = test(
            Kind::Postgresql,
            "postgres://postgres@127.0.0.1:5432/postgres",
            None,
            TEST_TIMEOUT,
        )
        .await;
        assert!(pg.ok, "{pg:?}");
        let my = test(
            Kind::Mysql,
            "mariadb://root@127.0.0.1:3306/mysql",
            None,
            TEST_TIMEOUT,
        )
        .await;
        assert!(my.ok, "{my:?}");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("postgres://postgres@127.0.0.1:{port}/x");
        let closed = test(Kind::Postgresql, &url, Some("pw"), TEST_TIMEOUT).await;
        assert!(
            !closed.ok && closed.message.contains("postgresql"),
            "{closed:?}"
        );
    }

    #[test]
    fn passwords_are_redacted_from_messages() {
        assert_eq!(redact("bad pw hunter2!", Some("hunter2")), "bad pw ***!");
        assert_eq!(redact("x", Some("")), "x");
    }
}

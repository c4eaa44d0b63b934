//! The client's logins, kubectl-style: one context per server (its URL, the user, the
//! session token), and the current one, in `$XDG_CONFIG_HOME/baton/contexts.toml` (else
//! `~/.config/baton/`), the directory 0700 and the file 0600. `BATON_TOKEN` overrides the
//! stored token; `--server`/`BATON_SERVER` override the current context's server, and
//! `--ca-cert`/`BATON_CA_CERT` the CA kept for it.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;

/// The server when nothing names one.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:12345";

/// One server logged in to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Context {
    /// Its name (the server URL unless `--context` named it).
    pub name: String,
    /// The server's base URL.
    pub server: String,
    /// Who logged in.
    pub user: String,
    /// The session token (`baton_…`).
    pub token: String,
    /// The CA certificate (PEM) trusted for this server, as given to `baton login --ca-cert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
}

/// The whole file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Contexts {
    /// The name of the current context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// Every context.
    #[serde(default)]
    pub contexts: Vec<Context>,
}

/// Where the file lives.
pub fn path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("baton").join("contexts.toml"))
}

impl Contexts {
    /// The stored contexts (none when there is no file).
    pub fn load() -> anyhow::Result<Contexts> {
        let Some(path) = path() else {
            return Ok(Contexts::default());
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("reading {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Contexts::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the file (0600, in a 0700 directory), replacing it whole.
    pub fn save(&self) -> anyhow::Result<PathBuf> {
        let path = path().context("no config directory: set XDG_CONFIG_HOME or HOME")?;
        let dir = path.parent().context("a config directory")?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let text = toml::to_string(self).context("encoding the contexts")?;
        let tmp = dir.join(".contexts.toml.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// The current context.
    pub fn current(&self) -> Option<&Context> {
        let name = self.current.as_ref()?;
        self.contexts.iter().find(|c| c.name == *name)
    }

    /// The context for a server URL: the current one if it is that server's, else the
    /// first of that server.
    pub fn for_server(&self, server: &str) -> Option<&Context> {
        let same = |c: &&Context| c.server.trim_end_matches('/') == server.trim_end_matches('/');
        self.current()
            .filter(same)
            .or_else(|| self.contexts.iter().find(same))
    }

    /// Adds or replaces a context and makes it current.
    pub fn put(&mut self, context: Context) {
        self.contexts.retain(|c| c.name != context.name);
        self.current = Some(context.name.clone());
        self.contexts.push(context);
    }

    /// Removes a context; whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.contexts.len();
        self.contexts.retain(|c| c.name != name);
        if self.current.as_deref() == Some(name) {
            self.current = None;
        }
        before != self.contexts.len()
    }
}

/// The server a client command talks to: `--server`/`BATON_SERVER`, else the current
/// context's, else [`DEFAULT_SERVER`].
pub fn server_url(flag: Option<&str>) -> String {
    if let Some(s) = flag.filter(|s| !s.is_empty()) {
        return s.to_string();
    }
    Contexts::load()
        .ok()
        .and_then(|c| c.current().map(|c| c.server.clone()))
        .unwrap_or_else(|| DEFAULT_SERVER.to_string())
}

/// The CA kept for `server` by `baton login --ca-cert`, if any.
pub fn ca_for(server: &str) -> Option<PathBuf> {
    Contexts::load().ok()?.for_server(server)?.ca_cert.clone()
}

/// The token to send to `server`: `BATON_TOKEN`, else the stored context's.
pub fn token_for(server: &str) -> Option<String> {
    if let Some(t) = std::env::var("BATON_TOKEN").ok().filter(|t| !t.is_empty()) {
        return Some(t);
    }
    Contexts::load()
        .ok()?
        .for_server(server)
        .map(|c| c.token.clone())
}

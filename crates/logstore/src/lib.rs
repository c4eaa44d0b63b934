//! The log archive: where the logs of finished attempts go so that they outlive the worker
//! that wrote them. A worker uploads each ended attempt's log (`crates/worker`, `archiver`);
//! the API reads a range of one from here when that worker is gone or no longer has it.
//!
//! One object per attempt, `{prefix}/{workflow instance}/{task instance}/{attempt}.log`, in
//! an S3 bucket (or an S3-compatible store: MinIO, moto, …) or a local directory, both
//! through the `object_store` crate. S3 credentials come from the standard AWS environment
//! variables or the AWS shared credentials file, never from the URL.

mod credentials;
mod url;

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use baton_core::{AttemptKey, WorkflowInstanceId};
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, PutPayload, RetryConfig};

pub use url::ArchiveUrl;

/// Why the archive could not be opened, written or read. Messages name the archive by its
/// URL, which holds no secret; credentials never appear in them.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The URL is not one of the supported forms.
    #[error("bad log archive URL `{url}`: {why}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it, and what would be right.
        why: String,
    },
    /// The AWS shared credentials file could not be used.
    #[error("the AWS credentials file {path}: {why}")]
    Credentials {
        /// The file.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// The local directory could not be created.
    #[error("cannot create the log archive directory {path}: {source}")]
    Directory {
        /// The directory.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The object store refused to be set up or answered a request with an error.
    #[error("log archive {url}: {source}")]
    Store {
        /// The archive.
        url: String,
        /// What the store said.
        source: object_store::Error,
    },
}

/// A piece of an archived log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    /// The offset of the first byte read.
    pub offset: u64,
    /// The bytes read.
    pub data: Vec<u8>,
    /// The offset after them.
    pub next_offset: u64,
    /// The whole log's length.
    pub len: u64,
}

/// Where a read of an archived log starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    /// At this offset.
    Start(u64),
    /// This many bytes before the end (the log's tail).
    End(u64),
}

/// An opened log archive. Cheap to clone; its `Debug` shows the URL only.
#[derive(Clone)]
pub struct LogArchive {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    url: ArchiveUrl,
}

impl std::fmt::Debug for LogArchive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LogArchive")
            .field(&self.url.to_string())
            .finish()
    }
}

/// How long one request to the store may take, and how often the store's client retries one
/// on its own (the worker's uploader retries further, with its own backoff).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const RETRIES: usize = 2;
const RETRY_TIMEOUT: Duration = Duration::from_secs(20);

impl LogArchive {
    /// Opens the archive at `url` with the credentials of this process's environment (or the
    /// AWS shared credentials file). Makes a local directory (mode 0700) if it is missing.
    pub fn open(url: &ArchiveUrl) -> Result<LogArchive, ArchiveError> {
        LogArchive::open_with(url, std::env::vars())
    }

    /// [`LogArchive::open`] with the environment given as `vars` (`AWS_…`, `HOME`).
    pub fn open_with(
        url: &ArchiveUrl,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<LogArchive, ArchiveError> {
        let shown = url.to_string();
        let store_err = |source| ArchiveError::Store {
            url: shown.clone(),
            source,
        };
        let (store, prefix): (Arc<dyn ObjectStore>, &str) = match url {
            ArchiveUrl::S3 { bucket, prefix } => {
                let vars: Vec<(String, String)> = vars.into_iter().collect();
                let builder = s3_builder(bucket, &vars)?;
                (Arc::new(builder.build().map_err(store_err)?), prefix)
            }
            ArchiveUrl::Directory(dir) => {
                create_private_dir(dir).map_err(|source| ArchiveError::Directory {
                    path: dir.display().to_string(),
                    source,
                })?;
                let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
                    .map_err(store_err)?;
                (Arc::new(fs), "")
            }
        };
        let prefix = ObjectPath::parse(prefix).map_err(|e| ArchiveError::BadUrl {
            url: shown.clone(),
            why: format!("its path is not a usable object key prefix: {e}"),
        })?;
        Ok(LogArchive {
            store,
            prefix,
            url: url.clone(),
        })
    }

    /// The archive's URL, for messages.
    pub fn url(&self) -> &ArchiveUrl {
        &self.url
    }

    /// Where an attempt's log is kept: `{prefix}/{wfi}/{task instance}/{attempt}.log`.
    pub fn key(&self, wfi: WorkflowInstanceId, key: AttemptKey) -> ObjectPath {
        self.prefix
            .child(wfi.to_string())
            .child(key.task_instance.to_string())
            .child(format!("{}.log", key.attempt))
    }

    /// Stores an attempt's whole log (replacing what an earlier upload of it stored).
    pub async fn put(
        &self,
        wfi: WorkflowInstanceId,
        key: AttemptKey,
        log: Vec<u8>,
    ) -> Result<(), ArchiveError> {
        self.store
            .put(&self.key(wfi, key), PutPayload::from(log))
            .await
            .map_err(|source| self.error(source))?;
        Ok(())
    }

    /// Reads up to `limit` bytes of an attempt's archived log from where `from` says;
    /// `None` when the archive does not have it.
    pub async fn read(
        &self,
        wfi: WorkflowInstanceId,
        key: AttemptKey,
        from: ReadFrom,
        limit: u64,
    ) -> Result<Option<Archived>, ArchiveError> {
        let path = self.key(wfi, key);
        let meta = match self.store.head(&path).await {
            Ok(meta) => meta,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(source) => return Err(self.error(source)),
        };
        let offset = match from {
            ReadFrom::Start(offset) => offset,
            ReadFrom::End(back) => meta.size.saturating_sub(back),
        };
        let range = window(meta.size, offset, limit);
        let data = if range.is_empty() {
            Vec::new()
        } else {
            match self.store.get_range(&path, range.clone()).await {
                Ok(bytes) => bytes.to_vec(),
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(source) => return Err(self.error(source)),
            }
        };
        Ok(Some(Archived {
            offset: range.start,
            next_offset: range.start + data.len() as u64,
            data,
            len: meta.size,
        }))
    }

    fn error(&self, source: object_store::Error) -> ArchiveError {
        ArchiveError::Store {
            url: self.url.to_string(),
            source,
        }
    }
}

/// The bytes of an object of `len` bytes that a read of `limit` from `offset` covers.
fn window(len: u64, offset: u64, limit: u64) -> Range<u64> {
    let start = offset.min(len);
    start..start.saturating_add(limit).min(len)
}

/// An S3 client for `bucket` set up from the `AWS_…` variables among `vars` (region,
/// endpoint, `AWS_ALLOW_HTTP`, keys), with keys from the shared credentials file when the
/// variables have none.
fn s3_builder(
    bucket: &str,
    vars: &[(String, String)],
) -> Result<object_store::aws::AmazonS3Builder, ArchiveError> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
    // Client options first: the variables (`AWS_ALLOW_HTTP`) then set theirs on top.
    let client = ClientOptions::new()
        .with_timeout(REQUEST_TIMEOUT)
        .with_connect_timeout(CONNECT_TIMEOUT);
    let retry = RetryConfig {
        max_retries: RETRIES,
        retry_timeout: RETRY_TIMEOUT,
        ..RetryConfig::default()
    };
    let mut builder = AmazonS3Builder::new()
        .with_client_options(client)
        .with_retry(retry)
        .with_bucket_name(bucket);
    for (name, value) in vars {
        if !name.starts_with("AWS_") {
            continue;
        }
        if let Ok(key) = name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
            builder = builder.with_config(key, value);
        }
    }
    let has_key = vars.iter().any(|(n, _)| n == "AWS_ACCESS_KEY_ID");
    if !has_key {
        if let Some(c) = credentials::from_file(vars)? {
            builder = builder
                .with_access_key_id(c.access_key_id)
                .with_secret_access_key(c.secret_access_key);
            if let Some(token) = c.session_token {
                builder = builder.with_token(token);
            }
        }
    }
    Ok(builder)
}

/// Creates `path` and its missing parents with mode 0700: archived logs hold what tasks
/// printed.
fn create_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::{Attempt, TaskInstanceId};

    fn attempt(tid: i64, n: u32) -> AttemptKey {
        AttemptKey::new(TaskInstanceId(tid), Attempt(n))
    }

    #[test]
    fn keys_are_prefix_instance_task_and_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let url: ArchiveUrl = format!("file://{}", dir.path().display()).parse().unwrap();
        let archive = LogArchive::open(&url).unwrap();
        assert_eq!(
            archive
                .key(WorkflowInstanceId(7), attempt(42, 3))
                .to_string(),
            "7/42/3.log"
        );
        let s3: ArchiveUrl = "s3://logs-bucket/baton/prod".parse().unwrap();
        let archive = LogArchive::open_with(&s3, Vec::new()).unwrap();
        assert_eq!(
            archive
                .key(WorkflowInstanceId(7), attempt(42, 3))
                .to_string(),
            "baton/prod/7/42/3.log"
        );
        assert_eq!(
            format!("{archive:?}"),
            "LogArchive(\"s3://logs-bucket/baton/prod\")"
        );
    }

    #[test]
    fn a_read_window_never_passes_the_end() {
        assert_eq!(window(10, 3, 4), 3..7);
        assert_eq!(window(10, 7, 100), 7..10);
        assert_eq!(window(10, 50, 100), 10..10);
        assert_eq!(window(10, 0, u64::MAX), 0..10);
        assert_eq!(window(0, 0, 10), 0..0);
    }

    #[tokio::test]
    async fn a_directory_archive_keeps_logs_and_reads_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("archive");
        let url: ArchiveUrl = format!("file://{}", root.display()).parse().unwrap();
        let archive = LogArchive::open(&url).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&root).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let (wfi, key) = (WorkflowInstanceId(1), attempt(2, 1));
        assert_eq!(
            archive
                .read(wfi, key, ReadFrom::Start(0), 10)
                .await
                .unwrap(),
            None
        );
        archive.put(wfi, key, b"0123456789".to_vec()).await.unwrap();
        assert!(root.join("1/2/1.log").is_file());
        let r = archive
            .read(wfi, key, ReadFrom::Start(3), 4)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.data.as_slice(), r.next_offset, r.len),
            (&b"3456"[..], 7, 10)
        );
        let r = archive
            .read(wfi, key, ReadFrom::End(4), 3)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.data.as_slice(), r.offset, r.next_offset),
            (&b"678"[..], 6, 9)
        );
        let r = archive
            .read(wfi, key, ReadFrom::End(50), 2)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((r.data.as_slice(), r.offset), (&b"01"[..], 0));
        let r = archive
            .read(wfi, key, ReadFrom::Start(50), 4)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((r.data.len(), r.next_offset, r.len), (0, 10, 10));
        archive.put(wfi, key, Vec::new()).await.unwrap();
        let r = archive
            .read(wfi, key, ReadFrom::Start(0), 4)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((r.data.len(), r.next_offset, r.len), (0, 0, 0));
    }
}

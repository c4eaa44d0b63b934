//! Ships the logs of ended attempts to the log archive (`baton-logstore`), so that they can
//! be read after this worker is gone.
//!
//! When an attempt ends (its log closed, before its Finished event is queued), a marker file
//! `<attempt>.unarchived` is written beside its log; it is removed once the log is in the
//! archive. The markers are the queue that survives a restart: a new life of the worker finds
//! them and uploads those logs. In memory, a bounded channel hands the ended attempts to one
//! uploader task; when it is full, the uploader looks for markers on disk once it has caught
//! up, so nothing is lost and memory stays bounded. A failed upload is tried again with
//! exponential backoff; nothing of it ever waits on the archive but the uploader itself.
//! The log retention keeps every instance directory that still has a marker.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use baton_core::{Attempt, AttemptKey, TaskInstanceId, WorkflowInstanceId};
use baton_logstore::{ArchiveError, LogArchive};
use tokio::sync::mpsc;

use crate::logfile::log_path;

/// The extension of the marker beside a log not archived yet.
pub(crate) const MARKER_EXTENSION: &str = "unarchived";

/// Ended attempts held in memory at most; past that they wait on disk (their markers).
const QUEUE: usize = 4096;

/// How long the uploader waits after a failed upload: `first`, doubling up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveBackoff {
    /// The wait after the first failure.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for ArchiveBackoff {
    /// 1 s, doubling up to 5 minutes.
    fn default() -> Self {
        ArchiveBackoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(300),
        }
    }
}

/// `logs/<wfi>/<tid>/<attempt>.unarchived`: the attempt's log is not in the archive yet.
pub(crate) fn marker_path(data_dir: &Path, wfi: WorkflowInstanceId, key: AttemptKey) -> PathBuf {
    log_path(data_dir, wfi, key).with_extension(MARKER_EXTENSION)
}

/// Why one upload failed.
#[derive(Debug, thiserror::Error)]
enum UploadError {
    #[error("reading the log {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

/// The handle attempts use to queue their logs for the archive.
pub(crate) struct Archiver {
    data_dir: PathBuf,
    tx: mpsc::Sender<(WorkflowInstanceId, AttemptKey)>,
    /// Set when an attempt did not fit in the channel (and at the start, for the markers of
    /// a previous life): the uploader then looks on disk.
    look_on_disk: Arc<AtomicBool>,
    /// True while the uploader has nothing to do (it waits for an attempt to end).
    idle: tokio::sync::watch::Receiver<bool>,
    /// Ended attempts whose log is marked and not archived yet (the metric of the queue).
    waiting: Arc<AtomicU64>,
    /// Failed uploads so far (the uploader's count, which tests read).
    #[cfg(test)]
    failures: Arc<AtomicU64>,
}

impl Archiver {
    /// Starts the uploader task (in the current Tokio runtime); it begins with the markers a
    /// previous life of the worker left.
    pub(crate) fn start(archive: LogArchive, data_dir: PathBuf, backoff: ArchiveBackoff) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let look_on_disk = Arc::new(AtomicBool::new(true));
        let failures = Arc::new(AtomicU64::new(0));
        let (idle_tx, idle) = tokio::sync::watch::channel(false);
        // Counted before any attempt runs here: what a previous life left marked.
        let left = markers(&data_dir, usize::MAX).map_or(0, |m| m.len());
        let waiting = Arc::new(AtomicU64::new(u64::try_from(left).unwrap_or(u64::MAX)));
        let uploader = Uploader {
            waiting: waiting.clone(),
            idle: idle_tx,
            archive,
            data_dir: data_dir.clone(),
            backoff,
            look_on_disk: look_on_disk.clone(),
            failures: failures.clone(),
        };
        tokio::spawn(uploader.run(rx));
        Archiver {
            data_dir,
            tx,
            look_on_disk,
            idle,
            waiting,
            #[cfg(test)]
            failures,
        }
    }

    /// How many ended attempts' logs wait for the archive (marked, not uploaded yet).
    pub(crate) fn waiting(&self) -> u64 {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Resolves once the uploader has caught up (everything marked so far, a previous life's
    /// markers included, is archived); the log retention waits for it (bounded) before a
    /// sweep, so that it does not keep an old instance's logs only because their upload had
    /// not run yet.
    pub(crate) async fn caught_up(&self) {
        let mut idle = self.idle.clone();
        let _ = idle.wait_for(|idle| *idle).await;
    }

    /// How many uploads failed (and were or will be tried again) so far.
    #[cfg(test)]
    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Ordering::SeqCst)
    }

    /// An attempt ended and its log is closed: marks it (so that a restart still archives
    /// it) and hands it to the uploader. Never waits.
    pub(crate) fn ended(&self, wfi: WorkflowInstanceId, key: AttemptKey) {
        let marker = marker_path(&self.data_dir, wfi, key);
        match write_marker(&marker) {
            Ok(()) => {
                self.waiting.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => {
                tracing::warn!(path = %marker.display(), error = %e, "cannot mark a task log for the archive; it is archived only if this worker keeps running");
            }
        }
        if self.tx.try_send((wfi, key)).is_err() {
            self.look_on_disk.store(true, Ordering::SeqCst);
        }
    }
}

/// Creates the (empty) marker, readable by this user only like the log beside it.
fn write_marker(path: &Path) -> io::Result<()> {
    crate::logfile::create(path).map(drop)
}

/// The one task that uploads, in order, one log at a time.
struct Uploader {
    archive: LogArchive,
    data_dir: PathBuf,
    backoff: ArchiveBackoff,
    look_on_disk: Arc<AtomicBool>,
    failures: Arc<AtomicU64>,
    idle: tokio::sync::watch::Sender<bool>,
    /// The archiver's count of marked logs: one less for each upload that removes a marker.
    waiting: Arc<AtomicU64>,
}

impl Uploader {
    async fn run(self, mut rx: mpsc::Receiver<(WorkflowInstanceId, AttemptKey)>) {
        let mut pending = VecDeque::new();
        let mut delay = self.backoff.first;
        loop {
            if pending.is_empty() && self.look_on_disk.swap(false, Ordering::SeqCst) {
                pending = self.scan().await;
            }
            let Some(&(wfi, key)) = pending.front() else {
                if self.look_on_disk.load(Ordering::SeqCst) {
                    continue;
                }
                self.idle.send_replace(rx.is_empty());
                match rx.recv().await {
                    Some(item) => pending.push_back(item),
                    None => return,
                }
                self.idle.send_replace(false);
                continue;
            };
            match self.upload(wfi, key).await {
                Ok(()) => {
                    pending.pop_front();
                    delay = self.backoff.first;
                }
                Err(e) => {
                    self.failures.fetch_add(1, Ordering::SeqCst);
                    tracing::warn!(workflow_instance = %wfi, task_instance = %key.task_instance, attempt = %key.attempt, error = %e, "archiving a task log failed; trying again in {delay:?}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.backoff.max);
                }
            }
        }
    }

    /// Uploads one attempt's log (empty if it printed nothing) and removes its marker; an
    /// attempt without a marker was archived already.
    async fn upload(&self, wfi: WorkflowInstanceId, key: AttemptKey) -> Result<(), UploadError> {
        let marker = marker_path(&self.data_dir, wfi, key);
        let path = log_path(&self.data_dir, wfi, key);
        let read = {
            let (marker, path) = (marker.clone(), path.clone());
            tokio::task::spawn_blocking(move || read_marked(&marker, &path))
                .await
                .map_err(io::Error::other)
        };
        let data = match read.and_then(|r| r) {
            Ok(Some(data)) => data,
            Ok(None) => return Ok(()),
            Err(source) => return Err(UploadError::Read { path, source }),
        };
        self.archive.put(wfi, key, data).await?;
        match remove_marker(&marker) {
            Ok(()) => {
                let _ = self
                    .waiting
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
            }
            Err(e) => {
                tracing::warn!(path = %marker.display(), error = %e, "cannot remove an archived log's marker; it will be uploaded again");
            }
        }
        Ok(())
    }

    /// The attempts with a marker on disk, at most [`QUEUE`] (the rest at the next look).
    async fn scan(&self) -> VecDeque<(WorkflowInstanceId, AttemptKey)> {
        let dir = self.data_dir.clone();
        let found = tokio::task::spawn_blocking(move || markers(&dir, QUEUE + 1)).await;
        let mut found = match found {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot look for task logs still to archive");
                Vec::new()
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot look for task logs still to archive");
                Vec::new()
            }
        };
        if found.len() > QUEUE {
            found.truncate(QUEUE);
            self.look_on_disk.store(true, Ordering::SeqCst);
        }
        found.into()
    }
}

/// Removes the marker, leaving its directory's modification time as it was: the log
/// retention goes by when the logs were written, not by when they were archived.
fn remove_marker(marker: &Path) -> io::Result<()> {
    let dir = marker
        .parent()
        .map(|d| (d, std::fs::metadata(d).and_then(|m| m.modified())));
    match std::fs::remove_file(marker) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    }
    if let Some((dir, Ok(modified))) = dir {
        std::fs::File::open(dir)?.set_modified(modified)?;
    }
    Ok(())
}

/// The log's bytes if its marker is there (an empty log if the attempt printed nothing);
/// `None` without a marker.
fn read_marked(marker: &Path, log: &Path) -> io::Result<Option<Vec<u8>>> {
    if !marker.exists() {
        return Ok(None);
    }
    match std::fs::read(log) {
        Ok(data) => Ok(Some(data)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Some(Vec::new())),
        Err(e) => Err(e),
    }
}

/// Up to `most` attempts with a marker under `data_dir/logs/`, by workflow instance.
fn markers(data_dir: &Path, most: usize) -> io::Result<Vec<(WorkflowInstanceId, AttemptKey)>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(data_dir.join("logs")) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    let mut instances: Vec<(WorkflowInstanceId, PathBuf)> = entries
        .flatten()
        .filter_map(|e| Some((WorkflowInstanceId(numbered(&e.path())?), e.path())))
        .collect();
    instances.sort_by_key(|(wfi, _)| *wfi);
    for (wfi, dir) in instances {
        for task in std::fs::read_dir(&dir)?.flatten() {
            let Some(tid) = numbered(&task.path()) else {
                continue;
            };
            for file in std::fs::read_dir(task.path())?.flatten() {
                let path = file.path();
                if path.extension().and_then(|e| e.to_str()) != Some(MARKER_EXTENSION) {
                    continue;
                }
                let Some(attempt) = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(|s| s.parse::<u32>().ok())
                else {
                    continue;
                };
                found.push((wfi, AttemptKey::new(TaskInstanceId(tid), Attempt(attempt))));
                if found.len() >= most {
                    return Ok(found);
                }
            }
        }
    }
    Ok(found)
}

/// The number a directory is named by, if it is one.
fn numbered(path: &Path) -> Option<i64> {
    path.file_name()?.to_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{until, within};
    use baton_logstore::ArchiveUrl;

    fn key(tid: i64, attempt: u32) -> AttemptKey {
        AttemptKey::new(TaskInstanceId(tid), Attempt(attempt))
    }

    fn write_log(data_dir: &Path, wfi: i64, k: AttemptKey, text: &[u8]) {
        let path = log_path(data_dir, WorkflowInstanceId(wfi), k);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn fast() -> ArchiveBackoff {
        ArchiveBackoff {
            first: Duration::from_millis(20),
            max: Duration::from_millis(100),
        }
    }

    fn directory(root: &Path) -> ArchiveUrl {
        ArchiveUrl::Directory(root.to_path_buf())
    }

    #[tokio::test]
    async fn an_ended_attempts_log_is_archived_and_its_marker_removed() {
        let data = tempfile::tempdir().unwrap();
        let store = tempfile::tempdir().unwrap();
        let archive = LogArchive::open(&directory(store.path())).unwrap();
        let archiver = Archiver::start(archive.clone(), data.path().into(), fast());
        write_log(data.path(), 5, key(50, 1), b"hello\n");
        archiver.ended(WorkflowInstanceId(5), key(50, 1));
        // One that printed nothing has an empty log in the archive.
        archiver.ended(WorkflowInstanceId(5), key(51, 2));
        let archived = store.path().join("5/51/2.log");
        let first = store.path().join("5/50/1.log");
        until("both logs archived", || {
            archived.is_file() && first.is_file()
        })
        .await;
        assert_eq!(std::fs::read(&first).unwrap(), b"hello\n");
        assert_eq!(std::fs::read(&archived).unwrap(), b"");
        until("the markers removed", || {
            !marker_path(data.path(), WorkflowInstanceId(5), key(51, 2)).exists()
                && !marker_path(data.path(), WorkflowInstanceId(5), key(50, 1)).exists()
        })
        .await;
    }

    #[tokio::test]
    async fn uploads_are_retried_until_the_archive_takes_them() {
        let data = tempfile::tempdir().unwrap();
        let store = tempfile::tempdir().unwrap();
        let archive = LogArchive::open(&directory(store.path())).unwrap();
        // The archive cannot take this log: where its instance's directory goes is a file.
        std::fs::write(store.path().join("7"), b"in the way").unwrap();
        let archiver = Archiver::start(archive, data.path().into(), fast());
        write_log(data.path(), 7, key(70, 1), b"retried\n");
        archiver.ended(WorkflowInstanceId(7), key(70, 1));
        let marker = marker_path(data.path(), WorkflowInstanceId(7), key(70, 1));
        until("several tries to fail", || archiver.failures() >= 3).await;
        assert!(marker.exists(), "not archived: the marker stays");
        assert_eq!(archiver.waiting(), 1, "it waits, counted once");
        assert!(!store.path().join("7/70/1.log").exists());
        std::fs::remove_file(store.path().join("7")).unwrap();
        let archived = store.path().join("7/70/1.log");
        until("the log archived once the archive takes it", || {
            archived.is_file() && !marker.exists()
        })
        .await;
        assert_eq!(std::fs::read(archived).unwrap(), b"retried\n");
        until("none waiting", || archiver.waiting() == 0).await;
    }

    #[tokio::test]
    async fn a_restart_archives_what_a_previous_life_left_marked() {
        let data = tempfile::tempdir().unwrap();
        let store = tempfile::tempdir().unwrap();
        let old = std::time::SystemTime::now() - Duration::from_secs(100 * 24 * 3600);
        for (wfi, k) in [(3, key(30, 1)), (4, key(40, 2))] {
            write_log(data.path(), wfi, k, format!("log of {wfi}\n").as_bytes());
            let marker = marker_path(data.path(), WorkflowInstanceId(wfi), k);
            write_marker(&marker).unwrap();
            let dir = marker.parent().unwrap();
            std::fs::File::open(dir).unwrap().set_modified(old).unwrap();
        }
        // An attempt archived before (no marker) is not uploaded again.
        write_log(data.path(), 4, key(41, 1), b"done before\n");
        let archive = LogArchive::open(&directory(store.path())).unwrap();
        let archiver = Archiver::start(archive, data.path().into(), fast());
        assert!(archiver.waiting() <= 2, "two were left marked");
        let last = store.path().join("4/40/2.log");
        let marked = |wfi: i64, k: AttemptKey| marker_path(data.path(), WorkflowInstanceId(wfi), k);
        within("the marked logs archived", async {
            while marked(3, key(30, 1)).exists() || marked(4, key(40, 2)).exists() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert_eq!(std::fs::read(&last).unwrap(), b"log of 4\n");
        assert_eq!(
            std::fs::read(store.path().join("3/30/1.log")).unwrap(),
            b"log of 3\n"
        );
        assert!(!store.path().join("4/41/1.log").exists());
        until("none waiting", || archiver.waiting() == 0).await;
        // The marker's removal leaves the directory's time as it was (for the retention).
        let dir = data.path().join("logs/3/30");
        until("the directory's time put back", || {
            std::fs::metadata(&dir).unwrap().modified().unwrap() == old
        })
        .await;
    }

    #[tokio::test]
    async fn a_workers_attempt_is_marked_before_its_end_is_reported_and_then_archived() {
        use crate::testkit::{request, shell, worker_with, TestMaster};
        let data = tempfile::tempdir().unwrap();
        let store = tempfile::tempdir().unwrap();
        // An archive that cannot take the log yet, so that the marker can be seen.
        std::fs::write(store.path().join("7"), b"in the way").unwrap();
        let archive = LogArchive::open(&directory(store.path())).unwrap();
        let worker = worker_with(data.path(), |c| {
            c.log_archive = Some(archive);
            c.archive_backoff = fast();
        });
        let mut master = TestMaster::start().await;
        worker
            .dispatch(request(
                1,
                shell("printf 'line one\\nline two\\n'"),
                &master.addr,
            ))
            .unwrap();
        master.finished(1).await;
        let marker = marker_path(data.path(), WorkflowInstanceId(7), key(1, 1));
        assert!(marker.exists(), "marked when its end was reported");
        std::fs::remove_file(store.path().join("7")).unwrap();
        let archived = store.path().join("7/1/1.log");
        until("the log archived", || {
            archived.is_file() && !marker.exists()
        })
        .await;
        assert_eq!(std::fs::read(archived).unwrap(), b"line one\nline two\n");
    }

    #[tokio::test]
    async fn the_retention_of_a_worker_that_owns_its_directory_archive_applies_there_too() {
        use crate::testkit::worker_with;
        let day = Duration::from_secs(24 * 3600);
        let old = std::time::SystemTime::now() - 100 * day;
        let data = tempfile::tempdir().unwrap();
        let store = tempfile::tempdir().unwrap();
        for (wfi, age) in [(1, Some(old)), (2, None)] {
            let dir = store.path().join(format!("{wfi}/10"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("1.log"), b"archived").unwrap();
            if let Some(t) = age {
                for p in [dir.join("1.log"), dir.clone(), dir.parent().unwrap().into()] {
                    std::fs::File::open(p).unwrap().set_modified(t).unwrap();
                }
            }
        }
        let archive = LogArchive::open(&directory(store.path())).unwrap();
        let worker = worker_with(data.path(), |c| {
            c.log_archive = Some(archive);
            c.archive_retention = true;
        });
        let sweeping = worker.spawn_log_retention(90 * day);
        until("the old archived logs removed", || {
            !store.path().join("1").exists()
        })
        .await;
        assert!(store.path().join("2/10/1.log").exists(), "recent: kept");
        sweeping.abort();
    }

    #[test]
    fn markers_are_found_in_instance_order_up_to_a_bound() {
        let data = tempfile::tempdir().unwrap();
        for (wfi, tid) in [(9, 90), (2, 20), (2, 21)] {
            write_marker(&marker_path(
                data.path(),
                WorkflowInstanceId(wfi),
                key(tid, 1),
            ))
            .unwrap();
        }
        write_log(data.path(), 1, key(10, 1), b"no marker");
        std::fs::write(data.path().join("logs/not-an-instance"), b"").unwrap();
        let found = markers(data.path(), 10).unwrap();
        let wfis: Vec<i64> = found.iter().map(|(w, _)| w.0).collect();
        assert_eq!(wfis, [2, 2, 9]);
        assert_eq!(markers(data.path(), 2).unwrap().len(), 2);
        let empty = tempfile::tempdir().unwrap();
        assert!(markers(empty.path(), 10).unwrap().is_empty());
    }
}

//! Attempt logs: where they live, how a process's output gets into one (capped, in arrival
//! order, never blocking the process, scanned for output params on the way), and how a range
//! of one is read back.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use baton_core::{AttemptKey, WorkflowInstanceId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::sync::oneshot;

use crate::outputs::{Scanned, Scanner};

/// Most bytes one `ReadLog` returns, whatever the caller asks for.
pub(crate) const MAX_READ: u64 = 1024 * 1024;

/// Size of the buffer output is read into.
const CHUNK: usize = 32 * 1024;

/// `data_dir/logs/<wfi>/<tid>/<attempt>.log`.
pub(crate) fn log_path(data_dir: &Path, wfi: WorkflowInstanceId, key: AttemptKey) -> PathBuf {
    data_dir
        .join("logs")
        .join(wfi.to_string())
        .join(key.task_instance.to_string())
        .join(format!("{}.log", key.attempt))
}

/// Creates (or empties, for a rerun of the same attempt) an attempt's log file, readable by
/// this user only (a log may hold what a task printed of its data).
pub(crate) fn create(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        crate::create_private_dir(dir)?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// The line written once when an attempt's output reaches the cap.
pub(crate) fn truncation_marker(limit: u64) -> String {
    format!(
        "\n[baton] log truncated: reached the limit of {limit} bytes; further output discarded\n"
    )
}

/// An attempt's log file, created on the first write: most quick tasks print nothing, and
/// creating a file (and its directory) costs more than running `true`.
pub(crate) struct LazyLog {
    path: PathBuf,
    file: Option<tokio::fs::File>,
    error: Option<io::Error>,
    /// Counts the bytes written (the worker's metrics).
    bytes: Option<prometheus::IntCounter>,
}

impl LazyLog {
    /// A log at `path`; whatever an earlier run of the same attempt left there is removed.
    pub(crate) fn new(path: PathBuf) -> Self {
        let error = match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Some(e),
            _ => None,
        };
        LazyLog {
            path,
            file: None,
            error,
            bytes: None,
        }
    }

    /// Counts what is written in `bytes`.
    pub(crate) fn counting(mut self, bytes: prometheus::IntCounter) -> Self {
        self.bytes = Some(bytes);
        self
    }

    /// Appends `data`; after the first failure it only reports failure (the reason is logged).
    pub(crate) async fn write(&mut self, data: &[u8]) -> bool {
        if self.error.is_some() {
            return false;
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => match create(&self.path) {
                Ok(file) => self.file.insert(tokio::fs::File::from_std(file)),
                Err(e) => return self.failed(e),
            },
        };
        match file.write_all(data).await {
            Ok(()) => {
                if let Some(bytes) = &self.bytes {
                    bytes.inc_by(data.len() as u64);
                }
                true
            }
            Err(e) => self.failed(e),
        }
    }

    fn failed(&mut self, e: io::Error) -> bool {
        tracing::warn!(path = %self.path.display(), error = %e, "writing a task log failed; further output is discarded");
        self.error = Some(e);
        false
    }

    /// Waits until everything written is in the file.
    pub(crate) async fn close(mut self) {
        if let Some(file) = &mut self.file {
            if let Err(e) = file.flush().await {
                self.failed(e);
            }
        }
    }
}

/// A log that keeps its first `limit` bytes, then writes the truncation marker once and
/// drops the rest: what a process prints and what an in-process task writes are capped alike.
pub(crate) struct CappedLog {
    log: LazyLog,
    limit: u64,
    written: u64,
    full: bool,
}

impl CappedLog {
    /// Caps `log` at `limit` bytes.
    pub(crate) fn new(log: LazyLog, limit: u64) -> Self {
        CappedLog {
            log,
            limit,
            written: 0,
            full: false,
        }
    }

    /// Appends what fits of `data`; false once nothing more is kept (the cap was reached, or
    /// writing the file failed).
    pub(crate) async fn write(&mut self, data: &[u8]) -> bool {
        if self.full {
            return false;
        }
        let room = usize::try_from(self.limit.saturating_sub(self.written)).unwrap_or(usize::MAX);
        let take = room.min(data.len());
        let mut ok = true;
        if take > 0 {
            ok = self.log.write(&data[..take]).await;
            self.written = self.written.saturating_add(take as u64);
        }
        if ok && take < data.len() {
            self.log
                .write(truncation_marker(self.limit).as_bytes())
                .await;
            self.full = true;
        }
        if !ok {
            self.full = true;
        }
        !self.full
    }

    /// The log itself, for the attempt's own notes (which the cap does not apply to).
    pub(crate) fn into_inner(self) -> LazyLog {
        self.log
    }
}

/// What copying a process's output produced.
pub(crate) struct Copied {
    /// The log, still open so the attempt can append its own notes (past the cap, through
    /// [`CappedLog::into_inner`]) or a service's next run its output (under the same cap).
    pub log: CappedLog,
    /// True when the output went on after the process group was gone and reading was abandoned.
    pub abandoned: bool,
    /// The output params found in everything read (the part past the cap included).
    pub scanned: Scanned,
}

/// Copies everything read from `output` into `log` until the pipe closes (every writer is
/// gone) or `give_up` fires. Past the log's cap it reads and discards, so the process never
/// blocks on a full pipe. Everything read, discarded or not, goes through `scanner`.
pub(crate) async fn copy_output(
    mut output: pipe::Receiver,
    mut log: CappedLog,
    mut give_up: oneshot::Receiver<()>,
    mut scanner: Scanner,
) -> Copied {
    let mut buf = vec![0u8; CHUNK];
    let mut discarding = false;
    let mut abandoned = false;
    loop {
        let n = tokio::select! {
            biased;
            r = output.read(&mut buf) => match r {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "reading task output failed");
                    break;
                }
            },
            _ = &mut give_up => {
                abandoned = true;
                break;
            }
        };
        scanner.feed(&buf[..n]);
        if !discarding {
            discarding = !log.write(&buf[..n]).await;
        }
    }
    Copied {
        log,
        abandoned,
        scanned: scanner.finish(),
    }
}

/// A piece of a log read back.
pub(crate) struct Range {
    pub data: Vec<u8>,
    /// Offset of the first byte of `data`.
    pub offset: u64,
    pub next_offset: u64,
    /// Length of the file when it was read.
    pub len: u64,
}

/// Where a read starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadFrom {
    /// This many bytes from the start (the end, when the log is shorter).
    Start(u64),
    /// This many bytes before the end (the start, when the log is shorter).
    End(u64),
}

impl ReadFrom {
    /// The offset this is in a log of `len` bytes.
    fn offset(self, len: u64) -> u64 {
        match self {
            ReadFrom::Start(offset) => offset.min(len),
            ReadFrom::End(back) => len.saturating_sub(back),
        }
    }
}

/// Reads up to `limit` bytes from `from` (blocking: call it off the async threads).
/// `None` when the file does not exist.
pub(crate) fn read_range(path: &Path, from: ReadFrom, limit: u64) -> io::Result<Option<Range>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let offset = from.offset(len);
    let want = (len - offset).min(limit);
    let mut data = Vec::with_capacity(want as usize);
    if want > 0 {
        file.seek(SeekFrom::Start(offset))?;
        file.take(want).read_to_end(&mut data)?;
    }
    let next_offset = offset + data.len() as u64;
    Ok(Some(Range {
        data,
        offset,
        next_offset,
        len: len.max(next_offset),
    }))
}

/// Finds an attempt's log without knowing its workflow instance, by looking in every workflow
/// instance's directory (blocking). Used after a restart, when the in-memory index is empty.
pub(crate) fn scan(data_dir: &Path, key: AttemptKey) -> Option<(WorkflowInstanceId, PathBuf)> {
    let entries = std::fs::read_dir(data_dir.join("logs")).ok()?;
    for entry in entries.flatten() {
        let Some(wfi) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<WorkflowInstanceId>().ok())
        else {
            continue;
        };
        let path = log_path(data_dir, wfi, key);
        if path.is_file() {
            return Some((wfi, path));
        }
    }
    None
}

/// Remembers the attempts this worker ran lately (and their workflow instance), so `ReadLog`
/// finds a log without scanning, and knows that an attempt without a log file ran here and
/// printed nothing. Bounded: the oldest entries are forgotten (their logs are then found by a
/// scan).
pub(crate) struct LogIndex {
    by_attempt: HashMap<AttemptKey, WorkflowInstanceId>,
    order: VecDeque<AttemptKey>,
    capacity: usize,
}

impl LogIndex {
    pub(crate) fn new(capacity: usize) -> Self {
        LogIndex {
            by_attempt: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    pub(crate) fn insert(&mut self, key: AttemptKey, wfi: WorkflowInstanceId) {
        if self.by_attempt.insert(key, wfi).is_none() {
            self.order.push_back(key);
            while self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.by_attempt.remove(&old);
                }
            }
        }
    }

    pub(crate) fn get(&self, key: AttemptKey) -> Option<WorkflowInstanceId> {
        self.by_attempt.get(&key).copied()
    }
}

/// Removes the log directory of every workflow instance (`logs/<wfi>/`) whose newest log was
/// last written longer than `keep` ago, but those of `running` instances and those with a log
/// not in the archive yet (a marker, see `archiver`); returns how many it removed. Blocking:
/// run it off the async threads.
pub(crate) fn sweep(
    data_dir: &Path,
    keep: std::time::Duration,
    running: &std::collections::HashSet<WorkflowInstanceId>,
) -> io::Result<usize> {
    sweep_dir(&data_dir.join("logs"), keep, running)
}

/// [`sweep`] of the instance directories under `logs` (the data directory's `logs/`, or a
/// `file://` archive, which has the same layout).
pub(crate) fn sweep_dir(
    logs: &Path,
    keep: std::time::Duration,
    running: &std::collections::HashSet<WorkflowInstanceId>,
) -> io::Result<usize> {
    let Some(cutoff) = std::time::SystemTime::now().checked_sub(keep) else {
        return Ok(0);
    };
    let entries = match std::fs::read_dir(logs) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let Some(wfi) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<WorkflowInstanceId>().ok())
        else {
            continue;
        };
        if running.contains(&wfi) {
            continue;
        }
        let dir = entry.path();
        let walk = walk(&dir)?;
        if !walk.unarchived && walk.newest.is_some_and(|t| t < cutoff) {
            std::fs::remove_dir_all(&dir)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// What the sweep needs to know of an instance's log directory.
struct Walk {
    /// When anything under it (the directory itself, its task directories and their logs)
    /// was last written.
    newest: Option<std::time::SystemTime>,
    /// Whether a log under it is still to be archived.
    unarchived: bool,
}

fn walk(dir: &Path) -> io::Result<Walk> {
    let mut newest = std::fs::metadata(dir)?.modified().ok();
    let mut unarchived = false;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d)?.flatten() {
            let meta = entry.metadata()?;
            if meta.is_dir() {
                pending.push(entry.path());
            } else if entry.path().extension().and_then(|e| e.to_str())
                == Some(crate::archiver::MARKER_EXTENSION)
            {
                unarchived = true;
            }
            newest = newest.max(meta.modified().ok());
        }
    }
    Ok(Walk { newest, unarchived })
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::{Attempt, TaskInstanceId};

    fn key(tid: i64, attempt: u32) -> AttemptKey {
        AttemptKey::new(TaskInstanceId(tid), Attempt(attempt))
    }

    #[test]
    fn reads_ranges_and_reports_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(dir.path(), WorkflowInstanceId(1), key(2, 3));
        assert!(read_range(&path, ReadFrom::Start(0), 10).unwrap().is_none());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"0123456789").unwrap();
        let r = read_range(&path, ReadFrom::Start(3), 4).unwrap().unwrap();
        assert_eq!(r.data, b"3456");
        assert_eq!((r.next_offset, r.len), (7, 10));
        let r = read_range(&path, ReadFrom::Start(7), 100).unwrap().unwrap();
        assert_eq!(r.data, b"789");
        assert_eq!(r.next_offset, 10);
        let r = read_range(&path, ReadFrom::Start(50), 100)
            .unwrap()
            .unwrap();
        assert!(r.data.is_empty());
        assert_eq!((r.offset, r.next_offset), (10, 10));
        // From the end: the last bytes, or the whole log when it is shorter.
        let r = read_range(&path, ReadFrom::End(4), 100).unwrap().unwrap();
        assert_eq!(r.data, b"6789");
        assert_eq!((r.offset, r.next_offset, r.len), (6, 10, 10));
        let r = read_range(&path, ReadFrom::End(4), 2).unwrap().unwrap();
        assert_eq!((r.data.as_slice(), r.offset), (&b"67"[..], 6));
        let r = read_range(&path, ReadFrom::End(50), 100).unwrap().unwrap();
        assert_eq!((r.data.as_slice(), r.offset), (&b"0123456789"[..], 0));
        assert_eq!(
            scan(dir.path(), key(2, 3)),
            Some((WorkflowInstanceId(1), path))
        );
        assert_eq!(scan(dir.path(), key(2, 4)), None);
    }

    #[test]
    fn index_forgets_the_oldest() {
        let mut index = LogIndex::new(2);
        index.insert(key(1, 1), WorkflowInstanceId(10));
        index.insert(key(2, 1), WorkflowInstanceId(20));
        index.insert(key(2, 1), WorkflowInstanceId(20));
        index.insert(key(3, 1), WorkflowInstanceId(30));
        assert_eq!(index.get(key(1, 1)), None);
        assert_eq!(index.get(key(2, 1)), Some(WorkflowInstanceId(20)));
        assert_eq!(index.get(key(3, 1)), Some(WorkflowInstanceId(30)));
    }

    #[test]
    fn sweep_removes_only_old_logs_of_instances_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let day = std::time::Duration::from_secs(24 * 3600);
        let old = std::time::SystemTime::now() - 100 * day;
        let write = |wfi: i64, age: Option<std::time::SystemTime>| {
            let path = log_path(dir.path(), WorkflowInstanceId(wfi), key(wfi * 10, 1));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"log").unwrap();
            if let Some(t) = age {
                for p in [
                    path.clone(),
                    path.parent().unwrap().to_path_buf(),
                    path.parent().unwrap().parent().unwrap().to_path_buf(),
                ] {
                    std::fs::File::open(&p).unwrap().set_modified(t).unwrap();
                }
            }
        };
        write(1, Some(old));
        write(2, None);
        write(3, Some(old));
        write(4, Some(old));
        // Instance 4's log is not archived yet: its marker keeps the directory.
        let marker = crate::archiver::marker_path(dir.path(), WorkflowInstanceId(4), key(40, 1));
        std::fs::write(&marker, b"").unwrap();
        for p in [&marker, marker.parent().unwrap()] {
            std::fs::File::open(p).unwrap().set_modified(old).unwrap();
        }
        std::fs::write(dir.path().join("logs").join("not-an-instance"), b"x").unwrap();
        let running = std::collections::HashSet::from([WorkflowInstanceId(3)]);
        assert_eq!(sweep(dir.path(), 90 * day, &running).unwrap(), 1);
        let logs = dir.path().join("logs");
        assert!(!logs.join("1").exists(), "old: removed");
        assert!(logs.join("2").exists(), "recent: kept");
        assert!(logs.join("3").exists(), "running here: kept");
        assert!(logs.join("4").exists(), "not archived yet: kept");
        assert!(logs.join("not-an-instance").exists());
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(sweep(empty.path(), day, &running).unwrap(), 0);
    }
}

//! Per-attempt working directories: `data_dir/work/<wfi>-<tid>-<attempt>`, fresh and empty when
//! the attempt starts, gone when it ends.
//!
//! Creating and deleting a directory allocates and frees an inode, which on some file systems
//! (ext4 without a journal scans past recently freed inodes) costs a millisecond, as much as
//! starting the task's process. So a directory left empty by its attempt is not deleted but
//! parked in `work/.pool` and renamed into place for a later attempt: a rename is cheap.

use baton_core::{AttemptKey, WorkflowInstanceId};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Most empty directories kept for reuse; beyond that they are deleted.
const POOL_MAX: usize = 256;

/// Hands out and takes back attempt working directories.
pub(crate) struct WorkDirs {
    root: PathBuf,
    pool_dir: PathBuf,
    free: Mutex<Vec<PathBuf>>,
    next: AtomicU64,
}

impl WorkDirs {
    /// Work directories under `data_dir/work`; empty ones parked by an earlier run are reused.
    pub(crate) fn new(data_dir: &Path) -> Self {
        let root = data_dir.join("work");
        let pool_dir = root.join(".pool");
        let free: Vec<PathBuf> = std::fs::read_dir(&pool_dir)
            .map(|entries| entries.flatten().map(|e| e.path()).take(POOL_MAX).collect())
            .unwrap_or_default();
        WorkDirs {
            root,
            pool_dir,
            free: Mutex::new(free),
            next: AtomicU64::new(0),
        }
    }

    /// Where the attempt's working directory lives.
    pub(crate) fn path(&self, wfi: WorkflowInstanceId, key: AttemptKey) -> PathBuf {
        self.root
            .join(format!("{wfi}-{}-{}", key.task_instance, key.attempt))
    }

    /// Provides an empty directory at `path` (blocking, but only a few cheap calls).
    pub(crate) fn acquire(&self, path: &Path) -> io::Result<()> {
        // A leftover from an earlier run of the same attempt must not be reused as is.
        if std::fs::symlink_metadata(path).is_ok() {
            remove_all(path)?;
        }
        while let Some(free) = self.pop() {
            if std::fs::rename(&free, path).is_ok() && is_empty_dir(path) {
                return Ok(());
            }
            // Something else took or filled it; do not trust it.
            let _ = remove_all(path);
            let _ = remove_all(&free);
        }
        match std::fs::create_dir(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::create_dir_all(path),
            other => other,
        }
    }

    /// Takes the directory back when the attempt has ended: parked if its attempt left it
    /// empty, deleted (off the async threads) if not.
    pub(crate) fn release(&self, path: PathBuf) {
        if is_empty_dir(&path) && self.park(&path) {
            return;
        }
        tokio::task::spawn_blocking(move || {
            if let Err(e) = remove_all(&path) {
                tracing::warn!(dir = %path.display(), error = %e, "could not remove a work directory");
            }
        });
    }

    fn pop(&self) -> Option<PathBuf> {
        self.free.lock().expect("work dir pool poisoned").pop()
    }

    fn park(&self, path: &Path) -> bool {
        if self.free.lock().expect("work dir pool poisoned").len() >= POOL_MAX {
            return false;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let parked = self.pool_dir.join(format!("{}-{n}", std::process::id()));
        let mut moved = std::fs::rename(path, &parked);
        if matches!(&moved, Err(e) if e.kind() == io::ErrorKind::NotFound) {
            // The pool directory itself does not exist yet (and `path` does: it is empty).
            moved = std::fs::create_dir_all(&self.pool_dir)
                .and_then(|()| std::fs::rename(path, &parked));
        }
        match moved {
            Ok(()) => {
                self.free
                    .lock()
                    .expect("work dir pool poisoned")
                    .push(parked);
                true
            }
            Err(_) => false,
        }
    }
}

fn is_empty_dir(path: &Path) -> bool {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::read_dir(path)
            .map(|mut entries| entries.next().is_none())
            .unwrap_or(false),
        _ => false,
    }
}

fn remove_all(path: &Path) -> io::Result<()> {
    let result = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) => Err(e),
    };
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::{Attempt, TaskInstanceId};

    #[tokio::test]
    async fn empty_directories_are_reused_and_dirty_ones_removed() {
        let data = tempfile::tempdir().unwrap();
        let dirs = WorkDirs::new(data.path());
        let a = dirs.path(
            WorkflowInstanceId(1),
            AttemptKey::new(TaskInstanceId(2), Attempt(3)),
        );
        assert!(a.ends_with("work/1-2-3"));
        dirs.acquire(&a).unwrap();
        assert!(is_empty_dir(&a));
        dirs.release(a.clone());
        assert!(!a.exists());
        assert_eq!(dirs.free.lock().unwrap().len(), 1);

        // The parked directory becomes the next attempt's, empty.
        let b = dirs.path(
            WorkflowInstanceId(1),
            AttemptKey::new(TaskInstanceId(2), Attempt(4)),
        );
        dirs.acquire(&b).unwrap();
        assert!(dirs.free.lock().unwrap().is_empty());
        std::fs::write(b.join("junk"), b"x").unwrap();
        dirs.release(b.clone());
        crate::testkit::until("the dirty directory to be removed", || !b.exists()).await;
        assert!(dirs.free.lock().unwrap().is_empty());

        // A leftover at the attempt's path is cleared first.
        let c = dirs.path(
            WorkflowInstanceId(1),
            AttemptKey::new(TaskInstanceId(2), Attempt(5)),
        );
        std::fs::create_dir_all(c.join("old")).unwrap();
        dirs.acquire(&c).unwrap();
        assert!(is_empty_dir(&c));

        // A restarted worker finds the parked directories.
        dirs.release(c);
        assert_eq!(WorkDirs::new(data.path()).free.lock().unwrap().len(), 1);
    }
}

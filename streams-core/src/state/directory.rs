//! The state directory: where an instance keeps its tasks' persistent stores, and the locks that
//! keep two processes from opening the same task's state.
//!
//! ```text
//! <state.dir>/<application.id>/
//!     0_3/                 <- task 0_3 (sub-topology 0, partition 3)
//!         .lock            <- held (flock) while a process owns the task
//!         .checkpoint      <- changelog offsets the stores reflect (see `checkpoint`)
//!         counts/          <- one RocksDB instance per store
//!         recent/
//! ```

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// The name of the lock file in each task directory.
const LOCK_FILE_NAME: &str = ".lock";

/// The root of one application's state on this machine: `<state.dir>/<application.id>`.
#[derive(Debug, Clone)]
pub struct StateDirectory {
    root: PathBuf,
}

/// Why a task's state directory could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum StateDirectoryError {
    /// Another process (or another task object of this process) holds the task's lock.
    #[error("the state of task {task} in {path} is locked by another instance")]
    Locked {
        /// The task, `<sub-topology>_<partition>`.
        task: String,
        /// Its directory.
        path: PathBuf,
    },
    /// The file system failed.
    #[error("state directory {path}: {source}")]
    Io {
        /// The path the failing call was about.
        path: PathBuf,
        /// The file system's error.
        #[source]
        source: io::Error,
    },
}

impl StateDirectory {
    /// The state of `application_id` under `state_dir`; the directory is created on first use.
    pub fn new(state_dir: &Path, application_id: &str) -> Self {
        StateDirectory {
            root: state_dir.join(application_id),
        }
    }

    /// `<state.dir>/<application.id>`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// This instance's stable id: made up at its first start and kept in `<root>/.process-id`, so
    /// it stays the same across restarts (its transactional ids derive from it, which lets a
    /// restarted instance fence its dead predecessor at once).
    pub fn process_id(&self) -> Result<String, StateDirectoryError> {
        let path = self.root.join(".process-id");
        let io = |source| StateDirectoryError::Io {
            path: path.clone(),
            source,
        };
        if let Ok(id) = fs::read_to_string(&path) {
            let id = id.trim().to_string();
            if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Ok(id);
            }
        }
        fs::create_dir_all(&self.root).map_err(io)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let id = format!("{:x}-{:x}", std::process::id(), nanos);
        let temporary = path.with_extension("tmp");
        fs::write(&temporary, &id).map_err(io)?;
        fs::rename(&temporary, &path).map_err(io)?;
        Ok(id)
    }

    /// Where the state of `task` (`<sub-topology>_<partition>`) lives, locked or not.
    pub fn task_path(&self, task: &str) -> PathBuf {
        self.root.join(task)
    }

    /// Creates the task's directory if needed and takes its lock (an exclusive `flock` on
    /// `.lock`, released when the returned value is dropped, or by the OS when the process dies, so
    /// a crash never leaves a stale lock).
    ///
    /// # Errors
    /// [`StateDirectoryError::Locked`] when another process, or another lock of this process, holds
    /// it; [`StateDirectoryError::Io`] when the directory cannot be created.
    pub fn lock_task(&self, task: &str) -> Result<TaskDirectory, StateDirectoryError> {
        let path = self.task_path(task);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StateDirectoryError::Io { path, source }
        };
        fs::create_dir_all(&path).map_err(io(&path))?;
        let lock_path = path.join(LOCK_FILE_NAME);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => Ok(TaskDirectory {
                task: task.to_string(),
                path,
                _lock: lock,
            }),
            Err(fs::TryLockError::WouldBlock) => Err(StateDirectoryError::Locked {
                task: task.to_string(),
                path,
            }),
            Err(fs::TryLockError::Error(source)) => Err(StateDirectoryError::Io {
                path: lock_path,
                source,
            }),
        }
    }
}

/// A task's state directory, locked for as long as this value lives.
#[derive(Debug)]
pub struct TaskDirectory {
    task: String,
    path: PathBuf,
    _lock: File,
}

impl TaskDirectory {
    /// The task, `<sub-topology>_<partition>`.
    pub fn task(&self) -> &str {
        &self.task
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the store `store` keeps its files.
    pub fn store_path(&self, store: &str) -> PathBuf {
        self.path.join(store)
    }

    /// Deletes every store and the checkpoint, keeping the directory and its lock: the state is then
    /// rebuilt from the changelogs. Used when local state cannot be trusted (a damaged checkpoint,
    /// or a crash under exactly-once).
    pub fn wipe(&self) -> Result<(), StateDirectoryError> {
        let entries = fs::read_dir(&self.path).map_err(|source| StateDirectoryError::Io {
            path: self.path.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| StateDirectoryError::Io {
                path: self.path.clone(),
                source,
            })?;
            if entry.file_name() == LOCK_FILE_NAME {
                continue;
            }
            let path = entry.path();
            let removed = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            removed.map_err(|source| StateDirectoryError::Io { path, source })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_directory_is_locked_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDirectory::new(dir.path(), "app");
        let first = state.lock_task("0_1").unwrap();
        assert_eq!(first.path(), dir.path().join("app").join("0_1"));
        assert!(matches!(
            state.lock_task("0_1"),
            Err(StateDirectoryError::Locked { .. })
        ));
        let other = state.lock_task("0_2").expect("other tasks are independent");
        drop(first);
        let again = state.lock_task("0_1").expect("the lock is released on drop");
        drop((other, again));
    }

    #[test]
    fn a_lock_held_by_another_process_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDirectory::new(dir.path(), "app");
        drop(state.lock_task("1_0").unwrap());
        let lock_file = state.task_path("1_0").join(LOCK_FILE_NAME);
        // `flock(1)` from util-linux holds the lock in a child process for a moment.
        let Ok(mut child) = std::process::Command::new("flock")
            .arg(&lock_file)
            .args(["sleep", "3"])
            .spawn()
        else {
            eprintln!("flock(1) is not installed; skipping the cross-process check");
            return;
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let mut refused = false;
        while std::time::Instant::now() < deadline {
            match state.lock_task("1_0") {
                Err(StateDirectoryError::Locked { .. }) => {
                    refused = true;
                    break;
                }
                Ok(lock) => drop(lock),
                Err(error) => panic!("{error}"),
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.kill().ok();
        child.wait().ok();
        assert!(refused, "the lock held by flock(1) was never seen");
    }

    #[test]
    fn the_process_id_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDirectory::new(dir.path(), "app");
        let id = state.process_id().unwrap();
        assert!(!id.is_empty());
        assert_eq!(StateDirectory::new(dir.path(), "app").process_id().unwrap(), id);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(StateDirectory::new(other.path(), "app").process_id().unwrap(), id);
    }

    #[test]
    fn wipe_keeps_the_lock_and_removes_everything_else() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDirectory::new(dir.path(), "app");
        let task = state.lock_task("0_0").unwrap();
        fs::create_dir_all(task.store_path("counts").join("sub")).unwrap();
        fs::write(task.path().join(".checkpoint"), "0\n0\n").unwrap();
        task.wipe().unwrap();
        let left: Vec<_> = fs::read_dir(task.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from(LOCK_FILE_NAME)]);
        assert!(matches!(
            state.lock_task("0_0"),
            Err(StateDirectoryError::Locked { .. })
        ));
    }
}

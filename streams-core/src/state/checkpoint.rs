//! Checkpoint files: the changelog offsets up to which a task's local stores are known to hold
//! every write, so a restart restores only the changelog's tail.
//!
//! The file is Kafka Streams' `.checkpoint` text format, one per task directory:
//!
//! ```text
//! 0                              <- version
//! 2                              <- number of entries
//! app-counts-changelog 3 1200    <- topic partition offset (the next offset to restore from)
//! app-seen-changelog 3 88
//! ```
//!
//! It is written atomically (write a temporary file, sync it, rename it over the old one, sync the
//! directory), so a crash leaves either the old checkpoint or the new one, never half of one. A
//! missing file means "no checkpoint": restore from the beginning of each changelog.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The name of a task's checkpoint file inside its state directory.
pub const CHECKPOINT_FILE_NAME: &str = ".checkpoint";

/// The only version of the format.
const VERSION: u32 = 0;

/// Changelog offsets by (topic, partition): for each, the offset of the first changelog record the
/// local store does *not* yet reflect (the offset a restore continues from).
pub type CheckpointOffsets = BTreeMap<(String, i32), i64>;

/// One task's checkpoint file.
#[derive(Debug, Clone)]
pub struct CheckpointFile {
    path: PathBuf,
}

impl CheckpointFile {
    /// The checkpoint file of the task whose state directory is `task_dir`.
    pub fn in_dir(task_dir: &Path) -> Self {
        CheckpointFile {
            path: task_dir.join(CHECKPOINT_FILE_NAME),
        }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The offsets in the file; empty when there is no file.
    ///
    /// # Errors
    /// When the file cannot be read or is not in the format above (`InvalidData`, naming the line):
    /// a damaged checkpoint must not be taken for an empty one, since that would silently trust
    /// stale state. Callers treat it by wiping the stores and restoring from the beginning.
    pub fn read(&self) -> io::Result<CheckpointOffsets> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(CheckpointOffsets::new()),
            Err(error) => return Err(error),
        };
        parse(&text).map_err(|reason| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("checkpoint file {}: {reason}", self.path.display()),
            )
        })
    }

    /// Replaces the file with `offsets`, atomically (temporary file, fsync, rename, fsync of the
    /// directory).
    pub fn write(&self, offsets: &CheckpointOffsets) -> io::Result<()> {
        let mut text = format!("{VERSION}\n{}\n", offsets.len());
        for ((topic, partition), offset) in offsets {
            text.push_str(&format!("{topic} {partition} {offset}\n"));
        }
        let temporary = self.path.with_extension("tmp");
        {
            let mut file = File::create(&temporary)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
        }
        fs::rename(&temporary, &self.path)?;
        if let Some(dir) = self.path.parent() {
            // Makes the rename itself durable; a directory cannot be opened for sync on every
            // platform, so a failure to open it is not an error.
            if let Ok(dir) = File::open(dir) {
                dir.sync_all()?;
            }
        }
        Ok(())
    }

    /// Removes the file, so the next start trusts nothing local (exactly-once does this while a
    /// task runs: only a clean close writes a checkpoint). Removing a missing file is not an error.
    pub fn delete(&self) -> io::Result<()> {
        match fs::remove_file(&self.path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }
}

fn parse(text: &str) -> Result<CheckpointOffsets, String> {
    let mut lines = text.lines();
    let version = lines.next().ok_or("empty file")?;
    if version.trim() != VERSION.to_string() {
        return Err(format!("unknown version {version:?}"));
    }
    let count: usize = lines
        .next()
        .ok_or("no entry count")?
        .trim()
        .parse()
        .map_err(|_| "the entry count is not a number")?;
    let mut offsets = CheckpointOffsets::new();
    for (index, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [topic, partition, offset] = fields[..] else {
            return Err(format!(
                "line {}: expected `topic partition offset`, got {line:?}",
                index + 3
            ));
        };
        let partition = partition
            .parse()
            .map_err(|_| format!("line {}: bad partition {partition:?}", index + 3))?;
        let offset = offset
            .parse()
            .map_err(|_| format!("line {}: bad offset {offset:?}", index + 3))?;
        offsets.insert((topic.to_string(), partition), offset);
    }
    if offsets.len() != count {
        return Err(format!("{count} entries announced, {} found", offsets.len()));
    }
    Ok(offsets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(entries: &[(&str, i32, i64)]) -> CheckpointOffsets {
        entries.iter().map(|&(t, p, o)| ((t.to_string(), p), o)).collect()
    }

    #[test]
    fn a_missing_file_is_an_empty_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        assert!(CheckpointFile::in_dir(dir.path()).read().unwrap().is_empty());
    }

    #[test]
    fn written_offsets_read_back_in_kafka_format() {
        let dir = tempfile::tempdir().unwrap();
        let file = CheckpointFile::in_dir(dir.path());
        let written = offsets(&[("app-a-changelog", 3, 1200), ("app-b-changelog", 3, 88)]);
        file.write(&written).unwrap();
        assert_eq!(file.read().unwrap(), written);
        let text = fs::read_to_string(file.path()).unwrap();
        assert_eq!(text, "0\n2\napp-a-changelog 3 1200\napp-b-changelog 3 88\n");
        assert!(
            !dir.path().join(".checkpoint.tmp").exists(),
            "the temporary file was renamed"
        );
    }

    #[test]
    fn a_rewrite_replaces_every_entry_and_delete_removes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = CheckpointFile::in_dir(dir.path());
        file.write(&offsets(&[("a", 0, 1), ("b", 0, 2)])).unwrap();
        file.write(&offsets(&[("a", 0, 7)])).unwrap();
        assert_eq!(file.read().unwrap(), offsets(&[("a", 0, 7)]));
        file.delete().unwrap();
        file.delete().unwrap();
        assert!(file.read().unwrap().is_empty());
    }

    #[test]
    fn a_damaged_file_is_an_error_not_an_empty_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let file = CheckpointFile::in_dir(dir.path());
        for damaged in ["", "1\n0\n", "0\n2\na 0 1\n", "0\n1\na zero 1\n", "0\n1\na 0\n"] {
            fs::write(file.path(), damaged).unwrap();
            let error = file.read().unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{damaged:?}: {error}");
        }
    }
}

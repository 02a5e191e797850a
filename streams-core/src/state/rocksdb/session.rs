//! [`RocksDbSessionStore`]: a session bytes store in one RocksDB database, one column family per
//! segment of session ends.

use std::fmt;
use std::path::{Path, PathBuf};

use rocksdb::WriteBatch;

use super::segments::{Segments, Staged, decode_batch, segmented_store};
use super::{RocksDbMemory, default_segment_interval_ms};
use crate::state::encoding::{decode_session_key, encode_session_key, session_key_bounds};
use crate::state::traits::{SessionBytesStore, SessionEntry, SessionWindow, StateStore};
use crate::state::{StoreError, StoreResult};

#[cfg(test)]
mod tests;

/// A [`SessionBytesStore`] in RocksDB (Kafka's `RocksDBSessionStore` over `KeyValueSegments`),
/// behaving exactly as [`InMemorySessionStore`](crate::state::InMemorySessionStore), except that
/// its data and observed stream time outlive [`close`](StateStore::close).
///
/// Sessions are stored by segment of session end (`end / segment_interval`), one column family per
/// segment, under keys `encode_session_key(key, window)` (key, end, start): a key's sessions are
/// contiguous and ordered by end then start, so `find_sessions` and `fetch_key` are range scans. A
/// segment is dropped whole as soon as observed stream time has expired its whole time range;
/// reads still filter every session by the exact retention rule. [`all`](SessionBytesStore::all)
/// sorts each segment by (end, key, start).
///
/// Observed stream time is written in the same `WriteBatch` as the put that advances it and read
/// back on open. Writes skip the write-ahead log; [`flush`](StateStore::flush) makes them durable
/// (see the [module docs](super)).
pub struct RocksDbSessionStore {
    name: String,
    dir: PathBuf,
    retention_ms: i64,
    segments: Segments,
    expired_puts: u64,
}

impl RocksDbSessionStore {
    /// Opens (creating if missing) the store `name` in the directory `dir`, with the shared
    /// `memory`, keeping sessions for `retention_ms` of stream time after the latest session end.
    /// The segment interval is Kafka's default, `max(retention_ms / 2, 60_000)`.
    ///
    /// Fails with `InvalidArgument` when `retention_ms` is negative; with `Storage` when RocksDB
    /// cannot open the directory.
    pub fn open(name: impl Into<String>, dir: &Path, memory: &RocksDbMemory, retention_ms: i64) -> StoreResult<Self> {
        let interval = default_segment_interval_ms(retention_ms);
        Self::open_with_segment_interval(name, dir, memory, retention_ms, interval)
    }

    /// [`open`](Self::open) with a segment interval of `segment_interval_ms` (positive) instead of
    /// the default. A store must always be reopened with the same interval: the interval is stored,
    /// and opening with another fails with `InvalidArgument`.
    pub fn open_with_segment_interval(
        name: impl Into<String>,
        dir: &Path,
        memory: &RocksDbMemory,
        retention_ms: i64,
        segment_interval_ms: i64,
    ) -> StoreResult<Self> {
        let name = name.into();
        if retention_ms < 0 {
            return Err(StoreError::invalid_argument(
                name,
                format!("retention ({retention_ms} ms) cannot be negative"),
            ));
        }
        let segments = Segments::open(&name, dir, memory, retention_ms, segment_interval_ms)?;
        Ok(RocksDbSessionStore {
            name,
            dir: dir.to_path_buf(),
            retention_ms,
            segments,
            expired_puts: 0,
        })
    }

    fn check_window(&self, window: SessionWindow) -> StoreResult<()> {
        if window.is_valid() {
            Ok(())
        } else {
            Err(StoreError::invalid_argument(
                &self.name,
                format!("cannot put the session {window}: a session needs 0 <= start <= end"),
            ))
        }
    }

    /// Stages `puts` (session end, (key, session, value)) as [`Segments::stage`] does.
    fn stage<'a>(
        &mut self,
        puts: impl IntoIterator<Item = (i64, (&'a [u8], SessionWindow, Option<&'a [u8]>))>,
    ) -> StoreResult<Staged> {
        self.segments.stage(puts, |segments, batch, end, (key, window, value)| {
            let stored = encode_session_key(key, window);
            match value {
                Some(value) => segments.batch_put(batch, end, &stored, value),
                None => segments.batch_delete(batch, end, &stored),
            }
        })
    }

    /// The live sessions of `key` with `end >= earliest_end` and `start <= latest_start`, by
    /// (end, start).
    fn sessions_of(
        &self,
        key: &[u8],
        earliest_end: i64,
        latest_start: i64,
    ) -> StoreResult<Vec<(SessionWindow, Vec<u8>)>> {
        self.segments.check_open()?;
        let earliest_end = earliest_end.max(self.segments.min_live());
        let (lower, upper) = session_key_bounds(key, earliest_end, latest_start);
        let mut sessions = Vec::new();
        for id in self.segments.ids_between(earliest_end, i64::MAX) {
            self.segments
                .scan(id, Some(lower.clone()), Some(&upper), false, |stored, value| {
                    let decoded = decode_session_key(stored).map_err(|e| e.in_store(&self.name))?;
                    let window = decoded.window;
                    if decoded.key == key && window.end >= earliest_end && window.start <= latest_start {
                        sessions.push((window, value.to_vec()));
                    }
                    Ok(true)
                })?;
        }
        Ok(sessions)
    }
}

impl fmt::Debug for RocksDbSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RocksDbSessionStore")
            .field("name", &self.name)
            .field("dir", &self.dir)
            .field("retention_ms", &self.retention_ms)
            .field("segments", &self.segments)
            .field("expired_puts", &self.expired_puts)
            .finish()
    }
}

segmented_store!(RocksDbSessionStore, "session end", "ends");

impl SessionBytesStore for RocksDbSessionStore {
    fn put(&mut self, key: &[u8], window: SessionWindow, value: Option<&[u8]>) -> StoreResult<()> {
        self.segments.check_open()?;
        self.check_window(window)?;
        let staged = self.stage([(window.end, (key, window, value))])?;
        if staged.expired > 0 {
            self.expired_puts += staged.expired;
            tracing::debug!(store = %self.name, %window, "skipping a put for an expired session");
        }
        self.segments.commit(staged)?;
        Ok(())
    }

    fn remove(&mut self, key: &[u8], window: SessionWindow) -> StoreResult<()> {
        self.segments.check_open()?;
        if !window.is_valid() {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        self.segments
            .batch_delete(&mut batch, window.end, &encode_session_key(key, window))?;
        let observed = self.segments.observed();
        self.segments.write(batch, observed)
    }

    fn fetch_session(&self, key: &[u8], start: i64, end: i64) -> StoreResult<Option<Vec<u8>>> {
        self.segments.check_open()?;
        if end < self.segments.min_live() || !(SessionWindow { start, end }).is_valid() {
            return Ok(None);
        }
        let id = self.segments.segment_id(end);
        self.segments
            .get(id, &encode_session_key(key, SessionWindow { start, end }))
    }

    fn find_sessions(
        &self,
        key: &[u8],
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> StoreResult<Vec<(SessionWindow, Vec<u8>)>> {
        self.sessions_of(key, earliest_session_end, latest_session_start)
    }

    fn fetch_key(&self, key: &[u8]) -> StoreResult<Vec<(SessionWindow, Vec<u8>)>> {
        self.sessions_of(key, i64::MIN, i64::MAX)
    }

    fn all(&self) -> StoreResult<Vec<SessionEntry>> {
        self.segments.check_open()?;
        let min_live = self.segments.min_live();
        let mut entries = Vec::new();
        for id in self.segments.ids_between(min_live, i64::MAX) {
            let mut segment: Vec<SessionEntry> = Vec::new();
            self.segments.scan(id, None, None, false, |stored, value| {
                let decoded = decode_session_key(stored).map_err(|e| e.in_store(&self.name))?;
                if decoded.window.end >= min_live {
                    segment.push((decoded.key.to_vec(), decoded.window, value.to_vec()));
                }
                Ok(true)
            })?;
            segment.sort_unstable_by(|a, b| (a.1.end, &a.0, a.1.start).cmp(&(b.1.end, &b.0, b.1.start)));
            entries.append(&mut segment);
        }
        Ok(entries)
    }

    fn retention_ms(&self) -> i64 {
        self.retention_ms
    }

    fn expired_puts(&self) -> u64 {
        self.expired_puts
    }

    /// Applies the records as [`put`](SessionBytesStore::put)s would, in order (observed stream
    /// time advances, expired records are dropped and counted), in ONE RocksDB `WriteBatch` over
    /// all segments, bypassing any cache or changelog above the store. The keys are decoded first:
    /// a corrupt key fails the call with `StoreError::Corrupt` and nothing of the batch is written.
    fn restore_batch(&mut self, batch: &[(Vec<u8>, Option<Vec<u8>>)]) -> StoreResult<()> {
        self.segments.check_open()?;
        let puts = decode_batch(&self.name, batch, |stored, value| {
            let decoded = decode_session_key(stored)?;
            Ok((decoded.window.end, (decoded.key, decoded.window, value)))
        })?;
        let staged = self.stage(puts)?;
        self.expired_puts += self.segments.commit(staged)?;
        Ok(())
    }
}

//! [`RocksDbWindowStore`]: a window bytes store in one RocksDB database, one column family per
//! segment of window starts.

use std::fmt;
use std::path::{Path, PathBuf};

use super::segments::{Segments, Staged, decode_batch, segmented_store};
use super::{RocksDbMemory, default_segment_interval_ms};
use crate::state::encoding::{WINDOW_SUFFIX_SIZE, decode_window_key, encode_window_key, window_key_bounds};
use crate::state::traits::{StateStore, WindowBytesStore, WindowEntry, check_window_store_args};
use crate::state::{StoreError, StoreResult};

#[cfg(test)]
mod tests;

/// The key, in the default column family, of the last sequence number given to a duplicate.
const SEQNUM_KEY: &[u8] = b"seqnum";

/// A [`WindowBytesStore`] in RocksDB (Kafka's `RocksDBWindowStore` over `KeyValueSegments`),
/// behaving exactly as [`InMemoryWindowStore`](crate::state::InMemoryWindowStore), except that its
/// data and observed stream time outlive [`close`](StateStore::close).
///
/// Windows are stored by segment of window start (`start / segment_interval`), one column family
/// per segment, under keys `encode_window_key(key, start, seqnum)`: a key's windows are contiguous
/// and in time order, so the reads of one key are range scans. A segment is dropped whole (its
/// column family with it) as soon as observed stream time has expired its whole time range; reads
/// still filter every entry by the exact retention rule. Scans over several keys are sorted by
/// (start, key, insertion order) before they are returned.
///
/// When retaining duplicates, every put with a value gets a fresh sequence number from a `u32`
/// counter (as Kafka's, it wraps: after 2³² puts the insertion order of a key's duplicates in one
/// window is no longer kept across the wrap). The counter and observed stream time are written in
/// the same `WriteBatch` as the put that changes them and read back on open.
///
/// Writes skip the write-ahead log; [`flush`](StateStore::flush) makes them durable (see the
/// [module docs](super)).
pub struct RocksDbWindowStore {
    name: String,
    dir: PathBuf,
    retention_ms: i64,
    window_size_ms: i64,
    retain_duplicates: bool,
    segments: Segments,
    /// The last sequence number given to a duplicate.
    seqnum: u32,
    expired_puts: u64,
}

impl RocksDbWindowStore {
    /// Opens (creating if missing) the store `name` in the directory `dir`, with the shared
    /// `memory`, keeping windows for `retention_ms` of stream time after the latest window start,
    /// for windows of `window_size_ms`; with `retain_duplicates`, every put adds an entry. The
    /// segment interval is Kafka's default, `max(retention_ms / 2, 60_000)`.
    ///
    /// Fails with `InvalidArgument` when `retention_ms` or `window_size_ms` is negative, or when
    /// `retention_ms < window_size_ms`; with `Storage` when RocksDB cannot open the directory.
    pub fn open(
        name: impl Into<String>,
        dir: &Path,
        memory: &RocksDbMemory,
        retention_ms: i64,
        window_size_ms: i64,
        retain_duplicates: bool,
    ) -> StoreResult<Self> {
        let interval = default_segment_interval_ms(retention_ms);
        Self::open_with_segment_interval(
            name,
            dir,
            memory,
            retention_ms,
            window_size_ms,
            retain_duplicates,
            interval,
        )
    }

    /// [`open`](Self::open) with a segment interval of `segment_interval_ms` (positive) instead of
    /// the default. A store must always be reopened with the same interval: the interval is stored,
    /// and opening with another fails with `InvalidArgument`.
    pub fn open_with_segment_interval(
        name: impl Into<String>,
        dir: &Path,
        memory: &RocksDbMemory,
        retention_ms: i64,
        window_size_ms: i64,
        retain_duplicates: bool,
        segment_interval_ms: i64,
    ) -> StoreResult<Self> {
        let name = name.into();
        check_window_store_args(&name, retention_ms, window_size_ms)?;
        let segments = Segments::open(&name, dir, memory, retention_ms, segment_interval_ms)?;
        let seqnum = match segments.metadata(SEQNUM_KEY)? {
            Some(bytes) => u32::from_be_bytes(bytes.as_slice().try_into().map_err(|_| StoreError::Corrupt {
                store: name.clone(),
                reason: format!("a sequence number of {} bytes", bytes.len()),
            })?),
            None => 0,
        };
        Ok(RocksDbWindowStore {
            name,
            dir: dir.to_path_buf(),
            retention_ms,
            window_size_ms,
            retain_duplicates,
            segments,
            seqnum,
            expired_puts: 0,
        })
    }

    /// Whether every put adds an entry instead of replacing the window's value.
    pub fn retains_duplicates(&self) -> bool {
        self.retain_duplicates
    }

    /// Stages `puts` (window start, (key, value)) as [`Segments::stage`] does, each window's
    /// duplicate taking the next sequence number after `seqnum` (which the caller keeps once the
    /// batch is written).
    fn stage<'a>(
        &mut self,
        seqnum: &mut u32,
        puts: impl IntoIterator<Item = (i64, (&'a [u8], Option<&'a [u8]>))>,
    ) -> StoreResult<Staged> {
        let retain_duplicates = self.retain_duplicates;
        self.segments.stage(puts, |segments, batch, start, (key, value)| {
            match value {
                Some(value) if retain_duplicates => {
                    *seqnum = seqnum.wrapping_add(1);
                    segments.batch_put(batch, start, &encode_window_key(key, start, *seqnum), value)?;
                    batch.put(SEQNUM_KEY, seqnum.to_be_bytes());
                }
                Some(value) => segments.batch_put(batch, start, &encode_window_key(key, start, 0), value)?,
                // A delete cannot name one duplicate, so with duplicates it deletes nothing (as Kafka).
                None if retain_duplicates => {}
                None => segments.batch_delete(batch, start, &encode_window_key(key, start, 0))?,
            }
            Ok(())
        })
    }
}

/// The largest encoded window key of any key `<= key` with a start in `[0, time_to]`: the largest
/// of `p ++ time_to ++ u32::MAX` over the prefixes `p` of `key` (a shorter key's suffix can sort
/// above the longer key's bytes, see [`encoding`](crate::state::encoding)).
fn key_range_upper_bound(key: &[u8], time_to: i64) -> Vec<u8> {
    (0..=key.len())
        .map(|length| encode_window_key(&key[..length], time_to, u32::MAX))
        .max()
        .expect("a key has at least one prefix")
}

impl fmt::Debug for RocksDbWindowStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RocksDbWindowStore")
            .field("name", &self.name)
            .field("dir", &self.dir)
            .field("retention_ms", &self.retention_ms)
            .field("window_size_ms", &self.window_size_ms)
            .field("retain_duplicates", &self.retain_duplicates)
            .field("segments", &self.segments)
            .field("expired_puts", &self.expired_puts)
            .finish()
    }
}

segmented_store!(RocksDbWindowStore, "window start", "starts");

impl WindowBytesStore for RocksDbWindowStore {
    fn put(&mut self, key: &[u8], value: Option<&[u8]>, window_start: i64) -> StoreResult<()> {
        self.segments.check_open()?;
        let mut seqnum = self.seqnum;
        let staged = self.stage(&mut seqnum, [(window_start, (key, value))])?;
        if staged.expired > 0 {
            self.expired_puts += staged.expired;
            tracing::debug!(store = %self.name, window_start, "skipping a put for an expired window");
        }
        self.segments.commit(staged)?;
        self.seqnum = seqnum;
        Ok(())
    }

    fn fetch(&self, key: &[u8], window_start: i64) -> StoreResult<Option<Vec<u8>>> {
        self.segments.check_open()?;
        if window_start < self.segments.min_live() {
            return Ok(None);
        }
        let id = self.segments.segment_id(window_start);
        if !self.retain_duplicates {
            return self.segments.get(id, &encode_window_key(key, window_start, 0));
        }
        // The latest duplicate: the last entry of the key and window (other keys may interleave).
        let (lower, upper) = window_key_bounds(key, window_start, window_start);
        let mut latest = None;
        self.segments
            .scan(id, Some(lower), Some(&upper), true, |stored, value| {
                if stored.len() == key.len() + WINDOW_SUFFIX_SIZE && stored.starts_with(key) {
                    latest = Some(value.to_vec());
                    return Ok(false);
                }
                Ok(true)
            })?;
        Ok(latest)
    }

    fn fetch_range(&self, key: &[u8], time_from: i64, time_to: i64) -> StoreResult<Vec<(i64, Vec<u8>)>> {
        self.segments.check_open()?;
        let time_from = time_from.max(self.segments.min_live());
        let mut entries = Vec::new();
        for id in self.segments.ids_between(time_from, time_to) {
            let (lower, upper) = window_key_bounds(key, time_from, time_to);
            self.segments
                .scan(id, Some(lower), Some(&upper), false, |stored, value| {
                    let decoded = decode_window_key(stored).map_err(|e| e.in_store(&self.name))?;
                    let start = decoded.window_start;
                    if decoded.key == key && time_from <= start && start <= time_to {
                        entries.push((start, value.to_vec()));
                    }
                    Ok(true)
                })?;
        }
        Ok(entries)
    }

    fn fetch_keys(
        &self,
        key_from: Option<&[u8]>,
        key_to: Option<&[u8]>,
        time_from: i64,
        time_to: i64,
    ) -> StoreResult<Vec<WindowEntry>> {
        // The live entries, by (start, key, insertion order).
        self.segments.check_open()?;
        if matches!((key_from, key_to), (Some(from), Some(to)) if from > to) {
            return Ok(Vec::new());
        }
        let time_from = time_from.max(self.segments.min_live());
        let lower = key_from.map(|key| encode_window_key(key, 0, 0));
        let upper = key_to.map(|key| key_range_upper_bound(key, time_to));
        let in_key_range = |key: &[u8]| key_from.is_none_or(|f| f <= key) && key_to.is_none_or(|t| key <= t);
        let mut entries = Vec::new();
        for id in self.segments.ids_between(time_from, time_to) {
            let mut segment: Vec<WindowEntry> = Vec::new();
            self.segments
                .scan(id, lower.clone(), upper.as_deref(), false, |stored, value| {
                    let decoded = decode_window_key(stored).map_err(|e| e.in_store(&self.name))?;
                    let start = decoded.window_start;
                    if time_from <= start && start <= time_to && in_key_range(decoded.key) {
                        segment.push((decoded.key.to_vec(), start, value.to_vec()));
                    }
                    Ok(true)
                })?;
            // Storage order is by encoded key; a stable sort keeps a key's duplicates in order.
            segment.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
            entries.append(&mut segment);
        }
        Ok(entries)
    }

    fn fetch_all(&self, time_from: i64, time_to: i64) -> StoreResult<Vec<WindowEntry>> {
        self.fetch_keys(None, None, time_from, time_to)
    }

    fn all(&self) -> StoreResult<Vec<WindowEntry>> {
        self.fetch_keys(None, None, i64::MIN, i64::MAX)
    }

    fn retention_ms(&self) -> i64 {
        self.retention_ms
    }

    fn window_size_ms(&self) -> i64 {
        self.window_size_ms
    }

    fn expired_puts(&self) -> u64 {
        self.expired_puts
    }

    /// Applies the records as [`put`](WindowBytesStore::put)s would, in order (observed stream
    /// time advances, expired records are dropped and counted, duplicates get fresh sequence
    /// numbers), in ONE RocksDB `WriteBatch` over all segments, bypassing any cache or changelog
    /// above the store. The keys are decoded first: a corrupt key fails the call with
    /// `StoreError::Corrupt` and nothing of the batch is written.
    fn restore_batch(&mut self, batch: &[(Vec<u8>, Option<Vec<u8>>)]) -> StoreResult<()> {
        self.segments.check_open()?;
        let puts = decode_batch(&self.name, batch, |stored, value| {
            let decoded = decode_window_key(stored)?;
            Ok((decoded.window_start, (decoded.key, value)))
        })?;
        let mut seqnum = self.seqnum;
        let staged = self.stage(&mut seqnum, puts)?;
        self.expired_puts += self.segments.commit(staged)?;
        self.seqnum = seqnum;
        Ok(())
    }
}

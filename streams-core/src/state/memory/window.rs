//! [`InMemoryWindowStore`]: a window bytes store in two `BTreeMap`s, one by key and one by time.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};

use crate::state::traits::{StateStore, WindowBytesStore, WindowEntry, check_window_store_args};
use crate::state::{StoreError, StoreResult};

/// A [`WindowBytesStore`] in memory (Kafka's `InMemoryWindowStore`).
///
/// Entries are indexed twice: by (key, window start, sequence number), so that the reads of one key
/// (`fetch`, `fetch_range`, the hot path of windowed aggregations and joins) cost
/// `O(log n + entries returned)`; and by (window start, key, sequence number), so that scans over
/// all keys come out in time order and expired windows are cut off in one split. The sequence
/// number is 0 unless the store retains duplicates; then it counts puts, so a key's duplicates in a
/// window keep their insertion order.
///
/// Expired windows are hidden from every read at once, and removed from memory on the next put.
#[derive(Debug)]
pub struct InMemoryWindowStore {
    name: String,
    retention_ms: i64,
    window_size_ms: i64,
    retain_duplicates: bool,
    /// The values, by (key, window start, sequence number).
    by_key: BTreeMap<(Vec<u8>, i64, u64), Vec<u8>>,
    /// The same entries, by (window start, key, sequence number).
    by_time: BTreeSet<(i64, Vec<u8>, u64)>,
    /// The sequence number of the next duplicate.
    next_seqnum: u64,
    /// The largest window start put so far; -1 (Kafka's `NO_TIMESTAMP`) before the first put.
    observed_stream_time: i64,
    expired_puts: u64,
    open: bool,
}

impl InMemoryWindowStore {
    /// An empty, open store named `name` that keeps windows for `retention_ms` of stream time after
    /// the latest window start, for windows of `window_size_ms`. With `retain_duplicates`, every put
    /// adds an entry instead of replacing (for stream-stream joins).
    ///
    /// Fails when `retention_ms` or `window_size_ms` is negative, or when `retention_ms` is smaller
    /// than `window_size_ms` (as Kafka's `Stores.inMemoryWindowStore`).
    pub fn new(
        name: impl Into<String>,
        retention_ms: i64,
        window_size_ms: i64,
        retain_duplicates: bool,
    ) -> StoreResult<Self> {
        let name = name.into();
        check_window_store_args(&name, retention_ms, window_size_ms)?;
        Ok(InMemoryWindowStore {
            name,
            retention_ms,
            window_size_ms,
            retain_duplicates,
            by_key: BTreeMap::new(),
            by_time: BTreeSet::new(),
            next_seqnum: 0,
            observed_stream_time: -1,
            expired_puts: 0,
            open: true,
        })
    }

    /// Whether every put adds an entry instead of replacing the window's value.
    pub fn retains_duplicates(&self) -> bool {
        self.retain_duplicates
    }

    fn check_open(&self) -> StoreResult<()> {
        if self.open {
            Ok(())
        } else {
            Err(StoreError::closed(&self.name))
        }
    }

    /// The earliest window start that has not expired: `observed - retention + 1`, and never
    /// below 0.
    fn min_live_start(&self) -> i64 {
        self.observed_stream_time
            .saturating_sub(self.retention_ms)
            .saturating_add(1)
            .max(0)
    }

    fn remove_expired(&mut self) {
        let min_live = self.min_live_start();
        if self.by_time.first().is_none_or(|(start, _, _)| *start >= min_live) {
            return;
        }
        let live = self.by_time.split_off(&(min_live, Vec::new(), 0));
        for (start, key, seqnum) in std::mem::replace(&mut self.by_time, live) {
            self.by_key.remove(&(key, start, seqnum));
        }
    }

    /// The entries with a key in `[key_from, key_to]` and a window start in `[time_from, time_to]`
    /// that have not expired, by (start, key, sequence number).
    fn scan(&self, key_from: Option<&[u8]>, key_to: Option<&[u8]>, time_from: i64, time_to: i64) -> Vec<WindowEntry> {
        if matches!((key_from, key_to), (Some(from), Some(to)) if from > to) {
            return Vec::new();
        }
        let time_from = time_from.max(self.min_live_start());
        if time_from > time_to {
            return Vec::new();
        }
        let in_key_range = |key: &[u8]| key_from.is_none_or(|f| f <= key) && key_to.is_none_or(|t| key <= t);
        self.by_time
            .range((time_from, Vec::new(), 0)..)
            .take_while(|(start, _, _)| *start <= time_to)
            .filter(|(_, key, _)| in_key_range(key))
            .map(|(start, key, seqnum)| {
                let index = (key.clone(), *start, *seqnum);
                let value = self.by_key[&index].clone();
                (index.0, *start, value)
            })
            .collect()
    }
}

impl StateStore for InMemoryWindowStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn flush(&mut self) -> StoreResult<()> {
        self.check_open()
    }

    fn close(&mut self) -> StoreResult<()> {
        self.by_key.clear();
        self.by_time.clear();
        self.open = false;
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl WindowBytesStore for InMemoryWindowStore {
    fn put(&mut self, key: &[u8], value: Option<&[u8]>, window_start: i64) -> StoreResult<()> {
        self.check_open()?;
        self.observed_stream_time = self.observed_stream_time.max(window_start);
        if window_start < self.min_live_start() {
            self.expired_puts += 1;
            tracing::debug!(store = %self.name, window_start, "skipping a put for an expired window");
            return Ok(());
        }
        match value {
            Some(value) => {
                let seqnum = if self.retain_duplicates {
                    self.next_seqnum += 1;
                    self.next_seqnum
                } else {
                    0
                };
                self.by_key.insert((key.to_vec(), window_start, seqnum), value.to_vec());
                self.by_time.insert((window_start, key.to_vec(), seqnum));
            }
            // A delete cannot name one duplicate, so with duplicates it deletes nothing (as Kafka).
            None if self.retain_duplicates => {}
            None => {
                if self.by_key.remove(&(key.to_vec(), window_start, 0)).is_some() {
                    self.by_time.remove(&(window_start, key.to_vec(), 0));
                }
            }
        }
        self.remove_expired();
        Ok(())
    }

    fn fetch(&self, key: &[u8], window_start: i64) -> StoreResult<Option<Vec<u8>>> {
        self.check_open()?;
        if window_start < self.min_live_start() {
            return Ok(None);
        }
        let duplicates = (key.to_vec(), window_start, 0)..=(key.to_vec(), window_start, u64::MAX);
        Ok(self
            .by_key
            .range(duplicates)
            .next_back()
            .map(|(_, value)| value.clone()))
    }

    fn fetch_range(&self, key: &[u8], time_from: i64, time_to: i64) -> StoreResult<Vec<(i64, Vec<u8>)>> {
        self.check_open()?;
        let time_from = time_from.max(self.min_live_start());
        if time_from > time_to {
            return Ok(Vec::new());
        }
        let range = (key.to_vec(), time_from, 0)..=(key.to_vec(), time_to, u64::MAX);
        Ok(self
            .by_key
            .range(range)
            .map(|((_, start, _), value)| (*start, value.clone()))
            .collect())
    }

    fn fetch_keys(
        &self,
        key_from: Option<&[u8]>,
        key_to: Option<&[u8]>,
        time_from: i64,
        time_to: i64,
    ) -> StoreResult<Vec<WindowEntry>> {
        self.check_open()?;
        Ok(self.scan(key_from, key_to, time_from, time_to))
    }

    fn fetch_all(&self, time_from: i64, time_to: i64) -> StoreResult<Vec<WindowEntry>> {
        self.check_open()?;
        Ok(self.scan(None, None, time_from, time_to))
    }

    fn all(&self) -> StoreResult<Vec<WindowEntry>> {
        self.check_open()?;
        Ok(self.scan(None, None, i64::MIN, i64::MAX))
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::contract_tests::window_contract;

    mod contract {
        use super::*;

        window_contract!(
            |name: &str, retention, size, duplicates| InMemoryWindowStore::new(name, retention, size, duplicates),
            property_cases = 256
        );
    }

    #[test]
    fn reports_whether_it_retains_duplicates() {
        assert!(
            !InMemoryWindowStore::new("w", 10, 10, false)
                .unwrap()
                .retains_duplicates()
        );
        assert!(
            InMemoryWindowStore::new("w", 10, 10, true)
                .unwrap()
                .retains_duplicates()
        );
    }

    #[test]
    fn deleted_and_expired_windows_leave_both_indexes() {
        let mut s = InMemoryWindowStore::new("w", 10, 0, false).unwrap();
        let sizes = |s: &InMemoryWindowStore| (s.by_key.len(), s.by_time.len());
        s.put(b"k", Some(b"v"), 1).unwrap();
        s.put(b"j", Some(b"v"), 5).unwrap();
        s.put(b"k", None, 1).unwrap();
        assert_eq!(sizes(&s), (1, 1));
        s.put(b"k", Some(b"v"), 12).unwrap();
        assert_eq!(sizes(&s), (2, 2));
        // Stream time 15, advanced by a tombstone: the window at 5 has expired and is removed.
        s.put(b"x", None, 15).unwrap();
        assert_eq!(sizes(&s), (1, 1));
        // Stream time 30: the window at 12 has expired, and the put itself is kept.
        s.put(b"k", Some(b"v"), 30).unwrap();
        assert_eq!(sizes(&s), (1, 1));
        assert_eq!(s.all().unwrap(), vec![(b"k".to_vec(), 30, b"v".to_vec())]);
    }
}

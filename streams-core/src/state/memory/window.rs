//! [`InMemoryWindowStore`]: a window bytes store in two `BTreeMap`s, one by key and one by time.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};

use crate::state::traits::{StateStore, WindowBytesStore, WindowEntry};
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
        if retention_ms < 0 || window_size_ms < 0 {
            return Err(StoreError::invalid_argument(
                name,
                format!("retention ({retention_ms} ms) and window size ({window_size_ms} ms) cannot be negative"),
            ));
        }
        if retention_ms < window_size_ms {
            return Err(StoreError::invalid_argument(
                name,
                format!("retention ({retention_ms} ms) must be no smaller than the window size ({window_size_ms} ms)"),
            ));
        }
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
    use proptest::prelude::*;

    fn store(retention_ms: i64) -> InMemoryWindowStore {
        InMemoryWindowStore::new("windows", retention_ms, 10, false).unwrap()
    }

    fn entry(key: &[u8], start: i64, value: &[u8]) -> WindowEntry {
        (key.to_vec(), start, value.to_vec())
    }

    #[test]
    fn put_overwrites_and_fetch_reads_one_window() {
        let mut s = store(100);
        s.put(b"k", Some(b"v1"), 10).unwrap();
        s.put(b"k", Some(b"v2"), 10).unwrap();
        s.put(b"k", Some(b"other window"), 20).unwrap();
        assert_eq!(s.fetch(b"k", 10).unwrap(), Some(b"v2".to_vec()));
        assert_eq!(s.fetch(b"k", 15).unwrap(), None);
        assert_eq!(s.fetch(b"absent", 10).unwrap(), None);
        assert_eq!(
            (s.retention_ms(), s.window_size_ms(), s.retains_duplicates()),
            (100, 10, false)
        );
    }

    #[test]
    fn a_tombstone_put_deletes_the_window() {
        let mut s = store(100);
        s.put(b"k", Some(b"v"), 10).unwrap();
        s.put(b"k", Some(b"v"), 20).unwrap();
        s.put(b"k", None, 10).unwrap();
        s.put(b"absent", None, 10).unwrap();
        assert_eq!(s.fetch(b"k", 10).unwrap(), None);
        assert_eq!(s.all().unwrap(), vec![entry(b"k", 20, b"v")]);
        assert_eq!((s.by_key.len(), s.by_time.len()), (1, 1));
    }

    #[test]
    fn fetch_range_is_inclusive_ascending_and_empty_when_from_is_above_to() {
        let mut s = store(100);
        for start in [40, 10, 30, 20] {
            s.put(b"k", Some(start.to_string().as_bytes()), start).unwrap();
        }
        s.put(b"kk", Some(b"other key"), 20).unwrap();
        let starts = |from, to| -> Vec<i64> {
            s.fetch_range(b"k", from, to)
                .unwrap()
                .into_iter()
                .map(|(t, _)| t)
                .collect()
        };
        assert_eq!(starts(20, 40), vec![20, 30, 40]);
        assert_eq!(starts(11, 39), vec![20, 30]);
        assert_eq!(starts(i64::MIN, i64::MAX), vec![10, 20, 30, 40]);
        assert_eq!(starts(30, 20), Vec::<i64>::new());
        assert_eq!(s.fetch_range(b"k", 10, 10).unwrap(), vec![(10, b"10".to_vec())]);
    }

    #[test]
    fn fetch_keys_orders_by_start_then_key_and_bounds_are_inclusive() {
        let mut s = store(100);
        for (key, start) in [
            (&b"b"[..], 20),
            (b"a", 20),
            (b"c", 10),
            (b"b", 10),
            (b"a", 30),
            (b"d", 20),
        ] {
            s.put(key, Some(key), start).unwrap();
        }
        assert_eq!(
            s.fetch_keys(Some(b"a"), Some(b"c"), 10, 20).unwrap(),
            vec![
                entry(b"b", 10, b"b"),
                entry(b"c", 10, b"c"),
                entry(b"a", 20, b"a"),
                entry(b"b", 20, b"b")
            ]
        );
        assert_eq!(
            s.fetch_keys(None, Some(b"a"), 0, 100).unwrap(),
            vec![entry(b"a", 20, b"a"), entry(b"a", 30, b"a")]
        );
        assert_eq!(
            s.fetch_keys(Some(b"d"), None, 0, 100).unwrap(),
            vec![entry(b"d", 20, b"d")]
        );
        assert_eq!(s.fetch_keys(Some(b"c"), Some(b"a"), 0, 100).unwrap(), vec![]);
        assert_eq!(s.fetch_keys(None, None, 30, 10).unwrap(), vec![]);
        assert_eq!(s.fetch_all(20, 20).unwrap().len(), 3);
        assert_eq!(s.fetch_all(0, 100).unwrap(), s.all().unwrap());
        assert_eq!(s.all().unwrap().len(), 6);
    }

    #[test]
    fn retention_drops_an_expired_put() {
        let mut s = store(10);
        s.put(b"k", Some(b"late"), 100).unwrap();
        // 90 <= 100 - 10: expired.
        s.put(b"k", Some(b"v"), 90).unwrap();
        assert_eq!(s.expired_puts(), 1);
        assert_eq!(s.fetch(b"k", 90).unwrap(), None);
        // 91 > 100 - 10: live.
        s.put(b"k", Some(b"v"), 91).unwrap();
        assert_eq!(s.expired_puts(), 1);
        assert_eq!(s.fetch(b"k", 91).unwrap(), Some(b"v".to_vec()));
        // An expired tombstone is dropped and counted too.
        s.put(b"k", None, 50).unwrap();
        assert_eq!(s.expired_puts(), 2);
    }

    #[test]
    fn retention_hides_expired_windows_and_removes_them_on_put() {
        let mut s = store(10);
        s.put(b"k", Some(b"old"), 91).unwrap();
        s.put(b"j", Some(b"old"), 95).unwrap();
        s.put(b"k", Some(b"new"), 101).unwrap();
        // Stream time 101: starts <= 91 have expired.
        assert_eq!(s.fetch(b"k", 91).unwrap(), None);
        assert_eq!(s.fetch_range(b"k", 0, 200).unwrap(), vec![(101, b"new".to_vec())]);
        assert_eq!(s.fetch_keys(None, None, 0, 200).unwrap().len(), 2);
        assert_eq!(
            s.all().unwrap(),
            vec![entry(b"j", 95, b"old"), entry(b"k", 101, b"new")]
        );
        assert_eq!((s.by_key.len(), s.by_time.len()), (2, 2));
        // A tombstone advances stream time too (as in Kafka).
        s.put(b"x", None, 105).unwrap();
        assert_eq!(s.all().unwrap(), vec![entry(b"k", 101, b"new")]);
        assert_eq!((s.by_key.len(), s.by_time.len()), (1, 1));
    }

    #[test]
    fn a_put_at_a_new_stream_time_is_kept_even_when_it_expires_everything_else() {
        let mut s = store(10);
        s.put(b"k", Some(b"v"), 0).unwrap();
        s.put(b"k", Some(b"v"), 1_000).unwrap();
        assert_eq!(s.all().unwrap(), vec![entry(b"k", 1_000, b"v")]);
        assert_eq!(s.expired_puts(), 0);
    }

    #[test]
    fn zero_retention_keeps_nothing_and_negative_starts_count_as_expired() {
        let mut s = InMemoryWindowStore::new("w", 0, 0, false).unwrap();
        s.put(b"k", Some(b"v"), 5).unwrap();
        assert_eq!(s.all().unwrap(), vec![]);
        let mut s = store(100);
        s.put(b"k", Some(b"v"), -1).unwrap();
        assert_eq!((s.expired_puts(), s.all().unwrap()), (1, vec![]));
    }

    #[test]
    fn duplicates_are_retained_in_insertion_order() {
        let mut s = InMemoryWindowStore::new("join", 100, 10, true).unwrap();
        for value in [&b"3"[..], b"1", b"2"] {
            s.put(b"k", Some(value), 10).unwrap();
        }
        s.put(b"j", Some(b"j"), 10).unwrap();
        s.put(b"k", Some(b"4"), 5).unwrap();
        let expected = vec![
            (5, b"4".to_vec()),
            (10, b"3".to_vec()),
            (10, b"1".to_vec()),
            (10, b"2".to_vec()),
        ];
        assert_eq!(s.fetch_range(b"k", 0, 10).unwrap(), expected);
        // `fetch` of one window gives the latest duplicate.
        assert_eq!(s.fetch(b"k", 10).unwrap(), Some(b"2".to_vec()));
        assert_eq!(
            s.fetch_all(10, 10).unwrap(),
            vec![
                entry(b"j", 10, b"j"),
                entry(b"k", 10, b"3"),
                entry(b"k", 10, b"1"),
                entry(b"k", 10, b"2")
            ]
        );
        // A tombstone cannot say which duplicate it deletes: it deletes nothing.
        s.put(b"k", None, 10).unwrap();
        assert_eq!(s.fetch_range(b"k", 0, 10).unwrap(), expected);
    }

    #[test]
    fn the_constructor_checks_retention_and_window_size() {
        let error = InMemoryWindowStore::new("w", 5, 10, false).unwrap_err();
        assert_eq!(error.store(), "w");
        assert!(error.to_string().contains("no smaller than the window size"), "{error}");
        assert!(InMemoryWindowStore::new("w", -1, 0, false).is_err());
        assert!(InMemoryWindowStore::new("w", 10, -1, false).is_err());
        assert!(InMemoryWindowStore::new("w", 10, 10, false).is_ok());
    }

    #[test]
    fn a_closed_store_refuses_calls() {
        let mut s = store(100);
        s.put(b"k", Some(b"v"), 10).unwrap();
        s.flush().unwrap();
        s.close().unwrap();
        assert!(matches!(s.fetch(b"k", 10), Err(StoreError::Closed { .. })));
        assert!(s.put(b"k", Some(b"v"), 10).is_err());
        assert!(s.fetch_range(b"k", 0, 10).is_err());
        assert!(s.fetch_keys(None, None, 0, 10).is_err());
        assert!(s.fetch_all(0, 10).is_err());
        assert!(s.all().is_err());
        assert!(s.flush().is_err());
        let boxed: Box<dyn WindowBytesStore> = Box::new(s);
        assert!(boxed.as_any().downcast_ref::<InMemoryWindowStore>().is_some());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Put(Vec<u8>, Option<Vec<u8>>, i64),
        Fetch(Vec<u8>, i64),
        FetchRange(Vec<u8>, i64, i64),
        FetchKeys(Option<Vec<u8>>, Option<Vec<u8>>, i64, i64),
        All,
    }

    fn small_key() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(0u8..3, 0..3)
    }

    /// Times from a small range, with a few jumps far ahead so that retention bites.
    fn time() -> impl Strategy<Value = i64> {
        prop_oneof![8 => -2..40i64, 1 => 40..200i64]
    }

    fn op() -> impl Strategy<Value = Op> {
        let value = prop::collection::vec(any::<u8>(), 0..2);
        prop_oneof![
            4 => (small_key(), prop::option::weighted(0.8, value), time()).prop_map(|(k, v, t)| Op::Put(k, v, t)),
            1 => (small_key(), time()).prop_map(|(k, t)| Op::Fetch(k, t)),
            1 => (small_key(), time(), time()).prop_map(|(k, f, t)| Op::FetchRange(k, f, t)),
            1 => (prop::option::of(small_key()), prop::option::of(small_key()), time(), time())
                .prop_map(|(kf, kt, f, t)| Op::FetchKeys(kf, kt, f, t)),
            1 => Just(Op::All),
        ]
    }

    /// The model: the list of puts that are still live, in insertion order, with Kafka's retention
    /// rule written out plainly.
    struct Model {
        retention: i64,
        duplicates: bool,
        observed: i64,
        expired_puts: u64,
        /// (key, window start, value), oldest first.
        entries: Vec<WindowEntry>,
    }

    impl Model {
        fn live(&self, start: i64) -> bool {
            start >= 0 && start > self.observed - self.retention
        }

        fn put(&mut self, key: Vec<u8>, value: Option<Vec<u8>>, start: i64) {
            self.observed = self.observed.max(start);
            if !self.live(start) {
                self.expired_puts += 1;
                return;
            }
            if !self.duplicates {
                self.entries.retain(|(k, s, _)| !(k == &key && *s == start));
            }
            if let Some(value) = value {
                self.entries.push((key, start, value));
            }
        }

        /// Live entries matching `keep`, by start then key; the stable sort keeps insertion order.
        fn select(&self, keep: impl Fn(&WindowEntry) -> bool) -> Vec<WindowEntry> {
            let mut selected: Vec<_> = self
                .entries
                .iter()
                .filter(|e| self.live(e.1) && keep(e))
                .cloned()
                .collect();
            selected.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
            selected
        }
    }

    proptest! {
        #[test]
        fn behaves_like_a_list_of_puts(
            duplicates: bool,
            retention in 0..60i64,
            ops in prop::collection::vec(op(), 1..60),
        ) {
            let mut store = InMemoryWindowStore::new("w", retention, 0, duplicates).unwrap();
            let mut model = Model { retention, duplicates, observed: -1, expired_puts: 0, entries: Vec::new() };
            for op in ops {
                match op {
                    Op::Put(k, v, t) => {
                        store.put(&k, v.as_deref(), t).unwrap();
                        model.put(k, v, t);
                        prop_assert_eq!(store.expired_puts(), model.expired_puts);
                    }
                    Op::Fetch(k, t) => {
                        let expected = model.select(|e| e.0 == k && e.1 == t).pop().map(|e| e.2);
                        prop_assert_eq!(store.fetch(&k, t).unwrap(), expected);
                    }
                    Op::FetchRange(k, f, t) => {
                        let expected: Vec<_> = model
                            .select(|e| e.0 == k && f <= e.1 && e.1 <= t)
                            .into_iter()
                            .map(|e| (e.1, e.2))
                            .collect();
                        prop_assert_eq!(store.fetch_range(&k, f, t).unwrap(), expected);
                    }
                    Op::FetchKeys(kf, kt, f, t) => {
                        let in_keys = |key: &Vec<u8>| kf.as_ref().is_none_or(|x| x <= key) && kt.as_ref().is_none_or(|x| key <= x);
                        let ordered_keys = kf.is_none() || kt.is_none() || kf <= kt;
                        let expected = model.select(|e| ordered_keys && in_keys(&e.0) && f <= e.1 && e.1 <= t);
                        prop_assert_eq!(store.fetch_keys(kf.as_deref(), kt.as_deref(), f, t).unwrap(), expected);
                        prop_assert_eq!(store.fetch_all(f, t).unwrap(), model.select(|e| f <= e.1 && e.1 <= t));
                    }
                    Op::All => prop_assert_eq!(store.all().unwrap(), model.select(|_| true)),
                }
            }
            prop_assert_eq!(store.all().unwrap(), model.select(|_| true));
        }
    }
}

//! [`CachingWindowStore`]: the write cache over a window bytes store.

use std::fmt;

use super::{CacheBudget, CacheCore, StreamTime, caching_decorator, merge, merge_entries};
use crate::state::encoding::{WindowKey, decode_window_key, encode_window_key, window_key_bounds};
use crate::state::memory::InMemoryWindowStore;
use crate::state::traits::{StateStore, WindowBytesStore, WindowEntry};
use crate::state::{StoreError, StoreResult};

/// A write cache over a [`WindowBytesStore`] (Kafka's `CachingWindowStore`): it holds the dirty
/// windows (a value, or `None` for a pending delete) by cache key `encode_window_key(key, start,
/// 0)`, charged to a shared [`CacheBudget`], and writes them to the inner store when they are
/// evicted or flushed. See the [module docs](super).
///
/// Retention follows the trait on the cache's own observed stream time (the largest window start
/// put through it): a put of an expired window is dropped and counted, and no read returns an
/// expired window, whether it is cached or stored below. Stores that retain duplicates cannot be
/// cached (as in Kafka Streams): a put there adds an entry rather than replacing one.
pub struct CachingWindowStore {
    core: CacheCore<dyn WindowBytesStore, Option<Vec<u8>>>,
    /// Observed stream time: the largest window start put through the cache or restored below it.
    time: StreamTime,
}

impl CachingWindowStore {
    /// A cache over `inner`, charging its entries to `budget`. `retains_duplicates` is the inner
    /// store's setting (`StoreKind::Window::retain_duplicates`), which the byte trait does not
    /// expose. Fails with [`StoreError::InvalidArgument`] when it is true, or when `inner` is an
    /// [`InMemoryWindowStore`] that retains duplicates.
    pub fn new(inner: Box<dyn WindowBytesStore>, budget: CacheBudget, retains_duplicates: bool) -> StoreResult<Self> {
        let in_memory_duplicates = inner
            .as_any()
            .downcast_ref::<InMemoryWindowStore>()
            .is_some_and(InMemoryWindowStore::retains_duplicates);
        if retains_duplicates || in_memory_duplicates {
            return Err(StoreError::invalid_argument(
                inner.name(),
                "a window store that retains duplicates cannot be cached",
            ));
        }
        let time = StreamTime::new(inner.retention_ms());
        Ok(CachingWindowStore {
            core: CacheCore::new(inner, budget, write_down),
            time,
        })
    }

    fn decode<'k>(&self, cache_key: &'k [u8]) -> StoreResult<WindowKey<'k>> {
        decode_window_key(cache_key).map_err(|e| e.in_store(self.core.name()))
    }

    /// The live dirty windows with a key in `[key_from, key_to]` and a start in `[time_from,
    /// time_to]` merged over `stored` (the inner store's entries for the same bounds, by start
    /// then key), without expired windows.
    fn merged(
        &self,
        key_from: Option<&[u8]>,
        key_to: Option<&[u8]>,
        time_from: i64,
        time_to: i64,
        stored: Vec<WindowEntry>,
    ) -> StoreResult<Vec<WindowEntry>> {
        let min_live = self.time.min_live();
        let time_from = time_from.max(min_live);
        let cached = self.core.cached(None, None, |cache_key| {
            let window = self.decode(cache_key)?;
            let keys_match = key_from.is_none_or(|f| f <= window.key) && key_to.is_none_or(|t| window.key <= t);
            let start = window.window_start;
            Ok((keys_match && time_from <= start && start <= time_to).then(|| (start, window.key.to_vec())))
        })?;
        Ok(merge_entries(
            cached,
            stored,
            |(key, start, value)| (start >= min_live).then_some(((start, key), value)),
            |((start, key), value)| (key, start, value),
        ))
    }
}

/// Writes the dirty window under `cache_key` to `inner`.
fn write_down<S: WindowBytesStore + ?Sized>(
    inner: &mut S,
    cache_key: &[u8],
    value: &Option<Vec<u8>>,
) -> StoreResult<()> {
    let window = decode_window_key(cache_key).map_err(|e| e.in_store(inner.name()))?;
    inner.put(window.key, value.as_deref(), window.window_start)
}

impl fmt::Debug for CachingWindowStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.fmt_debug(f, "CachingWindowStore", Some(&self.time))
    }
}

caching_decorator! {
    CachingWindowStore,
    inner: dyn WindowBytesStore,
    entries: "window" / "windows",
    cache_key: "`encode_window_key(key, window_start, 0)`",
}

impl WindowBytesStore for CachingWindowStore {
    fn put(&mut self, key: &[u8], value: Option<&[u8]>, window_start: i64) -> StoreResult<()> {
        self.core.check_open()?;
        if self.time.drops_put(window_start) {
            tracing::debug!(store = %self.core.name(), window_start, "skipping a put for an expired window");
            return Ok(());
        }
        self.core
            .put(encode_window_key(key, window_start, 0), value.map(<[u8]>::to_vec))
    }

    fn fetch(&self, key: &[u8], window_start: i64) -> StoreResult<Option<Vec<u8>>> {
        self.core.check_open()?;
        if self.time.has_expired(window_start) {
            return Ok(None);
        }
        self.core.read(&encode_window_key(key, window_start, 0), |inner| {
            inner.fetch(key, window_start)
        })
    }

    fn fetch_range(&self, key: &[u8], time_from: i64, time_to: i64) -> StoreResult<Vec<(i64, Vec<u8>)>> {
        self.core.check_open()?;
        let time_from = time_from.max(self.time.min_live());
        if time_from > time_to {
            return Ok(Vec::new());
        }
        let (lower, upper) = window_key_bounds(key, time_from, time_to);
        // One key's windows sort by start; entries of longer keys interleave and are skipped.
        let cached = self
            .core
            .cached(Some(lower.as_slice()), Some(upper.as_slice()), |cache_key| {
                let window = self.decode(cache_key)?;
                let start = window.window_start;
                Ok((window.key == key && time_from <= start && start <= time_to).then_some(start))
            })?;
        let stored = self.core.inner().fetch_range(key, time_from, time_to)?;
        Ok(merge(cached, stored, Ord::cmp))
    }

    fn fetch_keys(
        &self,
        key_from: Option<&[u8]>,
        key_to: Option<&[u8]>,
        time_from: i64,
        time_to: i64,
    ) -> StoreResult<Vec<WindowEntry>> {
        self.core.check_open()?;
        // Inverted key bounds match nothing, in the cache as below it.
        let stored = self.core.inner().fetch_keys(key_from, key_to, time_from, time_to)?;
        self.merged(key_from, key_to, time_from, time_to, stored)
    }

    fn fetch_all(&self, time_from: i64, time_to: i64) -> StoreResult<Vec<WindowEntry>> {
        self.core.check_open()?;
        let stored = self.core.inner().fetch_all(time_from, time_to)?;
        self.merged(None, None, time_from, time_to, stored)
    }

    fn all(&self) -> StoreResult<Vec<WindowEntry>> {
        self.core.check_open()?;
        let stored = self.core.inner().all()?;
        self.merged(None, None, i64::MIN, i64::MAX, stored)
    }

    fn retention_ms(&self) -> i64 {
        self.core.inner().retention_ms()
    }

    fn window_size_ms(&self) -> i64 {
        self.core.inner().window_size_ms()
    }

    /// The puts the cache dropped plus those the inner store dropped.
    fn expired_puts(&self) -> u64 {
        self.time.expired_puts + self.core.inner().expired_puts()
    }

    /// Passes the records straight to the inner store: restoring bypasses the cache (and is not
    /// reported by `take_flushed`). The cache's observed stream time advances as the inner store's
    /// does (to the latest window start restored), so both expire windows alike. A dirty window of
    /// a restored key still wins on reads; restoring normally happens before processing, while the
    /// cache is empty.
    fn restore_batch(&mut self, batch: &[(Vec<u8>, Option<Vec<u8>>)]) -> StoreResult<()> {
        self.core.check_open()?;
        // Up to the first key that does not decode: the inner store stops there too.
        let restored = batch.iter().map_while(|(key, _)| decode_window_key(key).ok());
        self.time.restored(restored.map(|window| window.window_start));
        self.core.inner_mut().restore_batch(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::caching::ENTRY_OVERHEAD_BYTES;
    use crate::state::caching::tests::small_key;
    use proptest::prelude::*;

    fn in_memory(retention_ms: i64) -> InMemoryWindowStore {
        InMemoryWindowStore::new("windows", retention_ms, 0, false).unwrap()
    }

    fn cached(budget: &CacheBudget, retention_ms: i64) -> CachingWindowStore {
        CachingWindowStore::new(Box::new(in_memory(retention_ms)), budget.clone(), false).unwrap()
    }

    fn entry(key: &[u8], start: i64, value: &[u8]) -> WindowEntry {
        (key.to_vec(), start, value.to_vec())
    }

    #[test]
    fn coalesces_updates_of_a_window_and_reports_its_cache_key() {
        let budget = CacheBudget::new(10_000);
        let mut store = cached(&budget, 1_000);
        for i in 0..100u8 {
            store.put(b"k", Some(&[i]), 10).unwrap();
        }
        store.put(b"k", Some(b"other"), 20).unwrap();
        assert_eq!(store.cached_entries(), 2);
        assert_eq!(store.inner().all().unwrap(), vec![]);
        store.flush().unwrap();
        let flushed = vec![encode_window_key(b"k", 10, 0), encode_window_key(b"k", 20, 0)];
        assert_eq!(store.take_flushed(), flushed);
        assert_eq!(
            store.inner().all().unwrap(),
            vec![entry(b"k", 10, &[99]), entry(b"k", 20, b"other")]
        );
        assert_eq!(budget.used_bytes(), 0);
    }

    #[test]
    fn evicts_the_oldest_windows_and_a_zero_budget_writes_through() {
        let entry_bytes = 1 + 12 + 1 + ENTRY_OVERHEAD_BYTES;
        let budget = CacheBudget::new(entry_bytes);
        let mut store = cached(&budget, 1_000);
        store.put(b"a", Some(b"1"), 5).unwrap();
        store.put(b"b", Some(b"1"), 1).unwrap();
        assert_eq!(store.take_flushed(), vec![encode_window_key(b"a", 5, 0)]);
        assert_eq!(store.fetch(b"a", 5).unwrap(), Some(b"1".to_vec()));
        assert_eq!(
            store.fetch_all(0, 10).unwrap(),
            vec![entry(b"b", 1, b"1"), entry(b"a", 5, b"1")]
        );
        assert_eq!(budget.used_bytes(), entry_bytes);
        let mut through = cached(&CacheBudget::new(0), 1_000);
        through.put(b"k", Some(b"v"), 3).unwrap();
        assert_eq!(through.cached_entries(), 0);
        assert_eq!(through.inner().fetch(b"k", 3).unwrap(), Some(b"v".to_vec()));
        assert_eq!(through.take_flushed(), vec![encode_window_key(b"k", 3, 0)]);
    }

    #[test]
    fn reads_merge_the_cache_over_the_inner_store() {
        let mut inner = in_memory(1_000);
        for (key, start) in [(&b"a"[..], 10), (b"b", 10), (b"a", 20), (b"c", 30)] {
            inner.put(key, Some(b"inner"), start).unwrap();
        }
        let mut store = CachingWindowStore::new(Box::new(inner), CacheBudget::new(10_000), false).unwrap();
        store.put(b"b", None, 10).unwrap();
        store.put(b"a", Some(b"cache"), 20).unwrap();
        store.put(b"aa", Some(b"cache"), 20).unwrap();
        store.put(b"a", Some(b"cache"), 15).unwrap();
        assert_eq!(store.fetch(b"b", 10).unwrap(), None);
        assert_eq!(
            store.fetch_range(b"a", 0, 100).unwrap(),
            vec![
                (10, b"inner".to_vec()),
                (15, b"cache".to_vec()),
                (20, b"cache".to_vec())
            ]
        );
        assert_eq!(
            store.fetch_keys(Some(b"a"), Some(b"b"), 10, 20).unwrap(),
            vec![
                entry(b"a", 10, b"inner"),
                entry(b"a", 15, b"cache"),
                entry(b"a", 20, b"cache"),
                entry(b"aa", 20, b"cache")
            ]
        );
        assert_eq!(store.fetch_keys(Some(b"b"), Some(b"a"), 0, 100).unwrap(), vec![]);
        assert_eq!(store.all().unwrap().len(), 5);
        assert_eq!(store.fetch_all(30, 30).unwrap(), vec![entry(b"c", 30, b"inner")]);
    }

    #[test]
    fn expiry_applies_to_cached_and_stored_windows() {
        let mut inner = in_memory(10);
        inner.put(b"old", Some(b"inner"), 50).unwrap();
        let mut store = CachingWindowStore::new(Box::new(inner), CacheBudget::new(10_000), false).unwrap();
        store.put(b"k", Some(b"v"), 95).unwrap();
        store.put(b"k", Some(b"v"), 100).unwrap();
        // Stream time 100: starts <= 90 have expired, in the cache and below it.
        store.put(b"k", Some(b"late"), 90).unwrap();
        assert_eq!(store.expired_puts(), 1);
        assert_eq!(store.fetch(b"old", 50).unwrap(), None);
        assert_eq!(store.fetch_range(b"k", 0, 200).unwrap().len(), 2);
        store.put(b"x", None, 105).unwrap();
        assert_eq!(store.fetch(b"k", 95).unwrap(), None);
        assert_eq!(store.all().unwrap(), vec![entry(b"k", 100, b"v")]);
        store.put(b"k", None, -1).unwrap();
        assert_eq!(store.expired_puts(), 2);
        store.flush().unwrap();
        assert_eq!(store.inner().all().unwrap(), vec![entry(b"k", 100, b"v")]);
        assert_eq!((store.expired_puts(), store.inner().expired_puts()), (2, 0));
        assert_eq!((store.retention_ms(), store.window_size_ms()), (10, 0));
    }

    #[test]
    fn a_store_retaining_duplicates_is_not_cached() {
        let duplicates = InMemoryWindowStore::new("join", 10, 0, true).unwrap();
        let error = CachingWindowStore::new(Box::new(duplicates), CacheBudget::new(0), false).unwrap_err();
        assert!(
            matches!(&error, StoreError::InvalidArgument { store, .. } if store == "join"),
            "{error}"
        );
        assert!(CachingWindowStore::new(Box::new(in_memory(10)), CacheBudget::new(0), true).is_err());
    }

    #[test]
    fn close_flushes_then_closes() {
        let budget = CacheBudget::new(10_000);
        let mut store = cached(&budget, 100);
        store.put(b"k", Some(b"v"), 1).unwrap();
        store.close().unwrap();
        store.close().unwrap();
        assert_eq!(store.take_flushed().len(), 1);
        assert!(matches!(store.fetch(b"k", 1), Err(StoreError::Closed { .. })));
        assert!(store.put(b"k", None, 1).is_err());
        assert!(store.all().is_err());
        let mut boxed: Box<dyn WindowBytesStore> = Box::new(store);
        assert!(boxed.as_any_mut().downcast_mut::<CachingWindowStore>().is_some());
    }

    #[test]
    fn restore_bypasses_the_cache_and_advances_its_stream_time() {
        let mut store = cached(&CacheBudget::new(10_000), 10);
        let batch = vec![
            (encode_window_key(b"k", 100, 3), Some(b"restored".to_vec())),
            (encode_window_key(b"j", 95, 0), None),
        ];
        store.restore_batch(&batch).unwrap();
        assert_eq!((store.cached_entries(), store.take_flushed().len()), (0, 0));
        assert_eq!(store.fetch(b"k", 100).unwrap(), Some(b"restored".to_vec()));
        // Stream time 100 below and in the cache: a put at 90 is dropped by the cache.
        store.put(b"k", Some(b"late"), 90).unwrap();
        assert_eq!((store.cached_entries(), store.expired_puts()), (0, 1));
        assert!(store.restore_batch(&[(b"short".to_vec(), None)]).is_err());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Put(Vec<u8>, Option<Vec<u8>>, i64),
        Flush,
        Fetch(Vec<u8>, i64),
        FetchRange(Vec<u8>, i64, i64),
        FetchKeys(Option<Vec<u8>>, Option<Vec<u8>>, i64, i64),
        All,
    }

    fn time() -> impl Strategy<Value = i64> {
        prop_oneof![8 => -2..40i64, 1 => 40..200i64]
    }

    fn op() -> impl Strategy<Value = Op> {
        let value = prop::collection::vec(any::<u8>(), 0..2);
        let bound = || prop::option::of(small_key());
        prop_oneof![
            5 => (small_key(), prop::option::weighted(0.8, value), time()).prop_map(|(k, v, t)| Op::Put(k, v, t)),
            1 => Just(Op::Flush),
            1 => (small_key(), time()).prop_map(|(k, t)| Op::Fetch(k, t)),
            1 => (small_key(), time(), time()).prop_map(|(k, f, t)| Op::FetchRange(k, f, t)),
            1 => (bound(), bound(), time(), time()).prop_map(|(kf, kt, f, t)| Op::FetchKeys(kf, kt, f, t)),
            1 => Just(Op::All),
        ]
    }

    proptest! {
        #[test]
        fn reads_like_the_store_without_a_cache(
            retention in 0..60i64,
            entries in 0..6usize,
            ops in prop::collection::vec(op(), 1..80),
        ) {
            let budget = CacheBudget::new(entries * (16 + ENTRY_OVERHEAD_BYTES));
            let mut store = cached(&budget, retention);
            let mut plain = in_memory(retention);
            for op in ops {
                match op {
                    Op::Put(k, v, t) => {
                        store.put(&k, v.as_deref(), t).unwrap();
                        plain.put(&k, v.as_deref(), t).unwrap();
                        prop_assert_eq!(store.expired_puts(), plain.expired_puts());
                    }
                    Op::Flush => {
                        store.flush().unwrap();
                        prop_assert_eq!(store.inner().all().unwrap(), plain.all().unwrap());
                    }
                    Op::Fetch(k, t) => prop_assert_eq!(store.fetch(&k, t).unwrap(), plain.fetch(&k, t).unwrap()),
                    Op::FetchRange(k, f, t) => {
                        prop_assert_eq!(store.fetch_range(&k, f, t).unwrap(), plain.fetch_range(&k, f, t).unwrap());
                    }
                    Op::FetchKeys(kf, kt, f, t) => {
                        let (kf, kt) = (kf.as_deref(), kt.as_deref());
                        prop_assert_eq!(store.fetch_keys(kf, kt, f, t).unwrap(), plain.fetch_keys(kf, kt, f, t).unwrap());
                        prop_assert_eq!(store.fetch_all(f, t).unwrap(), plain.fetch_all(f, t).unwrap());
                    }
                    Op::All => prop_assert_eq!(store.all().unwrap(), plain.all().unwrap()),
                }
            }
            prop_assert_eq!(store.all().unwrap(), plain.all().unwrap());
            store.flush().unwrap();
            prop_assert_eq!(store.inner().all().unwrap(), plain.all().unwrap());
            prop_assert_eq!(store.inner().expired_puts(), 0);
            prop_assert_eq!(budget.used_bytes(), 0);
        }
    }
}

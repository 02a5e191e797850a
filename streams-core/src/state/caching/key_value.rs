//! [`CachingKeyValueStore`]: the write cache over a key-value bytes store.

use std::fmt;

use super::{CacheBudget, CacheCore, caching_decorator, merge};
use crate::state::StoreResult;
use crate::state::traits::{KeyValueBytesStore, KeyValueEntry, StateStore};

/// A write cache over a [`KeyValueBytesStore`] (Kafka's `CachingKeyValueStore`): it holds the
/// dirty entries (a value, or `None` for a pending delete) by key, charged to a shared
/// [`CacheBudget`], and writes them to the inner store when they are evicted or flushed. See the
/// [module docs](super).
///
/// Reads see the cache first: a cached value wins over the inner store's, a cached pending delete
/// hides it, and ranges merge both in the order the trait promises.
pub struct CachingKeyValueStore {
    core: CacheCore<dyn KeyValueBytesStore, Option<Vec<u8>>>,
}

impl CachingKeyValueStore {
    /// A cache over `inner`, charging its entries to `budget`.
    pub fn new(inner: Box<dyn KeyValueBytesStore>, budget: CacheBudget) -> Self {
        CachingKeyValueStore {
            core: CacheCore::new(inner, budget, |inner, key, value| inner.put(key, value.as_deref())),
        }
    }

    /// Caches `value` for `key`, then evicts while the budget is exceeded.
    fn put_cached(&mut self, key: &[u8], value: Option<&[u8]>) -> StoreResult<()> {
        self.core.put(key.to_vec(), value.map(<[u8]>::to_vec))
    }

    /// The dirty entries in `[from, to]`, ascending.
    fn cached_range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        self.core
            .entries()
            .range(from, to)
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }
}

impl fmt::Debug for CachingKeyValueStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.fmt_debug(f, "CachingKeyValueStore", None)
    }
}

caching_decorator! {
    CachingKeyValueStore,
    inner: dyn KeyValueBytesStore,
    entries: "entry" / "entries",
    cache_key: "the keys themselves",
}

impl KeyValueBytesStore for CachingKeyValueStore {
    fn get(&self, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.core.check_open()?;
        self.core.read(key, |inner| inner.get(key))
    }

    fn put(&mut self, key: &[u8], value: Option<&[u8]>) -> StoreResult<()> {
        self.core.check_open()?;
        self.put_cached(key, value)
    }

    fn put_if_absent(&mut self, key: &[u8], value: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let existing = self.get(key)?;
        if existing.is_none() {
            self.put_cached(key, Some(value))?;
        }
        Ok(existing)
    }

    /// Returns the old value (through the cache) and caches a pending delete, as Kafka does, so
    /// the delete is written down and reported even when the key was absent.
    fn delete(&mut self, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let old = self.get(key)?;
        self.put_cached(key, None)?;
        Ok(old)
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> StoreResult<Vec<KeyValueEntry>> {
        self.core.check_open()?;
        let stored = self.core.inner().range(from, to)?;
        Ok(merge(self.cached_range(from, to), stored, Ord::cmp))
    }

    fn reverse_range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> StoreResult<Vec<KeyValueEntry>> {
        self.core.check_open()?;
        let stored = self.core.inner().reverse_range(from, to)?;
        let mut cached = self.cached_range(from, to);
        cached.reverse();
        Ok(merge(cached, stored, |a, b| b.cmp(a)))
    }

    fn all(&self) -> StoreResult<Vec<KeyValueEntry>> {
        self.range(None, None)
    }

    fn prefix_scan(&self, prefix: &[u8]) -> StoreResult<Vec<KeyValueEntry>> {
        self.core.check_open()?;
        let stored = self.core.inner().prefix_scan(prefix)?;
        let cached = self
            .core
            .entries()
            .range(Some(prefix), None)
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        Ok(merge(cached, stored, Ord::cmp))
    }

    /// The inner store's count, corrected by the dirty entries: exact over an exact inner store.
    /// Costs one inner lookup per dirty entry. Zero once closed.
    fn approximate_num_entries(&self) -> u64 {
        if !self.core.is_open() {
            return 0;
        }
        let inner = self.core.inner();
        let mut count = inner.approximate_num_entries();
        for (key, value) in self.core.entries().iter() {
            let stored = matches!(inner.get(key), Ok(Some(_)));
            match (value.is_some(), stored) {
                (true, false) => count += 1,
                (false, true) => count = count.saturating_sub(1),
                _ => {}
            }
        }
        count
    }

    /// Passes the records straight to the inner store: restoring bypasses the cache (and is not
    /// reported by `take_flushed`). A dirty entry of a restored key still wins on reads; restoring
    /// normally happens before processing, while the cache is empty.
    fn restore_batch(&mut self, batch: &[(Vec<u8>, Option<Vec<u8>>)]) -> StoreResult<()> {
        self.core.check_open()?;
        self.core.inner_mut().restore_batch(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StoreError;
    use crate::state::caching::ENTRY_OVERHEAD_BYTES;
    use crate::state::caching::tests::small_key;
    use crate::state::memory::InMemoryKeyValueStore;
    use proptest::prelude::*;

    fn cached(budget: &CacheBudget) -> CachingKeyValueStore {
        CachingKeyValueStore::new(Box::new(InMemoryKeyValueStore::new("kv")), budget.clone())
    }

    fn kv(key: &[u8], value: &[u8]) -> KeyValueEntry {
        (key.to_vec(), value.to_vec())
    }

    fn keys(keys: &[&[u8]]) -> Vec<Vec<u8>> {
        keys.iter().map(|k| k.to_vec()).collect()
    }

    #[test]
    fn coalesces_updates_of_a_key_into_one_inner_write() {
        let budget = CacheBudget::new(10_000);
        let mut store = cached(&budget);
        for i in 0..100u32 {
            store.put(b"k", Some(&i.to_be_bytes())).unwrap();
        }
        assert_eq!(store.cached_entries(), 1);
        assert_eq!(budget.used_bytes(), 1 + 4 + ENTRY_OVERHEAD_BYTES);
        assert_eq!(store.inner().get(b"k").unwrap(), None);
        assert_eq!(store.get(b"k").unwrap(), Some(99u32.to_be_bytes().to_vec()));
        store.flush().unwrap();
        assert_eq!(store.take_flushed(), keys(&[b"k"]));
        assert_eq!(store.take_flushed(), Vec::<Vec<u8>>::new());
        assert_eq!(store.inner().get(b"k").unwrap(), Some(99u32.to_be_bytes().to_vec()));
        assert_eq!((store.cached_entries(), budget.used_bytes()), (0, 0));
    }

    #[test]
    fn evicts_the_least_recently_written_entries_first_and_releases_their_bytes() {
        // Room for two entries of a 1-byte key and a 1-byte value.
        let entry = 2 + ENTRY_OVERHEAD_BYTES;
        let budget = CacheBudget::new(2 * entry);
        let mut store = cached(&budget);
        store.put(b"a", Some(b"1")).unwrap();
        store.put(b"b", Some(b"1")).unwrap();
        store.put(b"a", Some(b"2")).unwrap();
        assert_eq!(store.take_flushed(), Vec::<Vec<u8>>::new());
        store.put(b"c", Some(b"1")).unwrap();
        store.put(b"d", Some(b"1")).unwrap();
        assert_eq!(store.take_flushed(), keys(&[b"b", b"a"]));
        assert_eq!(store.inner().all().unwrap(), vec![kv(b"a", b"2"), kv(b"b", b"1")]);
        assert_eq!((store.cached_entries(), budget.used_bytes()), (2, 2 * entry));
    }

    #[test]
    fn caches_sharing_a_budget_evict_from_the_cache_written_to() {
        let entry = 2 + ENTRY_OVERHEAD_BYTES;
        let budget = CacheBudget::new(2 * entry);
        let mut first = cached(&budget);
        let mut second = cached(&budget);
        first.put(b"a", Some(b"1")).unwrap();
        first.put(b"b", Some(b"1")).unwrap();
        second.put(b"x", Some(b"1")).unwrap();
        // The write to `second` overflows the budget: `second` evicts its only entry.
        assert_eq!(second.take_flushed(), keys(&[b"x"]));
        assert_eq!((first.cached_entries(), second.cached_entries()), (2, 0));
        first.put(b"c", Some(b"1")).unwrap();
        assert_eq!(first.take_flushed(), keys(&[b"a"]));
        drop(first);
        assert_eq!(budget.used_bytes(), 0);
    }

    #[test]
    fn a_budget_of_zero_writes_through_and_still_reports() {
        let budget = CacheBudget::new(0);
        let mut store = cached(&budget);
        store.put(b"a", Some(b"1")).unwrap();
        store.delete(b"a").unwrap();
        assert_eq!(store.cached_entries(), 0);
        assert_eq!(store.take_flushed(), keys(&[b"a", b"a"]));
        assert_eq!(store.inner().approximate_num_entries(), 0);
        assert_eq!(budget.used_bytes(), 0);
    }

    #[test]
    fn reads_merge_the_cache_over_the_inner_store() {
        let budget = CacheBudget::new(10_000);
        let mut inner = InMemoryKeyValueStore::new("kv");
        for key in [&b"a"[..], b"b", b"c", b"d"] {
            inner.put(key, Some(b"inner")).unwrap();
        }
        let mut store = CachingKeyValueStore::new(Box::new(inner), budget);
        store.put(b"b", Some(b"cache")).unwrap();
        store.put(b"c", None).unwrap();
        store.put(b"bb", Some(b"cache")).unwrap();
        assert_eq!(store.get(b"c").unwrap(), None);
        assert_eq!(store.get(b"a").unwrap(), Some(b"inner".to_vec()));
        let expected = vec![
            kv(b"a", b"inner"),
            kv(b"b", b"cache"),
            kv(b"bb", b"cache"),
            kv(b"d", b"inner"),
        ];
        assert_eq!(store.all().unwrap(), expected);
        assert_eq!(store.range(Some(b"b"), Some(b"c")).unwrap(), expected[1..3]);
        let mut reversed = expected.clone();
        reversed.reverse();
        assert_eq!(store.reverse_range(None, None).unwrap(), reversed);
        assert_eq!(store.reverse_range(Some(b"c"), Some(b"b")).unwrap(), vec![]);
        assert_eq!(store.prefix_scan(b"b").unwrap(), expected[1..3]);
        assert_eq!(store.approximate_num_entries(), 4);
        assert_eq!(store.put_if_absent(b"c", b"new").unwrap(), None);
        assert_eq!(store.put_if_absent(b"a", b"new").unwrap(), Some(b"inner".to_vec()));
        assert_eq!(store.delete(b"b").unwrap(), Some(b"cache".to_vec()));
        assert_eq!(store.get(b"b").unwrap(), None);
        assert_eq!(store.inner().get(b"b").unwrap(), Some(b"inner".to_vec()));
    }

    #[test]
    fn close_flushes_then_closes_and_further_calls_fail() {
        let budget = CacheBudget::new(10_000);
        let mut store = cached(&budget);
        store.put(b"a", Some(b"1")).unwrap();
        store.close().unwrap();
        store.close().unwrap();
        assert_eq!(store.take_flushed(), keys(&[b"a"]));
        assert!(matches!(store.get(b"a"), Err(StoreError::Closed { store }) if store == "kv"));
        assert!(store.put(b"a", None).is_err());
        assert!(store.flush().is_err());
        assert_eq!(store.approximate_num_entries(), 0);
        assert_eq!(budget.used_bytes(), 0);
        let boxed: Box<dyn KeyValueBytesStore> = Box::new(store);
        assert!(boxed.as_any().downcast_ref::<CachingKeyValueStore>().is_some());
    }

    #[test]
    fn restore_bypasses_the_cache() {
        let mut store = cached(&CacheBudget::new(10_000));
        store.put(b"a", Some(b"dirty")).unwrap();
        store
            .restore_batch(&[
                (b"a".to_vec(), Some(b"1".to_vec())),
                (b"b".to_vec(), Some(b"2".to_vec())),
            ])
            .unwrap();
        assert_eq!(store.cached_entries(), 1);
        assert_eq!(store.take_flushed(), Vec::<Vec<u8>>::new());
        assert_eq!(store.inner().all().unwrap(), vec![kv(b"a", b"1"), kv(b"b", b"2")]);
        assert_eq!(store.all().unwrap(), vec![kv(b"a", b"dirty"), kv(b"b", b"2")]);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Put(Vec<u8>, Option<Vec<u8>>),
        PutIfAbsent(Vec<u8>, Vec<u8>),
        Delete(Vec<u8>),
        Flush,
        Get(Vec<u8>),
        Range(Option<Vec<u8>>, Option<Vec<u8>>),
        ReverseRange(Option<Vec<u8>>, Option<Vec<u8>>),
        PrefixScan(Vec<u8>),
    }

    fn op() -> impl Strategy<Value = Op> {
        let value = prop::collection::vec(any::<u8>(), 0..3);
        let bound = || prop::option::of(small_key());
        prop_oneof![
            4 => (small_key(), prop::option::weighted(0.8, value.clone())).prop_map(|(k, v)| Op::Put(k, v)),
            1 => (small_key(), value).prop_map(|(k, v)| Op::PutIfAbsent(k, v)),
            1 => small_key().prop_map(Op::Delete),
            1 => Just(Op::Flush),
            1 => small_key().prop_map(Op::Get),
            1 => (bound(), bound()).prop_map(|(f, t)| Op::Range(f, t)),
            1 => (bound(), bound()).prop_map(|(f, t)| Op::ReverseRange(f, t)),
            1 => small_key().prop_map(Op::PrefixScan),
        ]
    }

    proptest! {
        #[test]
        fn reads_like_the_store_without_a_cache(
            entries in 0..6usize,
            ops in prop::collection::vec(op(), 1..80),
        ) {
            let budget = CacheBudget::new(entries * (4 + ENTRY_OVERHEAD_BYTES));
            let mut store = cached(&budget);
            let mut plain = InMemoryKeyValueStore::new("kv");
            for op in ops {
                match op {
                    Op::Put(k, v) => {
                        store.put(&k, v.as_deref()).unwrap();
                        plain.put(&k, v.as_deref()).unwrap();
                    }
                    Op::PutIfAbsent(k, v) => {
                        prop_assert_eq!(store.put_if_absent(&k, &v).unwrap(), plain.put_if_absent(&k, &v).unwrap());
                    }
                    Op::Delete(k) => prop_assert_eq!(store.delete(&k).unwrap(), plain.delete(&k).unwrap()),
                    Op::Flush => {
                        store.flush().unwrap();
                        prop_assert_eq!(store.cached_entries(), 0);
                        prop_assert_eq!(store.inner().all().unwrap(), plain.all().unwrap());
                    }
                    Op::Get(k) => prop_assert_eq!(store.get(&k).unwrap(), plain.get(&k).unwrap()),
                    Op::Range(f, t) => prop_assert_eq!(
                        store.range(f.as_deref(), t.as_deref()).unwrap(),
                        plain.range(f.as_deref(), t.as_deref()).unwrap()
                    ),
                    Op::ReverseRange(f, t) => prop_assert_eq!(
                        store.reverse_range(f.as_deref(), t.as_deref()).unwrap(),
                        plain.reverse_range(f.as_deref(), t.as_deref()).unwrap()
                    ),
                    Op::PrefixScan(p) => prop_assert_eq!(store.prefix_scan(&p).unwrap(), plain.prefix_scan(&p).unwrap()),
                }
                prop_assert!(budget.used_bytes() <= budget.max_bytes());
                prop_assert_eq!(store.approximate_num_entries(), plain.approximate_num_entries());
            }
            prop_assert_eq!(store.all().unwrap(), plain.all().unwrap());
            store.flush().unwrap();
            prop_assert_eq!(store.inner().all().unwrap(), plain.all().unwrap());
            prop_assert_eq!(budget.used_bytes(), 0);
        }
    }
}

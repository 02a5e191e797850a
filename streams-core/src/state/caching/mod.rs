//! The write cache: decorators that hold a store's dirty entries between commits, so that many
//! updates of one key reach the inner store (and its changelog) once (Kafka Streams'
//! `CachingKeyValueStore`, `CachingWindowStore`, `CachingSessionStore` and `ThreadCache`).
//!
//! - [`CacheBudget`]: the bytes every cache of one stream thread may hold together
//!   (`statestore.cache.max.bytes`). Each entry is charged its key, its value and
//!   [`ENTRY_OVERHEAD_BYTES`].
//! - [`CachingKeyValueStore`], [`CachingWindowStore`], [`CachingSessionStore`]: decorators that
//!   implement the byte trait of the store they wrap, so they stack anywhere in the decorator stack.
//!
//! A cache holds **dirty entries only**: every write goes to the cache, keyed by a *cache key*
//! (the key bytes; for windows `encode_window_key(key, start, 0)`; for sessions
//! `encode_session_key(key, window)`), and stays there until it is written down to the inner
//! store, by eviction (the shared budget is exceeded after a write to this cache: its least
//! recently written entries go first) or by `flush` (every entry, least recently written first).
//! Reads see the cache first and merge it with the inner store, the cache winning; a cached
//! pending delete hides the inner value.
//!
//! Every decorator lists the cache keys it wrote down since the last `take_flushed`, in the order
//! they were written: the task forwards, per key, only the latest update downstream when the entry
//! leaves the cache. Restoring from a changelog (`restore_batch`) bypasses the cache. Dropping a
//! decorator without `flush` or `close` loses its dirty entries (and releases their bytes).

mod budget;
mod key_value;
mod session;
mod window;

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;

pub use budget::{CacheBudget, ENTRY_OVERHEAD_BYTES, entry_size};
pub use key_value::CachingKeyValueStore;
pub use session::CachingSessionStore;
pub use window::CachingWindowStore;

use super::traits::StateStore;
use super::{StoreError, StoreResult};

/// One dirty entry: its value, the bytes it is charged, its place in write order.
struct Slot<V> {
    value: V,
    size: usize,
    seq: u64,
}

/// The dirty entries of one cache, by cache key and in write order, charged to a shared budget.
/// `V` is what a cache keeps per entry (the value, or `None` for a pending delete, and whatever
/// else its store needs to write the entry down).
struct DirtyCache<V> {
    budget: CacheBudget,
    entries: BTreeMap<Vec<u8>, Slot<V>>,
    /// Cache keys by the sequence number of their latest write: least recently written first.
    lru: BTreeMap<u64, Vec<u8>>,
    next_seq: u64,
    /// The bytes this cache has charged to the budget.
    charged: usize,
    /// Cache keys written down since the last `take_flushed`, in the order they were written.
    flushed: Vec<Vec<u8>>,
}

impl<V> DirtyCache<V> {
    fn new(budget: CacheBudget) -> Self {
        DirtyCache {
            budget,
            entries: BTreeMap::new(),
            lru: BTreeMap::new(),
            next_seq: 0,
            charged: 0,
            flushed: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn get(&self, key: &[u8]) -> Option<&V> {
        self.entries.get(key).map(|slot| &slot.value)
    }

    /// The entries with a cache key in `[from, to]` (inclusive; `None` is open), ascending; empty
    /// when `from > to`.
    fn range<'a>(
        &'a self,
        from: Option<&'a [u8]>,
        to: Option<&'a [u8]>,
    ) -> impl DoubleEndedIterator<Item = (&'a Vec<u8>, &'a V)> + 'a {
        let inverted = matches!((from, to), (Some(from), Some(to)) if from > to);
        let bounds = if inverted {
            // `BTreeMap::range` panics on inverted bounds: scan `[[], [])`, nothing.
            (Bound::Included(&[][..]), Bound::Excluded(&[][..]))
        } else {
            (
                from.map_or(Bound::Unbounded, Bound::Included),
                to.map_or(Bound::Unbounded, Bound::Included),
            )
        };
        self.entries
            .range::<[u8], _>(bounds)
            .map(|(key, slot)| (key, &slot.value))
    }

    /// Every entry, ascending by cache key.
    fn iter(&self) -> impl Iterator<Item = (&Vec<u8>, &V)> {
        self.entries.iter().map(|(key, slot)| (key, &slot.value))
    }

    /// Writes `value` for `key` (replacing its entry, which becomes the most recently written),
    /// charged `entry_size(key.len(), value_len)`. The caller evicts afterwards.
    fn put(&mut self, key: Vec<u8>, value: V, value_len: usize) {
        let size = entry_size(key.len(), value_len);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.lru.insert(seq, key.clone());
        self.charged += size;
        self.budget.charge(size);
        if let Some(old) = self.entries.insert(key, Slot { value, size, seq }) {
            self.lru.remove(&old.seq);
            self.release(old.size);
        }
    }

    fn release(&mut self, size: usize) {
        self.charged -= size;
        self.budget.release(size);
    }

    /// Writes the least recently written entry with `write`, then removes it and lists it as
    /// flushed. False when the cache is empty; on error the entry stays.
    fn write_oldest(&mut self, write: &mut impl FnMut(&[u8], &V) -> StoreResult<()>) -> StoreResult<bool> {
        let Some((_, key)) = self.lru.first_key_value() else {
            return Ok(false);
        };
        write(key, &self.entries[key].value)?;
        let (_, key) = self.lru.pop_first().expect("the entry was just seen");
        let slot = self.entries.remove(&key).expect("every LRU key has an entry");
        self.release(slot.size);
        self.flushed.push(key);
        Ok(true)
    }

    /// While the shared budget is exceeded, writes this cache's least recently written entries.
    fn evict(&mut self, mut write: impl FnMut(&[u8], &V) -> StoreResult<()>) -> StoreResult<()> {
        while self.budget.is_exceeded() && self.write_oldest(&mut write)? {}
        Ok(())
    }

    /// Writes every entry, least recently written first.
    fn flush(&mut self, mut write: impl FnMut(&[u8], &V) -> StoreResult<()>) -> StoreResult<()> {
        while self.write_oldest(&mut write)? {}
        Ok(())
    }

    fn take_flushed(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.flushed)
    }

    /// Drops every entry without writing it, releasing its bytes.
    fn clear(&mut self) {
        self.entries.clear();
        self.lru.clear();
        self.budget.release(self.charged);
        self.charged = 0;
    }
}

impl<V> Drop for DirtyCache<V> {
    fn drop(&mut self) {
        self.budget.release(self.charged);
    }
}

/// What a cache keeps of one entry: at least the value to write down.
trait CachedEntry {
    /// The value; `None` for a pending delete.
    fn value(&self) -> Option<&[u8]>;
}

impl CachedEntry for Option<Vec<u8>> {
    fn value(&self) -> Option<&[u8]> {
        self.as_deref()
    }
}

/// How a decorator writes one dirty entry, under its cache key, to its inner store `I`.
type WriteDown<I, V> = fn(&mut I, &[u8], &V) -> StoreResult<()>;

/// What every caching decorator is made of: the inner store `I` (a byte-trait object), the dirty
/// entries `V` by cache key, how to write one down, and whether the decorator is open. It holds
/// the write, evict, flush, close and report logic; a decorator adds its cache keys (how it
/// encodes a key of its shape), its reads, and its expiry.
struct CacheCore<I: ?Sized, V> {
    inner: Box<I>,
    cache: DirtyCache<V>,
    write_down: WriteDown<I, V>,
    open: bool,
}

impl<I: ?Sized + StateStore, V: CachedEntry> CacheCore<I, V> {
    fn new(inner: Box<I>, budget: CacheBudget, write_down: WriteDown<I, V>) -> Self {
        CacheCore {
            inner,
            cache: DirtyCache::new(budget),
            write_down,
            open: true,
        }
    }

    /// The inner store's name, which is the decorator's.
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn inner(&self) -> &I {
        &self.inner
    }

    fn inner_mut(&mut self) -> &mut I {
        &mut self.inner
    }

    /// Fails with [`StoreError::Closed`] once the decorator is closed.
    fn check_open(&self) -> StoreResult<()> {
        if self.open {
            Ok(())
        } else {
            Err(StoreError::closed(self.inner.name()))
        }
    }

    fn is_open(&self) -> bool {
        self.open
    }

    /// How many dirty entries (values and pending deletes) the cache holds.
    fn cached_entries(&self) -> usize {
        self.cache.len()
    }

    /// The cache keys written down since the last call, in the order they were written.
    fn take_flushed(&mut self) -> Vec<Vec<u8>> {
        self.cache.take_flushed()
    }

    /// The dirty entries, for reads.
    fn entries(&self) -> &DirtyCache<V> {
        &self.cache
    }

    /// The value under `cache_key`: the cached one (`None` for a pending delete) when the cache
    /// holds the key, else what `stored` reads from the inner store.
    fn read(
        &self,
        cache_key: &[u8],
        stored: impl FnOnce(&I) -> StoreResult<Option<Vec<u8>>>,
    ) -> StoreResult<Option<Vec<u8>>> {
        match self.cache.get(cache_key) {
            Some(entry) => Ok(entry.value().map(<[u8]>::to_vec)),
            None => stored(&self.inner),
        }
    }

    /// Caches `entry` under `cache_key` (charged its key and value bytes), then writes down the
    /// least recently written entries while the shared budget is exceeded. The caller has checked
    /// that the decorator is open.
    fn put(&mut self, cache_key: Vec<u8>, entry: V) -> StoreResult<()> {
        let value_len = entry.value().map_or(0, <[u8]>::len);
        self.cache.put(cache_key, entry, value_len);
        let (inner, write_down) = (&mut self.inner, self.write_down);
        self.cache.evict(|key, entry| write_down(inner, key, entry))
    }

    /// Writes every dirty entry down, least recently written first (listing each for
    /// `take_flushed`), then flushes the inner store.
    fn flush(&mut self) -> StoreResult<()> {
        self.flush_cache()?;
        self.inner.flush()
    }

    /// Writes every dirty entry down, least recently written first (listing each for
    /// `take_flushed`); the inner store is not flushed.
    fn flush_cache(&mut self) -> StoreResult<()> {
        self.check_open()?;
        let (inner, write_down) = (&mut self.inner, self.write_down);
        self.cache.flush(|key, entry| write_down(inner, key, entry))?;
        self.inner.flush_cache()
    }

    /// Flushes, then closes the inner store (even when the flush failed) and drops what is left
    /// in the cache; closing twice is not an error.
    fn close(&mut self) -> StoreResult<()> {
        if !self.open {
            return Ok(());
        }
        let flushed = self.flush();
        self.open = false;
        self.cache.clear();
        let closed = self.inner.close();
        flushed.and(closed)
    }

    /// The dirty entries with a cache key in `[from, to]` (inclusive; `None` is open) that `pick`
    /// keeps, as (sort key, value or `None` for a pending delete), by sort key. `pick` decodes a
    /// cache key into its sort key, or `None` to skip the entry.
    fn cached<K: Ord>(
        &self,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
        mut pick: impl FnMut(&[u8]) -> StoreResult<Option<K>>,
    ) -> StoreResult<Vec<(K, Option<Vec<u8>>)>> {
        let mut picked = Vec::new();
        for (cache_key, entry) in self.cache.range(from, to) {
            if let Some(sort_key) = pick(cache_key)? {
                picked.push((sort_key, entry.value().map(<[u8]>::to_vec)));
            }
        }
        picked.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(picked)
    }

    /// Formats the decorator `store` for `Debug`: its name, its dirty entries, its observed stream
    /// time (window and session caches) and whether it is open.
    fn fmt_debug(&self, f: &mut fmt::Formatter<'_>, store: &str, stream_time: Option<&StreamTime>) -> fmt::Result {
        let mut debug = f.debug_struct(store);
        debug
            .field("name", &self.name())
            .field("cached_entries", &self.cached_entries());
        if let Some(stream_time) = stream_time {
            debug.field("observed_stream_time", &stream_time.observed);
        }
        debug.field("open", &self.open).finish()
    }
}

/// Implements what every caching decorator `$store` (with a `core: CacheCore` field over `$inner`)
/// has alike: its `take_flushed`, `cached_entries`, `inner` and `inner_mut`, and [`StateStore`]
/// (named as its inner store, flushing and closing through the core). `$entry` and `$entries`
/// name its dirty entries and `$cache_key` its cache keys, in the docs. As `state_store!` of
/// [`logging`](crate::state::logging), it names `StateStore` and `StoreResult` as the module that
/// invokes it imports them.
macro_rules! caching_decorator {
    (
        $store:ident,
        inner: $inner:ty,
        entries: $entry:literal / $entries:literal,
        cache_key: $cache_key:literal $(,)?
    ) => {
        impl $store {
            #[doc = concat!("The cache keys (", $cache_key, ") written to the inner store (by eviction or")]
            #[doc = "flush) since the last call, in the order they were written; a key written twice is listed"]
            #[doc = "twice."]
            pub fn take_flushed(&mut self) -> Vec<Vec<u8>> {
                self.core.take_flushed()
            }

            #[doc = concat!("How many dirty ", $entries, " (values and pending deletes) the cache holds.")]
            pub fn cached_entries(&self) -> usize {
                self.core.cached_entries()
            }

            /// The store under the cache.
            pub fn inner(&self) -> &$inner {
                self.core.inner()
            }

            #[doc = "The store under the cache, mutably. Writing to it directly bypasses the cache: a"]
            #[doc = concat!("dirty ", $entry, " of the same key still wins on reads and overwrites it when written")]
            #[doc = "down."]
            pub fn inner_mut(&mut self) -> &mut $inner {
                self.core.inner_mut()
            }
        }

        impl StateStore for $store {
            fn name(&self) -> &str {
                self.core.name()
            }

            #[doc = concat!("Writes every dirty ", $entry, " to the inner store, least recently written first")]
            #[doc = concat!("(listing each for [`take_flushed`](", stringify!($store), "::take_flushed)), then")]
            #[doc = "flushes the inner store."]
            fn flush(&mut self) -> StoreResult<()> {
                self.core.flush()
            }

            #[doc = concat!("Writes every dirty ", $entry, " to the inner store, least recently written first")]
            #[doc = concat!("(listing each for [`take_flushed`](", stringify!($store), "::take_flushed)), without")]
            #[doc = "flushing the inner store."]
            fn flush_cache(&mut self) -> StoreResult<()> {
                self.core.flush_cache()
            }

            /// Flushes, then closes the inner store; closing twice is not an error.
            fn close(&mut self) -> StoreResult<()> {
                self.core.close()
            }

            fn as_any(&self) -> &dyn std::any::Any {
                self
            }

            fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
                self
            }
        }
    };
}
use caching_decorator;

/// The observed stream time of a window or session cache (the largest window start or session end
/// put through it or restored below it), the retention it expires entries by, and the puts it
/// dropped because they had expired. Retention follows the trait: a time `<= observed -
/// retention` has expired, and so has every negative time.
struct StreamTime {
    retention_ms: i64,
    /// -1 before the first put.
    observed: i64,
    expired_puts: u64,
}

impl StreamTime {
    /// Nothing observed yet, expiring by `retention_ms` (the inner store's retention).
    fn new(retention_ms: i64) -> Self {
        StreamTime {
            retention_ms,
            observed: -1,
            expired_puts: 0,
        }
    }

    /// The earliest time that has not expired.
    fn min_live(&self) -> i64 {
        self.observed.saturating_sub(self.retention_ms).saturating_add(1).max(0)
    }

    /// Whether `time` has expired.
    fn has_expired(&self, time: i64) -> bool {
        time < self.min_live()
    }

    /// Observes a put at `time`: advances stream time to it, then, when it has expired, counts
    /// the put as dropped and returns true.
    fn drops_put(&mut self, time: i64) -> bool {
        self.observed = self.observed.max(time);
        let expired = self.has_expired(time);
        if expired {
            self.expired_puts += 1;
        }
        expired
    }

    /// Advances stream time to the latest of `times` (of restored records), as the inner store's
    /// advances.
    fn restored(&mut self, times: impl Iterator<Item = i64>) {
        if let Some(latest) = times.max() {
            self.observed = self.observed.max(latest);
        }
    }
}

/// Merges the dirty entries `cached` (by sort key, as [`CacheCore::cached`] gives them) over the
/// inner store's entries `stored` (in the same order), as window and session caches read: `split`
/// gives a stored entry's sort key and value, or `None` to leave it out (it has expired); `join`
/// makes an entry of a merged sort key and value.
fn merge_entries<E, K: Ord>(
    cached: Vec<(K, Option<Vec<u8>>)>,
    stored: Vec<E>,
    split: impl FnMut(E) -> Option<(K, Vec<u8>)>,
    join: impl FnMut((K, Vec<u8>)) -> E,
) -> Vec<E> {
    let stored = stored.into_iter().filter_map(split).collect();
    merge(cached, stored, Ord::cmp).into_iter().map(join).collect()
}

/// Merges dirty entries (`None`: a pending delete) over the inner store's entries, both sorted by
/// `order`: on equal sort keys the cached entry wins, and a pending delete hides the inner entry.
fn merge<K, T>(cached: Vec<(K, Option<T>)>, stored: Vec<(K, T)>, order: impl Fn(&K, &K) -> Ordering) -> Vec<(K, T)> {
    let mut merged = Vec::with_capacity(cached.len() + stored.len());
    let mut cached = cached.into_iter().peekable();
    let mut stored = stored.into_iter().peekable();
    loop {
        let take_cached = match (cached.peek(), stored.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some((c, _)), Some((s, _))) => match order(c, s) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => {
                    stored.next();
                    true
                }
            },
        };
        if take_cached {
            if let Some((key, Some(value))) = cached.next() {
                merged.push((key, value));
            }
        } else if let Some(entry) = stored.next() {
            merged.push(entry);
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Keys of up to two bytes from `{0, 1, 2}`: few enough that the decorators' property tests
    /// write, overwrite and range over the same keys, and that some keys prefix others.
    pub(super) fn small_key() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(0u8..3, 0..3)
    }

    #[test]
    fn merge_lets_the_cache_win_and_pending_deletes_hide() {
        let cached = vec![(1, Some("c1")), (3, None), (4, Some("c4")), (6, None)];
        let stored = vec![(2, "s2"), (3, "s3"), (4, "s4"), (5, "s5")];
        assert_eq!(
            merge(cached, stored, Ord::cmp),
            vec![(1, "c1"), (2, "s2"), (4, "c4"), (5, "s5")]
        );
        let descending = merge(vec![(4, Some("c4")), (1, None)], vec![(3, "s3"), (1, "s1")], |a, b| {
            b.cmp(a)
        });
        assert_eq!(descending, vec![(4, "c4"), (3, "s3")]);
    }

    #[test]
    fn the_cache_keeps_write_order_and_charges_the_budget() {
        let budget = CacheBudget::new(1_000);
        let mut cache = DirtyCache::new(budget.clone());
        cache.put(b"b".to_vec(), 1, 3);
        cache.put(b"a".to_vec(), 2, 0);
        cache.put(b"b".to_vec(), 3, 1);
        assert_eq!(budget.used_bytes(), entry_size(1, 0) + entry_size(1, 1));
        assert_eq!(cache.range(Some(b"a"), Some(b"a")).count(), 1);
        assert_eq!(cache.range(Some(b"b"), Some(b"a")).count(), 0);
        let mut written = Vec::new();
        cache
            .flush(|key, value| {
                written.push((key.to_vec(), *value));
                Ok(())
            })
            .unwrap();
        assert_eq!(written, vec![(b"a".to_vec(), 2), (b"b".to_vec(), 3)]);
        assert_eq!(cache.take_flushed(), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!((cache.len(), budget.used_bytes()), (0, 0));
        cache.put(b"c".to_vec(), 4, 0);
        drop(cache);
        assert_eq!(budget.used_bytes(), 0);
    }

    #[test]
    fn an_entry_that_fails_to_be_written_stays() {
        let budget = CacheBudget::new(0);
        let mut cache = DirtyCache::new(budget.clone());
        cache.put(b"k".to_vec(), (), 0);
        let failed = cache.evict(|_, _| Err(crate::state::StoreError::closed("inner")));
        assert!(failed.is_err());
        assert_eq!((cache.len(), cache.take_flushed().len()), (1, 0));
        cache.clear();
        assert_eq!((cache.len(), budget.used_bytes()), (0, 0));
    }
}

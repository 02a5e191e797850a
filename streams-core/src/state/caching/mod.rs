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
use std::ops::Bound;

pub use budget::{CacheBudget, ENTRY_OVERHEAD_BYTES, entry_size};
pub use key_value::CachingKeyValueStore;
pub use session::CachingSessionStore;
pub use window::CachingWindowStore;

use super::StoreResult;

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

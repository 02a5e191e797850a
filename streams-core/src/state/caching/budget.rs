//! [`CacheBudget`]: the byte budget every write cache of one stream thread shares.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The bytes one cached entry is charged on top of its key and value bytes: an estimate of what
/// the entry costs in the cache's maps (two tree nodes, the vectors' headers, the LRU sequence
/// number), as Kafka's `LRUCacheEntry` adds its own overhead.
pub const ENTRY_OVERHEAD_BYTES: usize = 64;

/// The bytes a cached entry is charged: its key, its value (0 for a pending delete) and
/// [`ENTRY_OVERHEAD_BYTES`].
pub fn entry_size(key_len: usize, value_len: usize) -> usize {
    key_len.saturating_add(value_len).saturating_add(ENTRY_OVERHEAD_BYTES)
}

/// A byte budget shared by every write cache of one stream thread (Kafka Streams'
/// `statestore.cache.max.bytes`, its `ThreadCache`).
///
/// Cloning gives another handle on the same budget. A cache charges each entry it holds (see
/// [`entry_size`]) and releases the charge when the entry leaves it; whenever the bytes in use
/// exceed [`max_bytes`](Self::max_bytes) after a write, the cache that was written to evicts its
/// own least recently written entries to its inner store until the budget holds again or that
/// cache is empty. A budget of 0 writes every put through at once.
#[derive(Clone)]
pub struct CacheBudget {
    shared: Arc<Shared>,
}

struct Shared {
    max_bytes: usize,
    used_bytes: AtomicUsize,
}

impl CacheBudget {
    /// A budget of `max_bytes` bytes, none of them in use.
    pub fn new(max_bytes: usize) -> Self {
        CacheBudget {
            shared: Arc::new(Shared {
                max_bytes,
                used_bytes: AtomicUsize::new(0),
            }),
        }
    }

    /// The bytes the caches sharing this budget may hold together.
    pub fn max_bytes(&self) -> usize {
        self.shared.max_bytes
    }

    /// The bytes the caches sharing this budget hold now.
    pub fn used_bytes(&self) -> usize {
        self.shared.used_bytes.load(Ordering::Relaxed)
    }

    /// Whether the caches hold more than [`max_bytes`](Self::max_bytes).
    pub(super) fn is_exceeded(&self) -> bool {
        self.used_bytes() > self.max_bytes()
    }

    /// Counts `bytes` more in use.
    pub(super) fn charge(&self, bytes: usize) {
        self.shared.used_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts `bytes` fewer in use; a cache only releases what it charged.
    pub(super) fn release(&self, bytes: usize) {
        self.shared.used_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }
}

impl fmt::Debug for CacheBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheBudget")
            .field("max_bytes", &self.max_bytes())
            .field("used_bytes", &self.used_bytes())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_count() {
        let budget = CacheBudget::new(100);
        let other = budget.clone();
        budget.charge(60);
        other.charge(50);
        assert_eq!((budget.used_bytes(), other.max_bytes()), (110, 100));
        assert!(budget.is_exceeded());
        other.release(10);
        assert!(!budget.is_exceeded());
        assert_eq!(format!("{budget:?}"), "CacheBudget { max_bytes: 100, used_bytes: 100 }");
    }

    #[test]
    fn an_entry_is_charged_its_bytes_and_the_overhead() {
        assert_eq!(entry_size(3, 5), 8 + ENTRY_OVERHEAD_BYTES);
        assert_eq!(entry_size(usize::MAX, 1), usize::MAX);
    }
}

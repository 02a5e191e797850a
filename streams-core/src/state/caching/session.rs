//! [`CachingSessionStore`]: the write cache over a session bytes store.

use std::fmt;

use super::{CacheBudget, CacheCore, CachedEntry, StreamTime, caching_decorator, merge_entries};
use crate::state::encoding::{SessionKey, decode_session_key, encode_session_key, session_key_bounds};
use crate::state::traits::{SessionBytesStore, SessionEntry, SessionWindow, StateStore};
use crate::state::{StoreError, StoreResult};

/// What the cache keeps of one session: its value (`None`: a pending delete) and whether a `put`
/// (which advances observed stream time, unlike `remove`) was among the writes it coalesces, so
/// that writing it down advances the inner store's stream time as the writes would have.
struct Dirty {
    value: Option<Vec<u8>>,
    put: bool,
}

impl CachedEntry for Dirty {
    fn value(&self) -> Option<&[u8]> {
        self.value.as_deref()
    }
}

/// A write cache over a [`SessionBytesStore`] (Kafka's `CachingSessionStore`): it holds the dirty
/// sessions (a value, or `None` for a pending delete) by cache key `encode_session_key(key,
/// window)`, charged to a shared [`CacheBudget`], and writes them to the inner store when they are
/// evicted or flushed. See the [module docs](super).
///
/// Retention follows the trait on the cache's own observed stream time (the largest session end
/// put through it): a put of an expired session is dropped and counted, and no read returns an
/// expired session, whether it is cached or stored below. `remove` caches a pending delete that is
/// written down with the inner `remove` (so it does not advance stream time below either), unless
/// a `put` of that session is coalesced into it; a `remove` of an expired session does nothing,
/// as the session is already gone from every read.
pub struct CachingSessionStore {
    core: CacheCore<dyn SessionBytesStore, Dirty>,
    /// Observed stream time: the largest session end put through the cache or restored below it.
    time: StreamTime,
}

impl CachingSessionStore {
    /// A cache over `inner`, charging its entries to `budget`.
    pub fn new(inner: Box<dyn SessionBytesStore>, budget: CacheBudget) -> Self {
        let time = StreamTime::new(inner.retention_ms());
        CachingSessionStore {
            core: CacheCore::new(inner, budget, write_down),
            time,
        }
    }

    fn decode<'k>(&self, cache_key: &'k [u8]) -> StoreResult<SessionKey<'k>> {
        decode_session_key(cache_key).map_err(|e| e.in_store(self.core.name()))
    }

    /// The live dirty sessions of `key` with `end >= earliest_end` and `start <= latest_start`, by
    /// (end, start), merged over `stored` (the inner store's sessions of `key`, by (end, start)).
    fn merged_of_key(
        &self,
        key: &[u8],
        earliest_end: i64,
        latest_start: i64,
        stored: Vec<(SessionWindow, Vec<u8>)>,
    ) -> StoreResult<Vec<(SessionWindow, Vec<u8>)>> {
        let min_live = self.time.min_live();
        let earliest_end = earliest_end.max(min_live);
        let (lower, upper) = session_key_bounds(key, earliest_end, latest_start);
        // One key's sessions sort by (end, start); entries of longer keys interleave and are skipped.
        let pick = |cache_key: &[u8]| {
            let session = self.decode(cache_key)?;
            let w = session.window;
            Ok((session.key == key && w.end >= earliest_end && w.start <= latest_start).then_some((w.end, w.start)))
        };
        let cached = self.core.cached(Some(lower.as_slice()), Some(upper.as_slice()), pick)?;
        Ok(merge_entries(
            cached,
            stored,
            |(w, value)| (w.end >= min_live).then_some(((w.end, w.start), value)),
            |((end, start), value)| (SessionWindow { start, end }, value),
        ))
    }
}

/// Writes the dirty session under `cache_key` to `inner`: a value or a `put` tombstone with `put`
/// (advancing its stream time), a pending delete of `remove` calls only with `remove`.
fn write_down<S: SessionBytesStore + ?Sized>(inner: &mut S, cache_key: &[u8], dirty: &Dirty) -> StoreResult<()> {
    let session = decode_session_key(cache_key).map_err(|e| e.in_store(inner.name()))?;
    match (&dirty.value, dirty.put) {
        (None, false) => inner.remove(session.key, session.window),
        (value, _) => inner.put(session.key, session.window, value.as_deref()),
    }
}

impl fmt::Debug for CachingSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.fmt_debug(f, "CachingSessionStore", Some(&self.time))
    }
}

caching_decorator! {
    CachingSessionStore,
    inner: dyn SessionBytesStore,
    entries: "session" / "sessions",
    cache_key: "`encode_session_key(key, window)`",
}

impl SessionBytesStore for CachingSessionStore {
    fn put(&mut self, key: &[u8], window: SessionWindow, value: Option<&[u8]>) -> StoreResult<()> {
        self.core.check_open()?;
        if !window.is_valid() {
            return Err(StoreError::invalid_argument(
                self.core.name(),
                format!("cannot put the session {window}: a session needs 0 <= start <= end"),
            ));
        }
        if self.time.drops_put(window.end) {
            tracing::debug!(store = %self.core.name(), %window, "skipping a put for an expired session");
            return Ok(());
        }
        let dirty = Dirty {
            value: value.map(<[u8]>::to_vec),
            put: true,
        };
        self.core.put(encode_session_key(key, window), dirty)
    }

    fn remove(&mut self, key: &[u8], window: SessionWindow) -> StoreResult<()> {
        self.core.check_open()?;
        if !window.is_valid() || self.time.has_expired(window.end) {
            return Ok(());
        }
        let cache_key = encode_session_key(key, window);
        let put = self.core.entries().get(&cache_key).is_some_and(|dirty| dirty.put);
        self.core.put(cache_key, Dirty { value: None, put })
    }

    fn fetch_session(&self, key: &[u8], start: i64, end: i64) -> StoreResult<Option<Vec<u8>>> {
        self.core.check_open()?;
        if self.time.has_expired(end) {
            return Ok(None);
        }
        let cache_key = encode_session_key(key, SessionWindow { start, end });
        self.core.read(&cache_key, |inner| inner.fetch_session(key, start, end))
    }

    fn find_sessions(
        &self,
        key: &[u8],
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> StoreResult<Vec<(SessionWindow, Vec<u8>)>> {
        self.core.check_open()?;
        let stored = self
            .core
            .inner()
            .find_sessions(key, earliest_session_end, latest_session_start)?;
        self.merged_of_key(key, earliest_session_end, latest_session_start, stored)
    }

    fn fetch_key(&self, key: &[u8]) -> StoreResult<Vec<(SessionWindow, Vec<u8>)>> {
        self.core.check_open()?;
        let stored = self.core.inner().fetch_key(key)?;
        self.merged_of_key(key, i64::MIN, i64::MAX, stored)
    }

    fn all(&self) -> StoreResult<Vec<SessionEntry>> {
        self.core.check_open()?;
        let min_live = self.time.min_live();
        let cached = self.core.cached(None, None, |cache_key| {
            let session = self.decode(cache_key)?;
            let w = session.window;
            Ok((w.end >= min_live).then(|| (w.end, session.key.to_vec(), w.start)))
        })?;
        Ok(merge_entries(
            cached,
            self.core.inner().all()?,
            |(key, w, value)| (w.end >= min_live).then_some(((w.end, key, w.start), value)),
            |((end, key, start), value)| (key, SessionWindow { start, end }, value),
        ))
    }

    fn retention_ms(&self) -> i64 {
        self.core.inner().retention_ms()
    }

    /// The puts the cache dropped plus those the inner store dropped.
    fn expired_puts(&self) -> u64 {
        self.time.expired_puts + self.core.inner().expired_puts()
    }

    /// Passes the records straight to the inner store: restoring bypasses the cache (and is not
    /// reported by `take_flushed`). The cache's observed stream time advances as the inner store's
    /// does (to the latest session end restored), so both expire sessions alike. A dirty session
    /// of a restored key still wins on reads; restoring normally happens before processing, while
    /// the cache is empty.
    fn restore_batch(&mut self, batch: &[(Vec<u8>, Option<Vec<u8>>)]) -> StoreResult<()> {
        self.core.check_open()?;
        // Up to the first key that does not decode: the inner store stops there too.
        let restored = batch.iter().map_while(|(key, _)| decode_session_key(key).ok());
        self.time.restored(restored.map(|session| session.window.end));
        self.core.inner_mut().restore_batch(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::caching::ENTRY_OVERHEAD_BYTES;
    use crate::state::caching::tests::small_key;
    use crate::state::memory::InMemorySessionStore;
    use proptest::prelude::*;

    fn w(start: i64, end: i64) -> SessionWindow {
        SessionWindow::new(start, end).unwrap()
    }

    fn in_memory(retention_ms: i64) -> InMemorySessionStore {
        InMemorySessionStore::new("sessions", retention_ms).unwrap()
    }

    fn cached(budget: &CacheBudget, retention_ms: i64) -> CachingSessionStore {
        CachingSessionStore::new(Box::new(in_memory(retention_ms)), budget.clone())
    }

    fn windows(sessions: Vec<(SessionWindow, Vec<u8>)>) -> Vec<(i64, i64)> {
        sessions.into_iter().map(|(w, _)| (w.start, w.end)).collect()
    }

    #[test]
    fn coalesces_updates_of_a_session_and_reports_its_cache_key() {
        let budget = CacheBudget::new(10_000);
        let mut store = cached(&budget, 1_000);
        for i in 0..100u8 {
            store.put(b"k", w(0, 10), Some(&[i])).unwrap();
        }
        assert_eq!(store.cached_entries(), 1);
        store.flush().unwrap();
        assert_eq!(store.take_flushed(), vec![encode_session_key(b"k", w(0, 10))]);
        assert_eq!(store.inner().fetch_session(b"k", 0, 10).unwrap(), Some(vec![99]));
        assert_eq!(budget.used_bytes(), 0);
    }

    #[test]
    fn evicts_the_oldest_sessions_and_a_zero_budget_writes_through() {
        let entry_bytes = 1 + 16 + 1 + ENTRY_OVERHEAD_BYTES;
        let budget = CacheBudget::new(entry_bytes);
        let mut store = cached(&budget, 1_000);
        store.put(b"a", w(0, 5), Some(b"1")).unwrap();
        store.put(b"b", w(0, 1), Some(b"1")).unwrap();
        assert_eq!(store.take_flushed(), vec![encode_session_key(b"a", w(0, 5))]);
        assert_eq!(store.cached_entries(), 1);
        let mut through = cached(&CacheBudget::new(0), 1_000);
        through.put(b"a", w(0, 5), Some(b"1")).unwrap();
        through.remove(b"a", w(0, 5)).unwrap();
        assert_eq!(through.take_flushed().len(), 2);
        assert_eq!((through.cached_entries(), through.inner().all().unwrap()), (0, vec![]));
    }

    #[test]
    fn reads_merge_the_cache_over_the_inner_store() {
        let mut inner = in_memory(1_000);
        for (key, window) in [
            (&b"a"[..], w(0, 10)),
            (b"a", w(5, 20)),
            (b"b", w(0, 10)),
            (b"a", w(30, 40)),
        ] {
            inner.put(key, window, Some(b"inner")).unwrap();
        }
        let mut store = CachingSessionStore::new(Box::new(inner), CacheBudget::new(10_000));
        store.put(b"a", w(5, 20), Some(b"cache")).unwrap();
        store.remove(b"a", w(30, 40)).unwrap();
        store.put(b"a", w(12, 15), Some(b"cache")).unwrap();
        store.put(b"aa", w(12, 15), Some(b"cache")).unwrap();
        assert_eq!(store.fetch_session(b"a", 30, 40).unwrap(), None);
        assert_eq!(store.fetch_session(b"a", 5, 20).unwrap(), Some(b"cache".to_vec()));
        assert_eq!(
            store.fetch_key(b"a").unwrap(),
            vec![
                (w(0, 10), b"inner".to_vec()),
                (w(12, 15), b"cache".to_vec()),
                (w(5, 20), b"cache".to_vec())
            ]
        );
        assert_eq!(
            windows(store.find_sessions(b"a", 11, 12).unwrap()),
            vec![(12, 15), (5, 20)]
        );
        let all: Vec<_> = store.all().unwrap().into_iter().map(|(k, w, _)| (k, w)).collect();
        assert_eq!(
            all,
            vec![
                (b"a".to_vec(), w(0, 10)),
                (b"b".to_vec(), w(0, 10)),
                (b"a".to_vec(), w(12, 15)),
                (b"aa".to_vec(), w(12, 15)),
                (b"a".to_vec(), w(5, 20))
            ]
        );
    }

    #[test]
    fn expiry_applies_through_the_cache_and_remove_does_not_advance_time() {
        let mut store = cached(&CacheBudget::new(10_000), 10);
        store.put(b"k", w(0, 91), Some(b"old")).unwrap();
        store.put(b"k", w(95, 100), Some(b"new")).unwrap();
        store.put(b"k", w(80, 90), Some(b"late")).unwrap();
        assert_eq!(store.expired_puts(), 1);
        store.remove(b"k", w(500, 500)).unwrap();
        assert_eq!(store.fetch_session(b"k", 0, 91).unwrap(), Some(b"old".to_vec()));
        store.put(b"j", w(101, 101), None).unwrap();
        assert_eq!(store.fetch_session(b"k", 0, 91).unwrap(), None);
        assert_eq!(windows(store.fetch_key(b"k").unwrap()), vec![(95, 100)]);
        assert!(store.put(b"k", SessionWindow { start: 5, end: 4 }, None).is_err());
        store.flush().unwrap();
        assert_eq!(windows(store.inner().fetch_key(b"k").unwrap()), vec![(95, 100)]);
        assert_eq!((store.expired_puts(), store.inner().expired_puts()), (1, 0));
        assert_eq!(store.retention_ms(), 10);
    }

    #[test]
    fn close_flushes_then_closes() {
        let mut store = cached(&CacheBudget::new(10_000), 100);
        store.put(b"k", w(0, 1), Some(b"v")).unwrap();
        store.close().unwrap();
        store.close().unwrap();
        assert_eq!(store.take_flushed().len(), 1);
        assert!(matches!(store.fetch_key(b"k"), Err(StoreError::Closed { .. })));
        assert!(store.remove(b"k", w(0, 1)).is_err());
        let boxed: Box<dyn SessionBytesStore> = Box::new(store);
        assert!(boxed.as_any().downcast_ref::<CachingSessionStore>().is_some());
    }

    #[test]
    fn restore_bypasses_the_cache_and_advances_its_stream_time() {
        let mut store = cached(&CacheBudget::new(10_000), 10);
        let batch = vec![(encode_session_key(b"k", w(90, 100)), Some(b"restored".to_vec()))];
        store.restore_batch(&batch).unwrap();
        assert_eq!((store.cached_entries(), store.take_flushed().len()), (0, 0));
        assert_eq!(store.fetch_key(b"k").unwrap(), vec![(w(90, 100), b"restored".to_vec())]);
        store.put(b"k", w(80, 90), Some(b"late")).unwrap();
        assert_eq!((store.cached_entries(), store.expired_puts()), (0, 1));
        assert!(store.restore_batch(&[(b"k".to_vec(), None)]).is_err());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Put(Vec<u8>, SessionWindow, Option<Vec<u8>>),
        Remove(Vec<u8>, SessionWindow),
        Flush,
        FetchSession(Vec<u8>, SessionWindow),
        FindSessions(Vec<u8>, i64, i64),
        FetchKey(Vec<u8>),
        All,
    }

    fn session() -> impl Strategy<Value = SessionWindow> {
        (prop_oneof![8 => 0..30i64, 1 => 30..200i64], 0..8i64).prop_map(|(start, length)| w(start, start + length))
    }

    fn op() -> impl Strategy<Value = Op> {
        let value = prop::collection::vec(any::<u8>(), 0..2);
        prop_oneof![
            4 => (small_key(), session(), prop::option::weighted(0.8, value)).prop_map(|(k, w, v)| Op::Put(k, w, v)),
            2 => (small_key(), session()).prop_map(|(k, w)| Op::Remove(k, w)),
            1 => Just(Op::Flush),
            1 => (small_key(), session()).prop_map(|(k, w)| Op::FetchSession(k, w)),
            1 => (small_key(), -5..60i64, -5..60i64).prop_map(|(k, e, l)| Op::FindSessions(k, e, l)),
            1 => small_key().prop_map(Op::FetchKey),
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
            let budget = CacheBudget::new(entries * (20 + ENTRY_OVERHEAD_BYTES));
            let mut store = cached(&budget, retention);
            let mut plain = in_memory(retention);
            for op in ops {
                match op {
                    Op::Put(k, w, v) => {
                        store.put(&k, w, v.as_deref()).unwrap();
                        plain.put(&k, w, v.as_deref()).unwrap();
                        prop_assert_eq!(store.expired_puts(), plain.expired_puts());
                    }
                    Op::Remove(k, w) => {
                        store.remove(&k, w).unwrap();
                        plain.remove(&k, w).unwrap();
                    }
                    Op::Flush => {
                        store.flush().unwrap();
                        prop_assert_eq!(store.inner().all().unwrap(), plain.all().unwrap());
                    }
                    Op::FetchSession(k, w) => prop_assert_eq!(
                        store.fetch_session(&k, w.start, w.end).unwrap(),
                        plain.fetch_session(&k, w.start, w.end).unwrap()
                    ),
                    Op::FindSessions(k, e, l) => {
                        prop_assert_eq!(store.find_sessions(&k, e, l).unwrap(), plain.find_sessions(&k, e, l).unwrap());
                    }
                    Op::FetchKey(k) => prop_assert_eq!(store.fetch_key(&k).unwrap(), plain.fetch_key(&k).unwrap()),
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

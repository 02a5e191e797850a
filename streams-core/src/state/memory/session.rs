//! [`InMemorySessionStore`]: a session bytes store in two `BTreeMap`s, one by key and one by end.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};

use crate::state::traits::{SessionBytesStore, SessionEntry, SessionWindow, StateStore};
use crate::state::{StoreError, StoreResult};

/// A [`SessionBytesStore`] in memory (Kafka's `InMemorySessionStore`).
///
/// Sessions are indexed twice: by (key, end, start), so that `find_sessions` and `fetch_key` (the
/// hot path of session aggregation: one lookup per record) cost `O(log n + sessions scanned)`; and
/// by (end, key, start), so that `all` comes out in time order and expired sessions are cut off in
/// one split.
///
/// Expired sessions are hidden from every read at once, and removed from memory on the next put.
#[derive(Debug)]
pub struct InMemorySessionStore {
    name: String,
    retention_ms: i64,
    /// The values, by (key, end, start).
    by_key: BTreeMap<(Vec<u8>, i64, i64), Vec<u8>>,
    /// The same sessions, by (end, key, start).
    by_end: BTreeSet<(i64, Vec<u8>, i64)>,
    /// The largest session end put so far; -1 (Kafka's `NO_TIMESTAMP`) before the first put.
    observed_stream_time: i64,
    expired_puts: u64,
    open: bool,
}

impl InMemorySessionStore {
    /// An empty, open store named `name` that keeps sessions for `retention_ms` of stream time
    /// after the latest session end. Fails when `retention_ms` is negative.
    pub fn new(name: impl Into<String>, retention_ms: i64) -> StoreResult<Self> {
        let name = name.into();
        if retention_ms < 0 {
            return Err(StoreError::invalid_argument(
                name,
                format!("retention ({retention_ms} ms) cannot be negative"),
            ));
        }
        Ok(InMemorySessionStore {
            name,
            retention_ms,
            by_key: BTreeMap::new(),
            by_end: BTreeSet::new(),
            observed_stream_time: -1,
            expired_puts: 0,
            open: true,
        })
    }

    fn check_open(&self) -> StoreResult<()> {
        if self.open {
            Ok(())
        } else {
            Err(StoreError::closed(&self.name))
        }
    }

    /// The earliest session end that has not expired: `observed - retention + 1`, and never below 0.
    fn min_live_end(&self) -> i64 {
        self.observed_stream_time
            .saturating_sub(self.retention_ms)
            .saturating_add(1)
            .max(0)
    }

    fn remove_expired(&mut self) {
        let min_live = self.min_live_end();
        if self.by_end.first().is_none_or(|(end, _, _)| *end >= min_live) {
            return;
        }
        let live = self.by_end.split_off(&(min_live, Vec::new(), i64::MIN));
        for (end, key, start) in std::mem::replace(&mut self.by_end, live) {
            self.by_key.remove(&(key, end, start));
        }
    }

    fn remove_session(&mut self, key: &[u8], window: SessionWindow) {
        if self.by_key.remove(&(key.to_vec(), window.end, window.start)).is_some() {
            self.by_end.remove(&(window.end, key.to_vec(), window.start));
        }
    }

    /// The live sessions of `key` with `end >= earliest_end` and `start <= latest_start`, by
    /// (end, start).
    fn sessions_of(&self, key: &[u8], earliest_end: i64, latest_start: i64) -> Vec<(SessionWindow, Vec<u8>)> {
        let earliest_end = earliest_end.max(self.min_live_end());
        let range = (key.to_vec(), earliest_end, i64::MIN)..=(key.to_vec(), i64::MAX, i64::MAX);
        self.by_key
            .range(range)
            .filter(|((_, _, start), _)| *start <= latest_start)
            .map(|((_, end, start), value)| {
                (
                    SessionWindow {
                        start: *start,
                        end: *end,
                    },
                    value.clone(),
                )
            })
            .collect()
    }
}

impl StateStore for InMemorySessionStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn flush(&mut self) -> StoreResult<()> {
        self.check_open()
    }

    fn close(&mut self) -> StoreResult<()> {
        self.by_key.clear();
        self.by_end.clear();
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

impl SessionBytesStore for InMemorySessionStore {
    fn put(&mut self, key: &[u8], window: SessionWindow, value: Option<&[u8]>) -> StoreResult<()> {
        self.check_open()?;
        if !window.is_valid() {
            return Err(StoreError::invalid_argument(
                &self.name,
                format!("cannot put the session {window}: a session needs 0 <= start <= end"),
            ));
        }
        self.observed_stream_time = self.observed_stream_time.max(window.end);
        if window.end < self.min_live_end() {
            self.expired_puts += 1;
            tracing::debug!(store = %self.name, %window, "skipping a put for an expired session");
            return Ok(());
        }
        match value {
            Some(value) => {
                self.by_key
                    .insert((key.to_vec(), window.end, window.start), value.to_vec());
                self.by_end.insert((window.end, key.to_vec(), window.start));
            }
            None => self.remove_session(key, window),
        }
        self.remove_expired();
        Ok(())
    }

    fn remove(&mut self, key: &[u8], window: SessionWindow) -> StoreResult<()> {
        self.check_open()?;
        self.remove_session(key, window);
        Ok(())
    }

    fn fetch_session(&self, key: &[u8], start: i64, end: i64) -> StoreResult<Option<Vec<u8>>> {
        self.check_open()?;
        if end < self.min_live_end() {
            return Ok(None);
        }
        Ok(self.by_key.get(&(key.to_vec(), end, start)).cloned())
    }

    fn find_sessions(
        &self,
        key: &[u8],
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> StoreResult<Vec<(SessionWindow, Vec<u8>)>> {
        self.check_open()?;
        Ok(self.sessions_of(key, earliest_session_end, latest_session_start))
    }

    fn fetch_key(&self, key: &[u8]) -> StoreResult<Vec<(SessionWindow, Vec<u8>)>> {
        self.check_open()?;
        Ok(self.sessions_of(key, i64::MIN, i64::MAX))
    }

    fn all(&self) -> StoreResult<Vec<SessionEntry>> {
        self.check_open()?;
        Ok(self
            .by_end
            .range((self.min_live_end(), Vec::new(), i64::MIN)..)
            .map(|(end, key, start)| {
                let index = (key.clone(), *end, *start);
                let value = self.by_key[&index].clone();
                (
                    index.0,
                    SessionWindow {
                        start: *start,
                        end: *end,
                    },
                    value,
                )
            })
            .collect())
    }

    fn retention_ms(&self) -> i64 {
        self.retention_ms
    }

    fn expired_puts(&self) -> u64 {
        self.expired_puts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn w(start: i64, end: i64) -> SessionWindow {
        SessionWindow::new(start, end).unwrap()
    }

    fn store(retention_ms: i64) -> InMemorySessionStore {
        InMemorySessionStore::new("sessions", retention_ms).unwrap()
    }

    fn windows(sessions: Vec<(SessionWindow, Vec<u8>)>) -> Vec<(i64, i64)> {
        sessions.into_iter().map(|(w, _)| (w.start, w.end)).collect()
    }

    #[test]
    fn put_overwrites_and_fetch_session_reads_one_session() {
        let mut s = store(100);
        s.put(b"k", w(10, 20), Some(b"v1")).unwrap();
        s.put(b"k", w(10, 20), Some(b"v2")).unwrap();
        s.put(b"k", w(10, 25), Some(b"longer")).unwrap();
        assert_eq!(s.fetch_session(b"k", 10, 20).unwrap(), Some(b"v2".to_vec()));
        assert_eq!(s.fetch_session(b"k", 10, 25).unwrap(), Some(b"longer".to_vec()));
        assert_eq!(s.fetch_session(b"k", 11, 20).unwrap(), None);
        assert_eq!(s.fetch_session(b"other", 10, 20).unwrap(), None);
        assert_eq!(s.retention_ms(), 100);
    }

    #[test]
    fn a_tombstone_put_and_remove_delete_one_session() {
        let mut s = store(100);
        s.put(b"k", w(0, 5), Some(b"a")).unwrap();
        s.put(b"k", w(10, 20), Some(b"b")).unwrap();
        s.put(b"k", w(30, 30), Some(b"c")).unwrap();
        s.put(b"k", w(0, 5), None).unwrap();
        s.remove(b"k", w(30, 30)).unwrap();
        s.remove(b"k", w(99, 99)).unwrap();
        assert_eq!(s.fetch_key(b"k").unwrap(), vec![(w(10, 20), b"b".to_vec())]);
        assert_eq!((s.by_key.len(), s.by_end.len()), (1, 1));
    }

    #[test]
    fn find_sessions_returns_overlapping_sessions_ordered_by_end_then_start() {
        let mut s = store(1_000);
        for (start, end) in [
            (0, 9),
            (5, 10),
            (10, 10),
            (12, 40),
            (20, 25),
            (31, 35),
            (0, 50),
            (7, 10),
        ] {
            s.put(b"k", w(start, end), Some(b"v")).unwrap();
        }
        s.put(b"kk", w(15, 15), Some(b"other key")).unwrap();
        // end >= 10 and start <= 30.
        assert_eq!(
            windows(s.find_sessions(b"k", 10, 30).unwrap()),
            vec![(5, 10), (7, 10), (10, 10), (20, 25), (12, 40), (0, 50)]
        );
        // Bounds are inclusive: a session ending at `earliest` or starting at `latest` is found.
        assert_eq!(
            windows(s.find_sessions(b"k", 35, 31).unwrap()),
            vec![(31, 35), (12, 40), (0, 50)]
        );
        assert_eq!(windows(s.find_sessions(b"k", 51, 100).unwrap()), vec![]);
        assert_eq!(windows(s.find_sessions(b"absent", 0, 100).unwrap()), vec![]);
        // A record at 10 with a gap of 0 merges with the sessions that contain 10.
        assert_eq!(
            windows(s.find_sessions(b"k", 10, 10).unwrap()),
            vec![(5, 10), (7, 10), (10, 10), (0, 50)]
        );
    }

    #[test]
    fn fetch_key_and_all_order_sessions_by_end() {
        let mut s = store(1_000);
        s.put(b"b", w(0, 30), Some(b"b1")).unwrap();
        s.put(b"a", w(5, 10), Some(b"a1")).unwrap();
        s.put(b"b", w(2, 10), Some(b"b2")).unwrap();
        s.put(b"a", w(1, 10), Some(b"a2")).unwrap();
        assert_eq!(windows(s.fetch_key(b"b").unwrap()), vec![(2, 10), (0, 30)]);
        assert_eq!(
            s.all().unwrap(),
            vec![
                (b"a".to_vec(), w(1, 10), b"a2".to_vec()),
                (b"a".to_vec(), w(5, 10), b"a1".to_vec()),
                (b"b".to_vec(), w(2, 10), b"b2".to_vec()),
                (b"b".to_vec(), w(0, 30), b"b1".to_vec()),
            ]
        );
    }

    #[test]
    fn retention_drops_expired_puts_and_hides_expired_sessions() {
        let mut s = store(10);
        s.put(b"k", w(0, 91), Some(b"old")).unwrap();
        s.put(b"k", w(95, 100), Some(b"new")).unwrap();
        // Stream time 100: sessions ending at or before 90 have expired; 91 has not.
        s.put(b"k", w(80, 90), Some(b"late")).unwrap();
        assert_eq!(s.expired_puts(), 1);
        assert_eq!(s.fetch_session(b"k", 0, 91).unwrap(), Some(b"old".to_vec()));
        s.put(b"j", w(101, 101), None).unwrap();
        // Stream time 101, advanced by a tombstone: the session ending at 91 has expired.
        assert_eq!(s.fetch_session(b"k", 0, 91).unwrap(), None);
        assert_eq!(windows(s.find_sessions(b"k", 0, 200).unwrap()), vec![(95, 100)]);
        assert_eq!(windows(s.fetch_key(b"k").unwrap()), vec![(95, 100)]);
        assert_eq!(s.all().unwrap().len(), 1);
        assert_eq!((s.by_key.len(), s.by_end.len()), (1, 1));
        // An expired tombstone is dropped and counted; `remove` never advances stream time.
        s.put(b"k", w(0, 50), None).unwrap();
        s.remove(b"k", w(500, 500)).unwrap();
        assert_eq!(s.expired_puts(), 2);
        assert_eq!(s.fetch_session(b"k", 95, 100).unwrap(), Some(b"new".to_vec()));
    }

    #[test]
    fn an_invalid_session_is_refused() {
        let mut s = store(10);
        let error = s.put(b"k", SessionWindow { start: 5, end: 4 }, Some(b"v")).unwrap_err();
        assert!(
            matches!(&error, StoreError::InvalidArgument { store, .. } if store == "sessions"),
            "{error}"
        );
        assert!(s.put(b"k", SessionWindow { start: -1, end: 4 }, Some(b"v")).is_err());
        assert!(InMemorySessionStore::new("s", -1).is_err());
    }

    #[test]
    fn a_closed_store_refuses_calls() {
        let mut s = store(10);
        s.put(b"k", w(0, 1), Some(b"v")).unwrap();
        s.flush().unwrap();
        s.close().unwrap();
        assert!(matches!(s.fetch_key(b"k"), Err(StoreError::Closed { .. })));
        assert!(s.put(b"k", w(0, 1), Some(b"v")).is_err());
        assert!(s.remove(b"k", w(0, 1)).is_err());
        assert!(s.fetch_session(b"k", 0, 1).is_err());
        assert!(s.find_sessions(b"k", 0, 1).is_err());
        assert!(s.all().is_err());
        let mut boxed: Box<dyn SessionBytesStore> = Box::new(s);
        assert!(boxed.as_any_mut().downcast_mut::<InMemorySessionStore>().is_some());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Put(Vec<u8>, SessionWindow, Option<Vec<u8>>),
        Remove(Vec<u8>, SessionWindow),
        FetchSession(Vec<u8>, SessionWindow),
        FindSessions(Vec<u8>, i64, i64),
        FetchKey(Vec<u8>),
        All,
    }

    fn small_key() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(0u8..3, 0..3)
    }

    /// Sessions in a small time range, with a few far ahead so that retention bites.
    fn session() -> impl Strategy<Value = SessionWindow> {
        (prop_oneof![8 => 0..30i64, 1 => 30..200i64], 0..8i64).prop_map(|(start, length)| w(start, start + length))
    }

    fn op() -> impl Strategy<Value = Op> {
        let value = prop::collection::vec(any::<u8>(), 0..2);
        prop_oneof![
            4 => (small_key(), session(), prop::option::weighted(0.8, value)).prop_map(|(k, w, v)| Op::Put(k, w, v)),
            1 => (small_key(), session()).prop_map(|(k, w)| Op::Remove(k, w)),
            1 => (small_key(), session()).prop_map(|(k, w)| Op::FetchSession(k, w)),
            1 => (small_key(), -5..60i64, -5..60i64).prop_map(|(k, e, l)| Op::FindSessions(k, e, l)),
            1 => small_key().prop_map(Op::FetchKey),
            1 => Just(Op::All),
        ]
    }

    /// The model: a list of sessions, with Kafka's retention rule written out plainly.
    struct Model {
        retention: i64,
        observed: i64,
        expired_puts: u64,
        entries: Vec<SessionEntry>,
    }

    impl Model {
        fn live(&self, end: i64) -> bool {
            end > self.observed - self.retention
        }

        fn remove(&mut self, key: &[u8], window: SessionWindow) {
            self.entries.retain(|(k, w, _)| !(k == key && *w == window));
        }

        fn put(&mut self, key: Vec<u8>, window: SessionWindow, value: Option<Vec<u8>>) {
            self.observed = self.observed.max(window.end);
            if !self.live(window.end) {
                self.expired_puts += 1;
                return;
            }
            self.remove(&key, window);
            if let Some(value) = value {
                self.entries.push((key, window, value));
            }
        }

        /// Live sessions matching `keep`, by (end, key, start).
        fn select(&self, keep: impl Fn(&SessionEntry) -> bool) -> Vec<SessionEntry> {
            let mut selected: Vec<_> = self
                .entries
                .iter()
                .filter(|e| self.live(e.1.end) && keep(e))
                .cloned()
                .collect();
            selected.sort_by(|a, b| (a.1.end, &a.0, a.1.start).cmp(&(b.1.end, &b.0, b.1.start)));
            selected
        }

        fn select_key(&self, key: &[u8], keep: impl Fn(SessionWindow) -> bool) -> Vec<(SessionWindow, Vec<u8>)> {
            self.select(|e| e.0 == key && keep(e.1))
                .into_iter()
                .map(|e| (e.1, e.2))
                .collect()
        }
    }

    proptest! {
        #[test]
        fn behaves_like_a_list_of_sessions(retention in 0..60i64, ops in prop::collection::vec(op(), 1..60)) {
            let mut store = InMemorySessionStore::new("s", retention).unwrap();
            let mut model = Model { retention, observed: -1, expired_puts: 0, entries: Vec::new() };
            for op in ops {
                match op {
                    Op::Put(k, w, v) => {
                        store.put(&k, w, v.as_deref()).unwrap();
                        model.put(k, w, v);
                        prop_assert_eq!(store.expired_puts(), model.expired_puts);
                    }
                    Op::Remove(k, w) => {
                        store.remove(&k, w).unwrap();
                        model.remove(&k, w);
                    }
                    Op::FetchSession(k, w) => {
                        let expected = model.select_key(&k, |x| x == w).pop().map(|(_, v)| v);
                        prop_assert_eq!(store.fetch_session(&k, w.start, w.end).unwrap(), expected);
                    }
                    Op::FindSessions(k, earliest_end, latest_start) => {
                        let expected = model.select_key(&k, |x| x.end >= earliest_end && x.start <= latest_start);
                        prop_assert_eq!(store.find_sessions(&k, earliest_end, latest_start).unwrap(), expected);
                    }
                    Op::FetchKey(k) => prop_assert_eq!(store.fetch_key(&k).unwrap(), model.select_key(&k, |_| true)),
                    Op::All => prop_assert_eq!(store.all().unwrap(), model.select(|_| true)),
                }
            }
            prop_assert_eq!(store.all().unwrap(), model.select(|_| true));
        }
    }
}

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
    use crate::state::contract_tests::session_contract;

    mod contract {
        use super::*;

        session_contract!(
            |name: &str, retention| InMemorySessionStore::new(name, retention),
            property_cases = 256
        );
    }

    #[test]
    fn removed_and_expired_sessions_leave_both_indexes() {
        let mut s = InMemorySessionStore::new("s", 10).unwrap();
        let w = |start, end| SessionWindow::new(start, end).unwrap();
        let sizes = |s: &InMemorySessionStore| (s.by_key.len(), s.by_end.len());
        s.put(b"k", w(0, 1), Some(b"a")).unwrap();
        s.put(b"k", w(2, 5), Some(b"b")).unwrap();
        s.put(b"k", w(6, 7), Some(b"c")).unwrap();
        s.put(b"k", w(0, 1), None).unwrap();
        s.remove(b"k", w(6, 7)).unwrap();
        assert_eq!(sizes(&s), (1, 1));
        // Stream time 15, advanced by a tombstone: the session ending at 5 has expired and is removed.
        s.put(b"j", w(15, 15), None).unwrap();
        assert_eq!(sizes(&s), (0, 0));
    }
}

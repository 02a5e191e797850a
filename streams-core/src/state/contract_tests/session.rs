//! The contract of [`SessionBytesStore`]. Every case takes a factory `make(name, retention_ms)` of
//! fresh, empty, open stores, which fails where the store's constructor does.

use std::cell::RefCell;

use proptest::prelude::*;
use proptest::test_runner::TestCaseResult;

use super::{Batch, Differential, Shape, check_property, same, small_key, steps, value};
use crate::state::encoding::encode_session_key;
use crate::state::traits::{SessionBytesStore, SessionEntry, SessionWindow};
use crate::state::{StoreError, StoreResult};

/// Expands, in the calling module, to one `#[test]` per case of the session store contract.
/// `$make` is an expression giving a fresh factory, `FnMut(&str, i64) -> StoreResult<S>` for some
/// `S: SessionBytesStore`; the property test runs `$cases` cases.
macro_rules! session_contract {
    ($make:expr, property_cases = $cases:expr) => {
        $crate::state::contract_tests::contract_cases!(
            session,
            $make,
            $cases,
            [
                put_overwrites_and_fetch_session_reads_one_session,
                a_tombstone_put_and_remove_delete_one_session,
                find_sessions_returns_overlapping_sessions_ordered_by_end_then_start,
                fetch_key_and_all_order_sessions_by_end,
                retention_drops_expired_puts_and_hides_expired_sessions,
                restore_batch_follows_put,
                an_invalid_session_is_refused,
                a_closed_store_refuses_calls,
            ],
            behaves_like_a_list_of_sessions
        );
    };
}
pub(crate) use session_contract;

/// How a case makes its stores: `make(name, retention_ms)`.
pub(crate) trait MakeSessionStore<S>: FnMut(&str, i64) -> StoreResult<S> {}

impl<S, F: FnMut(&str, i64) -> StoreResult<S>> MakeSessionStore<S> for F {}

fn w(start: i64, end: i64) -> SessionWindow {
    SessionWindow::new(start, end).unwrap()
}

fn store<S>(make: &mut impl MakeSessionStore<S>, retention_ms: i64) -> S {
    make("sessions", retention_ms).unwrap()
}

fn windows(sessions: StoreResult<Vec<(SessionWindow, Vec<u8>)>>) -> Vec<(i64, i64)> {
    sessions.unwrap().into_iter().map(|(w, _)| (w.start, w.end)).collect()
}

pub(crate) fn put_overwrites_and_fetch_session_reads_one_session<S: SessionBytesStore>(
    make: &mut impl MakeSessionStore<S>,
) {
    let mut s = store(make, 100);
    s.put(b"k", w(10, 20), Some(b"v1")).unwrap();
    s.put(b"k", w(10, 20), Some(b"v2")).unwrap();
    s.put(b"k", w(10, 25), Some(b"longer")).unwrap();
    assert_eq!(s.fetch_session(b"k", 10, 20).unwrap(), Some(b"v2".to_vec()));
    assert_eq!(s.fetch_session(b"k", 10, 25).unwrap(), Some(b"longer".to_vec()));
    assert_eq!(s.fetch_session(b"k", 11, 20).unwrap(), None);
    assert_eq!(s.fetch_session(b"k", 21, 20).unwrap(), None);
    assert_eq!(s.fetch_session(b"other", 10, 20).unwrap(), None);
    assert_eq!(s.retention_ms(), 100);
}

pub(crate) fn a_tombstone_put_and_remove_delete_one_session<S: SessionBytesStore>(make: &mut impl MakeSessionStore<S>) {
    let mut s = store(make, 100);
    s.put(b"k", w(0, 5), Some(b"a")).unwrap();
    s.put(b"k", w(10, 20), Some(b"b")).unwrap();
    s.put(b"k", w(30, 30), Some(b"c")).unwrap();
    s.put(b"k", w(0, 5), None).unwrap();
    s.remove(b"k", w(30, 30)).unwrap();
    s.remove(b"k", w(99, 99)).unwrap();
    s.remove(b"k", SessionWindow { start: 9, end: -1 }).unwrap();
    assert_eq!(s.fetch_key(b"k").unwrap(), vec![(w(10, 20), b"b".to_vec())]);
}

pub(crate) fn find_sessions_returns_overlapping_sessions_ordered_by_end_then_start<S: SessionBytesStore>(
    make: &mut impl MakeSessionStore<S>,
) {
    let mut s = store(make, 1_000);
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
    s.put(b"", w(15, 15), Some(b"empty key")).unwrap();
    // end >= 10 and start <= 30.
    assert_eq!(
        windows(s.find_sessions(b"k", 10, 30)),
        vec![(5, 10), (7, 10), (10, 10), (20, 25), (12, 40), (0, 50)]
    );
    // Bounds are inclusive: a session ending at `earliest` or starting at `latest` is found.
    assert_eq!(
        windows(s.find_sessions(b"k", 35, 31)),
        vec![(31, 35), (12, 40), (0, 50)]
    );
    assert_eq!(windows(s.find_sessions(b"k", 51, 100)), vec![]);
    assert_eq!(windows(s.find_sessions(b"absent", 0, 100)), vec![]);
    assert_eq!(windows(s.find_sessions(b"k", 10, -1)), vec![]);
    // A record at 10 with a gap of 0 merges with the sessions that contain 10.
    assert_eq!(
        windows(s.find_sessions(b"k", 10, 10)),
        vec![(5, 10), (7, 10), (10, 10), (0, 50)]
    );
    assert_eq!(windows(s.fetch_key(b"")), vec![(15, 15)]);
}

pub(crate) fn fetch_key_and_all_order_sessions_by_end<S: SessionBytesStore>(make: &mut impl MakeSessionStore<S>) {
    let mut s = store(make, 1_000);
    s.put(b"b", w(0, 30), Some(b"b1")).unwrap();
    s.put(b"a", w(5, 10), Some(b"a1")).unwrap();
    s.put(b"b", w(2, 10), Some(b"b2")).unwrap();
    s.put(b"a", w(1, 10), Some(b"a2")).unwrap();
    s.put(b"aa", w(1, 10), Some(b"aa")).unwrap();
    assert_eq!(windows(s.fetch_key(b"b")), vec![(2, 10), (0, 30)]);
    assert_eq!(
        s.all().unwrap(),
        vec![
            (b"a".to_vec(), w(1, 10), b"a2".to_vec()),
            (b"a".to_vec(), w(5, 10), b"a1".to_vec()),
            (b"aa".to_vec(), w(1, 10), b"aa".to_vec()),
            (b"b".to_vec(), w(2, 10), b"b2".to_vec()),
            (b"b".to_vec(), w(0, 30), b"b1".to_vec()),
        ]
    );
}

pub(crate) fn retention_drops_expired_puts_and_hides_expired_sessions<S: SessionBytesStore>(
    make: &mut impl MakeSessionStore<S>,
) {
    let mut s = store(make, 10);
    s.put(b"k", w(0, 91), Some(b"old")).unwrap();
    s.put(b"k", w(95, 100), Some(b"new")).unwrap();
    // Stream time 100: sessions ending at or before 90 have expired; 91 has not.
    s.put(b"k", w(80, 90), Some(b"late")).unwrap();
    assert_eq!(s.expired_puts(), 1);
    assert_eq!(s.fetch_session(b"k", 0, 91).unwrap(), Some(b"old".to_vec()));
    s.put(b"j", w(101, 101), None).unwrap();
    // Stream time 101, advanced by a tombstone: the session ending at 91 has expired.
    assert_eq!(s.fetch_session(b"k", 0, 91).unwrap(), None);
    assert_eq!(windows(s.find_sessions(b"k", 0, 200)), vec![(95, 100)]);
    assert_eq!(windows(s.fetch_key(b"k")), vec![(95, 100)]);
    assert_eq!(s.all().unwrap().len(), 1);
    // An expired tombstone is dropped and counted; `remove` never advances stream time.
    s.put(b"k", w(0, 50), None).unwrap();
    s.remove(b"k", w(500, 500)).unwrap();
    assert_eq!(s.expired_puts(), 2);
    assert_eq!(s.fetch_session(b"k", 95, 100).unwrap(), Some(b"new".to_vec()));
}

pub(crate) fn restore_batch_follows_put<S: SessionBytesStore>(make: &mut impl MakeSessionStore<S>) {
    let mut s = store(make, 10);
    s.put(b"k", w(0, 3), Some(b"before")).unwrap();
    let batch = vec![
        (encode_session_key(b"k", w(0, 3)), None),
        (encode_session_key(b"k", w(4, 5)), Some(b"a".to_vec())),
        (encode_session_key(b"j", w(6, 6)), Some(b"x".to_vec())),
        (encode_session_key(b"j", w(6, 6)), None),
        (encode_session_key(b"k", w(10, 14)), Some(b"b".to_vec())),
        (encode_session_key(b"k", w(1, 2)), Some(b"expired".to_vec())),
    ];
    s.restore_batch(&batch).unwrap();
    assert_eq!(
        s.all().unwrap(),
        vec![
            (b"k".to_vec(), w(4, 5), b"a".to_vec()),
            (b"k".to_vec(), w(10, 14), b"b".to_vec())
        ]
    );
    assert_eq!(s.expired_puts(), 1);
    let error = s.restore_batch(&[(b"short".to_vec(), None)]).unwrap_err();
    assert!(
        matches!(&error, StoreError::Corrupt { store, .. } if store == "sessions"),
        "{error}"
    );
}

pub(crate) fn an_invalid_session_is_refused<S: SessionBytesStore>(make: &mut impl MakeSessionStore<S>) {
    let mut s = store(make, 10);
    let error = s.put(b"k", SessionWindow { start: 5, end: 4 }, Some(b"v")).unwrap_err();
    assert!(
        matches!(&error, StoreError::InvalidArgument { store, .. } if store == "sessions"),
        "{error}"
    );
    assert!(s.put(b"k", SessionWindow { start: -1, end: 4 }, Some(b"v")).is_err());
    assert!(make("s", -1).is_err());
}

pub(crate) fn a_closed_store_refuses_calls<S: SessionBytesStore + 'static>(make: &mut impl MakeSessionStore<S>) {
    let mut s = store(make, 10);
    s.put(b"k", w(0, 1), Some(b"v")).unwrap();
    s.flush().unwrap();
    s.close().unwrap();
    s.close().unwrap();
    assert!(matches!(s.fetch_key(b"k"), Err(StoreError::Closed { .. })));
    assert!(s.put(b"k", w(0, 1), Some(b"v")).is_err());
    assert!(s.remove(b"k", w(0, 1)).is_err());
    assert!(s.fetch_session(b"k", 0, 1).is_err());
    assert!(s.find_sessions(b"k", 0, 1).is_err());
    assert!(s.all().is_err());
    assert!(s.flush().is_err());
    let record = (encode_session_key(b"k", w(0, 1)), Some(b"v".to_vec()));
    assert!(s.restore_batch(&[record]).is_err());
    let mut boxed: Box<dyn SessionBytesStore> = Box::new(s);
    assert!(boxed.as_any_mut().downcast_mut::<S>().is_some());
}

/// The property: any sequence of operations, restores and flushes, on a store of any retention,
/// gives the answers of [`ListStore`].
pub(crate) fn behaves_like_a_list_of_sessions<S: SessionBytesStore + 'static>(
    make: &mut impl MakeSessionStore<S>,
    cases: u32,
) {
    let make = RefCell::new(make);
    check_property(cases, (0..60i64, steps(op(), false)), |(retention, steps)| {
        let subject = Box::new((make.borrow_mut())("s", retention).unwrap());
        Differential::<Session>::new(Box::new(ListStore::new(retention)), subject).run(steps)
    });
}

/// The session store trait, for [`Differential`].
pub(crate) struct Session;

/// A session changelog record: key, session, value.
pub(crate) type Record = (Vec<u8>, SessionWindow, Option<Vec<u8>>);

/// An operation of [`SessionBytesStore`].
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Put(Vec<u8>, SessionWindow, Option<Vec<u8>>),
    Remove(Vec<u8>, SessionWindow),
    FetchSession(Vec<u8>, SessionWindow),
    FindSessions(Vec<u8>, i64, i64),
    FetchKey(Vec<u8>),
    All,
    Restore(Vec<Record>),
}

/// Sessions in a small time range, with a few far ahead so that retention (and segments) bite.
fn session() -> impl Strategy<Value = SessionWindow> {
    (prop_oneof![8 => 0..30i64, 1 => 30..200i64], 0..8i64).prop_map(|(start, length)| w(start, start + length))
}

/// Random operations, mostly puts (a fifth of them tombstones).
pub(crate) fn op() -> impl Strategy<Value = Op> {
    let record = (small_key(), session(), prop::option::weighted(0.8, value()));
    prop_oneof![
        6 => (small_key(), session(), prop::option::weighted(0.8, value())).prop_map(|(k, w, v)| Op::Put(k, w, v)),
        1 => (small_key(), session()).prop_map(|(k, w)| Op::Remove(k, w)),
        2 => (small_key(), session()).prop_map(|(k, w)| Op::FetchSession(k, w)),
        2 => (small_key(), -5..60i64, -5..60i64).prop_map(|(k, e, l)| Op::FindSessions(k, e, l)),
        1 => small_key().prop_map(Op::FetchKey),
        1 => Just(Op::All),
        1 => prop::collection::vec(record, 0..8).prop_map(Op::Restore),
    ]
}

impl Shape for Session {
    type Store = dyn SessionBytesStore;
    type Op = Op;
    type Entry = SessionEntry;

    fn apply(op: Op, reference: &mut Self::Store, subject: &mut Self::Store) -> TestCaseResult {
        match op {
            Op::Put(k, w, v) => same(subject.put(&k, w, v.as_deref()), reference.put(&k, w, v.as_deref())),
            Op::Remove(k, w) => same(subject.remove(&k, w), reference.remove(&k, w)),
            Op::FetchSession(k, w) => same(
                subject.fetch_session(&k, w.start, w.end),
                reference.fetch_session(&k, w.start, w.end),
            ),
            Op::FindSessions(k, e, l) => same(subject.find_sessions(&k, e, l), reference.find_sessions(&k, e, l)),
            Op::FetchKey(k) => same(subject.fetch_key(&k), reference.fetch_key(&k)),
            Op::All => same(subject.all(), reference.all()),
            Op::Restore(records) => {
                let batch: Batch = records
                    .into_iter()
                    .map(|(k, w, v)| (encode_session_key(&k, w), v))
                    .collect();
                same(subject.restore_batch(&batch), reference.restore_batch(&batch))
            }
        }
    }

    fn expired_puts(store: &Self::Store) -> u64 {
        store.expired_puts()
    }

    fn all(store: &Self::Store) -> StoreResult<Vec<SessionEntry>> {
        store.all()
    }
}

/// The reference: a list of sessions, with Kafka's retention rule written out plainly.
pub(crate) struct ListStore {
    retention: i64,
    observed: i64,
    expired_puts: u64,
    entries: Vec<SessionEntry>,
}

impl ListStore {
    pub(crate) fn new(retention: i64) -> Self {
        ListStore {
            retention,
            observed: -1,
            expired_puts: 0,
            entries: Vec::new(),
        }
    }

    fn live(&self, end: i64) -> bool {
        end > self.observed - self.retention
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
        let selected = self.select(|e| e.0 == key && keep(e.1));
        selected.into_iter().map(|e| (e.1, e.2)).collect()
    }
}

super::list_state_store!(ListStore);

impl SessionBytesStore for ListStore {
    fn put(&mut self, key: &[u8], window: SessionWindow, value: Option<&[u8]>) -> StoreResult<()> {
        if !window.is_valid() {
            return Err(StoreError::invalid_argument("list", format!("the session {window}")));
        }
        self.observed = self.observed.max(window.end);
        if !self.live(window.end) {
            self.expired_puts += 1;
            return Ok(());
        }
        self.remove(key, window)?;
        if let Some(value) = value {
            self.entries.push((key.to_vec(), window, value.to_vec()));
        }
        Ok(())
    }

    fn remove(&mut self, key: &[u8], window: SessionWindow) -> StoreResult<()> {
        self.entries.retain(|(k, w, _)| !(k == key && *w == window));
        Ok(())
    }

    fn fetch_session(&self, key: &[u8], start: i64, end: i64) -> StoreResult<Option<Vec<u8>>> {
        let found = self.select_key(key, |w| (w.start, w.end) == (start, end)).pop();
        Ok(found.map(|(_, value)| value))
    }

    fn find_sessions(
        &self,
        key: &[u8],
        earliest_end: i64,
        latest_start: i64,
    ) -> StoreResult<Vec<(SessionWindow, Vec<u8>)>> {
        Ok(self.select_key(key, |w| w.end >= earliest_end && w.start <= latest_start))
    }

    fn fetch_key(&self, key: &[u8]) -> StoreResult<Vec<(SessionWindow, Vec<u8>)>> {
        Ok(self.select_key(key, |_| true))
    }

    fn all(&self) -> StoreResult<Vec<SessionEntry>> {
        Ok(self.select(|_| true))
    }

    fn retention_ms(&self) -> i64 {
        self.retention
    }

    fn expired_puts(&self) -> u64 {
        self.expired_puts
    }
}

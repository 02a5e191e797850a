//! The contract of [`WindowBytesStore`]. Every case takes a factory
//! `make(name, retention_ms, window_size_ms, retain_duplicates)` of fresh, empty, open stores, which
//! fails where the store's constructor does.

use std::cell::RefCell;

use proptest::prelude::*;
use proptest::test_runner::TestCaseResult;

use super::{Batch, Differential, Shape, check_property, same, small_key, steps, time, value};
use crate::state::encoding::encode_window_key;
use crate::state::traits::{WindowBytesStore, WindowEntry};
use crate::state::{StoreError, StoreResult};

/// Expands, in the calling module, to one `#[test]` per case of the window store contract.
/// `$make` is an expression giving a fresh factory,
/// `FnMut(&str, i64, i64, bool) -> StoreResult<S>` for some `S: WindowBytesStore`; the property
/// test runs `$cases` cases.
macro_rules! window_contract {
    ($make:expr, property_cases = $cases:expr) => {
        $crate::state::contract_tests::contract_cases!(
            window,
            $make,
            $cases,
            [
                put_overwrites_and_fetch_reads_one_window,
                a_tombstone_put_deletes_the_window,
                fetch_range_is_inclusive_ascending_and_empty_when_from_is_above_to,
                fetch_keys_orders_by_start_then_key_and_bounds_are_inclusive,
                key_ranges_hold_keys_whose_encodings_interleave,
                retention_drops_an_expired_put,
                retention_hides_expired_windows,
                a_put_at_a_new_stream_time_is_kept_even_when_it_expires_everything_else,
                zero_retention_keeps_nothing_and_negative_starts_count_as_expired,
                duplicates_are_retained_in_insertion_order,
                restore_batch_follows_put,
                restore_batch_of_duplicates_appends_and_ignores_tombstones,
                the_constructor_checks_retention_and_window_size,
                a_closed_store_refuses_calls,
            ],
            behaves_like_a_list_of_puts
        );
    };
}
pub(crate) use window_contract;

/// How a case makes its stores: `make(name, retention_ms, window_size_ms, retain_duplicates)`.
pub(crate) trait MakeWindowStore<S>: FnMut(&str, i64, i64, bool) -> StoreResult<S> {}

impl<S, F: FnMut(&str, i64, i64, bool) -> StoreResult<S>> MakeWindowStore<S> for F {}

/// A store of windows of 10 ms, without duplicates.
fn store<S>(make: &mut impl MakeWindowStore<S>, retention_ms: i64) -> S {
    make("windows", retention_ms, 10, false).unwrap()
}

fn entry(key: &[u8], start: i64, value: &[u8]) -> WindowEntry {
    (key.to_vec(), start, value.to_vec())
}

pub(crate) fn put_overwrites_and_fetch_reads_one_window<S: WindowBytesStore>(make: &mut impl MakeWindowStore<S>) {
    let mut s = store(make, 100);
    s.put(b"k", Some(b"v1"), 10).unwrap();
    s.put(b"k", Some(b"v2"), 10).unwrap();
    s.put(b"k", Some(b"other window"), 20).unwrap();
    assert_eq!(s.fetch(b"k", 10).unwrap(), Some(b"v2".to_vec()));
    assert_eq!(s.fetch(b"k", 15).unwrap(), None);
    assert_eq!(s.fetch(b"absent", 10).unwrap(), None);
    assert_eq!((s.retention_ms(), s.window_size_ms()), (100, 10));
}

pub(crate) fn a_tombstone_put_deletes_the_window<S: WindowBytesStore>(make: &mut impl MakeWindowStore<S>) {
    let mut s = store(make, 100);
    s.put(b"k", Some(b"v"), 10).unwrap();
    s.put(b"k", Some(b"v"), 20).unwrap();
    s.put(b"k", None, 10).unwrap();
    s.put(b"absent", None, 10).unwrap();
    assert_eq!(s.fetch(b"k", 10).unwrap(), None);
    assert_eq!(s.all().unwrap(), vec![entry(b"k", 20, b"v")]);
}

pub(crate) fn fetch_range_is_inclusive_ascending_and_empty_when_from_is_above_to<S: WindowBytesStore>(
    make: &mut impl MakeWindowStore<S>,
) {
    let mut s = store(make, 100);
    for start in [40, 10, 30, 20] {
        s.put(b"k", Some(start.to_string().as_bytes()), start).unwrap();
    }
    s.put(b"kk", Some(b"other key"), 20).unwrap();
    s.put(&[b'k', 0], Some(b"longer key"), 20).unwrap();
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

pub(crate) fn fetch_keys_orders_by_start_then_key_and_bounds_are_inclusive<S: WindowBytesStore>(
    make: &mut impl MakeWindowStore<S>,
) {
    let mut s = store(make, 100);
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

pub(crate) fn key_ranges_hold_keys_whose_encodings_interleave<S: WindowBytesStore>(make: &mut impl MakeWindowStore<S>) {
    let mut s = store(make, i64::MAX / 2);
    // Encoded, [1] with a late start sorts after [1, 1] with an early one; [1, 0] is above [1].
    let late = 1 << 57;
    s.put(&[1], Some(b"short"), late).unwrap();
    s.put(&[1, 1], Some(b"long"), late).unwrap();
    s.put(&[1, 0], Some(b"between"), late).unwrap();
    s.put(&[0xff], Some(b"above"), late).unwrap();
    let keys = |from: &[u8], to: &[u8]| -> Vec<Vec<u8>> {
        s.fetch_keys(Some(from), Some(to), 0, i64::MAX)
            .unwrap()
            .into_iter()
            .map(|e| e.0)
            .collect()
    };
    assert_eq!(keys(&[1], &[1, 0]), vec![vec![1], vec![1, 0]]);
    assert_eq!(keys(&[1, 0], &[1, 1]), vec![vec![1, 0], vec![1, 1]]);
    assert_eq!(keys(&[0], &[1, 1]), vec![vec![1], vec![1, 0], vec![1, 1]]);
    assert_eq!(keys(&[2], &[0xff]), vec![vec![0xff]]);
}

pub(crate) fn retention_drops_an_expired_put<S: WindowBytesStore>(make: &mut impl MakeWindowStore<S>) {
    let mut s = store(make, 10);
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

pub(crate) fn retention_hides_expired_windows<S: WindowBytesStore>(make: &mut impl MakeWindowStore<S>) {
    let mut s = store(make, 10);
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
    // A tombstone advances stream time too (as in Kafka).
    s.put(b"x", None, 105).unwrap();
    assert_eq!(s.all().unwrap(), vec![entry(b"k", 101, b"new")]);
}

pub(crate) fn a_put_at_a_new_stream_time_is_kept_even_when_it_expires_everything_else<S: WindowBytesStore>(
    make: &mut impl MakeWindowStore<S>,
) {
    let mut s = store(make, 10);
    s.put(b"k", Some(b"v"), 0).unwrap();
    s.put(b"k", Some(b"v"), 1_000_000).unwrap();
    assert_eq!(s.all().unwrap(), vec![entry(b"k", 1_000_000, b"v")]);
    assert_eq!(s.expired_puts(), 0);
}

pub(crate) fn zero_retention_keeps_nothing_and_negative_starts_count_as_expired<S: WindowBytesStore>(
    make: &mut impl MakeWindowStore<S>,
) {
    let mut s = make("w", 0, 0, false).unwrap();
    s.put(b"k", Some(b"v"), 5).unwrap();
    assert_eq!(s.all().unwrap(), vec![]);
    let mut s = store(make, 100);
    s.put(b"k", Some(b"v"), -1).unwrap();
    assert_eq!((s.expired_puts(), s.all().unwrap()), (1, vec![]));
    assert_eq!(s.fetch(b"k", -1).unwrap(), None);
}

pub(crate) fn duplicates_are_retained_in_insertion_order<S: WindowBytesStore>(make: &mut impl MakeWindowStore<S>) {
    let mut s = make("join", 100, 10, true).unwrap();
    for value in [&b"3"[..], b"1", b"2"] {
        s.put(b"k", Some(value), 10).unwrap();
    }
    s.put(b"j", Some(b"j"), 10).unwrap();
    s.put(b"k", Some(b"4"), 5).unwrap();
    // A longer key whose encoding falls within the bounds of `k` at 10, after the entries of `k`.
    s.put(&[b'k', 0, 0, 0, 0, 0, 0, 0, 10, 0xff], Some(b"long"), 0).unwrap();
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

pub(crate) fn restore_batch_follows_put<S: WindowBytesStore>(make: &mut impl MakeWindowStore<S>) {
    let mut s = make("w", 10, 0, false).unwrap();
    s.put(b"k", Some(b"before"), 3).unwrap();
    let batch = vec![
        (encode_window_key(b"k", 5, 7), Some(b"v".to_vec())),
        (encode_window_key(b"j", 6, 0), Some(b"x".to_vec())),
        (encode_window_key(b"j", 6, 0), None),
        (encode_window_key(b"k", 3, 0), None),
        (encode_window_key(b"k", 14, 0), Some(b"a".to_vec())),
        (encode_window_key(b"k", 14, 0), Some(b"b".to_vec())),
        (encode_window_key(b"k", 4, 0), Some(b"expired".to_vec())),
        (encode_window_key(b"m", 13, 0), Some(b"m".to_vec())),
    ];
    s.restore_batch(&batch).unwrap();
    assert_eq!(
        s.all().unwrap(),
        vec![entry(b"k", 5, b"v"), entry(b"m", 13, b"m"), entry(b"k", 14, b"b")]
    );
    assert_eq!(s.expired_puts(), 1);
    let error = s
        .restore_batch(&[(b"short".to_vec(), Some(b"v".to_vec()))])
        .unwrap_err();
    assert!(
        matches!(&error, StoreError::Corrupt { store, .. } if store == "w"),
        "{error}"
    );
}

pub(crate) fn restore_batch_of_duplicates_appends_and_ignores_tombstones<S: WindowBytesStore>(
    make: &mut impl MakeWindowStore<S>,
) {
    let mut s = make("join", 100, 10, true).unwrap();
    s.put(b"k", Some(b"0"), 5).unwrap();
    let batch = vec![
        (encode_window_key(b"k", 5, 1), Some(b"1".to_vec())),
        (encode_window_key(b"k", 5, 1), Some(b"2".to_vec())),
        (encode_window_key(b"k", 5, 1), None),
    ];
    s.restore_batch(&batch).unwrap();
    assert_eq!(
        s.fetch_range(b"k", 0, 10).unwrap(),
        vec![(5, b"0".to_vec()), (5, b"1".to_vec()), (5, b"2".to_vec())]
    );
}

pub(crate) fn the_constructor_checks_retention_and_window_size<S: WindowBytesStore>(
    make: &mut impl MakeWindowStore<S>,
) {
    let error = make("w", 5, 10, false).map(|_| ()).unwrap_err();
    assert_eq!(error.store(), "w");
    assert!(error.to_string().contains("no smaller than the window size"), "{error}");
    assert!(make("w", -1, 0, false).is_err());
    assert!(make("w", 10, -1, false).is_err());
    assert!(make("w", 10, 10, false).is_ok());
}

pub(crate) fn a_closed_store_refuses_calls<S: WindowBytesStore + 'static>(make: &mut impl MakeWindowStore<S>) {
    let mut s = store(make, 100);
    s.put(b"k", Some(b"v"), 10).unwrap();
    s.flush().unwrap();
    s.close().unwrap();
    s.close().unwrap();
    assert!(matches!(s.fetch(b"k", 10), Err(StoreError::Closed { .. })));
    assert!(s.put(b"k", Some(b"v"), 10).is_err());
    assert!(s.fetch_range(b"k", 0, 10).is_err());
    assert!(s.fetch_keys(None, None, 0, 10).is_err());
    assert!(s.fetch_all(0, 10).is_err());
    assert!(s.all().is_err());
    assert!(s.flush().is_err());
    let record = (encode_window_key(b"k", 10, 0), Some(b"v".to_vec()));
    assert!(s.restore_batch(&[record]).is_err());
    let boxed: Box<dyn WindowBytesStore> = Box::new(s);
    assert!(boxed.as_any().downcast_ref::<S>().is_some());
}

/// The property: any sequence of operations, restores and flushes, on a store with or without
/// duplicates and of any retention, gives the answers of [`ListStore`].
pub(crate) fn behaves_like_a_list_of_puts<S: WindowBytesStore + 'static>(
    make: &mut impl MakeWindowStore<S>,
    cases: u32,
) {
    let make = RefCell::new(make);
    let strategy = (any::<bool>(), 0..60i64, steps(op(), false));
    check_property(cases, strategy, |(duplicates, retention, steps)| {
        let subject = Box::new((make.borrow_mut())("w", retention, 0, duplicates).unwrap());
        let reference = Box::new(ListStore::new(retention, duplicates));
        Differential::<Window>::new(reference, subject).run(steps)
    });
}

/// The window store trait, for [`Differential`].
pub(crate) struct Window;

/// A window changelog record: key, window start, sequence number in the changelog key, value.
pub(crate) type Record = (Vec<u8>, i64, u32, Option<Vec<u8>>);

/// An operation of [`WindowBytesStore`].
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Put(Vec<u8>, Option<Vec<u8>>, i64),
    Fetch(Vec<u8>, i64),
    FetchRange(Vec<u8>, i64, i64),
    /// `fetch_keys`, and `fetch_all` with the same times.
    FetchKeys(Option<Vec<u8>>, Option<Vec<u8>>, i64, i64),
    All,
    Restore(Vec<Record>),
}

/// Random operations, mostly puts (a fifth of them tombstones).
pub(crate) fn op() -> impl Strategy<Value = Op> {
    let bound = || prop::option::of(small_key());
    let record = (small_key(), time(), 0..3u32, prop::option::weighted(0.8, value()));
    prop_oneof![
        6 => (small_key(), prop::option::weighted(0.8, value()), time()).prop_map(|(k, v, t)| Op::Put(k, v, t)),
        2 => (small_key(), time()).prop_map(|(k, t)| Op::Fetch(k, t)),
        1 => (small_key(), time(), time()).prop_map(|(k, f, t)| Op::FetchRange(k, f, t)),
        2 => (bound(), bound(), time(), time()).prop_map(|(kf, kt, f, t)| Op::FetchKeys(kf, kt, f, t)),
        1 => Just(Op::All),
        1 => prop::collection::vec(record, 0..8).prop_map(Op::Restore),
    ]
}

impl Shape for Window {
    type Store = dyn WindowBytesStore;
    type Op = Op;
    type Entry = WindowEntry;

    fn apply(op: Op, reference: &mut Self::Store, subject: &mut Self::Store) -> TestCaseResult {
        match op {
            Op::Put(k, v, t) => same(subject.put(&k, v.as_deref(), t), reference.put(&k, v.as_deref(), t)),
            Op::Fetch(k, t) => same(subject.fetch(&k, t), reference.fetch(&k, t)),
            Op::FetchRange(k, f, t) => same(subject.fetch_range(&k, f, t), reference.fetch_range(&k, f, t)),
            Op::FetchKeys(kf, kt, f, t) => {
                same(
                    subject.fetch_keys(kf.as_deref(), kt.as_deref(), f, t),
                    reference.fetch_keys(kf.as_deref(), kt.as_deref(), f, t),
                )?;
                same(subject.fetch_all(f, t), reference.fetch_all(f, t))
            }
            Op::All => same(subject.all(), reference.all()),
            Op::Restore(records) => {
                let batch: Batch = records
                    .into_iter()
                    .map(|(k, t, seqnum, v)| (encode_window_key(&k, t, seqnum), v))
                    .collect();
                same(subject.restore_batch(&batch), reference.restore_batch(&batch))
            }
        }
    }

    fn expired_puts(store: &Self::Store) -> u64 {
        store.expired_puts()
    }

    fn all(store: &Self::Store) -> StoreResult<Vec<WindowEntry>> {
        store.all()
    }
}

/// The reference: the list of puts that are still live, in insertion order, with Kafka's
/// retention rule written out plainly. Its windows have a size of 0.
pub(crate) struct ListStore {
    retention: i64,
    duplicates: bool,
    observed: i64,
    expired_puts: u64,
    /// (key, window start, value), oldest first.
    entries: Vec<WindowEntry>,
}

impl ListStore {
    pub(crate) fn new(retention: i64, duplicates: bool) -> Self {
        ListStore {
            retention,
            duplicates,
            observed: -1,
            expired_puts: 0,
            entries: Vec::new(),
        }
    }

    fn live(&self, start: i64) -> bool {
        start >= 0 && start > self.observed - self.retention
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

super::list_state_store!(ListStore);

impl WindowBytesStore for ListStore {
    fn put(&mut self, key: &[u8], value: Option<&[u8]>, start: i64) -> StoreResult<()> {
        self.observed = self.observed.max(start);
        if !self.live(start) {
            self.expired_puts += 1;
            return Ok(());
        }
        if !self.duplicates {
            self.entries.retain(|(k, s, _)| !(k == key && *s == start));
        }
        if let Some(value) = value {
            self.entries.push((key.to_vec(), start, value.to_vec()));
        }
        Ok(())
    }

    fn fetch(&self, key: &[u8], start: i64) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.select(|e| e.0 == key && e.1 == start).pop().map(|e| e.2))
    }

    fn fetch_range(&self, key: &[u8], from: i64, to: i64) -> StoreResult<Vec<(i64, Vec<u8>)>> {
        let selected = self.select(|e| e.0 == key && from <= e.1 && e.1 <= to);
        Ok(selected.into_iter().map(|e| (e.1, e.2)).collect())
    }

    fn fetch_keys(
        &self,
        key_from: Option<&[u8]>,
        key_to: Option<&[u8]>,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<WindowEntry>> {
        let in_keys = |key: &[u8]| key_from.is_none_or(|f| f <= key) && key_to.is_none_or(|t| key <= t);
        Ok(self.select(|e| in_keys(&e.0) && from <= e.1 && e.1 <= to))
    }

    fn fetch_all(&self, from: i64, to: i64) -> StoreResult<Vec<WindowEntry>> {
        Ok(self.select(|e| from <= e.1 && e.1 <= to))
    }

    fn all(&self) -> StoreResult<Vec<WindowEntry>> {
        Ok(self.select(|_| true))
    }

    fn retention_ms(&self) -> i64 {
        self.retention
    }

    fn window_size_ms(&self) -> i64 {
        0
    }

    fn expired_puts(&self) -> u64 {
        self.expired_puts
    }
}

//! The contract of [`KeyValueBytesStore`]. Every case takes a factory `make(name)` of fresh,
//! empty, open stores.

use std::cell::RefCell;

use proptest::prelude::*;
use proptest::test_runner::TestCaseResult;

use super::{Batch, Differential, Shape, check_property, same, small_key, steps, value};
use crate::state::traits::{KeyValueBytesStore, KeyValueEntry};
use crate::state::{StoreError, StoreResult};

/// Expands, in the calling module, to one `#[test]` per case of the key-value store contract.
/// `$make` is an expression giving a fresh factory, `FnMut(&str) -> S` for some
/// `S: KeyValueBytesStore`; the property test runs `$cases` cases.
macro_rules! key_value_contract {
    ($make:expr, property_cases = $cases:expr) => {
        $crate::state::contract_tests::contract_cases!(
            key_value,
            $make,
            $cases,
            [
                put_overwrites_and_get_reads,
                a_tombstone_put_deletes,
                empty_keys_and_values_are_entries,
                put_if_absent_writes_only_when_absent_and_returns_the_existing_value,
                delete_returns_the_old_value,
                range_bounds_are_inclusive_and_open_when_none,
                a_range_from_above_to_is_empty,
                reverse_range_is_descending,
                all_is_in_unsigned_byte_order,
                prefix_scan_returns_keys_starting_with_the_prefix,
                restore_batch_applies_puts_and_tombstones_in_order,
                a_closed_store_refuses_calls,
                as_any_finds_the_concrete_store,
            ],
            behaves_like_a_list_of_entries
        );
    };
}
pub(crate) use key_value_contract;

fn kv(key: &[u8], value: &[u8]) -> KeyValueEntry {
    (key.to_vec(), value.to_vec())
}

/// A store holding `a`, `b`, `c`, `d` with values `1` .. `4`.
fn abcd<S: KeyValueBytesStore>(make: &mut impl FnMut(&str) -> S) -> S {
    let mut store = make("kv");
    for (key, value) in [(b"c", b"3"), (b"a", b"1"), (b"d", b"4"), (b"b", b"2")] {
        store.put(key, Some(value)).unwrap();
    }
    store
}

/// The keys of `entries`.
fn keys(entries: StoreResult<Vec<KeyValueEntry>>) -> Vec<Vec<u8>> {
    entries.unwrap().into_iter().map(|(k, _)| k).collect()
}

pub(crate) fn put_overwrites_and_get_reads<S: KeyValueBytesStore>(make: &mut impl FnMut(&str) -> S) {
    let mut store = make("kv");
    assert_eq!(store.get(b"k").unwrap(), None);
    store.put(b"k", Some(b"v1")).unwrap();
    store.put(b"k", Some(b"v2")).unwrap();
    assert_eq!(store.get(b"k").unwrap(), Some(b"v2".to_vec()));
    assert_eq!(store.all().unwrap(), vec![kv(b"k", b"v2")]);
}

pub(crate) fn a_tombstone_put_deletes<S: KeyValueBytesStore>(make: &mut impl FnMut(&str) -> S) {
    let mut store = abcd(make);
    store.put(b"b", None).unwrap();
    assert_eq!(store.get(b"b").unwrap(), None);
    store.put(b"absent", None).unwrap();
    assert_eq!(store.get(b"absent").unwrap(), None);
    assert_eq!(keys(store.all()), vec![b"a".to_vec(), b"c".to_vec(), b"d".to_vec()]);
}

pub(crate) fn empty_keys_and_values_are_entries<S: KeyValueBytesStore>(make: &mut impl FnMut(&str) -> S) {
    let mut store = make("kv");
    store.put(b"", Some(b"")).unwrap();
    assert_eq!(store.get(b"").unwrap(), Some(vec![]));
    assert_eq!(store.all().unwrap(), vec![kv(b"", b"")]);
}

pub(crate) fn put_if_absent_writes_only_when_absent_and_returns_the_existing_value<S: KeyValueBytesStore>(
    make: &mut impl FnMut(&str) -> S,
) {
    let mut store = make("kv");
    assert_eq!(store.put_if_absent(b"k", b"first").unwrap(), None);
    assert_eq!(store.put_if_absent(b"k", b"second").unwrap(), Some(b"first".to_vec()));
    assert_eq!(store.get(b"k").unwrap(), Some(b"first".to_vec()));
}

pub(crate) fn delete_returns_the_old_value<S: KeyValueBytesStore>(make: &mut impl FnMut(&str) -> S) {
    let mut store = abcd(make);
    assert_eq!(store.delete(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(store.delete(b"a").unwrap(), None);
    assert_eq!(store.get(b"a").unwrap(), None);
}

pub(crate) fn range_bounds_are_inclusive_and_open_when_none<S: KeyValueBytesStore>(make: &mut impl FnMut(&str) -> S) {
    let store = abcd(make);
    assert_eq!(
        store.range(Some(b"b"), Some(b"c")).unwrap(),
        vec![kv(b"b", b"2"), kv(b"c", b"3")]
    );
    assert_eq!(
        store.range(None, Some(b"b")).unwrap(),
        vec![kv(b"a", b"1"), kv(b"b", b"2")]
    );
    assert_eq!(
        store.range(Some(b"c"), None).unwrap(),
        vec![kv(b"c", b"3"), kv(b"d", b"4")]
    );
    assert_eq!(store.range(Some(b"bb"), Some(b"bz")).unwrap(), vec![]);
    assert_eq!(store.range(Some(b"b"), Some(b"b")).unwrap(), vec![kv(b"b", b"2")]);
    assert_eq!(store.range(None, None).unwrap(), store.all().unwrap());
}

pub(crate) fn a_range_from_above_to_is_empty<S: KeyValueBytesStore>(make: &mut impl FnMut(&str) -> S) {
    let store = abcd(make);
    assert_eq!(store.range(Some(b"c"), Some(b"b")).unwrap(), vec![]);
    assert_eq!(store.reverse_range(Some(b"c"), Some(b"b")).unwrap(), vec![]);
}

pub(crate) fn reverse_range_is_descending<S: KeyValueBytesStore>(make: &mut impl FnMut(&str) -> S) {
    let store = abcd(make);
    assert_eq!(
        store.reverse_range(Some(b"b"), Some(b"c")).unwrap(),
        vec![kv(b"c", b"3"), kv(b"b", b"2")]
    );
    assert_eq!(store.reverse_range(None, None).unwrap().first(), Some(&kv(b"d", b"4")));
}

pub(crate) fn all_is_in_unsigned_byte_order<S: KeyValueBytesStore>(make: &mut impl FnMut(&str) -> S) {
    let mut store = make("kv");
    for key in [&[0xff][..], &[0x01, 0x00], &[0x01], &[0x80]] {
        store.put(key, Some(b"v")).unwrap();
    }
    assert_eq!(
        keys(store.all()),
        vec![vec![0x01], vec![0x01, 0x00], vec![0x80], vec![0xff]]
    );
    assert_eq!(keys(store.range(Some(&[0x80]), None)), vec![vec![0x80], vec![0xff]]);
}

pub(crate) fn prefix_scan_returns_keys_starting_with_the_prefix<S: KeyValueBytesStore>(
    make: &mut impl FnMut(&str) -> S,
) {
    let mut store = make("kv");
    for key in [
        &b"ab"[..],
        b"abc",
        b"abd",
        b"ac",
        b"a",
        &[0xff, 0xff],
        &[0xff, 0xff, 0x00],
        &[0xff],
        &[0x80],
    ] {
        store.put(key, Some(b"v")).unwrap();
    }
    assert_eq!(
        keys(store.prefix_scan(b"ab")),
        vec![b"ab".to_vec(), b"abc".to_vec(), b"abd".to_vec()]
    );
    assert_eq!(keys(store.prefix_scan(b"b")), Vec::<Vec<u8>>::new());
    assert_eq!(
        keys(store.prefix_scan(&[0xff, 0xff])),
        vec![vec![0xff, 0xff], vec![0xff, 0xff, 0x00]]
    );
    assert_eq!(store.prefix_scan(b"").unwrap().len(), 9);
}

pub(crate) fn restore_batch_applies_puts_and_tombstones_in_order<S: KeyValueBytesStore>(
    make: &mut impl FnMut(&str) -> S,
) {
    let mut store = abcd(make);
    let batch = vec![
        (b"a".to_vec(), None),
        (b"e".to_vec(), Some(b"5".to_vec())),
        (b"e".to_vec(), Some(b"6".to_vec())),
        (b"f".to_vec(), Some(b"7".to_vec())),
        (b"f".to_vec(), None),
    ];
    store.restore_batch(&batch).unwrap();
    assert_eq!(
        store.all().unwrap(),
        vec![kv(b"b", b"2"), kv(b"c", b"3"), kv(b"d", b"4"), kv(b"e", b"6")]
    );
}

pub(crate) fn a_closed_store_refuses_calls<S: KeyValueBytesStore>(make: &mut impl FnMut(&str) -> S) {
    let mut store = abcd(make);
    store.flush().unwrap();
    store.close().unwrap();
    store.close().unwrap();
    assert!(matches!(store.get(b"a"), Err(StoreError::Closed { store }) if store == "kv"));
    assert_eq!(store.get(b"a").unwrap_err().to_string(), "state store kv is closed");
    assert!(store.put(b"a", Some(b"1")).is_err());
    assert!(store.put_if_absent(b"a", b"1").is_err());
    assert!(store.delete(b"a").is_err());
    assert!(store.range(None, None).is_err());
    assert!(store.reverse_range(None, None).is_err());
    assert!(store.prefix_scan(b"").is_err());
    assert!(store.all().is_err());
    assert!(store.flush().is_err());
    assert!(store.restore_batch(&[(b"a".to_vec(), Some(b"1".to_vec()))]).is_err());
    assert_eq!(store.approximate_num_entries(), 0);
}

pub(crate) fn as_any_finds_the_concrete_store<S: KeyValueBytesStore + 'static>(make: &mut impl FnMut(&str) -> S) {
    let mut boxed: Box<dyn KeyValueBytesStore> = Box::new(make("kv"));
    assert_eq!(boxed.name(), "kv");
    assert!(boxed.as_any().downcast_ref::<S>().is_some());
    assert!(boxed.as_any_mut().downcast_mut::<S>().is_some());
}

/// The property: any sequence of operations, restores and flushes gives the answers of
/// [`ListStore`].
pub(crate) fn behaves_like_a_list_of_entries<S: KeyValueBytesStore + 'static>(
    make: &mut impl FnMut(&str) -> S,
    cases: u32,
) {
    let make = RefCell::new(make);
    check_property(cases, steps(op(), false), |steps| {
        let subject = Box::new((make.borrow_mut())("kv"));
        Differential::<KeyValue>::new(Box::new(ListStore::default()), subject).run(steps)
    });
}

/// The key-value store trait, for [`Differential`].
pub(crate) struct KeyValue;

/// An operation of [`KeyValueBytesStore`].
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Put(Vec<u8>, Option<Vec<u8>>),
    PutIfAbsent(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Get(Vec<u8>),
    Range(Option<Vec<u8>>, Option<Vec<u8>>),
    ReverseRange(Option<Vec<u8>>, Option<Vec<u8>>),
    PrefixScan(Vec<u8>),
    Restore(Batch),
}

/// Random operations, mostly puts (a fifth of them tombstones).
pub(crate) fn op() -> impl Strategy<Value = Op> {
    let bound = || prop::option::of(small_key());
    let record = (small_key(), prop::option::weighted(0.8, value()));
    prop_oneof![
        6 => (small_key(), prop::option::weighted(0.8, value())).prop_map(|(k, v)| Op::Put(k, v)),
        1 => (small_key(), value()).prop_map(|(k, v)| Op::PutIfAbsent(k, v)),
        1 => small_key().prop_map(Op::Delete),
        2 => small_key().prop_map(Op::Get),
        1 => (bound(), bound()).prop_map(|(f, t)| Op::Range(f, t)),
        1 => (bound(), bound()).prop_map(|(f, t)| Op::ReverseRange(f, t)),
        1 => small_key().prop_map(Op::PrefixScan),
        1 => prop::collection::vec(record, 0..8).prop_map(Op::Restore),
    ]
}

impl Shape for KeyValue {
    type Store = dyn KeyValueBytesStore;
    type Op = Op;
    type Entry = KeyValueEntry;

    fn apply(op: Op, reference: &mut Self::Store, subject: &mut Self::Store) -> TestCaseResult {
        match op {
            Op::Put(k, v) => same(subject.put(&k, v.as_deref()), reference.put(&k, v.as_deref())),
            Op::PutIfAbsent(k, v) => same(subject.put_if_absent(&k, &v), reference.put_if_absent(&k, &v)),
            Op::Delete(k) => same(subject.delete(&k), reference.delete(&k)),
            Op::Get(k) => same(subject.get(&k), reference.get(&k)),
            Op::Range(f, t) => same(
                subject.range(f.as_deref(), t.as_deref()),
                reference.range(f.as_deref(), t.as_deref()),
            ),
            Op::ReverseRange(f, t) => same(
                subject.reverse_range(f.as_deref(), t.as_deref()),
                reference.reverse_range(f.as_deref(), t.as_deref()),
            ),
            Op::PrefixScan(p) => same(subject.prefix_scan(&p), reference.prefix_scan(&p)),
            Op::Restore(batch) => same(subject.restore_batch(&batch), reference.restore_batch(&batch)),
        }
    }

    fn expired_puts(_: &Self::Store) -> u64 {
        0
    }

    fn all(store: &Self::Store) -> StoreResult<Vec<KeyValueEntry>> {
        store.all()
    }
}

/// The reference: an unordered list of entries, searched linearly and sorted on read.
#[derive(Default)]
pub(crate) struct ListStore(Vec<KeyValueEntry>);

impl ListStore {
    fn sorted_where(&self, keep: impl Fn(&[u8]) -> bool) -> Vec<KeyValueEntry> {
        let mut entries: Vec<_> = self.0.iter().filter(|(k, _)| keep(k)).cloned().collect();
        entries.sort();
        entries
    }

    fn in_range(from: Option<&[u8]>, to: Option<&[u8]>, key: &[u8]) -> bool {
        from.is_none_or(|f| f <= key) && to.is_none_or(|t| key <= t)
    }
}

super::list_state_store!(ListStore);

impl KeyValueBytesStore for ListStore {
    fn get(&self, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
    }

    fn put(&mut self, key: &[u8], value: Option<&[u8]>) -> StoreResult<()> {
        self.delete(key)?;
        if let Some(value) = value {
            self.0.push((key.to_vec(), value.to_vec()));
        }
        Ok(())
    }

    fn put_if_absent(&mut self, key: &[u8], value: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let existing = self.get(key)?;
        if existing.is_none() {
            self.0.push((key.to_vec(), value.to_vec()));
        }
        Ok(existing)
    }

    fn delete(&mut self, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let position = self.0.iter().position(|(k, _)| k == key);
        Ok(position.map(|position| self.0.swap_remove(position).1))
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> StoreResult<Vec<KeyValueEntry>> {
        Ok(self.sorted_where(|k| Self::in_range(from, to, k)))
    }

    fn reverse_range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> StoreResult<Vec<KeyValueEntry>> {
        let mut entries = self.range(from, to)?;
        entries.reverse();
        Ok(entries)
    }

    fn all(&self) -> StoreResult<Vec<KeyValueEntry>> {
        Ok(self.sorted_where(|_| true))
    }

    fn prefix_scan(&self, prefix: &[u8]) -> StoreResult<Vec<KeyValueEntry>> {
        Ok(self.sorted_where(|k| k.starts_with(prefix)))
    }

    fn approximate_num_entries(&self) -> u64 {
        self.0.len() as u64
    }
}

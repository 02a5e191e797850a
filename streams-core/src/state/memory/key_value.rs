//! [`InMemoryKeyValueStore`]: a key-value bytes store in a `BTreeMap`.

use std::any::Any;
use std::collections::BTreeMap;
use std::ops::Bound;

use crate::state::traits::{KeyValueBytesStore, KeyValueEntry, StateStore};
use crate::state::{StoreError, StoreResult};

/// A [`KeyValueBytesStore`] in memory, ordered by key bytes (Kafka's `InMemoryKeyValueStore`).
///
/// Every read copies the entries it returns; ranges cost `O(log n + entries returned)`.
#[derive(Debug)]
pub struct InMemoryKeyValueStore {
    name: String,
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
    open: bool,
}

impl InMemoryKeyValueStore {
    /// An empty, open store named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        InMemoryKeyValueStore {
            name: name.into(),
            entries: BTreeMap::new(),
            open: true,
        }
    }

    fn check_open(&self) -> StoreResult<()> {
        if self.open {
            Ok(())
        } else {
            Err(StoreError::closed(&self.name))
        }
    }

    /// The entries in `[from, to]`, ascending; empty when `from > to`.
    fn entries_in(
        &self,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
    ) -> StoreResult<impl DoubleEndedIterator<Item = (&Vec<u8>, &Vec<u8>)>> {
        self.check_open()?;
        let empty = matches!((from, to), (Some(from), Some(to)) if from > to);
        let lower = from.map_or(Bound::Unbounded, Bound::Included);
        let upper = to.map_or(Bound::Unbounded, Bound::Included);
        // `BTreeMap::range` panics on inverted bounds, so an inverted range scans `[[], [])`: nothing.
        let range = if empty {
            self.entries
                .range::<[u8], _>((Bound::Included(&[][..]), Bound::Excluded(&[][..])))
        } else {
            self.entries.range::<[u8], _>((lower, upper))
        };
        Ok(range)
    }
}

fn owned<'a>(entries: impl Iterator<Item = (&'a Vec<u8>, &'a Vec<u8>)>) -> Vec<KeyValueEntry> {
    entries.map(|(k, v)| (k.clone(), v.clone())).collect()
}

impl StateStore for InMemoryKeyValueStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn flush(&mut self) -> StoreResult<()> {
        self.check_open()
    }

    fn close(&mut self) -> StoreResult<()> {
        self.entries.clear();
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

impl KeyValueBytesStore for InMemoryKeyValueStore {
    fn get(&self, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.check_open()?;
        Ok(self.entries.get(key).cloned())
    }

    fn put(&mut self, key: &[u8], value: Option<&[u8]>) -> StoreResult<()> {
        self.check_open()?;
        match value {
            Some(value) => {
                self.entries.insert(key.to_vec(), value.to_vec());
            }
            None => {
                self.entries.remove(key);
            }
        }
        Ok(())
    }

    fn put_if_absent(&mut self, key: &[u8], value: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.check_open()?;
        if let Some(existing) = self.entries.get(key) {
            return Ok(Some(existing.clone()));
        }
        self.entries.insert(key.to_vec(), value.to_vec());
        Ok(None)
    }

    fn delete(&mut self, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.check_open()?;
        Ok(self.entries.remove(key))
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> StoreResult<Vec<KeyValueEntry>> {
        Ok(owned(self.entries_in(from, to)?))
    }

    fn reverse_range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> StoreResult<Vec<KeyValueEntry>> {
        Ok(owned(self.entries_in(from, to)?.rev()))
    }

    fn all(&self) -> StoreResult<Vec<KeyValueEntry>> {
        self.range(None, None)
    }

    fn prefix_scan(&self, prefix: &[u8]) -> StoreResult<Vec<KeyValueEntry>> {
        let entries = self.entries_in(Some(prefix), None)?;
        Ok(owned(entries.take_while(|(key, _)| key.starts_with(prefix))))
    }

    fn approximate_num_entries(&self) -> u64 {
        self.entries.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kv(key: &[u8], value: &[u8]) -> KeyValueEntry {
        (key.to_vec(), value.to_vec())
    }

    /// A store holding `a`, `b`, `c`, `d` with values `1` .. `4`.
    fn abcd() -> InMemoryKeyValueStore {
        let mut store = InMemoryKeyValueStore::new("kv");
        for (key, value) in [(b"c", b"3"), (b"a", b"1"), (b"d", b"4"), (b"b", b"2")] {
            store.put(key, Some(value)).unwrap();
        }
        store
    }

    #[test]
    fn put_overwrites_and_get_reads() {
        let mut store = InMemoryKeyValueStore::new("kv");
        assert_eq!(store.get(b"k").unwrap(), None);
        store.put(b"k", Some(b"v1")).unwrap();
        store.put(b"k", Some(b"v2")).unwrap();
        assert_eq!(store.get(b"k").unwrap(), Some(b"v2".to_vec()));
        assert_eq!(store.approximate_num_entries(), 1);
    }

    #[test]
    fn a_tombstone_put_deletes() {
        let mut store = abcd();
        store.put(b"b", None).unwrap();
        assert_eq!(store.get(b"b").unwrap(), None);
        store.put(b"absent", None).unwrap();
        assert_eq!(store.approximate_num_entries(), 3);
    }

    #[test]
    fn empty_keys_and_values_are_entries() {
        let mut store = InMemoryKeyValueStore::new("kv");
        store.put(b"", Some(b"")).unwrap();
        assert_eq!(store.get(b"").unwrap(), Some(vec![]));
        assert_eq!(store.all().unwrap(), vec![kv(b"", b"")]);
    }

    #[test]
    fn put_if_absent_writes_only_when_absent_and_returns_the_existing_value() {
        let mut store = InMemoryKeyValueStore::new("kv");
        assert_eq!(store.put_if_absent(b"k", b"first").unwrap(), None);
        assert_eq!(store.put_if_absent(b"k", b"second").unwrap(), Some(b"first".to_vec()));
        assert_eq!(store.get(b"k").unwrap(), Some(b"first".to_vec()));
    }

    #[test]
    fn delete_returns_the_old_value() {
        let mut store = abcd();
        assert_eq!(store.delete(b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(store.delete(b"a").unwrap(), None);
        assert_eq!(store.get(b"a").unwrap(), None);
    }

    #[test]
    fn range_bounds_are_inclusive_and_open_when_none() {
        let store = abcd();
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

    #[test]
    fn a_range_from_above_to_is_empty() {
        let store = abcd();
        assert_eq!(store.range(Some(b"c"), Some(b"b")).unwrap(), vec![]);
        assert_eq!(store.reverse_range(Some(b"c"), Some(b"b")).unwrap(), vec![]);
    }

    #[test]
    fn reverse_range_is_descending() {
        let store = abcd();
        assert_eq!(
            store.reverse_range(Some(b"b"), Some(b"c")).unwrap(),
            vec![kv(b"c", b"3"), kv(b"b", b"2")]
        );
        assert_eq!(store.reverse_range(None, None).unwrap().first(), Some(&kv(b"d", b"4")));
    }

    #[test]
    fn all_is_in_unsigned_byte_order() {
        let mut store = InMemoryKeyValueStore::new("kv");
        for key in [&[0xff][..], &[0x01, 0x00], &[0x01], &[0x80]] {
            store.put(key, Some(b"v")).unwrap();
        }
        let keys: Vec<_> = store.all().unwrap().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec![vec![0x01], vec![0x01, 0x00], vec![0x80], vec![0xff]]);
    }

    #[test]
    fn prefix_scan_returns_keys_starting_with_the_prefix() {
        let mut store = InMemoryKeyValueStore::new("kv");
        for key in [
            &b"ab"[..],
            b"abc",
            b"abd",
            b"ac",
            b"a",
            &[0xff, 0xff],
            &[0xff, 0xff, 0x00],
            &[0xff],
        ] {
            store.put(key, Some(b"v")).unwrap();
        }
        let keys = |prefix: &[u8]| -> Vec<Vec<u8>> {
            store.prefix_scan(prefix).unwrap().into_iter().map(|(k, _)| k).collect()
        };
        assert_eq!(keys(b"ab"), vec![b"ab".to_vec(), b"abc".to_vec(), b"abd".to_vec()]);
        assert_eq!(keys(b"b"), Vec::<Vec<u8>>::new());
        assert_eq!(keys(&[0xff, 0xff]), vec![vec![0xff, 0xff], vec![0xff, 0xff, 0x00]]);
        assert_eq!(keys(b"").len(), 8);
    }

    #[test]
    fn a_closed_store_refuses_calls_and_drops_its_data() {
        let mut store = abcd();
        store.flush().unwrap();
        store.close().unwrap();
        store.close().unwrap();
        assert!(matches!(store.get(b"a"), Err(StoreError::Closed { store }) if store == "kv"));
        assert!(store.put(b"a", Some(b"1")).is_err());
        assert!(store.range(None, None).is_err());
        assert!(store.flush().is_err());
        assert_eq!(store.approximate_num_entries(), 0);
        assert_eq!(store.get(b"a").unwrap_err().to_string(), "state store kv is closed");
    }

    #[test]
    fn as_any_finds_the_concrete_store() {
        let mut boxed: Box<dyn KeyValueBytesStore> = Box::new(InMemoryKeyValueStore::new("kv"));
        assert_eq!(boxed.name(), "kv");
        assert!(boxed.as_any().downcast_ref::<InMemoryKeyValueStore>().is_some());
        assert!(boxed.as_any_mut().downcast_mut::<InMemoryKeyValueStore>().is_some());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Put(Vec<u8>, Option<Vec<u8>>),
        PutIfAbsent(Vec<u8>, Vec<u8>),
        Delete(Vec<u8>),
        Get(Vec<u8>),
        Range(Option<Vec<u8>>, Option<Vec<u8>>),
        ReverseRange(Option<Vec<u8>>, Option<Vec<u8>>),
        PrefixScan(Vec<u8>),
    }

    /// Keys of 0 to 2 bytes from a 3-letter alphabet: few enough to collide often.
    fn small_key() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(0u8..3, 0..3)
    }

    fn op() -> impl Strategy<Value = Op> {
        let value = prop::collection::vec(any::<u8>(), 0..3);
        prop_oneof![
            3 => (small_key(), prop::option::weighted(0.8, value.clone())).prop_map(|(k, v)| Op::Put(k, v)),
            1 => (small_key(), value).prop_map(|(k, v)| Op::PutIfAbsent(k, v)),
            1 => small_key().prop_map(Op::Delete),
            1 => small_key().prop_map(Op::Get),
            1 => (prop::option::of(small_key()), prop::option::of(small_key())).prop_map(|(f, t)| Op::Range(f, t)),
            1 => (prop::option::of(small_key()), prop::option::of(small_key())).prop_map(|(f, t)| Op::ReverseRange(f, t)),
            1 => small_key().prop_map(Op::PrefixScan),
        ]
    }

    /// The model: an unordered list of entries, searched linearly and sorted on read.
    #[derive(Default)]
    struct Model(Vec<KeyValueEntry>);

    impl Model {
        fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
            self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        }

        fn remove(&mut self, key: &[u8]) -> Option<Vec<u8>> {
            let position = self.0.iter().position(|(k, _)| k == key)?;
            Some(self.0.swap_remove(position).1)
        }

        fn sorted_where(&self, keep: impl Fn(&[u8]) -> bool) -> Vec<KeyValueEntry> {
            let mut entries: Vec<_> = self.0.iter().filter(|(k, _)| keep(k)).cloned().collect();
            entries.sort();
            entries
        }

        fn in_range(from: &Option<Vec<u8>>, to: &Option<Vec<u8>>, key: &[u8]) -> bool {
            from.as_deref().is_none_or(|f| f <= key) && to.as_deref().is_none_or(|t| key <= t)
        }
    }

    proptest! {
        #[test]
        fn behaves_like_a_list_of_entries(ops in prop::collection::vec(op(), 1..60)) {
            let mut store = InMemoryKeyValueStore::new("kv");
            let mut model = Model::default();
            for op in ops {
                match op {
                    Op::Put(k, v) => {
                        store.put(&k, v.as_deref()).unwrap();
                        model.remove(&k);
                        if let Some(v) = v {
                            model.0.push((k, v));
                        }
                    }
                    Op::PutIfAbsent(k, v) => {
                        let expected = model.get(&k);
                        if expected.is_none() {
                            model.0.push((k.clone(), v.clone()));
                        }
                        prop_assert_eq!(store.put_if_absent(&k, &v).unwrap(), expected);
                    }
                    Op::Delete(k) => prop_assert_eq!(store.delete(&k).unwrap(), model.remove(&k)),
                    Op::Get(k) => prop_assert_eq!(store.get(&k).unwrap(), model.get(&k)),
                    Op::Range(from, to) => {
                        let expected = model.sorted_where(|k| Model::in_range(&from, &to, k));
                        prop_assert_eq!(store.range(from.as_deref(), to.as_deref()).unwrap(), expected);
                    }
                    Op::ReverseRange(from, to) => {
                        let mut expected = model.sorted_where(|k| Model::in_range(&from, &to, k));
                        expected.reverse();
                        prop_assert_eq!(store.reverse_range(from.as_deref(), to.as_deref()).unwrap(), expected);
                    }
                    Op::PrefixScan(prefix) => {
                        let expected = model.sorted_where(|k| k.starts_with(&prefix));
                        prop_assert_eq!(store.prefix_scan(&prefix).unwrap(), expected);
                    }
                }
                prop_assert_eq!(store.approximate_num_entries(), model.0.len() as u64);
            }
            prop_assert_eq!(store.all().unwrap(), model.sorted_where(|_| true));
        }
    }
}

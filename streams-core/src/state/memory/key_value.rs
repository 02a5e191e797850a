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
    use proptest::prop_assert_eq;

    use super::*;
    use crate::state::contract_tests::key_value::{KeyValue, ListStore, op};
    use crate::state::contract_tests::{Differential, check_property, key_value_contract, steps};

    mod contract {
        use super::*;

        key_value_contract!(|name: &str| InMemoryKeyValueStore::new(name), property_cases = 256);
    }

    #[test]
    fn approximate_num_entries_is_exact() {
        let mut store = InMemoryKeyValueStore::new("kv");
        store.put(b"k", Some(b"v1")).unwrap();
        store.put(b"k", Some(b"v2")).unwrap();
        assert_eq!(store.approximate_num_entries(), 1);
        store.put(b"j", Some(b"v")).unwrap();
        store.put(b"k", None).unwrap();
        store.put(b"absent", None).unwrap();
        assert_eq!(store.approximate_num_entries(), 1);
    }

    #[test]
    fn approximate_num_entries_is_exact_after_any_operation() {
        check_property(256, steps(op(), false), |steps| {
            let subject = Box::new(InMemoryKeyValueStore::new("kv"));
            Differential::<KeyValue>::new(Box::new(ListStore::default()), subject).run_checking(
                steps,
                |reference, subject| {
                    prop_assert_eq!(subject.approximate_num_entries(), reference.approximate_num_entries());
                    Ok(())
                },
            )
        });
    }
}

//! [`RocksDbKeyValueStore`]: a key-value bytes store in one RocksDB database.

use std::any::Any;
use std::fmt;
use std::path::{Path, PathBuf};

use rocksdb::{WriteBatch, WriteOptions};

use super::{Db, RocksDbMemory, create_dir, inclusive_end, prefix_end, scan, storage_error, write_options};
use crate::state::traits::{KeyValueBytesStore, KeyValueEntry, StateStore};
use crate::state::{StoreError, StoreResult};

/// A [`KeyValueBytesStore`] in a RocksDB database of its own (Kafka's `RocksDBStore`), ordered by
/// key bytes, behaving exactly as [`InMemoryKeyValueStore`](crate::state::InMemoryKeyValueStore)
/// except that its data outlives [`close`](StateStore::close) and [`approximate_num_entries`]
/// is RocksDB's estimate (`rocksdb.estimate-num-keys`: overwrites and deletes not yet compacted
/// away make it drift).
///
/// Writes skip the write-ahead log; [`flush`](StateStore::flush) makes them durable (see the
/// [module docs](super)). After `close` the database is released, so the same directory can be
/// opened again in the same process.
///
/// [`approximate_num_entries`]: KeyValueBytesStore::approximate_num_entries
pub struct RocksDbKeyValueStore {
    name: String,
    dir: PathBuf,
    /// `None` once closed.
    db: Option<Db>,
    write_options: WriteOptions,
}

impl RocksDbKeyValueStore {
    /// Opens (creating it and its parents if missing) the store `name` in the directory `dir`,
    /// with the shared `memory`. Fails with `StoreError::Storage` when RocksDB cannot open the
    /// directory (another open store holds it, the files are unreadable).
    pub fn open(name: impl Into<String>, dir: &Path, memory: &RocksDbMemory) -> StoreResult<Self> {
        let name = name.into();
        create_dir(&name, dir)?;
        let db = Db::open(&memory.options(&name), dir).map_err(|e| storage_error(&name, e))?;
        Ok(RocksDbKeyValueStore {
            name,
            dir: dir.to_path_buf(),
            db: Some(db),
            write_options: write_options(),
        })
    }

    /// The directory of the store's files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn db(&self) -> StoreResult<&Db> {
        self.db.as_ref().ok_or_else(|| StoreError::closed(&self.name))
    }

    fn write(&self, batch: WriteBatch) -> StoreResult<()> {
        self.db()?
            .write_opt(batch, &self.write_options)
            .map_err(|e| storage_error(&self.name, e))
    }

    /// The entries in `[from, to]`, ascending or descending; empty when `from > to`.
    fn entries_in(&self, from: Option<&[u8]>, to: Option<&[u8]>, reverse: bool) -> StoreResult<Vec<KeyValueEntry>> {
        let db = self.db()?;
        if matches!((from, to), (Some(from), Some(to)) if from > to) {
            return Ok(Vec::new());
        }
        let mut entries = Vec::new();
        let (lower, upper) = (from.map(<[u8]>::to_vec), to.map(inclusive_end));
        scan(&self.name, db, None, lower, upper, reverse, |key, value| {
            entries.push((key.to_vec(), value.to_vec()));
            Ok(true)
        })?;
        Ok(entries)
    }
}

impl fmt::Debug for RocksDbKeyValueStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RocksDbKeyValueStore")
            .field("name", &self.name)
            .field("dir", &self.dir)
            .field("open", &self.db.is_some())
            .finish()
    }
}

impl StateStore for RocksDbKeyValueStore {
    fn name(&self) -> &str {
        &self.name
    }

    /// Flushes the memtables to SST files: the writes so far are durable once this returns.
    fn flush(&mut self) -> StoreResult<()> {
        self.db()?.flush().map_err(|e| storage_error(&self.name, e))
    }

    /// Flushes, then releases the database (its files stay).
    fn close(&mut self) -> StoreResult<()> {
        let Some(db) = self.db.take() else {
            return Ok(());
        };
        db.flush().map_err(|e| storage_error(&self.name, e))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl KeyValueBytesStore for RocksDbKeyValueStore {
    fn get(&self, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.db()?.get(key).map_err(|e| storage_error(&self.name, e))
    }

    fn put(&mut self, key: &[u8], value: Option<&[u8]>) -> StoreResult<()> {
        let db = self.db()?;
        match value {
            Some(value) => db.put_opt(key, value, &self.write_options),
            None => db.delete_opt(key, &self.write_options),
        }
        .map_err(|e| storage_error(&self.name, e))
    }

    fn put_if_absent(&mut self, key: &[u8], value: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        if let Some(existing) = self.get(key)? {
            return Ok(Some(existing));
        }
        self.put(key, Some(value))?;
        Ok(None)
    }

    fn delete(&mut self, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let old = self.get(key)?;
        if old.is_some() {
            self.put(key, None)?;
        }
        Ok(old)
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> StoreResult<Vec<KeyValueEntry>> {
        self.entries_in(from, to, false)
    }

    fn reverse_range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> StoreResult<Vec<KeyValueEntry>> {
        self.entries_in(from, to, true)
    }

    fn all(&self) -> StoreResult<Vec<KeyValueEntry>> {
        self.entries_in(None, None, false)
    }

    fn prefix_scan(&self, prefix: &[u8]) -> StoreResult<Vec<KeyValueEntry>> {
        let db = self.db()?;
        let mut entries = Vec::new();
        scan(
            &self.name,
            db,
            None,
            Some(prefix.to_vec()),
            prefix_end(prefix),
            false,
            |key, value| {
                entries.push((key.to_vec(), value.to_vec()));
                Ok(true)
            },
        )?;
        Ok(entries)
    }

    fn approximate_num_entries(&self) -> u64 {
        let Some(db) = &self.db else {
            return 0;
        };
        db.property_int_value("rocksdb.estimate-num-keys")
            .ok()
            .flatten()
            .unwrap_or(0)
    }

    /// Writes the whole batch in one RocksDB `WriteBatch` (one write, no write-ahead log),
    /// bypassing any cache or changelog above the store.
    fn restore_batch(&mut self, batch: &[(Vec<u8>, Option<Vec<u8>>)]) -> StoreResult<()> {
        self.db()?;
        let mut writes = WriteBatch::default();
        for (key, value) in batch {
            match value {
                Some(value) => writes.put(key, value),
                None => writes.delete(key),
            }
        }
        self.write(writes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::contract_tests::key_value_contract;

    fn memory() -> RocksDbMemory {
        RocksDbMemory::new(8 << 20)
    }

    fn open(dir: &Path) -> RocksDbKeyValueStore {
        RocksDbKeyValueStore::open("kv", dir, &memory()).unwrap()
    }

    /// A store in `dir` holding `a`, `b`, `c`, `d`.
    fn abcd(dir: &Path) -> RocksDbKeyValueStore {
        let mut store = open(dir);
        for key in [b"c", b"a", b"d", b"b"] {
            store.put(key, Some(b"v")).unwrap();
        }
        store
    }

    mod contract {
        use super::*;

        /// Opens each store in a directory of its own, under one that lives as long as the factory.
        fn factory() -> impl FnMut(&str) -> RocksDbKeyValueStore {
            let dir = tempfile::tempdir().unwrap();
            let memory = memory();
            let mut opened = 0;
            move |name| {
                opened += 1;
                RocksDbKeyValueStore::open(name, &dir.path().join(opened.to_string()), &memory).unwrap()
            }
        }

        key_value_contract!(factory(), property_cases = 24);
    }

    #[test]
    fn a_closed_store_refuses_even_an_empty_restore_and_a_reopened_one_has_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = abcd(dir.path());
        assert!(format!("{store:?}").contains("open: true"));
        store.close().unwrap();
        assert!(format!("{store:?}").contains("open: false"));
        assert!(store.restore_batch(&[]).is_err());
        let reopened = open(dir.path());
        assert_eq!(reopened.all().unwrap().len(), 4);
        assert_eq!(reopened.dir(), dir.path());
    }

    #[test]
    fn a_second_open_of_an_open_directory_fails_with_a_storage_error() {
        let dir = tempfile::tempdir().unwrap();
        let _store = open(dir.path());
        let error = RocksDbKeyValueStore::open("kv2", dir.path(), &RocksDbMemory::new(1 << 20)).unwrap_err();
        assert!(
            matches!(&error, StoreError::Storage { store, .. } if store == "kv2"),
            "{error}"
        );
    }

    #[test]
    fn approximate_num_entries_estimates_and_is_zero_when_closed() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = abcd(dir.path());
        store.flush().unwrap();
        assert_eq!(store.approximate_num_entries(), 4);
        store.close().unwrap();
        assert_eq!(store.approximate_num_entries(), 0);
    }
}

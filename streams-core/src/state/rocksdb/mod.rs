//! Persistent stores on RocksDB: [`RocksDbKeyValueStore`], [`RocksDbWindowStore`] and
//! [`RocksDbSessionStore`], byte for byte the behaviour of the in-memory stores of
//! [`memory`](super::memory), on disk.
//!
//! # Memory
//! Every store of a process opens with one [`RocksDbMemory`]: one block cache and one write-buffer
//! manager shared by all stores, sized by one number (Kafka Streams' per-store defaults, a 50 MB
//! cache and 3 × 16 MB memtables per store and partition, are what we do not copy).
//!
//! # Durability
//! Writes skip RocksDB's write-ahead log, as in Kafka Streams: the changelog topic is the durable
//! log, and a store is rebuilt from it after a crash. What has been written is in the store's files
//! only once [`StateStore::flush`](super::StateStore::flush) has returned (it flushes the memtables
//! to SST files, atomically over all column families of a store), so a checkpoint of changelog
//! offsets must be written after the flush, never before. Closing a store flushes it too.
//!
//! # Layout
//! - Key-value store: one database, keys and values as given, in the default column family.
//! - Window and session stores: one database per store, one column family per *segment* of time
//!   (`segment-<id>`, holding the windows whose start, or the sessions whose end, falls in
//!   `[id × interval, (id + 1) × interval)`), keys in Kafka's layouts
//!   ([`encode_window_key`](super::encoding::encode_window_key),
//!   [`encode_session_key`](super::encoding::encode_session_key)). A segment whose whole time range
//!   has expired is dropped at once (`drop_cf`). Observed stream time (and, for a window store that
//!   retains duplicates, the sequence-number counter) lives in the default column family, written in
//!   the same `WriteBatch` as the write that changes it, and is read back when the store opens.

mod key_value;
mod options;
mod segments;
mod session;
mod window;

#[cfg(test)]
mod equivalence_tests;

pub use key_value::RocksDbKeyValueStore;
pub use options::{
    ARENA_BLOCK_SIZE_BYTES, DEFAULT_ROCKSDB_MEMORY_BYTES, MAX_WRITE_BUFFER_NUMBER, RocksDbConfigSetter, RocksDbMemory,
    WRITE_BUFFER_SIZE_BYTES,
};
/// RocksDB's options, as a [`RocksDbConfigSetter`] receives them (re-exported so that a setter needs
/// no direct dependency on the `rocksdb` crate).
pub use rocksdb::Options;
pub use session::RocksDbSessionStore;
pub use window::RocksDbWindowStore;

use std::path::Path;

use rocksdb::{ColumnFamily, DBWithThreadMode, ReadOptions, SingleThreaded, WriteOptions};

use super::{StoreError, StoreResult};

/// Every store owns its database and changes its column families through `&mut self`.
type Db = DBWithThreadMode<SingleThreaded>;

/// Kafka Streams' default segment interval for a retention: half of it, and at least one minute.
pub fn default_segment_interval_ms(retention_ms: i64) -> i64 {
    (retention_ms / 2).max(60_000)
}

/// A [`StoreError::Storage`] of the store `store`.
fn storage_error(store: &str, error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Storage {
        store: store.to_string(),
        source: Box::new(error),
    }
}

/// Creates `dir` (and its parents) for the store `store`.
fn create_dir(store: &str, dir: &Path) -> StoreResult<()> {
    std::fs::create_dir_all(dir).map_err(|e| storage_error(store, e))
}

/// The options of every write: no write-ahead log (the changelog is the durable log).
fn write_options() -> WriteOptions {
    let mut options = WriteOptions::default();
    options.disable_wal(true);
    options
}

/// `key ++ [0]`: the smallest key above `key`, so the exclusive upper bound that makes `key` an
/// inclusive one.
fn inclusive_end(key: &[u8]) -> Vec<u8> {
    let mut end = Vec::with_capacity(key.len() + 1);
    end.extend_from_slice(key);
    end.push(0);
    end
}

/// The smallest key above every key that starts with `prefix`, or `None` when there is none
/// (`prefix` is empty or all `0xff`).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|byte| *byte != 0xff)?;
    let mut end = prefix[..=last].to_vec();
    end[last] += 1;
    Some(end)
}

/// Calls `visit` on the entries of `cf` (the default column family when `None`) whose keys are in
/// `[lower, upper)` (a `None` bound is open), ascending, or descending when `reverse`, until
/// `visit` returns `false`.
fn scan(
    store: &str,
    db: &Db,
    cf: Option<&ColumnFamily>,
    lower: Option<Vec<u8>>,
    upper: Option<Vec<u8>>,
    reverse: bool,
    mut visit: impl FnMut(&[u8], &[u8]) -> StoreResult<bool>,
) -> StoreResult<()> {
    let mut options = ReadOptions::default();
    if let Some(lower) = lower {
        options.set_iterate_lower_bound(lower);
    }
    if let Some(upper) = upper {
        options.set_iterate_upper_bound(upper);
    }
    let mut iterator = match cf {
        Some(cf) => db.raw_iterator_cf_opt(cf, options),
        None => db.raw_iterator_opt(options),
    };
    if reverse {
        iterator.seek_to_last();
    } else {
        iterator.seek_to_first();
    }
    while let Some((key, value)) = iterator.item() {
        if !visit(key, value)? {
            return Ok(());
        }
        if reverse {
            iterator.prev();
        } else {
            iterator.next();
        }
    }
    iterator.status().map_err(|e| storage_error(store, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_next_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
        assert_eq!(prefix_end(b""), None);
        assert_eq!(inclusive_end(b"a"), vec![b'a', 0]);
    }

    #[test]
    fn the_default_segment_interval_is_kafkas() {
        assert_eq!(default_segment_interval_ms(10), 60_000);
        assert_eq!(default_segment_interval_ms(86_400_000), 43_200_000);
    }
}

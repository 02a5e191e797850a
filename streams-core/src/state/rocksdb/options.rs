//! [`RocksDbMemory`]: the one block cache and write-buffer manager every RocksDB store of a process
//! shares, and the options each store opens with.

use std::fmt;
use std::sync::Arc;

use rocksdb::{BlockBasedOptions, Cache, DBCompressionType, Options, WriteBufferManager};

/// The default memory budget of all RocksDB stores of a process together: 64 MiB.
pub const DEFAULT_ROCKSDB_MEMORY_BYTES: usize = 64 << 20;

/// The size of one memtable (RocksDB's `write_buffer_size`): 4 MiB, not Kafka Streams' 16 MiB.
pub const WRITE_BUFFER_SIZE_BYTES: usize = 4 << 20;

/// How many memtables a column family may hold (one mutable, the others being flushed).
pub const MAX_WRITE_BUFFER_NUMBER: i32 = 3;

/// The size of the blocks a memtable allocates its memory in. RocksDB's default (an eighth of the
/// memtable, 512 KiB here) would have every memtable that holds anything reserve 512 KiB of the
/// shared budget: 128 stores would fill it with nearly empty memtables and the write-buffer manager
/// would flush on every write.
pub const ARENA_BLOCK_SIZE_BYTES: usize = 64 << 10;

/// The share of the budget memtables may use (the rest is for data, index and filter blocks): a
/// half, so 32 MiB of the default 64 MiB.
const MEMTABLE_SHARE_DIVISOR: usize = 2;

/// An expert hook to change the options of a RocksDB store (Kafka Streams'
/// `rocksdb.config.setter`).
///
/// [`set_config`](Self::set_config) is called last, after the shared cache, the write-buffer
/// manager and the defaults are in place, every time a store opens its database and every time a
/// store creates a column family (a window or session store creates one per segment). Replacing the
/// block cache or the write-buffer manager takes the store out of the shared memory budget.
pub trait RocksDbConfigSetter: Send + Sync {
    /// Changes `options`, the options of the store named `store_name` (of its database and of each
    /// of its column families).
    fn set_config(&self, store_name: &str, options: &mut Options);
}

/// The memory every RocksDB store of the process shares: ONE LRU block cache of `total_bytes`, and
/// ONE write-buffer manager whose memtables are charged to that cache (Kafka Streams'
/// `BoundedMemoryRocksDBConfig`, built in). Memtables, data blocks, index and filter blocks of all
/// stores together therefore stay within `total_bytes`, however many partitions and stores the
/// process opens; memtables may use up to half of it before RocksDB flushes them.
///
/// The write-buffer manager flushes a memtable of the store being *written* when the memtables of
/// all stores together exceed their share (RocksDB cannot flush another database for it), so the
/// stores must also be flushed at every commit, as Kafka Streams does: then memtables hold only
/// what was written since the last commit. Every memtable that holds data reserves at least one
/// block of [`ARENA_BLOCK_SIZE_BYTES`].
///
/// Cloning is cheap (an `Arc`): every clone is the same budget. Create one per process (the
/// default is [`DEFAULT_ROCKSDB_MEMORY_BYTES`]) and open every store with it.
///
/// Every store opens with: block-based tables on the shared cache, index and filter blocks in the
/// cache (with high priority, and pinned for level 0), a bloom filter of 10 bits per key, LZ4
/// compression, memtables of [`WRITE_BUFFER_SIZE_BYTES`] (at most [`MAX_WRITE_BUFFER_NUMBER`] per
/// column family) allocated in blocks of [`ARENA_BLOCK_SIZE_BYTES`], `create_if_missing`, then the
/// [`RocksDbConfigSetter`] if there is one.
///
/// Writes skip RocksDB's write-ahead log, as in Kafka Streams: the changelog topic is the durable
/// log. A write is durable in the store's files only once the store has been flushed
/// ([`StateStore::flush`](crate::state::StateStore::flush) flushes the memtables to SST files),
/// which is why a checkpoint must only be written after a flush.
#[derive(Clone)]
pub struct RocksDbMemory {
    inner: Arc<Shared>,
}

struct Shared {
    total_bytes: usize,
    cache: Cache,
    write_buffer_manager: WriteBufferManager,
    config_setter: Option<Arc<dyn RocksDbConfigSetter>>,
}

impl RocksDbMemory {
    /// A budget of `total_bytes` for all stores opened with it, without a config setter.
    pub fn new(total_bytes: usize) -> Self {
        Self::build(total_bytes, None)
    }

    /// A budget of `total_bytes` whose stores also pass their options through `config_setter`.
    pub fn with_config_setter(total_bytes: usize, config_setter: Arc<dyn RocksDbConfigSetter>) -> Self {
        Self::build(total_bytes, Some(config_setter))
    }

    fn build(total_bytes: usize, config_setter: Option<Arc<dyn RocksDbConfigSetter>>) -> Self {
        let cache = Cache::new_lru_cache(total_bytes);
        let write_buffer_manager = WriteBufferManager::new_write_buffer_manager_with_cache(
            total_bytes / MEMTABLE_SHARE_DIVISOR,
            false,
            cache.clone(),
        );
        RocksDbMemory {
            inner: Arc::new(Shared {
                total_bytes,
                cache,
                write_buffer_manager,
                config_setter,
            }),
        }
    }

    /// The budget: the capacity of the shared block cache, memtables included.
    pub fn total_bytes(&self) -> usize {
        self.inner.total_bytes
    }

    /// How many bytes memtables may use before the write-buffer manager flushes them: half of
    /// [`total_bytes`](Self::total_bytes).
    pub fn memtable_budget_bytes(&self) -> usize {
        self.inner.write_buffer_manager.get_buffer_size()
    }

    /// Bytes charged to the shared cache now: blocks plus the memtables' reservations.
    pub fn cache_usage_bytes(&self) -> usize {
        self.inner.cache.get_usage()
    }

    /// Bytes the memtables of all stores use now.
    pub fn memtable_usage_bytes(&self) -> usize {
        self.inner.write_buffer_manager.get_usage()
    }

    /// The config setter stores call last, if any.
    pub fn config_setter(&self) -> Option<&Arc<dyn RocksDbConfigSetter>> {
        self.inner.config_setter.as_ref()
    }

    /// The options of the store `store_name`: of its database and of each of its column families.
    pub(crate) fn options(&self, store_name: &str) -> Options {
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&self.inner.cache);
        table.set_cache_index_and_filter_blocks(true);
        table.set_cache_index_and_filter_blocks_with_high_priority(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(true);
        table.set_bloom_filter(10.0, false);

        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_block_based_table_factory(&table);
        options.set_write_buffer_manager(&self.inner.write_buffer_manager);
        options.set_compression_type(DBCompressionType::Lz4);
        options.set_write_buffer_size(WRITE_BUFFER_SIZE_BYTES);
        options.set_max_write_buffer_number(MAX_WRITE_BUFFER_NUMBER);
        options.set_arena_block_size(ARENA_BLOCK_SIZE_BYTES);
        // Each store has its own LOG file: keep a few small ones.
        options.set_keep_log_file_num(2);
        options.set_max_log_file_size(1 << 20);
        if let Some(setter) = &self.inner.config_setter {
            setter.set_config(store_name, &mut options);
        }
        options
    }
}

impl Default for RocksDbMemory {
    /// A budget of [`DEFAULT_ROCKSDB_MEMORY_BYTES`].
    fn default() -> Self {
        Self::new(DEFAULT_ROCKSDB_MEMORY_BYTES)
    }
}

impl fmt::Debug for RocksDbMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RocksDbMemory")
            .field("total_bytes", &self.inner.total_bytes)
            .field("memtable_budget_bytes", &self.memtable_budget_bytes())
            .field("cache_usage_bytes", &self.cache_usage_bytes())
            .field("memtable_usage_bytes", &self.memtable_usage_bytes())
            .field("config_setter", &self.inner.config_setter.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl RocksDbConfigSetter for Recorder {
        fn set_config(&self, store_name: &str, options: &mut Options) {
            self.0.lock().unwrap().push(store_name.to_string());
            options.set_max_write_buffer_number(2);
        }
    }

    #[test]
    fn the_budget_is_one_number_and_memtables_get_half_of_it() {
        let memory = RocksDbMemory::default();
        assert_eq!(memory.total_bytes(), DEFAULT_ROCKSDB_MEMORY_BYTES);
        assert_eq!(memory.memtable_budget_bytes(), DEFAULT_ROCKSDB_MEMORY_BYTES / 2);
        assert_eq!(memory.clone().total_bytes(), memory.total_bytes());
        assert!(memory.config_setter().is_none());
        assert!(format!("{memory:?}").contains("total_bytes: 67108864"));
    }

    #[test]
    fn the_memory_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<RocksDbMemory>();
    }

    #[test]
    fn the_config_setter_sees_every_store_name() {
        let recorder = Arc::new(Recorder::default());
        let memory = RocksDbMemory::with_config_setter(1 << 20, recorder.clone());
        let _ = memory.options("a");
        let _ = memory.options("b");
        assert_eq!(*recorder.0.lock().unwrap(), vec!["a".to_string(), "b".to_string()]);
        assert!(memory.config_setter().is_some());
    }
}

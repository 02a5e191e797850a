//! State store operations per second, one thread, as regression guards.
//!
//! - Key-value stores, RocksDB and in memory, each bare and under the write cache
//!   ([`CachingKeyValueStore`] with the default 10 MiB [`CacheBudget`]), over 10,000 keys of 10
//!   bytes with values of 100 bytes:
//!   - `kv_put`: a put of every key (in a scattered order), then a commit: `flush`, and the task's
//!     `take_flushed` for a cached store. With the cache, the 10,000 entries fit in the budget, so
//!     every put is a cache write and the flush writes them all down. Each key is updated once per
//!     commit, so the cache has nothing to coalesce: this measures what it costs, not what it saves.
//!   - `kv_get`: a get of every key, all hits, after a commit (so a cached store holds no dirty
//!     entries and every get is a cache miss that reads the store below, as for a key not written
//!     since the last commit).
//!   - `kv_range`: 100 range scans of 100 consecutive keys each; throughput counts scans.
//! - A RocksDB window store (1-minute windows, 1-hour retention) holding 1,000 keys × 10 windows:
//!   `window/rocksdb/put` puts all 10,000 (key, window) values in time order then flushes, and
//!   `window/rocksdb/fetch_10_windows` runs, for each of the 1,000 keys, a fetch of its 10 windows
//!   by time range; throughput counts fetches.
//! - `key_encoding`: Kafka's window-key and session-key layouts of `state::encoding`, an encode
//!   and a decode per key, over 10,000 keys.
//!
//! Reads run on stores of their own, loaded and committed once, not on the stores the put cases
//! wrote to again and again.
//!
//! The stores are built as the runtime stacks them (`RocksDbKeyValueStore::open` or
//! `InMemoryKeyValueStore::new`, then `CachingKeyValueStore::new`), on the shared RocksDB memory
//! of the default size, in a temporary directory. Two layers are left out: the typed facades
//! (`KeyValueStore<K, V>`, whose constructor is crate-private: the serdes are measured in
//! `serdes`), and the change-logging layer (public, but its cost is the Kafka producer behind its
//! `ChangelogWriter`, measured end to end by `runtime_throughput`).
//!
//! `cargo bench -p streams-benches --bench stores`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main, measurement::WallTime};
use streams_core::StreamsConfig;
use streams_core::state::encoding::{decode_session_key, decode_window_key, encode_session_key, encode_window_key};
use streams_core::state::{
    CacheBudget, CachingKeyValueStore, InMemoryKeyValueStore, KeyValueBytesStore, RocksDbKeyValueStore, RocksDbMemory,
    RocksDbWindowStore, SessionWindow, StateStore, WindowBytesStore,
};
use tempfile::TempDir;

const KEYS: usize = 10_000;
const VALUE_LEN: usize = 100;
/// Keys per range scan, and scans per iteration.
const RANGE_KEYS: usize = 100;
const SCANS: usize = 100;

/// The `i`-th key: fixed width, so byte order is numeric order and a range of keys is a range of
/// `i`.
fn key(i: usize) -> Vec<u8> {
    format!("key-{i:06}").into_bytes()
}

/// A value of [`VALUE_LEN`] bytes that differs per key and per `round`.
fn value(i: usize, round: u8) -> Vec<u8> {
    let mut bytes = vec![b'v'; VALUE_LEN];
    bytes[..8].copy_from_slice(&(i as u64).to_be_bytes());
    bytes[8] = round;
    bytes
}

/// Indices `0..n` in a scattered order (a stride coprime to `n`), so puts and gets do not walk the
/// key space in order.
fn scattered(n: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |i| (i * 7_919) % n)
}

/// One key-value store stack under test, and its temporary directory.
struct KvStack {
    name: &'static str,
    store: Box<dyn KeyValueBytesStore>,
    _dir: TempDir,
}

impl KvStack {
    fn new(name: &'static str, rocksdb: bool, cached: bool, memory: &RocksDbMemory) -> KvStack {
        let dir = tempfile::tempdir().unwrap();
        let bytes: Box<dyn KeyValueBytesStore> = if rocksdb {
            Box::new(RocksDbKeyValueStore::open(name, &dir.path().join(name), memory).unwrap())
        } else {
            Box::new(InMemoryKeyValueStore::new(name))
        };
        let store: Box<dyn KeyValueBytesStore> = if cached {
            let budget = CacheBudget::new(StreamsConfig::DEFAULT_CACHE_MAX_BYTES);
            Box::new(CachingKeyValueStore::new(bytes, budget))
        } else {
            bytes
        };
        let mut stack = KvStack { name, store, _dir: dir };
        stack.put_all(&keys(), 0);
        stack
    }

    /// A put of every key, then a commit.
    fn put_all(&mut self, keys: &[Vec<u8>], round: u8) {
        for i in scattered(keys.len()) {
            self.store.put(&keys[i], Some(&value(i, round))).unwrap();
        }
        self.commit();
    }

    /// What a task does at a commit: flush, then (for a cache) take the keys it wrote down.
    fn commit(&mut self) {
        self.store.flush().unwrap();
        if let Some(cache) = self.store.as_any_mut().downcast_mut::<CachingKeyValueStore>() {
            black_box(cache.take_flushed());
        }
    }
}

fn keys() -> Vec<Vec<u8>> {
    (0..KEYS).map(key).collect()
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
}

fn key_value(c: &mut Criterion) {
    let memory = RocksDbMemory::default();
    // Loaded with every key and committed once.
    let stacks = || {
        vec![
            KvStack::new("rocksdb", true, false, &memory),
            KvStack::new("rocksdb_cached", true, true, &memory),
            KvStack::new("memory", false, false, &memory),
            KvStack::new("memory_cached", false, true, &memory),
        ]
    };
    let keys = keys();

    let mut group = c.benchmark_group("kv_put");
    configure(&mut group);
    group.throughput(Throughput::Elements(KEYS as u64));
    for mut stack in stacks() {
        let mut round = 0u8;
        group.bench_function(stack.name, |b| {
            b.iter(|| {
                round = round.wrapping_add(1);
                stack.put_all(&keys, round);
            })
        });
    }
    group.finish();

    // Reads on stores of their own, each holding one commit's SST file at most: what the puts
    // left behind (more files, compactions under way) would vary with how many puts ran.
    let stacks = stacks();
    let mut group = c.benchmark_group("kv_get");
    configure(&mut group);
    group.throughput(Throughput::Elements(KEYS as u64));
    for stack in &stacks {
        group.bench_function(stack.name, |b| {
            b.iter(|| {
                for i in scattered(KEYS) {
                    black_box(stack.store.get(&keys[i]).unwrap().expect("a hit"));
                }
            })
        });
    }
    group.finish();

    // Scans start at scattered keys, each a full range of RANGE_KEYS keys.
    let bounds: Vec<(Vec<u8>, Vec<u8>)> = scattered(KEYS - RANGE_KEYS)
        .step_by((KEYS - RANGE_KEYS) / SCANS)
        .take(SCANS)
        .map(|from| (key(from), key(from + RANGE_KEYS - 1)))
        .collect();
    let mut group = c.benchmark_group("kv_range");
    configure(&mut group);
    group.throughput(Throughput::Elements(SCANS as u64));
    for stack in &stacks {
        group.bench_function(format!("{}/{RANGE_KEYS}_keys", stack.name), |b| {
            b.iter(|| {
                for (from, to) in &bounds {
                    let entries = stack.store.range(Some(from), Some(to)).unwrap();
                    assert_eq!(entries.len(), RANGE_KEYS);
                    black_box(entries);
                }
            })
        });
    }
    group.finish();
}

const WINDOW_KEYS: usize = 1_000;
const WINDOWS: usize = 10;
const WINDOW_MS: i64 = 60_000;
/// The first window's start: a recent time, on a window boundary.
const START_MS: i64 = 1_795_000_000_000 / WINDOW_MS * WINDOW_MS;

/// A put of every key in every window, in time order, then a flush.
fn put_windows(store: &mut RocksDbWindowStore, keys: &[Vec<u8>], round: u8) {
    for w in 0..WINDOWS {
        let start = START_MS + w as i64 * WINDOW_MS;
        for i in scattered(keys.len()) {
            store.put(&keys[i], Some(&value(i, round)), start).unwrap();
        }
    }
    store.flush().unwrap();
}

/// A RocksDB window store in a temporary directory, loaded with every key in every window.
fn loaded_window_store(memory: &RocksDbMemory, keys: &[Vec<u8>]) -> (TempDir, RocksDbWindowStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("windows");
    let mut store = RocksDbWindowStore::open("windows", &path, memory, 3_600_000, WINDOW_MS, false).unwrap();
    put_windows(&mut store, keys, 0);
    (dir, store)
}

fn window(c: &mut Criterion) {
    let memory = RocksDbMemory::default();
    let keys: Vec<Vec<u8>> = (0..WINDOW_KEYS).map(key).collect();

    let mut group = c.benchmark_group("window");
    configure(&mut group);
    group.throughput(Throughput::Elements((WINDOW_KEYS * WINDOWS) as u64));
    let (_dir, mut store) = loaded_window_store(&memory, &keys);
    let mut round = 0u8;
    group.bench_function("rocksdb/put", |b| {
        b.iter(|| {
            round = round.wrapping_add(1);
            put_windows(&mut store, &keys, round);
        })
    });
    drop(store);

    // As for key-value reads, a store of its own.
    let (_dir, store) = loaded_window_store(&memory, &keys);
    let last = START_MS + (WINDOWS as i64 - 1) * WINDOW_MS;
    group.throughput(Throughput::Elements(WINDOW_KEYS as u64));
    group.bench_function(format!("rocksdb/fetch_{WINDOWS}_windows"), |b| {
        b.iter(|| {
            for i in scattered(WINDOW_KEYS) {
                let windows = store.fetch_range(&keys[i], START_MS, last).unwrap();
                assert_eq!(windows.len(), WINDOWS);
                black_box(windows);
            }
        })
    });
    group.finish();
}

fn key_encoding(c: &mut Criterion) {
    let keys = keys();
    let mut group = c.benchmark_group("key_encoding");
    configure(&mut group);
    group.throughput(Throughput::Elements(KEYS as u64));
    group.bench_function("window_key_round_trip", |b| {
        b.iter(|| {
            for (i, key) in keys.iter().enumerate() {
                let start = START_MS + i as i64;
                let encoded = encode_window_key(black_box(key), start, i as u32);
                let decoded = decode_window_key(black_box(&encoded)).unwrap();
                assert_eq!(decoded.window_start, start);
                black_box(decoded.key);
            }
        })
    });
    group.bench_function("session_key_round_trip", |b| {
        b.iter(|| {
            for (i, key) in keys.iter().enumerate() {
                let session = SessionWindow::new(START_MS, START_MS + i as i64).unwrap();
                let encoded = encode_session_key(black_box(key), session);
                let decoded = decode_session_key(black_box(&encoded)).unwrap();
                assert_eq!(decoded.window, session);
                black_box(decoded.key);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, key_value, window, key_encoding);
criterion_main!(benches);

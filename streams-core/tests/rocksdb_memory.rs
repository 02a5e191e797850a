//! The memory of many RocksDB stores stays within ONE shared budget.
//!
//! 64 partitions' worth of stores (64 key-value and 64 window stores, each in its own directory,
//! all opened with one `RocksDbMemory` of 64 MiB) take 10,000 records of 100-byte values each
//! (122 MiB of values, twice the budget, 160 MiB with keys), are flushed and read back (enough
//! reads to fill the block cache), and the growth of the
//! process's resident memory (`VmRSS`) must stay under the budget plus a fixed overhead. Kafka
//! Streams' per-store defaults (a 50 MB cache and 3 × 16 MB memtables per store) would allow
//! 12 GB here.
//!
//! This file holds a single test on purpose: resident memory is per process, and other tests
//! running in parallel threads would blur it. `cargo test --test rocksdb_memory -- --nocapture`
//! prints the figures.

use std::time::Instant;

use streams_core::state::{
    KeyValueBytesStore, RocksDbKeyValueStore, RocksDbMemory, RocksDbWindowStore, StateStore, WindowBytesStore,
};

const PARTITIONS: usize = 64;
const RECORDS_PER_STORE: usize = 10_000;
const VALUE_BYTES: usize = 100;
const BUDGET_BYTES: usize = 64 << 20;
/// Writes go round-robin over the stores in chunks of this many records, as a task per partition
/// would write them, so that every store's memtables are in use at once.
const CHUNK: usize = 500;
/// What resident memory may grow by beyond the budget: RocksDB's fixed cost per open database
/// (about 0.24 MiB each, 31 MiB for the 128 databases, measured before any write), plus the
/// allocator's slack. Measured (x86_64 Linux, glibc, debug build): a growth of 111 MiB in all, so
/// 47 MiB beyond the budget; the bound leaves 17 MiB of margin.
const OVERHEAD_BYTES: usize = 64 << 20;

fn resident_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status is readable");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .expect("VmRSS is in /proc/self/status");
    let kib: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS is a number of kB");
    kib * 1024
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// A 100-byte value that does not compress (xorshift bytes), different for every record.
fn value(seed: u64) -> [u8; VALUE_BYTES] {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut bytes = [0u8; VALUE_BYTES];
    for chunk in bytes.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
    bytes
}

fn key(record: usize) -> Vec<u8> {
    format!("key-{record:08}").into_bytes()
}

#[test]
fn sixty_four_partitions_of_stores_stay_within_one_memory_budget() {
    let started = Instant::now();
    let root = tempfile::tempdir().unwrap();
    let memory = RocksDbMemory::new(BUDGET_BYTES);
    let before = resident_bytes();

    let mut key_values = Vec::with_capacity(PARTITIONS);
    let mut windows = Vec::with_capacity(PARTITIONS);
    for partition in 0..PARTITIONS {
        let dir = root.path().join(format!("0_{partition}"));
        key_values.push(RocksDbKeyValueStore::open("counts", &dir.join("counts"), &memory).unwrap());
        // One hour of retention: nothing expires during the test.
        let window = RocksDbWindowStore::open("windows", &dir.join("windows"), &memory, 3_600_000, 60_000, false);
        windows.push(window.unwrap());
    }
    let opened = resident_bytes();

    for chunk in 0..RECORDS_PER_STORE / CHUNK {
        for (partition, (kv, window)) in key_values.iter_mut().zip(windows.iter_mut()).enumerate() {
            for record in chunk * CHUNK..(chunk + 1) * CHUNK {
                let seed = (partition * RECORDS_PER_STORE + record) as u64;
                kv.put(&key(record), Some(&value(seed))).unwrap();
                // 100 keys, each with windows every 10 ms.
                let start = (record / 100) as i64 * 10;
                window.put(&key(record % 100), Some(&value(!seed)), start).unwrap();
            }
        }
    }
    let written = resident_bytes();
    let write_time = started.elapsed();

    for store in key_values.iter_mut() {
        store.flush().unwrap();
    }
    for store in windows.iter_mut() {
        store.flush().unwrap();
    }
    for (partition, (kv, window)) in key_values.iter().zip(windows.iter()).enumerate() {
        for record in (0..RECORDS_PER_STORE).step_by(11) {
            let seed = (partition * RECORDS_PER_STORE + record) as u64;
            assert_eq!(kv.get(&key(record)).unwrap(), Some(value(seed).to_vec()));
        }
        let last = RECORDS_PER_STORE - 1;
        let start = (last / 100) as i64 * 10;
        let seed = (partition * RECORDS_PER_STORE + last) as u64;
        assert_eq!(
            window.fetch(&key(last % 100), start).unwrap(),
            Some(value(!seed).to_vec())
        );
        assert_eq!(
            window.fetch_range(&key(7), 0, i64::MAX).unwrap().len(),
            RECORDS_PER_STORE / 100
        );
        assert_eq!(kv.range(Some(&key(100)), Some(&key(199))).unwrap().len(), 100);
    }
    let after = resident_bytes();

    let growth = after.saturating_sub(before);
    let bound = BUDGET_BYTES + OVERHEAD_BYTES;
    println!(
        "{} stores, {} records of {} bytes each ({:.0} MiB of values) in {:.1?} (writes {:.1?})",
        2 * PARTITIONS,
        RECORDS_PER_STORE,
        VALUE_BYTES,
        mib(2 * PARTITIONS * RECORDS_PER_STORE * VALUE_BYTES),
        started.elapsed(),
        write_time,
    );
    println!(
        "VmRSS: before {:.1} MiB, stores opened {:.1} MiB, written {:.1} MiB, flushed and read {:.1} MiB",
        mib(before),
        mib(opened),
        mib(written),
        mib(after)
    );
    println!(
        "growth {:.1} MiB, bound {:.1} MiB (budget {:.0} MiB + overhead {:.0} MiB); shared cache holds {:.1} MiB, \
         memtables {:.1} MiB",
        mib(growth),
        mib(bound),
        mib(BUDGET_BYTES),
        mib(OVERHEAD_BYTES),
        mib(memory.cache_usage_bytes()),
        mib(memory.memtable_usage_bytes())
    );
    // The reads filled the shared cache (the budget was really used), and it held to its capacity.
    assert!(memory.cache_usage_bytes() >= BUDGET_BYTES / 2);
    assert!(memory.cache_usage_bytes() <= BUDGET_BYTES + (4 << 20));
    assert!(
        growth < bound,
        "resident memory grew by {:.1} MiB, more than the budget plus overhead ({:.1} MiB)",
        mib(growth),
        mib(bound)
    );
    for store in key_values.iter_mut() {
        store.close().unwrap();
    }
    for store in windows.iter_mut() {
        store.close().unwrap();
    }
}

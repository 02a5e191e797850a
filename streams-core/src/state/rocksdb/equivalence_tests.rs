//! The strongest tests of the RocksDB stores: the same random operations against an in-memory
//! store and a RocksDB store give the same results, every time. Operations include restoring
//! changelog batches, flushing, and closing and reopening the RocksDB store (which must keep its
//! data and observed stream time; the in-memory store simply carries on).
//!
//! The operations and the runner are those of the stores' contracts
//! ([`contract_tests`](crate::state::contract_tests)), with the in-memory store as the reference.

use proptest::prelude::*;
use proptest::test_runner::TestCaseResult;
use tempfile::TempDir;

use super::{RocksDbKeyValueStore, RocksDbMemory, RocksDbSessionStore, RocksDbWindowStore};
use crate::state::contract_tests::key_value::{self, KeyValue};
use crate::state::contract_tests::session::{self, Session};
use crate::state::contract_tests::window::{self, Window};
use crate::state::contract_tests::{Differential, steps};
use crate::state::traits::{KeyValueBytesStore, SessionBytesStore, WindowBytesStore};
use crate::state::{InMemoryKeyValueStore, InMemorySessionStore, InMemoryWindowStore};

fn config() -> ProptestConfig {
    // Every case opens RocksDB databases (built without optimisation in debug builds): 48 cases
    // of up to 60 operations keep each test to a few seconds.
    ProptestConfig::with_cases(48)
}

fn memory() -> RocksDbMemory {
    RocksDbMemory::new(4 << 20)
}

/// Fails when a segment of `interval` ms outlives its time range: segment `id` holds
/// `[id × interval, (id + 1) × interval)`, and times below `observed - retention + 1` have expired.
fn no_segment_outlives_its_range(
    segment_ids: Vec<i64>,
    observed: i64,
    retention: i64,
    interval: i64,
) -> TestCaseResult {
    let min_live = (observed - retention + 1).max(0);
    prop_assert!(
        segment_ids.iter().all(|id| (id + 1) * interval > min_live),
        "segments {segment_ids:?} of {interval} ms at stream time {observed}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_rocksdb_key_value_store_behaves_like_the_in_memory_one(steps in steps(key_value::op(), true)) {
        let dir = TempDir::new().unwrap();
        let open = || -> Box<dyn KeyValueBytesStore> {
            Box::new(RocksDbKeyValueStore::open("kv", dir.path(), &memory()).unwrap())
        };
        let reference = Box::new(InMemoryKeyValueStore::new("kv"));
        Differential::<KeyValue>::reopening(reference, open).run(steps)?;
    }

    #[test]
    fn the_rocksdb_window_store_behaves_like_the_in_memory_one(
        duplicates: bool,
        retention in 0..60i64,
        interval in 1..30i64,
        steps in steps(window::op(), true),
    ) {
        let dir = TempDir::new().unwrap();
        let open = || -> Box<dyn WindowBytesStore> {
            let store = RocksDbWindowStore::open_with_segment_interval(
                "w", dir.path(), &memory(), retention, 0, duplicates, interval,
            );
            Box::new(store.unwrap())
        };
        let reference = Box::new(InMemoryWindowStore::new("w", retention, 0, duplicates).unwrap());
        let mut differential = Differential::<Window>::reopening(reference, open);
        differential.run(steps)?;
        let rocks = differential.subject.as_any().downcast_ref::<RocksDbWindowStore>().unwrap();
        no_segment_outlives_its_range(rocks.segment_ids(), rocks.observed_stream_time(), retention, interval)?;
    }

    #[test]
    fn the_rocksdb_session_store_behaves_like_the_in_memory_one(
        retention in 0..60i64,
        interval in 1..30i64,
        steps in steps(session::op(), true),
    ) {
        let dir = TempDir::new().unwrap();
        let open = || -> Box<dyn SessionBytesStore> {
            let store = RocksDbSessionStore::open_with_segment_interval("s", dir.path(), &memory(), retention, interval);
            Box::new(store.unwrap())
        };
        let reference = Box::new(InMemorySessionStore::new("s", retention).unwrap());
        let mut differential = Differential::<Session>::reopening(reference, open);
        differential.run(steps)?;
        let rocks = differential.subject.as_any().downcast_ref::<RocksDbSessionStore>().unwrap();
        no_segment_outlives_its_range(rocks.segment_ids(), rocks.observed_stream_time(), retention, interval)?;
    }
}

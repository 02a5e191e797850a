//! The window store contract, run on RocksDB with Kafka's segments and with small ones, and what
//! only a RocksDB window store does: segments, reopening, restoring in one write.

use super::*;
use crate::state::StoreResult;
use crate::state::contract_tests::window_contract;
use crate::state::encoding::encode_window_key;
use crate::state::rocksdb::{RocksDbMemory, default_segment_interval_ms};
use tempfile::TempDir;

fn memory() -> RocksDbMemory {
    RocksDbMemory::new(8 << 20)
}

/// Opens each store in a directory of its own, with segments of `interval` ms (Kafka's default
/// when `None`), under one directory that lives as long as the factory.
fn factory(interval: Option<i64>) -> impl FnMut(&str, i64, i64, bool) -> StoreResult<RocksDbWindowStore> {
    let dir = tempfile::tempdir().unwrap();
    let memory = memory();
    let mut opened = 0;
    move |name, retention, size, duplicates| {
        opened += 1;
        let dir = dir.path().join(opened.to_string());
        let interval = interval.unwrap_or_else(|| default_segment_interval_ms(retention));
        RocksDbWindowStore::open_with_segment_interval(name, &dir, &memory, retention, size, duplicates, interval)
    }
}

/// The contract with Kafka's segments, of a minute at least: most cases fit in one segment.
mod contract {
    use super::*;

    window_contract!(factory(None), property_cases = 24);
}

/// The contract with segments of 5 ms: most cases cross segments, and drop some.
mod contract_in_small_segments {
    use super::*;

    window_contract!(factory(Some(5)), property_cases = 24);
}

/// A store of windows of 10 ms with one-minute segments, and the directory it lives in.
fn store(retention_ms: i64) -> (TempDir, RocksDbWindowStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = RocksDbWindowStore::open("windows", dir.path(), &memory(), retention_ms, 10, false).unwrap();
    (dir, store)
}

fn duplicates_store(dir: &Path) -> RocksDbWindowStore {
    RocksDbWindowStore::open("join", dir, &memory(), 100, 10, true).unwrap()
}

fn entry(key: &[u8], start: i64, value: &[u8]) -> WindowEntry {
    (key.to_vec(), start, value.to_vec())
}

#[test]
fn the_segment_interval_is_kafkas_by_default_positive_and_fixed_at_creation() {
    let (dir, s) = store(100);
    assert_eq!((s.segment_interval_ms(), s.retains_duplicates()), (60_000, false));
    drop(s);
    assert!(RocksDbWindowStore::open_with_segment_interval("w", dir.path(), &memory(), 10, 0, false, 0).is_err());
    // The store in `dir` was created with the default interval: it cannot be reopened with another.
    let error =
        RocksDbWindowStore::open_with_segment_interval("w", dir.path(), &memory(), 10, 0, false, 15).unwrap_err();
    assert!(matches!(&error, StoreError::InvalidArgument { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("created with segments of 60000 ms, not 15 ms"),
        "{error}"
    );
}

#[test]
fn windows_are_stored_in_one_segment_per_interval_of_starts() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = RocksDbWindowStore::open_with_segment_interval("w", dir.path(), &memory(), 100, 10, false, 15).unwrap();
    for start in [40, 10, 30, 20] {
        s.put(b"k", Some(b"v"), start).unwrap();
    }
    assert_eq!(s.segment_ids(), vec![0, 1, 2]);
    assert_eq!(s.fetch_range(b"k", 0, 40).unwrap().len(), 4);
}

#[test]
fn a_segment_lives_until_its_whole_time_range_has_expired() {
    let (_dir, mut s) = store(10);
    s.put(b"k", Some(b"old"), 91).unwrap();
    s.put(b"k", Some(b"new"), 101).unwrap();
    // Stream time 101: 91 has expired, but segment 0 ([0, 60_000)) lives on.
    assert_eq!(s.segment_ids(), vec![0]);
    assert_eq!(s.all().unwrap(), vec![entry(b"k", 101, b"new")]);
    s.put(b"k", Some(b"v"), 1_000_000).unwrap();
    assert_eq!(s.segment_ids(), vec![16]);
}

#[test]
fn an_expired_segment_is_dropped_with_its_column_family() {
    let dir = tempfile::tempdir().unwrap();
    let open =
        || RocksDbWindowStore::open_with_segment_interval("w", dir.path(), &memory(), 100, 10, false, 50).unwrap();
    let mut s = open();
    s.put(b"k", Some(b"0"), 0).unwrap();
    s.put(b"k", Some(b"1"), 60).unwrap();
    s.put(b"k", Some(b"2"), 120).unwrap();
    assert_eq!(s.segment_ids(), vec![0, 1, 2]);
    // Stream time 149: starts <= 49 have expired, so all of segment 0 ([0, 50)).
    s.put(b"k", Some(b"3"), 149).unwrap();
    assert_eq!(s.segment_ids(), vec![1, 2]);
    assert_eq!(s.fetch(b"k", 0).unwrap(), None);
    assert_eq!(s.fetch_range(b"k", 0, 200).unwrap().len(), 3);
    s.close().unwrap();
    let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir.path()).unwrap();
    assert!(!families.contains(&"segment-0".to_string()), "{families:?}");
    assert!(families.contains(&"segment-1".to_string()), "{families:?}");
    // Stream time 160 (recovered on open): 60 has expired, but segment 1 ([50, 100)) lives on.
    let mut s = open();
    s.put(b"k", None, 160).unwrap();
    // A tombstone creates no segment.
    assert_eq!(s.segment_ids(), vec![1, 2]);
    assert_eq!(
        s.fetch_range(b"k", 0, 200).unwrap(),
        vec![(120, b"2".to_vec()), (149, b"3".to_vec())]
    );
}

#[test]
fn duplicates_keep_their_insertion_order_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = duplicates_store(dir.path());
    assert!(s.retains_duplicates());
    for value in [&b"3"[..], b"1"] {
        s.put(b"k", Some(value), 10).unwrap();
    }
    s.close().unwrap();
    let mut s = duplicates_store(dir.path());
    s.put(b"k", Some(b"2"), 10).unwrap();
    let expected = vec![(10, b"3".to_vec()), (10, b"1".to_vec()), (10, b"2".to_vec())];
    assert_eq!(s.fetch_range(b"k", 0, 10).unwrap(), expected);
    assert_eq!(s.fetch(b"k", 10).unwrap(), Some(b"2".to_vec()));
}

#[test]
fn reopening_keeps_data_and_observed_stream_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = RocksDbWindowStore::open("w", dir.path(), &memory(), 10, 0, false).unwrap();
    s.put(b"k", Some(b"v"), 95).unwrap();
    // A tombstone of an absent window advances stream time without writing an entry.
    s.put(b"x", None, 100).unwrap();
    s.flush().unwrap();
    s.close().unwrap();
    let mut s = RocksDbWindowStore::open("w", dir.path(), &memory(), 10, 0, false).unwrap();
    assert_eq!(s.observed_stream_time(), 100);
    assert_eq!(s.all().unwrap(), vec![entry(b"k", 95, b"v")]);
    s.put(b"k", Some(b"late"), 90).unwrap();
    assert_eq!(s.expired_puts(), 1);
    assert_eq!(s.dir(), dir.path());
}

#[test]
fn a_closed_store_refuses_even_an_empty_restore() {
    let (_dir, mut s) = store(100);
    s.close().unwrap();
    assert!(s.restore_batch(&[]).is_err());
    assert!(format!("{s:?}").contains("open: false"));
}

#[test]
fn restore_batch_writes_segments_and_stream_time_in_one_write() {
    let dir = tempfile::tempdir().unwrap();
    let open = || RocksDbWindowStore::open_with_segment_interval("w", dir.path(), &memory(), 10, 0, false, 5).unwrap();
    let mut s = open();
    s.put(b"k", Some(b"before"), 3).unwrap();
    let batch = vec![
        (encode_window_key(b"k", 5, 7), Some(b"v".to_vec())),
        (encode_window_key(b"k", 14, 0), Some(b"b".to_vec())),
        (encode_window_key(b"k", 4, 0), Some(b"expired".to_vec())),
    ];
    s.restore_batch(&batch).unwrap();
    let expected = vec![entry(b"k", 5, b"v"), entry(b"k", 14, b"b")];
    assert_eq!((s.expired_puts(), s.observed_stream_time()), (1, 14));
    // Starts <= 4 have expired: segment 0 ([0, 5)) is gone.
    assert_eq!(s.segment_ids(), vec![1, 2]);
    // A batch with a corrupt record writes none of its records.
    let valid = (encode_window_key(b"k", 20, 0), Some(b"c".to_vec()));
    assert!(s.restore_batch(&[valid, (b"short".to_vec(), None)]).is_err());
    assert_eq!((s.all().unwrap(), s.observed_stream_time()), (expected.clone(), 14));
    s.close().unwrap();
    let s = open();
    assert_eq!(s.all().unwrap(), expected);
    assert_eq!(s.observed_stream_time(), 14);
}

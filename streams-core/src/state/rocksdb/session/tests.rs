//! The session store contract, run on RocksDB with Kafka's segments and with small ones, and what
//! only a RocksDB session store does: segments, reopening, restoring in one write.

use super::*;
use crate::state::StoreResult;
use crate::state::contract_tests::session_contract;
use crate::state::encoding::encode_session_key;
use crate::state::rocksdb::{RocksDbMemory, default_segment_interval_ms};
use tempfile::TempDir;

fn w(start: i64, end: i64) -> SessionWindow {
    SessionWindow::new(start, end).unwrap()
}

fn memory() -> RocksDbMemory {
    RocksDbMemory::new(8 << 20)
}

/// Opens each store in a directory of its own, with segments of `interval` ms (Kafka's default
/// when `None`), under one directory that lives as long as the factory.
fn factory(interval: Option<i64>) -> impl FnMut(&str, i64) -> StoreResult<RocksDbSessionStore> {
    let dir = tempfile::tempdir().unwrap();
    let memory = memory();
    let mut opened = 0;
    move |name, retention| {
        opened += 1;
        let dir = dir.path().join(opened.to_string());
        let interval = interval.unwrap_or_else(|| default_segment_interval_ms(retention));
        RocksDbSessionStore::open_with_segment_interval(name, &dir, &memory, retention, interval)
    }
}

/// The contract with Kafka's segments, of a minute at least: most cases fit in one segment.
mod contract {
    use super::*;

    session_contract!(factory(None), property_cases = 24);
}

/// The contract with segments of 5 ms: most cases cross segments, and drop some.
mod contract_in_small_segments {
    use super::*;

    session_contract!(factory(Some(5)), property_cases = 24);
}

fn store(retention_ms: i64) -> (TempDir, RocksDbSessionStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = RocksDbSessionStore::open("sessions", dir.path(), &memory(), retention_ms).unwrap();
    (dir, store)
}

#[test]
fn the_segment_interval_is_kafkas_by_default_positive_and_fixed_at_creation() {
    let (dir, s) = store(1);
    assert_eq!(s.segment_interval_ms(), 60_000);
    drop(s);
    assert!(RocksDbSessionStore::open_with_segment_interval("s", dir.path(), &memory(), 1, 0).is_err());
    let error = RocksDbSessionStore::open_with_segment_interval("s", dir.path(), &memory(), 1, 7).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("created with segments of 60000 ms, not 7 ms"),
        "{error}"
    );
}

#[test]
fn sessions_are_stored_in_one_segment_per_interval_of_ends() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = RocksDbSessionStore::open_with_segment_interval("s", dir.path(), &memory(), 1_000, 12).unwrap();
    for (start, end) in [(0, 50), (12, 40), (20, 25), (15, 15), (0, 9)] {
        s.put(b"k", w(start, end), Some(b"v")).unwrap();
    }
    assert_eq!(s.segment_ids(), vec![0, 1, 2, 3, 4]);
    assert_eq!(s.find_sessions(b"k", 10, 30).unwrap().len(), 4);
}

#[test]
fn an_expired_segment_is_dropped_with_its_column_family_and_time_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let open = || RocksDbSessionStore::open_with_segment_interval("s", dir.path(), &memory(), 100, 50).unwrap();
    let mut s = open();
    s.put(b"k", w(0, 10), Some(b"0")).unwrap();
    s.put(b"k", w(40, 60), Some(b"1")).unwrap();
    assert_eq!(s.segment_ids(), vec![0, 1]);
    // Stream time 150: ends <= 50 have expired, so all of segment 0 ([0, 50)).
    s.put(b"j", w(150, 150), None).unwrap();
    assert_eq!(s.segment_ids(), vec![1]);
    // `remove` never advances stream time.
    s.remove(b"k", w(500, 500)).unwrap();
    assert_eq!(s.observed_stream_time(), 150);
    s.close().unwrap();
    let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir.path()).unwrap();
    assert!(!families.contains(&"segment-0".to_string()), "{families:?}");
    let mut s = open();
    assert_eq!(s.observed_stream_time(), 150);
    assert_eq!(s.fetch_key(b"k").unwrap(), vec![(w(40, 60), b"1".to_vec())]);
    s.put(b"k", w(20, 50), Some(b"late")).unwrap();
    assert_eq!(s.expired_puts(), 1);
    assert_eq!(s.dir(), dir.path());
}

#[test]
fn a_closed_store_refuses_even_an_empty_restore() {
    let (_dir, mut s) = store(10);
    s.close().unwrap();
    assert!(s.restore_batch(&[]).is_err());
    assert!(format!("{s:?}").contains("open: false"));
}

#[test]
fn restore_batch_advances_stream_time_in_one_write() {
    let (_dir, mut s) = store(10);
    let batch = vec![
        (encode_session_key(b"k", w(4, 5)), Some(b"a".to_vec())),
        (encode_session_key(b"k", w(10, 14)), Some(b"b".to_vec())),
        (encode_session_key(b"k", w(1, 2)), Some(b"expired".to_vec())),
    ];
    s.restore_batch(&batch).unwrap();
    assert_eq!((s.expired_puts(), s.observed_stream_time()), (1, 14));
    // A batch with a corrupt record writes none of its records.
    let valid = (encode_session_key(b"k", w(20, 30)), Some(b"c".to_vec()));
    assert!(s.restore_batch(&[valid, (b"short".to_vec(), None)]).is_err());
    assert_eq!((s.all().unwrap().len(), s.observed_stream_time()), (2, 14));
}

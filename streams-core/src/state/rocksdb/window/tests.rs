use super::*;
use crate::state::encoding::encode_window_key;
use tempfile::TempDir;

fn memory() -> RocksDbMemory {
    RocksDbMemory::new(8 << 20)
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
fn put_overwrites_and_fetch_reads_one_window() {
    let (_dir, mut s) = store(100);
    s.put(b"k", Some(b"v1"), 10).unwrap();
    s.put(b"k", Some(b"v2"), 10).unwrap();
    s.put(b"k", Some(b"other window"), 20).unwrap();
    assert_eq!(s.fetch(b"k", 10).unwrap(), Some(b"v2".to_vec()));
    assert_eq!(s.fetch(b"k", 15).unwrap(), None);
    assert_eq!(s.fetch(b"absent", 10).unwrap(), None);
    assert_eq!(
        (
            s.retention_ms(),
            s.window_size_ms(),
            s.retains_duplicates(),
            s.segment_interval_ms()
        ),
        (100, 10, false, 60_000)
    );
}

#[test]
fn a_tombstone_put_deletes_the_window() {
    let (_dir, mut s) = store(100);
    s.put(b"k", Some(b"v"), 10).unwrap();
    s.put(b"k", Some(b"v"), 20).unwrap();
    s.put(b"k", None, 10).unwrap();
    s.put(b"absent", None, 10).unwrap();
    assert_eq!(s.fetch(b"k", 10).unwrap(), None);
    assert_eq!(s.all().unwrap(), vec![entry(b"k", 20, b"v")]);
}

#[test]
fn fetch_range_is_inclusive_ascending_and_empty_when_from_is_above_to() {
    let dir = tempfile::tempdir().unwrap();
    // Segments of 15 ms, so that a range crosses segments.
    let mut s = RocksDbWindowStore::open_with_segment_interval("w", dir.path(), &memory(), 100, 10, false, 15).unwrap();
    for start in [40, 10, 30, 20] {
        s.put(b"k", Some(start.to_string().as_bytes()), start).unwrap();
    }
    s.put(b"kk", Some(b"other key"), 20).unwrap();
    s.put(&[b'k', 0], Some(b"longer key"), 20).unwrap();
    let starts = |from, to| -> Vec<i64> {
        s.fetch_range(b"k", from, to)
            .unwrap()
            .into_iter()
            .map(|(t, _)| t)
            .collect()
    };
    assert_eq!(starts(20, 40), vec![20, 30, 40]);
    assert_eq!(starts(11, 39), vec![20, 30]);
    assert_eq!(starts(i64::MIN, i64::MAX), vec![10, 20, 30, 40]);
    assert_eq!(starts(30, 20), Vec::<i64>::new());
    assert_eq!(s.fetch_range(b"k", 10, 10).unwrap(), vec![(10, b"10".to_vec())]);
    assert_eq!(s.segment_ids(), vec![0, 1, 2]);
}

#[test]
fn fetch_keys_orders_by_start_then_key_and_bounds_are_inclusive() {
    let (_dir, mut s) = store(100);
    for (key, start) in [
        (&b"b"[..], 20),
        (b"a", 20),
        (b"c", 10),
        (b"b", 10),
        (b"a", 30),
        (b"d", 20),
    ] {
        s.put(key, Some(key), start).unwrap();
    }
    assert_eq!(
        s.fetch_keys(Some(b"a"), Some(b"c"), 10, 20).unwrap(),
        vec![
            entry(b"b", 10, b"b"),
            entry(b"c", 10, b"c"),
            entry(b"a", 20, b"a"),
            entry(b"b", 20, b"b")
        ]
    );
    assert_eq!(
        s.fetch_keys(None, Some(b"a"), 0, 100).unwrap(),
        vec![entry(b"a", 20, b"a"), entry(b"a", 30, b"a")]
    );
    assert_eq!(
        s.fetch_keys(Some(b"d"), None, 0, 100).unwrap(),
        vec![entry(b"d", 20, b"d")]
    );
    assert_eq!(s.fetch_keys(Some(b"c"), Some(b"a"), 0, 100).unwrap(), vec![]);
    assert_eq!(s.fetch_keys(None, None, 30, 10).unwrap(), vec![]);
    assert_eq!(s.fetch_all(20, 20).unwrap().len(), 3);
    assert_eq!(s.fetch_all(0, 100).unwrap(), s.all().unwrap());
    assert_eq!(s.all().unwrap().len(), 6);
}

#[test]
fn key_ranges_hold_keys_whose_encodings_interleave() {
    let (_dir, mut s) = store(i64::MAX / 2);
    // [1] with a late start sorts after [1, 1] with an early one; [1, 0] is above [1].
    let late = 1 << 57;
    s.put(&[1], Some(b"short"), late).unwrap();
    s.put(&[1, 1], Some(b"long"), late).unwrap();
    s.put(&[1, 0], Some(b"between"), late).unwrap();
    s.put(&[0xff], Some(b"above"), late).unwrap();
    let keys = |from: &[u8], to: &[u8]| -> Vec<Vec<u8>> {
        s.fetch_keys(Some(from), Some(to), 0, i64::MAX)
            .unwrap()
            .into_iter()
            .map(|e| e.0)
            .collect()
    };
    assert_eq!(keys(&[1], &[1, 0]), vec![vec![1], vec![1, 0]]);
    assert_eq!(keys(&[1, 0], &[1, 1]), vec![vec![1, 0], vec![1, 1]]);
    assert_eq!(keys(&[0], &[1, 1]), vec![vec![1], vec![1, 0], vec![1, 1]]);
    assert_eq!(keys(&[2], &[0xff]), vec![vec![0xff]]);
}

#[test]
fn retention_drops_an_expired_put() {
    let (_dir, mut s) = store(10);
    s.put(b"k", Some(b"late"), 100).unwrap();
    // 90 <= 100 - 10: expired.
    s.put(b"k", Some(b"v"), 90).unwrap();
    assert_eq!(s.expired_puts(), 1);
    assert_eq!(s.fetch(b"k", 90).unwrap(), None);
    // 91 > 100 - 10: live.
    s.put(b"k", Some(b"v"), 91).unwrap();
    assert_eq!(s.expired_puts(), 1);
    assert_eq!(s.fetch(b"k", 91).unwrap(), Some(b"v".to_vec()));
    // An expired tombstone is dropped and counted too.
    s.put(b"k", None, 50).unwrap();
    assert_eq!(s.expired_puts(), 2);
}

#[test]
fn retention_hides_expired_windows_in_a_live_segment() {
    let (_dir, mut s) = store(10);
    s.put(b"k", Some(b"old"), 91).unwrap();
    s.put(b"j", Some(b"old"), 95).unwrap();
    s.put(b"k", Some(b"new"), 101).unwrap();
    // Stream time 101: starts <= 91 have expired, though their segment (0) lives on.
    assert_eq!(s.fetch(b"k", 91).unwrap(), None);
    assert_eq!(s.fetch_range(b"k", 0, 200).unwrap(), vec![(101, b"new".to_vec())]);
    assert_eq!(s.fetch_keys(None, None, 0, 200).unwrap().len(), 2);
    assert_eq!(
        s.all().unwrap(),
        vec![entry(b"j", 95, b"old"), entry(b"k", 101, b"new")]
    );
    // A tombstone advances stream time too (as in Kafka).
    s.put(b"x", None, 105).unwrap();
    assert_eq!(s.all().unwrap(), vec![entry(b"k", 101, b"new")]);
    assert_eq!(s.segment_ids(), vec![0]);
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
fn a_put_at_a_new_stream_time_is_kept_even_when_it_expires_everything_else() {
    let (_dir, mut s) = store(10);
    s.put(b"k", Some(b"v"), 0).unwrap();
    s.put(b"k", Some(b"v"), 1_000_000).unwrap();
    assert_eq!(s.all().unwrap(), vec![entry(b"k", 1_000_000, b"v")]);
    assert_eq!(s.expired_puts(), 0);
    assert_eq!(s.segment_ids(), vec![16]);
}

#[test]
fn zero_retention_keeps_nothing_and_negative_starts_count_as_expired() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = RocksDbWindowStore::open("w", dir.path(), &memory(), 0, 0, false).unwrap();
    s.put(b"k", Some(b"v"), 5).unwrap();
    assert_eq!(s.all().unwrap(), vec![]);
    let (_dir, mut s) = store(100);
    s.put(b"k", Some(b"v"), -1).unwrap();
    assert_eq!((s.expired_puts(), s.all().unwrap()), (1, vec![]));
    assert_eq!(s.fetch(b"k", -1).unwrap(), None);
}

#[test]
fn duplicates_are_retained_in_insertion_order_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = duplicates_store(dir.path());
    for value in [&b"3"[..], b"1"] {
        s.put(b"k", Some(value), 10).unwrap();
    }
    s.close().unwrap();
    let mut s = duplicates_store(dir.path());
    s.put(b"k", Some(b"2"), 10).unwrap();
    s.put(b"j", Some(b"j"), 10).unwrap();
    s.put(b"k", Some(b"4"), 5).unwrap();
    // A longer key whose entry falls within the bounds of `k` at 10, after the entries of `k`.
    s.put(&[b'k', 0, 0, 0, 0, 0, 0, 0, 10, 0xff], Some(b"long"), 0).unwrap();
    let expected = vec![
        (5, b"4".to_vec()),
        (10, b"3".to_vec()),
        (10, b"1".to_vec()),
        (10, b"2".to_vec()),
    ];
    assert_eq!(s.fetch_range(b"k", 0, 10).unwrap(), expected);
    // `fetch` of one window gives the latest duplicate.
    assert_eq!(s.fetch(b"k", 10).unwrap(), Some(b"2".to_vec()));
    assert_eq!(
        s.fetch_all(10, 10).unwrap(),
        vec![
            entry(b"j", 10, b"j"),
            entry(b"k", 10, b"3"),
            entry(b"k", 10, b"1"),
            entry(b"k", 10, b"2")
        ]
    );
    // A tombstone cannot say which duplicate it deletes: it deletes nothing.
    s.put(b"k", None, 10).unwrap();
    assert_eq!(s.fetch_range(b"k", 0, 10).unwrap(), expected);
}

#[test]
fn the_constructor_checks_retention_window_size_and_interval() {
    let dir = tempfile::tempdir().unwrap();
    let open =
        |retention, size| RocksDbWindowStore::open("w", dir.path(), &memory(), retention, size, false).map(|_| ());
    let error = open(5, 10).unwrap_err();
    assert_eq!(error.store(), "w");
    assert!(error.to_string().contains("no smaller than the window size"), "{error}");
    assert!(open(-1, 0).is_err());
    assert!(open(10, -1).is_err());
    assert!(open(10, 10).is_ok());
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
fn a_closed_store_refuses_calls() {
    let (_dir, mut s) = store(100);
    s.put(b"k", Some(b"v"), 10).unwrap();
    s.flush().unwrap();
    s.close().unwrap();
    s.close().unwrap();
    assert!(matches!(s.fetch(b"k", 10), Err(StoreError::Closed { .. })));
    assert!(s.put(b"k", Some(b"v"), 10).is_err());
    assert!(s.fetch_range(b"k", 0, 10).is_err());
    assert!(s.fetch_keys(None, None, 0, 10).is_err());
    assert!(s.fetch_all(0, 10).is_err());
    assert!(s.all().is_err());
    assert!(s.flush().is_err());
    assert!(s.restore_batch(&[]).is_err());
    let boxed: Box<dyn WindowBytesStore> = Box::new(s);
    assert!(boxed.as_any().downcast_ref::<RocksDbWindowStore>().is_some());
    assert!(format!("{:?}", boxed.as_any().downcast_ref::<RocksDbWindowStore>().unwrap()).contains("open: false"));
}

#[test]
fn restore_batch_follows_put_in_one_write() {
    let dir = tempfile::tempdir().unwrap();
    let open = || RocksDbWindowStore::open_with_segment_interval("w", dir.path(), &memory(), 10, 0, false, 5).unwrap();
    let mut s = open();
    s.put(b"k", Some(b"before"), 3).unwrap();
    let batch = vec![
        (encode_window_key(b"k", 5, 7), Some(b"v".to_vec())),
        (encode_window_key(b"j", 6, 0), Some(b"x".to_vec())),
        (encode_window_key(b"j", 6, 0), None),
        (encode_window_key(b"k", 3, 0), None),
        (encode_window_key(b"k", 14, 0), Some(b"a".to_vec())),
        (encode_window_key(b"k", 14, 0), Some(b"b".to_vec())),
        (encode_window_key(b"k", 4, 0), Some(b"expired".to_vec())),
        (encode_window_key(b"m", 13, 0), Some(b"m".to_vec())),
    ];
    s.restore_batch(&batch).unwrap();
    let expected = vec![entry(b"k", 5, b"v"), entry(b"m", 13, b"m"), entry(b"k", 14, b"b")];
    assert_eq!(s.all().unwrap(), expected);
    assert_eq!((s.expired_puts(), s.observed_stream_time()), (1, 14));
    // Starts <= 4 have expired: segment 0 ([0, 5)) is gone.
    assert_eq!(s.segment_ids(), vec![1, 2]);
    let error = s
        .restore_batch(&[(b"short".to_vec(), Some(b"v".to_vec()))])
        .unwrap_err();
    assert!(
        matches!(&error, StoreError::Corrupt { store, .. } if store == "w"),
        "{error}"
    );
    s.close().unwrap();
    let s = open();
    assert_eq!(s.all().unwrap(), expected);
    assert_eq!(s.observed_stream_time(), 14);
}

#[test]
fn restore_batch_of_duplicates_appends_and_ignores_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = duplicates_store(dir.path());
    s.put(b"k", Some(b"0"), 5).unwrap();
    let batch = vec![
        (encode_window_key(b"k", 5, 1), Some(b"1".to_vec())),
        (encode_window_key(b"k", 5, 1), Some(b"2".to_vec())),
        (encode_window_key(b"k", 5, 1), None),
    ];
    s.restore_batch(&batch).unwrap();
    assert_eq!(
        s.fetch_range(b"k", 0, 10).unwrap(),
        vec![(5, b"0".to_vec()), (5, b"1".to_vec()), (5, b"2".to_vec())]
    );
}

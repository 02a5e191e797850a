use super::*;
use crate::state::encoding::encode_session_key;
use tempfile::TempDir;

fn w(start: i64, end: i64) -> SessionWindow {
    SessionWindow::new(start, end).unwrap()
}

fn memory() -> RocksDbMemory {
    RocksDbMemory::new(8 << 20)
}

fn store(retention_ms: i64) -> (TempDir, RocksDbSessionStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = RocksDbSessionStore::open("sessions", dir.path(), &memory(), retention_ms).unwrap();
    (dir, store)
}

fn windows(sessions: Vec<(SessionWindow, Vec<u8>)>) -> Vec<(i64, i64)> {
    sessions.into_iter().map(|(w, _)| (w.start, w.end)).collect()
}

#[test]
fn put_overwrites_and_fetch_session_reads_one_session() {
    let (_dir, mut s) = store(100);
    s.put(b"k", w(10, 20), Some(b"v1")).unwrap();
    s.put(b"k", w(10, 20), Some(b"v2")).unwrap();
    s.put(b"k", w(10, 25), Some(b"longer")).unwrap();
    assert_eq!(s.fetch_session(b"k", 10, 20).unwrap(), Some(b"v2".to_vec()));
    assert_eq!(s.fetch_session(b"k", 10, 25).unwrap(), Some(b"longer".to_vec()));
    assert_eq!(s.fetch_session(b"k", 11, 20).unwrap(), None);
    assert_eq!(s.fetch_session(b"k", 21, 20).unwrap(), None);
    assert_eq!(s.fetch_session(b"other", 10, 20).unwrap(), None);
    assert_eq!((s.retention_ms(), s.segment_interval_ms()), (100, 60_000));
}

#[test]
fn a_tombstone_put_and_remove_delete_one_session() {
    let (_dir, mut s) = store(100);
    s.put(b"k", w(0, 5), Some(b"a")).unwrap();
    s.put(b"k", w(10, 20), Some(b"b")).unwrap();
    s.put(b"k", w(30, 30), Some(b"c")).unwrap();
    s.put(b"k", w(0, 5), None).unwrap();
    s.remove(b"k", w(30, 30)).unwrap();
    s.remove(b"k", w(99, 99)).unwrap();
    s.remove(b"k", SessionWindow { start: 9, end: -1 }).unwrap();
    assert_eq!(s.fetch_key(b"k").unwrap(), vec![(w(10, 20), b"b".to_vec())]);
}

#[test]
fn find_sessions_returns_overlapping_sessions_ordered_by_end_then_start() {
    let dir = tempfile::tempdir().unwrap();
    // Segments of 12 ms, so that a search crosses segments.
    let mut s = RocksDbSessionStore::open_with_segment_interval("s", dir.path(), &memory(), 1_000, 12).unwrap();
    for (start, end) in [
        (0, 9),
        (5, 10),
        (10, 10),
        (12, 40),
        (20, 25),
        (31, 35),
        (0, 50),
        (7, 10),
    ] {
        s.put(b"k", w(start, end), Some(b"v")).unwrap();
    }
    s.put(b"kk", w(15, 15), Some(b"other key")).unwrap();
    s.put(b"", w(15, 15), Some(b"empty key")).unwrap();
    // end >= 10 and start <= 30.
    assert_eq!(
        windows(s.find_sessions(b"k", 10, 30).unwrap()),
        vec![(5, 10), (7, 10), (10, 10), (20, 25), (12, 40), (0, 50)]
    );
    // Bounds are inclusive: a session ending at `earliest` or starting at `latest` is found.
    assert_eq!(
        windows(s.find_sessions(b"k", 35, 31).unwrap()),
        vec![(31, 35), (12, 40), (0, 50)]
    );
    assert_eq!(windows(s.find_sessions(b"k", 51, 100).unwrap()), vec![]);
    assert_eq!(windows(s.find_sessions(b"absent", 0, 100).unwrap()), vec![]);
    assert_eq!(windows(s.find_sessions(b"k", 10, -1).unwrap()), vec![]);
    // A record at 10 with a gap of 0 merges with the sessions that contain 10.
    assert_eq!(
        windows(s.find_sessions(b"k", 10, 10).unwrap()),
        vec![(5, 10), (7, 10), (10, 10), (0, 50)]
    );
    assert_eq!(windows(s.fetch_key(b"").unwrap()), vec![(15, 15)]);
    assert_eq!(s.segment_ids(), vec![0, 1, 2, 3, 4]);
}

#[test]
fn fetch_key_and_all_order_sessions_by_end() {
    let (_dir, mut s) = store(1_000);
    s.put(b"b", w(0, 30), Some(b"b1")).unwrap();
    s.put(b"a", w(5, 10), Some(b"a1")).unwrap();
    s.put(b"b", w(2, 10), Some(b"b2")).unwrap();
    s.put(b"a", w(1, 10), Some(b"a2")).unwrap();
    s.put(b"aa", w(1, 10), Some(b"aa")).unwrap();
    assert_eq!(windows(s.fetch_key(b"b").unwrap()), vec![(2, 10), (0, 30)]);
    assert_eq!(
        s.all().unwrap(),
        vec![
            (b"a".to_vec(), w(1, 10), b"a2".to_vec()),
            (b"a".to_vec(), w(5, 10), b"a1".to_vec()),
            (b"aa".to_vec(), w(1, 10), b"aa".to_vec()),
            (b"b".to_vec(), w(2, 10), b"b2".to_vec()),
            (b"b".to_vec(), w(0, 30), b"b1".to_vec()),
        ]
    );
}

#[test]
fn retention_drops_expired_puts_and_hides_expired_sessions() {
    let (_dir, mut s) = store(10);
    s.put(b"k", w(0, 91), Some(b"old")).unwrap();
    s.put(b"k", w(95, 100), Some(b"new")).unwrap();
    // Stream time 100: sessions ending at or before 90 have expired; 91 has not.
    s.put(b"k", w(80, 90), Some(b"late")).unwrap();
    assert_eq!(s.expired_puts(), 1);
    assert_eq!(s.fetch_session(b"k", 0, 91).unwrap(), Some(b"old".to_vec()));
    s.put(b"j", w(101, 101), None).unwrap();
    // Stream time 101, advanced by a tombstone: the session ending at 91 has expired.
    assert_eq!(s.fetch_session(b"k", 0, 91).unwrap(), None);
    assert_eq!(windows(s.find_sessions(b"k", 0, 200).unwrap()), vec![(95, 100)]);
    assert_eq!(windows(s.fetch_key(b"k").unwrap()), vec![(95, 100)]);
    assert_eq!(s.all().unwrap().len(), 1);
    // An expired tombstone is dropped and counted; `remove` never advances stream time.
    s.put(b"k", w(0, 50), None).unwrap();
    s.remove(b"k", w(500, 500)).unwrap();
    assert_eq!(s.expired_puts(), 2);
    assert_eq!(s.observed_stream_time(), 101);
    assert_eq!(s.fetch_session(b"k", 95, 100).unwrap(), Some(b"new".to_vec()));
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
fn an_invalid_session_is_refused() {
    let (_dir, mut s) = store(10);
    let error = s.put(b"k", SessionWindow { start: 5, end: 4 }, Some(b"v")).unwrap_err();
    assert!(
        matches!(&error, StoreError::InvalidArgument { store, .. } if store == "sessions"),
        "{error}"
    );
    assert!(s.put(b"k", SessionWindow { start: -1, end: 4 }, Some(b"v")).is_err());
    let dir = tempfile::tempdir().unwrap();
    assert!(RocksDbSessionStore::open("s", dir.path(), &memory(), -1).is_err());
    assert!(RocksDbSessionStore::open_with_segment_interval("s", dir.path(), &memory(), 1, 0).is_err());
    drop(RocksDbSessionStore::open("s", dir.path(), &memory(), 1).unwrap());
    let error = RocksDbSessionStore::open_with_segment_interval("s", dir.path(), &memory(), 1, 7).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("created with segments of 60000 ms, not 7 ms"),
        "{error}"
    );
}

#[test]
fn a_closed_store_refuses_calls() {
    let (_dir, mut s) = store(10);
    s.put(b"k", w(0, 1), Some(b"v")).unwrap();
    s.flush().unwrap();
    s.close().unwrap();
    s.close().unwrap();
    assert!(matches!(s.fetch_key(b"k"), Err(StoreError::Closed { .. })));
    assert!(s.put(b"k", w(0, 1), Some(b"v")).is_err());
    assert!(s.remove(b"k", w(0, 1)).is_err());
    assert!(s.fetch_session(b"k", 0, 1).is_err());
    assert!(s.find_sessions(b"k", 0, 1).is_err());
    assert!(s.all().is_err());
    assert!(s.flush().is_err());
    assert!(s.restore_batch(&[]).is_err());
    let mut boxed: Box<dyn SessionBytesStore> = Box::new(s);
    assert!(boxed.as_any_mut().downcast_mut::<RocksDbSessionStore>().is_some());
    assert!(format!("{:?}", boxed.as_any().downcast_ref::<RocksDbSessionStore>().unwrap()).contains("open: false"));
}

#[test]
fn restore_batch_follows_put_in_one_write() {
    let (_dir, mut s) = store(10);
    s.put(b"k", w(0, 3), Some(b"before")).unwrap();
    let batch = vec![
        (encode_session_key(b"k", w(0, 3)), None),
        (encode_session_key(b"k", w(4, 5)), Some(b"a".to_vec())),
        (encode_session_key(b"j", w(6, 6)), Some(b"x".to_vec())),
        (encode_session_key(b"j", w(6, 6)), None),
        (encode_session_key(b"k", w(10, 14)), Some(b"b".to_vec())),
        (encode_session_key(b"k", w(1, 2)), Some(b"expired".to_vec())),
    ];
    s.restore_batch(&batch).unwrap();
    assert_eq!(
        s.all().unwrap(),
        vec![
            (b"k".to_vec(), w(4, 5), b"a".to_vec()),
            (b"k".to_vec(), w(10, 14), b"b".to_vec())
        ]
    );
    assert_eq!((s.expired_puts(), s.observed_stream_time()), (1, 14));
    let error = s.restore_batch(&[(b"short".to_vec(), None)]).unwrap_err();
    assert!(
        matches!(&error, StoreError::Corrupt { store, .. } if store == "sessions"),
        "{error}"
    );
}

//! The strongest tests of the RocksDB stores: the same random operations against an in-memory
//! store and a RocksDB store give the same results, every time. Operations include restoring
//! changelog batches, flushing, and closing and reopening the RocksDB store (which must keep its
//! data and observed stream time; the in-memory store simply carries on).

use proptest::prelude::*;
use tempfile::TempDir;

use super::{RocksDbKeyValueStore, RocksDbMemory, RocksDbSessionStore, RocksDbWindowStore};
use crate::state::encoding::{encode_session_key, encode_window_key};
use crate::state::traits::{KeyValueBytesStore, SessionBytesStore, SessionWindow, StateStore, WindowBytesStore};
use crate::state::{InMemoryKeyValueStore, InMemorySessionStore, InMemoryWindowStore};

type Batch = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// A window changelog record: key, window start, sequence number in the changelog key, value.
type WindowRecord = (Vec<u8>, i64, u32, Option<Vec<u8>>);

/// A session changelog record: key, session, value.
type SessionRecord = (Vec<u8>, SessionWindow, Option<Vec<u8>>);

fn config() -> ProptestConfig {
    // Every case opens RocksDB databases (built without optimisation in debug builds): 48 cases
    // of up to 60 operations keep each test to a few seconds.
    ProptestConfig::with_cases(48)
}

fn memory() -> RocksDbMemory {
    RocksDbMemory::new(4 << 20)
}

/// Keys of 0 to 3 bytes from an alphabet whose zeros make encoded keys of different lengths
/// interleave with timestamps.
fn small_key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(vec![0u8, 1, 2, 0xff]), 0..3)
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..3)
}

/// Times from a small range, with a few jumps far ahead so that retention and segments bite.
fn time() -> impl Strategy<Value = i64> {
    prop_oneof![8 => -2..40i64, 1 => 40..200i64]
}

fn session() -> impl Strategy<Value = SessionWindow> {
    (prop_oneof![8 => 0..30i64, 1 => 30..200i64], 0..8i64).prop_map(|(start, length)| SessionWindow {
        start,
        end: start + length,
    })
}

#[derive(Debug, Clone)]
enum KvOp {
    Put(Vec<u8>, Option<Vec<u8>>),
    PutIfAbsent(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Get(Vec<u8>),
    Range(Option<Vec<u8>>, Option<Vec<u8>>),
    ReverseRange(Option<Vec<u8>>, Option<Vec<u8>>),
    PrefixScan(Vec<u8>),
    Restore(Batch),
    Flush,
    Reopen,
}

fn kv_op() -> impl Strategy<Value = KvOp> {
    let bound = || prop::option::of(small_key());
    let record = (small_key(), prop::option::weighted(0.8, value()));
    prop_oneof![
        6 => (small_key(), prop::option::weighted(0.8, value())).prop_map(|(k, v)| KvOp::Put(k, v)),
        1 => (small_key(), value()).prop_map(|(k, v)| KvOp::PutIfAbsent(k, v)),
        1 => small_key().prop_map(KvOp::Delete),
        2 => small_key().prop_map(KvOp::Get),
        1 => (bound(), bound()).prop_map(|(f, t)| KvOp::Range(f, t)),
        1 => (bound(), bound()).prop_map(|(f, t)| KvOp::ReverseRange(f, t)),
        1 => small_key().prop_map(KvOp::PrefixScan),
        1 => prop::collection::vec(record, 0..8).prop_map(KvOp::Restore),
        1 => Just(KvOp::Flush),
        1 => Just(KvOp::Reopen),
    ]
}

#[derive(Debug, Clone)]
enum WindowOp {
    Put(Vec<u8>, Option<Vec<u8>>, i64),
    Fetch(Vec<u8>, i64),
    FetchRange(Vec<u8>, i64, i64),
    FetchKeys(Option<Vec<u8>>, Option<Vec<u8>>, i64, i64),
    All,
    Restore(Vec<WindowRecord>),
    Flush,
    Reopen,
}

fn window_op() -> impl Strategy<Value = WindowOp> {
    let bound = || prop::option::of(small_key());
    let record = (small_key(), time(), 0..3u32, prop::option::weighted(0.8, value()));
    prop_oneof![
        6 => (small_key(), prop::option::weighted(0.8, value()), time()).prop_map(|(k, v, t)| WindowOp::Put(k, v, t)),
        2 => (small_key(), time()).prop_map(|(k, t)| WindowOp::Fetch(k, t)),
        1 => (small_key(), time(), time()).prop_map(|(k, f, t)| WindowOp::FetchRange(k, f, t)),
        2 => (bound(), bound(), time(), time()).prop_map(|(kf, kt, f, t)| WindowOp::FetchKeys(kf, kt, f, t)),
        1 => Just(WindowOp::All),
        1 => prop::collection::vec(record, 0..8).prop_map(WindowOp::Restore),
        1 => Just(WindowOp::Flush),
        1 => Just(WindowOp::Reopen),
    ]
}

#[derive(Debug, Clone)]
enum SessionOp {
    Put(Vec<u8>, SessionWindow, Option<Vec<u8>>),
    Remove(Vec<u8>, SessionWindow),
    FetchSession(Vec<u8>, i64, i64),
    FindSessions(Vec<u8>, i64, i64),
    FetchKey(Vec<u8>),
    All,
    Restore(Vec<SessionRecord>),
    Flush,
    Reopen,
}

fn session_op() -> impl Strategy<Value = SessionOp> {
    let record = (small_key(), session(), prop::option::weighted(0.8, value()));
    prop_oneof![
        6 => (small_key(), session(), prop::option::weighted(0.8, value()))
            .prop_map(|(k, w, v)| SessionOp::Put(k, w, v)),
        1 => (small_key(), session()).prop_map(|(k, w)| SessionOp::Remove(k, w)),
        2 => (small_key(), session()).prop_map(|(k, w)| SessionOp::FetchSession(k, w.start, w.end)),
        2 => (small_key(), -5..60i64, -5..60i64).prop_map(|(k, e, l)| SessionOp::FindSessions(k, e, l)),
        1 => small_key().prop_map(SessionOp::FetchKey),
        1 => Just(SessionOp::All),
        1 => prop::collection::vec(record, 0..8).prop_map(SessionOp::Restore),
        1 => Just(SessionOp::Flush),
        1 => Just(SessionOp::Reopen),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_rocksdb_key_value_store_behaves_like_the_in_memory_one(ops in prop::collection::vec(kv_op(), 1..60)) {
        let dir = TempDir::new().unwrap();
        let open = || RocksDbKeyValueStore::open("kv", dir.path(), &memory()).unwrap();
        let mut model = InMemoryKeyValueStore::new("kv");
        let mut rocks = open();
        for op in ops {
            match op {
                KvOp::Put(k, v) => {
                    model.put(&k, v.as_deref()).unwrap();
                    rocks.put(&k, v.as_deref()).unwrap();
                }
                KvOp::PutIfAbsent(k, v) => {
                    prop_assert_eq!(rocks.put_if_absent(&k, &v).unwrap(), model.put_if_absent(&k, &v).unwrap());
                }
                KvOp::Delete(k) => prop_assert_eq!(rocks.delete(&k).unwrap(), model.delete(&k).unwrap()),
                KvOp::Get(k) => prop_assert_eq!(rocks.get(&k).unwrap(), model.get(&k).unwrap()),
                KvOp::Range(f, t) => prop_assert_eq!(
                    rocks.range(f.as_deref(), t.as_deref()).unwrap(),
                    model.range(f.as_deref(), t.as_deref()).unwrap()
                ),
                KvOp::ReverseRange(f, t) => prop_assert_eq!(
                    rocks.reverse_range(f.as_deref(), t.as_deref()).unwrap(),
                    model.reverse_range(f.as_deref(), t.as_deref()).unwrap()
                ),
                KvOp::PrefixScan(p) => prop_assert_eq!(rocks.prefix_scan(&p).unwrap(), model.prefix_scan(&p).unwrap()),
                KvOp::Restore(batch) => {
                    model.restore_batch(&batch).unwrap();
                    rocks.restore_batch(&batch).unwrap();
                }
                KvOp::Flush => rocks.flush().unwrap(),
                KvOp::Reopen => {
                    rocks.close().unwrap();
                    rocks = open();
                }
            }
        }
        prop_assert_eq!(rocks.all().unwrap(), model.all().unwrap());
    }

    #[test]
    fn the_rocksdb_window_store_behaves_like_the_in_memory_one(
        duplicates: bool,
        retention in 0..60i64,
        interval in 1..30i64,
        ops in prop::collection::vec(window_op(), 1..60),
    ) {
        let dir = TempDir::new().unwrap();
        let open = || {
            let memory = memory();
            RocksDbWindowStore::open_with_segment_interval("w", dir.path(), &memory, retention, 0, duplicates, interval)
                .unwrap()
        };
        let mut model = InMemoryWindowStore::new("w", retention, 0, duplicates).unwrap();
        let mut rocks = open();
        // `expired_puts` is a metric of the open store: it starts again at 0 when reopened.
        let mut expired_before_reopen = 0;
        for op in ops {
            match op {
                WindowOp::Put(k, v, t) => {
                    model.put(&k, v.as_deref(), t).unwrap();
                    rocks.put(&k, v.as_deref(), t).unwrap();
                }
                WindowOp::Fetch(k, t) => prop_assert_eq!(rocks.fetch(&k, t).unwrap(), model.fetch(&k, t).unwrap()),
                WindowOp::FetchRange(k, f, t) => {
                    prop_assert_eq!(rocks.fetch_range(&k, f, t).unwrap(), model.fetch_range(&k, f, t).unwrap());
                }
                WindowOp::FetchKeys(kf, kt, f, t) => {
                    prop_assert_eq!(
                        rocks.fetch_keys(kf.as_deref(), kt.as_deref(), f, t).unwrap(),
                        model.fetch_keys(kf.as_deref(), kt.as_deref(), f, t).unwrap()
                    );
                    prop_assert_eq!(rocks.fetch_all(f, t).unwrap(), model.fetch_all(f, t).unwrap());
                }
                WindowOp::All => prop_assert_eq!(rocks.all().unwrap(), model.all().unwrap()),
                WindowOp::Restore(records) => {
                    let batch: Batch =
                        records.into_iter().map(|(k, t, seq, v)| (encode_window_key(&k, t, seq), v)).collect();
                    model.restore_batch(&batch).unwrap();
                    rocks.restore_batch(&batch).unwrap();
                }
                WindowOp::Flush => rocks.flush().unwrap(),
                WindowOp::Reopen => {
                    expired_before_reopen += rocks.expired_puts();
                    rocks.close().unwrap();
                    rocks = open();
                }
            }
            prop_assert_eq!(expired_before_reopen + rocks.expired_puts(), model.expired_puts());
        }
        prop_assert_eq!(rocks.all().unwrap(), model.all().unwrap());
        // No segment outlives its time range.
        let min_live = (rocks.observed_stream_time() - retention + 1).max(0);
        prop_assert!(rocks.segment_ids().iter().all(|id| (id + 1) * interval > min_live));
    }

    #[test]
    fn the_rocksdb_session_store_behaves_like_the_in_memory_one(
        retention in 0..60i64,
        interval in 1..30i64,
        ops in prop::collection::vec(session_op(), 1..60),
    ) {
        let dir = TempDir::new().unwrap();
        let open = || {
            RocksDbSessionStore::open_with_segment_interval("s", dir.path(), &memory(), retention, interval).unwrap()
        };
        let mut model = InMemorySessionStore::new("s", retention).unwrap();
        let mut rocks = open();
        let mut expired_before_reopen = 0;
        for op in ops {
            match op {
                SessionOp::Put(k, w, v) => {
                    model.put(&k, w, v.as_deref()).unwrap();
                    rocks.put(&k, w, v.as_deref()).unwrap();
                }
                SessionOp::Remove(k, w) => {
                    model.remove(&k, w).unwrap();
                    rocks.remove(&k, w).unwrap();
                }
                SessionOp::FetchSession(k, s, e) => {
                    prop_assert_eq!(rocks.fetch_session(&k, s, e).unwrap(), model.fetch_session(&k, s, e).unwrap());
                }
                SessionOp::FindSessions(k, e, l) => {
                    prop_assert_eq!(rocks.find_sessions(&k, e, l).unwrap(), model.find_sessions(&k, e, l).unwrap());
                }
                SessionOp::FetchKey(k) => prop_assert_eq!(rocks.fetch_key(&k).unwrap(), model.fetch_key(&k).unwrap()),
                SessionOp::All => prop_assert_eq!(rocks.all().unwrap(), model.all().unwrap()),
                SessionOp::Restore(records) => {
                    let batch: Batch = records.into_iter().map(|(k, w, v)| (encode_session_key(&k, w), v)).collect();
                    model.restore_batch(&batch).unwrap();
                    rocks.restore_batch(&batch).unwrap();
                }
                SessionOp::Flush => rocks.flush().unwrap(),
                SessionOp::Reopen => {
                    expired_before_reopen += rocks.expired_puts();
                    rocks.close().unwrap();
                    rocks = open();
                }
            }
            prop_assert_eq!(expired_before_reopen + rocks.expired_puts(), model.expired_puts());
        }
        prop_assert_eq!(rocks.all().unwrap(), model.all().unwrap());
        let min_live = (rocks.observed_stream_time() - retention + 1).max(0);
        prop_assert!(rocks.segment_ids().iter().all(|id| (id + 1) * interval > min_live));
    }
}

//! Change-logging decorators: every write to a logged store is also sent to the store's changelog
//! topic, `<application.id>-<store>-changelog`, on the task's partition.
//!
//! ```text
//!   put(k, v) ──▶ inner store ──▶ changelog record (key = k in the changelog layout, value = v)
//!   delete(k) ──▶ inner store ──▶ tombstone (key = k, value = null)
//! ```
//!
//! Changelog keys are the store's key bytes in Kafka Streams' layouts: the key itself for
//! key-value stores, `key ++ window start ++ seqnum` for window stores, `key ++ end ++ start` for
//! session stores (see [`encoding`](super::encoding)); values are the stored value bytes. Each
//! changelog record carries the timestamp of the record being processed when the write happened
//! (a [`RecordClock`] the task sets), as in Kafka Streams.
//!
//! The decorators know nothing of Kafka: they hand records to a [`ChangelogWriter`], which the
//! runtime backs with its producer. Writing a store restored from its changelog is not logged again:
//! `restore_batch` goes straight to the inner store.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use super::StoreResult;
use super::encoding::{encode_session_key, encode_window_key};
use super::traits::{
    KeyValueBytesStore, KeyValueEntry, SessionBytesStore, SessionEntry, SessionWindow, StateStore, WindowBytesStore,
    WindowEntry,
};

/// One record for a changelog topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangelogRecord<'a> {
    /// The changelog topic.
    pub topic: &'a str,
    /// The partition: the task's partition, never chosen by key.
    pub partition: i32,
    /// The store key in the changelog layout.
    pub key: &'a [u8],
    /// The stored value; `None` is a tombstone.
    pub value: Option<&'a [u8]>,
    /// The timestamp of the record whose processing caused the write.
    pub timestamp: i64,
}

/// Where change-logging stores send their records (the runtime's producer).
pub trait ChangelogWriter: Send + Sync {
    /// Sends one changelog record. It need not be acknowledged on return: the runtime flushes its
    /// producer before it commits offsets or writes a checkpoint.
    fn send(&self, record: ChangelogRecord<'_>) -> StoreResult<()>;
}

/// The timestamp of the record a task is processing, shared by the task (which sets it) and its
/// change-logging stores (which stamp their changelog records with it).
#[derive(Debug, Clone, Default)]
pub struct RecordClock(Arc<AtomicI64>);

impl RecordClock {
    /// Sets the current record's timestamp.
    pub fn set(&self, timestamp: i64) {
        self.0.store(timestamp, Ordering::Relaxed);
    }

    /// The current record's timestamp (0 before any was set).
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What a change-logging store needs: where to send, which topic and partition, and the clock.
#[derive(Clone)]
pub struct ChangelogContext {
    /// Where records go.
    pub writer: Arc<dyn ChangelogWriter>,
    /// The changelog topic, `<application.id>-<store>-changelog`.
    pub topic: Arc<str>,
    /// The task's partition.
    pub partition: i32,
    /// The processing record's timestamp.
    pub clock: RecordClock,
}

impl fmt::Debug for ChangelogContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangelogContext")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .finish()
    }
}

impl ChangelogContext {
    fn log(&self, key: &[u8], value: Option<&[u8]>) -> StoreResult<()> {
        self.writer.send(ChangelogRecord {
            topic: &self.topic,
            partition: self.partition,
            key,
            value,
            timestamp: self.clock.get(),
        })
    }
}

macro_rules! state_store {
    ($store:ident, $inner:ident) => {
        impl StateStore for $store {
            fn name(&self) -> &str {
                self.inner.name()
            }

            fn flush(&mut self) -> StoreResult<()> {
                self.inner.flush()
            }

            fn flush_cache(&mut self) -> StoreResult<()> {
                self.inner.flush_cache()
            }

            fn close(&mut self) -> StoreResult<()> {
                self.inner.close()
            }

            fn as_any(&self) -> &dyn Any {
                self
            }

            fn as_any_mut(&mut self) -> &mut dyn Any {
                self
            }
        }

        impl $store {
            /// The wrapped store.
            pub fn inner(&self) -> &dyn $inner {
                self.inner.as_ref()
            }

            /// The wrapped store, mutably (writes through it are not logged).
            pub fn inner_mut(&mut self) -> &mut dyn $inner {
                self.inner.as_mut()
            }
        }

        impl fmt::Debug for $store {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($store))
                    .field("store", &self.inner.name())
                    .field("changelog", &self.changelog)
                    .finish()
            }
        }
    };
}

/// A key-value store whose writes are logged (Kafka's `ChangeLoggingKeyValueBytesStore`).
pub struct ChangeLoggingKeyValueStore {
    inner: Box<dyn KeyValueBytesStore>,
    changelog: ChangelogContext,
}

impl ChangeLoggingKeyValueStore {
    /// Wraps `inner`, logging its writes through `changelog`.
    pub fn new(inner: Box<dyn KeyValueBytesStore>, changelog: ChangelogContext) -> Self {
        ChangeLoggingKeyValueStore { inner, changelog }
    }
}

state_store!(ChangeLoggingKeyValueStore, KeyValueBytesStore);

impl KeyValueBytesStore for ChangeLoggingKeyValueStore {
    fn get(&self, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.inner.get(key)
    }

    fn put(&mut self, key: &[u8], value: Option<&[u8]>) -> StoreResult<()> {
        self.inner.put(key, value)?;
        self.changelog.log(key, value)
    }

    fn put_if_absent(&mut self, key: &[u8], value: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let previous = self.inner.put_if_absent(key, value)?;
        if previous.is_none() {
            self.changelog.log(key, Some(value))?;
        }
        Ok(previous)
    }

    fn delete(&mut self, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let previous = self.inner.delete(key)?;
        self.changelog.log(key, None)?;
        Ok(previous)
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> StoreResult<Vec<KeyValueEntry>> {
        self.inner.range(from, to)
    }

    fn reverse_range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> StoreResult<Vec<KeyValueEntry>> {
        self.inner.reverse_range(from, to)
    }

    fn all(&self) -> StoreResult<Vec<KeyValueEntry>> {
        self.inner.all()
    }

    fn prefix_scan(&self, prefix: &[u8]) -> StoreResult<Vec<KeyValueEntry>> {
        self.inner.prefix_scan(prefix)
    }

    fn approximate_num_entries(&self) -> u64 {
        self.inner.approximate_num_entries()
    }

    fn restore_batch(&mut self, batch: &[(Vec<u8>, Option<Vec<u8>>)]) -> StoreResult<()> {
        self.inner.restore_batch(batch)
    }
}

/// A window store whose writes are logged (Kafka's `ChangeLoggingWindowBytesStore`). A store that
/// retains duplicates gives each logged put its own sequence number, so compaction of the changelog
/// keeps every duplicate.
pub struct ChangeLoggingWindowStore {
    inner: Box<dyn WindowBytesStore>,
    changelog: ChangelogContext,
    retain_duplicates: bool,
    seqnum: u32,
}

state_store!(ChangeLoggingWindowStore, WindowBytesStore);

impl ChangeLoggingWindowStore {
    /// Wraps `inner`, logging its writes through `changelog`; `retain_duplicates` must say whether
    /// `inner` keeps every put (stream-stream join buffers).
    pub fn new(inner: Box<dyn WindowBytesStore>, changelog: ChangelogContext, retain_duplicates: bool) -> Self {
        ChangeLoggingWindowStore {
            inner,
            changelog,
            retain_duplicates,
            seqnum: 0,
        }
    }
}

impl WindowBytesStore for ChangeLoggingWindowStore {
    fn put(&mut self, key: &[u8], value: Option<&[u8]>, window_start: i64) -> StoreResult<()> {
        self.inner.put(key, value, window_start)?;
        let seqnum = if self.retain_duplicates {
            if value.is_none() {
                // A tombstone deletes nothing in a store of duplicates: nothing to log either.
                return Ok(());
            }
            self.seqnum = self.seqnum.wrapping_add(1) & (i32::MAX as u32);
            self.seqnum
        } else {
            0
        };
        self.changelog.log(&encode_window_key(key, window_start, seqnum), value)
    }

    fn fetch(&self, key: &[u8], window_start: i64) -> StoreResult<Option<Vec<u8>>> {
        self.inner.fetch(key, window_start)
    }

    fn fetch_range(&self, key: &[u8], time_from: i64, time_to: i64) -> StoreResult<Vec<(i64, Vec<u8>)>> {
        self.inner.fetch_range(key, time_from, time_to)
    }

    fn fetch_keys(
        &self,
        key_from: Option<&[u8]>,
        key_to: Option<&[u8]>,
        time_from: i64,
        time_to: i64,
    ) -> StoreResult<Vec<WindowEntry>> {
        self.inner.fetch_keys(key_from, key_to, time_from, time_to)
    }

    fn fetch_all(&self, time_from: i64, time_to: i64) -> StoreResult<Vec<WindowEntry>> {
        self.inner.fetch_all(time_from, time_to)
    }

    fn all(&self) -> StoreResult<Vec<WindowEntry>> {
        self.inner.all()
    }

    fn retention_ms(&self) -> i64 {
        self.inner.retention_ms()
    }

    fn window_size_ms(&self) -> i64 {
        self.inner.window_size_ms()
    }

    fn expired_puts(&self) -> u64 {
        self.inner.expired_puts()
    }

    fn restore_batch(&mut self, batch: &[(Vec<u8>, Option<Vec<u8>>)]) -> StoreResult<()> {
        self.inner.restore_batch(batch)
    }
}

/// A session store whose writes are logged (Kafka's `ChangeLoggingSessionBytesStore`).
pub struct ChangeLoggingSessionStore {
    inner: Box<dyn SessionBytesStore>,
    changelog: ChangelogContext,
}

impl ChangeLoggingSessionStore {
    /// Wraps `inner`, logging its writes through `changelog`.
    pub fn new(inner: Box<dyn SessionBytesStore>, changelog: ChangelogContext) -> Self {
        ChangeLoggingSessionStore { inner, changelog }
    }
}

state_store!(ChangeLoggingSessionStore, SessionBytesStore);

impl SessionBytesStore for ChangeLoggingSessionStore {
    fn put(&mut self, key: &[u8], window: SessionWindow, value: Option<&[u8]>) -> StoreResult<()> {
        self.inner.put(key, window, value)?;
        self.changelog.log(&encode_session_key(key, window), value)
    }

    fn remove(&mut self, key: &[u8], window: SessionWindow) -> StoreResult<()> {
        self.inner.remove(key, window)?;
        self.changelog.log(&encode_session_key(key, window), None)
    }

    fn fetch_session(&self, key: &[u8], start: i64, end: i64) -> StoreResult<Option<Vec<u8>>> {
        self.inner.fetch_session(key, start, end)
    }

    fn find_sessions(
        &self,
        key: &[u8],
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> StoreResult<Vec<(SessionWindow, Vec<u8>)>> {
        self.inner
            .find_sessions(key, earliest_session_end, latest_session_start)
    }

    fn fetch_key(&self, key: &[u8]) -> StoreResult<Vec<(SessionWindow, Vec<u8>)>> {
        self.inner.fetch_key(key)
    }

    fn all(&self) -> StoreResult<Vec<SessionEntry>> {
        self.inner.all()
    }

    fn retention_ms(&self) -> i64 {
        self.inner.retention_ms()
    }

    fn expired_puts(&self) -> u64 {
        self.inner.expired_puts()
    }

    fn restore_batch(&mut self, batch: &[(Vec<u8>, Option<Vec<u8>>)]) -> StoreResult<()> {
        self.inner.restore_batch(batch)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::state::memory::{InMemoryKeyValueStore, InMemorySessionStore, InMemoryWindowStore};

    type Logged = (String, i32, Vec<u8>, Option<Vec<u8>>, i64);

    #[derive(Default)]
    struct Recorder(Mutex<Vec<Logged>>);

    impl ChangelogWriter for Recorder {
        fn send(&self, r: ChangelogRecord<'_>) -> StoreResult<()> {
            let entry = (
                r.topic.to_string(),
                r.partition,
                r.key.to_vec(),
                r.value.map(<[u8]>::to_vec),
                r.timestamp,
            );
            self.0.lock().unwrap().push(entry);
            Ok(())
        }
    }

    fn context(recorder: &Arc<Recorder>) -> ChangelogContext {
        let clock = RecordClock::default();
        clock.set(42);
        ChangelogContext {
            writer: recorder.clone(),
            topic: "app-s-changelog".into(),
            partition: 3,
            clock,
        }
    }

    fn logged(recorder: &Recorder) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        recorder
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|(topic, partition, k, v, ts)| {
                assert_eq!((topic.as_str(), *partition, *ts), ("app-s-changelog", 3, 42));
                (k.clone(), v.clone())
            })
            .collect()
    }

    fn kv(key: &[u8], value: Option<&[u8]>) -> (Vec<u8>, Option<Vec<u8>>) {
        (key.to_vec(), value.map(<[u8]>::to_vec))
    }

    #[test]
    fn key_value_writes_are_logged_and_restores_are_not() {
        let recorder = Arc::new(Recorder::default());
        let mut store = ChangeLoggingKeyValueStore::new(Box::new(InMemoryKeyValueStore::new("s")), context(&recorder));
        store.put(b"a", Some(b"1")).unwrap();
        assert_eq!(store.put_if_absent(b"a", b"2").unwrap(), Some(b"1".to_vec()));
        assert_eq!(store.put_if_absent(b"b", b"3").unwrap(), None);
        store.delete(b"a").unwrap();
        store.put(b"b", None).unwrap();
        store.restore_batch(&[kv(b"c", Some(b"9"))]).unwrap();
        assert_eq!(
            logged(&recorder),
            vec![
                kv(b"a", Some(b"1")),
                kv(b"b", Some(b"3")),
                kv(b"a", None),
                kv(b"b", None)
            ]
        );
        assert_eq!(store.get(b"c").unwrap(), Some(b"9".to_vec()));
    }

    #[test]
    fn window_writes_are_logged_with_window_keys_and_duplicates_get_their_own_seqnum() {
        let recorder = Arc::new(Recorder::default());
        let inner = InMemoryWindowStore::new("s", 1_000, 10, false).unwrap();
        let mut store = ChangeLoggingWindowStore::new(Box::new(inner), context(&recorder), false);
        store.put(b"k", Some(b"1"), 100).unwrap();
        store.put(b"k", None, 100).unwrap();
        assert_eq!(
            logged(&recorder),
            vec![
                kv(&encode_window_key(b"k", 100, 0), Some(b"1")),
                kv(&encode_window_key(b"k", 100, 0), None)
            ]
        );

        let recorder = Arc::new(Recorder::default());
        let inner = InMemoryWindowStore::new("s", 1_000, 10, true).unwrap();
        let mut store = ChangeLoggingWindowStore::new(Box::new(inner), context(&recorder), true);
        store.put(b"k", Some(b"1"), 100).unwrap();
        store.put(b"k", Some(b"2"), 100).unwrap();
        store.put(b"k", None, 100).unwrap();
        assert_eq!(
            logged(&recorder),
            vec![
                kv(&encode_window_key(b"k", 100, 1), Some(b"1")),
                kv(&encode_window_key(b"k", 100, 2), Some(b"2"))
            ]
        );
    }

    #[test]
    fn session_puts_and_removes_are_logged_with_session_keys() {
        let recorder = Arc::new(Recorder::default());
        let inner = InMemorySessionStore::new("s", 1_000).unwrap();
        let mut store = ChangeLoggingSessionStore::new(Box::new(inner), context(&recorder));
        let window = SessionWindow::new(5, 9).unwrap();
        store.put(b"k", window, Some(b"1")).unwrap();
        store.remove(b"k", window).unwrap();
        let key = encode_session_key(b"k", window);
        assert_eq!(logged(&recorder), vec![kv(&key, Some(b"1")), kv(&key, None)]);
    }
}

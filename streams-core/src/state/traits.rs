//! The byte-level store traits every store layer implements, and the session window they share.
//!
//! Contracts common to all three stores:
//! - Keys and values are bytes, compared unsigned and lexicographically (`[u8]`'s `Ord`).
//! - A `None` value written with `put` is a tombstone, as on a Kafka topic: it deletes.
//! - Bounds of ranges are inclusive; a `None` bound is open. A range whose lower bound is above its
//!   upper bound is empty (Kafka Streams logs a warning and returns an empty iterator).
//! - After [`StateStore::close`], every fallible call fails with
//!   [`StoreError::Closed`](super::StoreError::Closed).
//!
//! Window and session stores keep data for a retention period measured in *observed stream time*:
//! the largest window start (window stores) or session end (session stores) ever put, including
//! puts that were dropped or deleted. Data whose time is `<= observed - retention` has expired: it is
//! never returned, a put of it is dropped (and counted by `expired_puts`), and it is removed from
//! memory as later puts come in. Times are milliseconds since the epoch and are never negative, as
//! in Kafka Streams: a window that starts, or a session that ends, before 0 is treated as expired.

use std::any::Any;
use std::fmt;

use super::encoding::{decode_session_key, decode_window_key};
use super::{StoreError, StoreResult};

/// A key and a value, as key-value stores return them.
pub type KeyValueEntry = (Vec<u8>, Vec<u8>);

/// A key, a window start (ms) and a value, as window stores return them.
pub type WindowEntry = (Vec<u8>, i64, Vec<u8>);

/// A key, a session and a value, as session stores return them.
pub type SessionEntry = (Vec<u8>, SessionWindow, Vec<u8>);

/// What every state store is: something with a name that can be flushed and closed.
pub trait StateStore: Send {
    /// The store's name, unique within a topology; its changelog topic is named after it.
    fn name(&self) -> &str;

    /// Writes down what a write cache holds (so it reaches the changelog and is forwarded),
    /// then makes every write so far durable in the store's own storage (a no-op in memory).
    /// Called before a checkpoint is written: on a clean close, and at a commit once the
    /// changelog has moved on by 10,000 records since the last checkpoint.
    fn flush(&mut self) -> StoreResult<()>;

    /// Writes down what a write cache holds, without making storage durable: what every commit
    /// does (as Kafka Streams' commit flushes caches, not RocksDB). A no-op for a store without a
    /// cache; a wrapper passes it on to the store it wraps.
    fn flush_cache(&mut self) -> StoreResult<()> {
        Ok(())
    }

    /// Releases the store's resources; in-memory stores drop their data. Closing twice is not an
    /// error; any other call after closing fails with `StoreError::Closed`.
    fn close(&mut self) -> StoreResult<()>;

    /// The store as [`Any`], so a typed facade can find the concrete store it wraps.
    fn as_any(&self) -> &dyn Any;

    /// The store as mutable [`Any`], so a typed facade can find the concrete store it wraps.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// A map from key bytes to value bytes, ordered by key (Kafka's `KeyValueStore<Bytes, byte[]>`).
pub trait KeyValueBytesStore: StateStore {
    /// The value of `key`, or `None` when the key is absent.
    fn get(&self, key: &[u8]) -> StoreResult<Option<Vec<u8>>>;

    /// Sets the value of `key`; `None` is a tombstone and deletes the key.
    fn put(&mut self, key: &[u8], value: Option<&[u8]>) -> StoreResult<()>;

    /// Writes `value` only if `key` is absent, and returns the value that was there before (`None`
    /// when the write happened).
    fn put_if_absent(&mut self, key: &[u8], value: &[u8]) -> StoreResult<Option<Vec<u8>>>;

    /// Deletes `key` and returns its old value, `None` if it was absent.
    fn delete(&mut self, key: &[u8]) -> StoreResult<Option<Vec<u8>>>;

    /// The entries whose keys are in `[from, to]` (both inclusive; `None` leaves that side open),
    /// in ascending key order. Empty when `from > to`.
    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> StoreResult<Vec<KeyValueEntry>>;

    /// The entries of [`range`](Self::range) with the same bounds, in descending key order.
    fn reverse_range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> StoreResult<Vec<KeyValueEntry>>;

    /// Every entry, in ascending key order.
    fn all(&self) -> StoreResult<Vec<KeyValueEntry>>;

    /// The entries whose keys start with `prefix`, in ascending key order. An empty prefix matches
    /// every key.
    fn prefix_scan(&self, prefix: &[u8]) -> StoreResult<Vec<KeyValueEntry>>;

    /// An estimate of the number of entries (exact in memory; RocksDB's estimate otherwise). Zero
    /// once the store is closed.
    fn approximate_num_entries(&self) -> u64;

    /// Applies changelog records, in order, as [`put`](Self::put)s: each is (key, value) with
    /// `None` a tombstone. Restoring writes straight into this store: it bypasses the caches and
    /// changelogs of the layers above (a decorator should hand the batch down, unchanged, to the
    /// store it wraps).
    ///
    /// The default calls `put` once per record; a persistent store overrides it to write the
    /// whole batch at once.
    fn restore_batch(&mut self, batch: &[(Vec<u8>, Option<Vec<u8>>)]) -> StoreResult<()> {
        for (key, value) in batch {
            self.put(key, value.as_deref())?;
        }
        Ok(())
    }
}

/// Values of fixed-size time windows, keyed by (key bytes, window start in ms) (Kafka's
/// `WindowStore<Bytes, byte[]>`).
///
/// The window end is not stored: it is `start + window_size_ms()`. A store created to *retain
/// duplicates* (as stream-stream joins need) never overwrites: each put with a value adds one more
/// entry, and reads return the entries of one key and window in insertion order.
///
/// Results over several keys are ordered by window start, then key bytes, then insertion order.
/// Results of one key are ordered by window start, then insertion order. Retention follows the
/// module's rules, on the window start.
pub trait WindowBytesStore: StateStore {
    /// Writes `value` for `key` in the window starting at `window_start`, replacing the value there
    /// (or, when retaining duplicates, adding one more). `None` deletes the window's value; when
    /// retaining duplicates it deletes nothing, as in Kafka Streams. Advances observed stream time to
    /// `window_start` if later. A put of an expired window is dropped: it returns `Ok` and
    /// increments [`expired_puts`](Self::expired_puts).
    fn put(&mut self, key: &[u8], value: Option<&[u8]>, window_start: i64) -> StoreResult<()>;

    /// The value of `key` in the window starting at `window_start`; `None` when absent or expired.
    /// When retaining duplicates, the most recently put of that key and window.
    fn fetch(&self, key: &[u8], window_start: i64) -> StoreResult<Option<Vec<u8>>>;

    /// The (window start, value) pairs of `key` whose start is in `[time_from, time_to]`
    /// (inclusive), ascending by start, then insertion order. Empty when `time_from > time_to`.
    fn fetch_range(&self, key: &[u8], time_from: i64, time_to: i64) -> StoreResult<Vec<(i64, Vec<u8>)>>;

    /// The entries whose key is in `[key_from, key_to]` (inclusive; `None` leaves that side open)
    /// and whose window start is in `[time_from, time_to]` (inclusive). Empty when
    /// `key_from > key_to` or `time_from > time_to`.
    fn fetch_keys(
        &self,
        key_from: Option<&[u8]>,
        key_to: Option<&[u8]>,
        time_from: i64,
        time_to: i64,
    ) -> StoreResult<Vec<WindowEntry>>;

    /// The entries of every key whose window start is in `[time_from, time_to]` (inclusive).
    fn fetch_all(&self, time_from: i64, time_to: i64) -> StoreResult<Vec<WindowEntry>>;

    /// Every entry that has not expired.
    fn all(&self) -> StoreResult<Vec<WindowEntry>>;

    /// How long (ms of stream time, after the latest window start) a window is kept.
    fn retention_ms(&self) -> i64;

    /// The size of the store's windows in ms: a window starting at `s` ends at `s + size`.
    fn window_size_ms(&self) -> i64;

    /// How many puts were dropped because their window had expired (Kafka's dropped-records
    /// metric).
    fn expired_puts(&self) -> u64;

    /// Applies changelog records, in order, as [`put`](Self::put)s: each is (key, value) with the
    /// key in the changelog layout, `encode_window_key(key, start, seqnum)`
    /// ([`encode_window_key`](super::encoding::encode_window_key)), and `None` a tombstone. As a
    /// put, a record advances observed stream time, an expired one is dropped and counted, and in a
    /// store retaining duplicates a value appends (with the store's own sequence number) while a
    /// tombstone deletes nothing. Restoring writes straight into this store: it bypasses the caches
    /// and changelogs of the layers above.
    ///
    /// Fails with `StoreError::Corrupt` on a key shorter than the window suffix. The default
    /// decodes and puts one record at a time (the records before a corrupt key stay applied); a
    /// persistent store overrides it to write the whole batch at once.
    fn restore_batch(&mut self, batch: &[(Vec<u8>, Option<Vec<u8>>)]) -> StoreResult<()> {
        for (stored, value) in batch {
            let decoded = decode_window_key(stored).map_err(|e| e.in_store(self.name()))?;
            self.put(decoded.key, value.as_deref(), decoded.window_start)?;
        }
        Ok(())
    }
}

/// Aggregates of session windows, keyed by (key bytes, [`SessionWindow`]) (Kafka's
/// `SessionStore<Bytes, byte[]>`).
///
/// A key may have many sessions; sessions of one key are ordered by end, then start. Results over
/// several keys are ordered by end, then key bytes, then start. Retention follows the module's
/// rules, on the session end.
pub trait SessionBytesStore: StateStore {
    /// Writes `value` for the session `window` of `key`; `None` removes that session. Advances
    /// observed stream time to `window.end` if later. A put of an expired session is dropped: it
    /// returns `Ok` and increments [`expired_puts`](Self::expired_puts). Fails with
    /// `InvalidArgument` when `window` is not a valid [`SessionWindow`] (built by hand with
    /// `start < 0` or `end < start`).
    fn put(&mut self, key: &[u8], window: SessionWindow, value: Option<&[u8]>) -> StoreResult<()>;

    /// Removes the session `window` of `key`, if present. Unlike a tombstone `put`, it does not
    /// advance observed stream time (as in Kafka Streams).
    fn remove(&mut self, key: &[u8], window: SessionWindow) -> StoreResult<()>;

    /// The value of the session `[start, end]` of `key`; `None` when absent or expired.
    fn fetch_session(&self, key: &[u8], start: i64, end: i64) -> StoreResult<Option<Vec<u8>>>;

    /// The sessions of `key` that overlap `[earliest_session_end, latest_session_start]`: those with
    /// `end >= earliest_session_end` and `start <= latest_session_start`, ordered by end, then start.
    /// These are the sessions a record at `t` may merge with, for `earliest_session_end = t - gap`
    /// and `latest_session_start = t + gap`.
    fn find_sessions(
        &self,
        key: &[u8],
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> StoreResult<Vec<(SessionWindow, Vec<u8>)>>;

    /// Every session of `key`, ordered by end, then start.
    fn fetch_key(&self, key: &[u8]) -> StoreResult<Vec<(SessionWindow, Vec<u8>)>>;

    /// Every session of every key, ordered by end, then key bytes, then start.
    fn all(&self) -> StoreResult<Vec<SessionEntry>>;

    /// How long (ms of stream time, after the latest session end) a session is kept.
    fn retention_ms(&self) -> i64;

    /// How many puts were dropped because their session had expired.
    fn expired_puts(&self) -> u64;

    /// Applies changelog records, in order, as [`put`](Self::put)s: each is (key, value) with the
    /// key in the changelog layout, `encode_session_key(key, window)`
    /// ([`encode_session_key`](super::encoding::encode_session_key)), and `None` a tombstone. As a
    /// put, a record advances observed stream time, and an expired one is dropped and counted.
    /// Restoring writes straight into this store: it bypasses the caches and changelogs of the
    /// layers above.
    ///
    /// Fails with `StoreError::Corrupt` on a key that does not decode (too short, or not a valid
    /// session). The default decodes and puts one record at a time (the records before a corrupt
    /// key stay applied); a persistent store overrides it to write the whole batch at once.
    fn restore_batch(&mut self, batch: &[(Vec<u8>, Option<Vec<u8>>)]) -> StoreResult<()> {
        for (stored, value) in batch {
            let decoded = decode_session_key(stored).map_err(|e| e.in_store(self.name()))?;
            self.put(decoded.key, decoded.window, value.as_deref())?;
        }
        Ok(())
    }
}

/// Checks a window store's retention and window size: neither negative, and the retention no
/// smaller than the window size (as Kafka's `Stores.*WindowStore` require).
pub(crate) fn check_window_store_args(store: &str, retention_ms: i64, window_size_ms: i64) -> StoreResult<()> {
    if retention_ms < 0 || window_size_ms < 0 {
        return Err(StoreError::invalid_argument(
            store,
            format!("retention ({retention_ms} ms) and window size ({window_size_ms} ms) cannot be negative"),
        ));
    }
    if retention_ms < window_size_ms {
        return Err(StoreError::invalid_argument(
            store,
            format!("retention ({retention_ms} ms) must be no smaller than the window size ({window_size_ms} ms)"),
        ));
    }
    Ok(())
}

/// A session: the times (ms) of its first and last record, both inclusive. A session of one record
/// has `start == end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionWindow {
    /// Time of the session's first record (inclusive).
    pub start: i64,
    /// Time of the session's last record (inclusive).
    pub end: i64,
}

impl SessionWindow {
    /// The session `[start, end]`. Fails when `end < start` or `start < 0` (Kafka's `Window`
    /// rejects negative starts too).
    pub fn new(start: i64, end: i64) -> Result<Self, InvalidSessionWindow> {
        if start < 0 || end < start {
            return Err(InvalidSessionWindow { start, end });
        }
        Ok(SessionWindow { start, end })
    }

    /// Whether the fields hold a session [`SessionWindow::new`] would accept (they are public, so
    /// a window can be built without it).
    pub fn is_valid(&self) -> bool {
        self.start >= 0 && self.end >= self.start
    }
}

impl fmt::Display for SessionWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}]", self.start, self.end)
    }
}

/// A session window whose end is before its start, or whose start is negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid session window [{start}, {end}]: a session needs 0 <= start <= end")]
pub struct InvalidSessionWindow {
    /// The start that was given.
    pub start: i64,
    /// The end that was given.
    pub end: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_window_accepts_start_equal_end_and_rejects_end_before_start() {
        assert_eq!(SessionWindow::new(5, 5), Ok(SessionWindow { start: 5, end: 5 }));
        assert_eq!(
            SessionWindow::new(0, 9).map(|w| w.to_string()),
            Ok("[0, 9]".to_string())
        );
        assert_eq!(SessionWindow::new(6, 5), Err(InvalidSessionWindow { start: 6, end: 5 }));
        assert!(SessionWindow::new(-1, 5).is_err());
        assert!(!SessionWindow { start: 3, end: 2 }.is_valid());
    }

    #[test]
    fn the_default_restore_of_a_key_value_store_puts_in_order() {
        use crate::state::InMemoryKeyValueStore;
        let mut store = InMemoryKeyValueStore::new("kv");
        store.put(b"a", Some(b"0")).unwrap();
        let batch = vec![
            (b"a".to_vec(), None),
            (b"b".to_vec(), Some(b"1".to_vec())),
            (b"b".to_vec(), Some(b"2".to_vec())),
        ];
        store.restore_batch(&batch).unwrap();
        assert_eq!(store.all().unwrap(), vec![(b"b".to_vec(), b"2".to_vec())]);
    }

    #[test]
    fn the_default_restore_of_a_window_store_decodes_keys_and_follows_put() {
        use crate::state::InMemoryWindowStore;
        use crate::state::encoding::encode_window_key;
        let mut store = InMemoryWindowStore::new("w", 10, 0, false).unwrap();
        let batch = vec![
            (encode_window_key(b"k", 5, 7), Some(b"v".to_vec())),
            (encode_window_key(b"j", 6, 0), Some(b"x".to_vec())),
            (encode_window_key(b"j", 6, 0), None),
            (encode_window_key(b"k", 20, 0), Some(b"late".to_vec())),
            (encode_window_key(b"k", 9, 0), Some(b"expired".to_vec())),
        ];
        store.restore_batch(&batch).unwrap();
        assert_eq!(store.all().unwrap(), vec![(b"k".to_vec(), 20, b"late".to_vec())]);
        assert_eq!(store.expired_puts(), 1);

        let mut duplicates = InMemoryWindowStore::new("w", 10, 0, true).unwrap();
        let batch = vec![
            (encode_window_key(b"k", 5, 9), Some(b"1".to_vec())),
            (encode_window_key(b"k", 5, 9), Some(b"2".to_vec())),
            (encode_window_key(b"k", 5, 9), None),
        ];
        duplicates.restore_batch(&batch).unwrap();
        assert_eq!(
            duplicates.fetch_range(b"k", 0, 10).unwrap(),
            vec![(5, b"1".to_vec()), (5, b"2".to_vec())]
        );

        let error = store.restore_batch(&[(b"short".to_vec(), None)]).unwrap_err();
        assert!(
            matches!(&error, crate::state::StoreError::Corrupt { store, .. } if store == "w"),
            "{error}"
        );
    }

    #[test]
    fn the_default_restore_of_a_session_store_decodes_keys_and_follows_put() {
        use crate::state::InMemorySessionStore;
        use crate::state::encoding::encode_session_key;
        let w = |start, end| SessionWindow::new(start, end).unwrap();
        let mut store = InMemorySessionStore::new("s", 100).unwrap();
        let batch = vec![
            (encode_session_key(b"k", w(0, 5)), Some(b"a".to_vec())),
            (encode_session_key(b"k", w(0, 5)), None),
            (encode_session_key(b"k", w(3, 9)), Some(b"b".to_vec())),
        ];
        store.restore_batch(&batch).unwrap();
        assert_eq!(store.fetch_key(b"k").unwrap(), vec![(w(3, 9), b"b".to_vec())]);
        let mut bad = b"k".to_vec();
        bad.extend_from_slice(&1i64.to_be_bytes());
        bad.extend_from_slice(&2i64.to_be_bytes());
        assert!(store.restore_batch(&[(bad, Some(b"v".to_vec()))]).is_err());
        assert!(store.restore_batch(&[(b"k".to_vec(), None)]).is_err());
    }

    #[test]
    fn session_windows_order_by_start_then_end() {
        let a = SessionWindow::new(1, 9).unwrap();
        let b = SessionWindow::new(2, 3).unwrap();
        assert!(a < b);
    }
}

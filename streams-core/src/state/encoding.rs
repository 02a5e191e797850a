//! Binary layouts of window and session store keys, byte for byte those of Kafka Streams'
//! `WindowKeySchema` and `SessionKeySchema`.
//!
//! A RocksDB store keeps all windows or sessions in one sorted key space, and the change-logging
//! layer uses the same bytes as changelog record keys:
//!
//! ```text
//! window key:   | key bytes (n) | window start: i64 BE (8) | sequence number: u32 BE (4) |
//! session key:  | key bytes (n) | session end:  i64 BE (8) | session start:   i64 BE (8) |
//! ```
//!
//! The key bytes have no length prefix: a decoder takes the fixed-size suffix from the end.
//!
//! # What the byte order of encoded keys gives, and what it does not
//! - Timestamps are big-endian two's complement ([`encode_timestamp`]), so their byte order is
//!   their numeric order for **non-negative** timestamps only (negative ones sort after all
//!   non-negative ones). Kafka Streams never stores negative times.
//! - For **one key**, encoded window keys sort by (window start, sequence number), and encoded
//!   session keys sort by (end, start): a range scan over one key is a scan in time.
//! - For **keys of equal length** and equal times, encoded keys sort in key order.
//! - Keys of **different lengths interleave**: the suffix of a shorter key is compared with the
//!   tail bytes of a longer one, so `[1] ++ start 2⁵⁷` sorts after `[1, 1] ++ start 0` although
//!   `[1] < [1, 1]`. A scan over one key's bounds ([`window_key_bounds`], [`session_key_bounds`])
//!   can therefore meet other keys' entries and must decode and filter each entry, as Kafka's
//!   `HasNextCondition` does.

use super::StoreError;
use super::traits::SessionWindow;

/// Bytes of an encoded timestamp.
pub const TIMESTAMP_SIZE: usize = 8;

/// Bytes of an encoded sequence number.
pub const SEQNUM_SIZE: usize = 4;

/// Bytes a window key adds after the key bytes.
pub const WINDOW_SUFFIX_SIZE: usize = TIMESTAMP_SIZE + SEQNUM_SIZE;

/// Bytes a session key adds after the key bytes.
pub const SESSION_SUFFIX_SIZE: usize = 2 * TIMESTAMP_SIZE;

/// Bytes that are not in the layout they were decoded as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode {what}: {reason}")]
pub struct DecodeError {
    /// What was being decoded, e.g. "a window key".
    pub what: &'static str,
    /// What was wrong with the bytes.
    pub reason: String,
}

impl DecodeError {
    /// This error as a [`StoreError::Corrupt`] of the store `store`.
    pub fn in_store(self, store: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            store: store.into(),
            reason: self.to_string(),
        }
    }

    fn too_short(what: &'static str, needed: usize, got: usize) -> Self {
        DecodeError {
            what,
            reason: format!("needs at least {needed} bytes, got {got}"),
        }
    }
}

/// A window key split into its parts; `key` borrows from the encoded bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowKey<'a> {
    /// The record key's bytes.
    pub key: &'a [u8],
    /// The window start (ms).
    pub window_start: i64,
    /// Tells apart duplicates of one key and window; 0 in stores that keep no duplicates.
    pub seqnum: u32,
}

/// A session key split into its parts; `key` borrows from the encoded bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionKey<'a> {
    /// The record key's bytes.
    pub key: &'a [u8],
    /// The session.
    pub window: SessionWindow,
}

/// The 8 bytes of `timestamp`, big-endian two's complement (Java's `ByteBuffer.putLong`).
/// Byte order equals numeric order for non-negative timestamps only.
pub fn encode_timestamp(timestamp: i64) -> [u8; TIMESTAMP_SIZE] {
    timestamp.to_be_bytes()
}

/// The timestamp encoded in exactly 8 bytes by [`encode_timestamp`].
pub fn decode_timestamp(bytes: &[u8]) -> Result<i64, DecodeError> {
    let array: [u8; TIMESTAMP_SIZE] = bytes.try_into().map_err(|_| DecodeError {
        what: "a timestamp",
        reason: format!("needs exactly {TIMESTAMP_SIZE} bytes, got {}", bytes.len()),
    })?;
    Ok(i64::from_be_bytes(array))
}

/// `key ++ window_start (8 bytes BE) ++ seqnum (4 bytes BE)`, Kafka's
/// `WindowKeySchema.toStoreKeyBinary`. Kafka's sequence numbers stay within `0..=i32::MAX`.
pub fn encode_window_key(key: &[u8], window_start: i64, seqnum: u32) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(key.len() + WINDOW_SUFFIX_SIZE);
    bytes.extend_from_slice(key);
    bytes.extend_from_slice(&encode_timestamp(window_start));
    bytes.extend_from_slice(&seqnum.to_be_bytes());
    bytes
}

/// The parts of a key encoded by [`encode_window_key`]. Fails when `bytes` is shorter than the
/// 12-byte suffix.
pub fn decode_window_key(bytes: &[u8]) -> Result<WindowKey<'_>, DecodeError> {
    let Some(key_len) = bytes.len().checked_sub(WINDOW_SUFFIX_SIZE) else {
        return Err(DecodeError::too_short("a window key", WINDOW_SUFFIX_SIZE, bytes.len()));
    };
    let (key, suffix) = bytes.split_at(key_len);
    let (start, seqnum) = suffix.split_at(TIMESTAMP_SIZE);
    Ok(WindowKey {
        key,
        window_start: decode_timestamp(start)?,
        seqnum: u32::from_be_bytes(seqnum.try_into().expect("the suffix split leaves 4 bytes")),
    })
}

/// The smallest and largest encoded window keys of `key` with a window start in
/// `[time_from, time_to]` (Kafka's `lowerRangeFixedSize` / `upperRangeFixedSize`; a negative
/// `time_from` is raised to 0). Every encoded window key of `key` in that time range lies within
/// these bounds; entries of longer keys may too (see the module docs), so a scan must filter.
pub fn window_key_bounds(key: &[u8], time_from: i64, time_to: i64) -> (Vec<u8>, Vec<u8>) {
    (
        encode_window_key(key, time_from.max(0), 0),
        encode_window_key(key, time_to, u32::MAX),
    )
}

/// `key ++ end (8 bytes BE) ++ start (8 bytes BE)`, Kafka's `SessionKeySchema.toBinary`. The end
/// comes first so that a scan of one key runs in order of session end.
pub fn encode_session_key(key: &[u8], window: SessionWindow) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(key.len() + SESSION_SUFFIX_SIZE);
    bytes.extend_from_slice(key);
    bytes.extend_from_slice(&encode_timestamp(window.end));
    bytes.extend_from_slice(&encode_timestamp(window.start));
    bytes
}

/// The parts of a key encoded by [`encode_session_key`]. Fails when `bytes` is shorter than the
/// 16-byte suffix, or when the times are not a valid [`SessionWindow`].
pub fn decode_session_key(bytes: &[u8]) -> Result<SessionKey<'_>, DecodeError> {
    let Some(key_len) = bytes.len().checked_sub(SESSION_SUFFIX_SIZE) else {
        return Err(DecodeError::too_short(
            "a session key",
            SESSION_SUFFIX_SIZE,
            bytes.len(),
        ));
    };
    let (key, suffix) = bytes.split_at(key_len);
    let (end, start) = suffix.split_at(TIMESTAMP_SIZE);
    let window = SessionWindow::new(decode_timestamp(start)?, decode_timestamp(end)?).map_err(|e| DecodeError {
        what: "a session key",
        reason: e.to_string(),
    })?;
    Ok(SessionKey { key, window })
}

/// The smallest and largest encoded session keys of `key` that can hold a session with
/// `end >= earliest_session_end` and `start <= latest_session_start` (Kafka's
/// `lowerRangeFixedSize` / `upperRangeFixedSize`: from `(end = max(0, earliest), start = 0)` to
/// `(end = i64::MAX, start = latest)`). Entries within the bounds may still fail the condition, or
/// belong to longer keys, so a scan must filter.
pub fn session_key_bounds(key: &[u8], earliest_session_end: i64, latest_session_start: i64) -> (Vec<u8>, Vec<u8>) {
    let mut lower = Vec::with_capacity(key.len() + SESSION_SUFFIX_SIZE);
    lower.extend_from_slice(key);
    lower.extend_from_slice(&encode_timestamp(earliest_session_end.max(0)));
    lower.extend_from_slice(&encode_timestamp(0));
    let mut upper = Vec::with_capacity(key.len() + SESSION_SUFFIX_SIZE);
    upper.extend_from_slice(key);
    upper.extend_from_slice(&encode_timestamp(i64::MAX));
    upper.extend_from_slice(&encode_timestamp(latest_session_start));
    (lower, upper)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn window(start: i64, end: i64) -> SessionWindow {
        SessionWindow::new(start, end).unwrap()
    }

    #[test]
    fn window_key_layout_is_kafkas() {
        let bytes = encode_window_key(b"ab", 0x0102, 7);
        assert_eq!(bytes, [b'a', b'b', 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 7]);
    }

    #[test]
    fn session_key_layout_puts_end_before_start() {
        let bytes = encode_session_key(b"k", window(1, 2));
        assert_eq!(bytes, [b'k', 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn decoding_too_short_input_fails() {
        assert!(decode_window_key(&[0; WINDOW_SUFFIX_SIZE - 1]).is_err());
        assert!(decode_session_key(&[0; SESSION_SUFFIX_SIZE - 1]).is_err());
        assert!(decode_timestamp(&[0; 7]).is_err());
        assert!(decode_timestamp(&[0; 9]).is_err());
        let error = decode_window_key(b"abc").unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot decode a window key: needs at least 12 bytes, got 3"
        );
        assert_eq!(
            error.in_store("joins").to_string(),
            "state store joins: corrupt data: cannot decode a window key: needs at least 12 bytes, got 3"
        );
    }

    #[test]
    fn an_empty_key_decodes() {
        let bytes = encode_window_key(b"", 5, 1);
        assert_eq!(decode_window_key(&bytes).unwrap().key, b"");
    }

    #[test]
    fn decoding_a_session_whose_end_is_before_its_start_fails() {
        let mut bytes = b"k".to_vec();
        bytes.extend_from_slice(&encode_timestamp(1));
        bytes.extend_from_slice(&encode_timestamp(2));
        assert!(decode_session_key(&bytes).is_err());
    }

    #[test]
    fn negative_timestamps_sort_after_non_negative_ones() {
        assert!(encode_timestamp(-1) > encode_timestamp(i64::MAX));
    }

    #[test]
    fn keys_of_different_lengths_interleave() {
        let short_late = encode_window_key(&[1], 1 << 57, 0);
        let long_early = encode_window_key(&[1, 1], 0, 0);
        assert!(short_late > long_early);
        // ... and the scan bounds of the short key hold an entry of the longer key.
        let (lower, upper) = window_key_bounds(&[1], 0, i64::MAX);
        assert!(lower <= long_early && long_early <= upper);
    }

    proptest! {
        #[test]
        fn window_keys_round_trip(key in prop::collection::vec(any::<u8>(), 0..20), start: i64, seqnum: u32) {
            let bytes = encode_window_key(&key, start, seqnum);
            let decoded = decode_window_key(&bytes).unwrap();
            prop_assert_eq!(decoded, WindowKey { key: &key, window_start: start, seqnum });
        }

        #[test]
        fn session_keys_round_trip(key in prop::collection::vec(any::<u8>(), 0..20), start in 0..i64::MAX, length in 0..i64::MAX) {
            let w = window(start, start.saturating_add(length));
            let bytes = encode_session_key(&key, w);
            prop_assert_eq!(decode_session_key(&bytes).unwrap(), SessionKey { key: &key, window: w });
        }

        #[test]
        fn timestamps_round_trip(timestamp: i64) {
            prop_assert_eq!(decode_timestamp(&encode_timestamp(timestamp)).unwrap(), timestamp);
        }

        #[test]
        fn timestamp_bytes_order_is_numeric_order_when_non_negative(a in 0..=i64::MAX, b in 0..=i64::MAX) {
            prop_assert_eq!(encode_timestamp(a).cmp(&encode_timestamp(b)), a.cmp(&b));
        }

        #[test]
        fn window_keys_of_one_key_sort_by_start_then_seqnum(
            key in prop::collection::vec(any::<u8>(), 0..8),
            a in (0..=i64::MAX, any::<u32>()),
            b in (0..=i64::MAX, any::<u32>()),
        ) {
            let encoded_a = encode_window_key(&key, a.0, a.1);
            let encoded_b = encode_window_key(&key, b.0, b.1);
            prop_assert_eq!(encoded_a.cmp(&encoded_b), a.cmp(&b));
        }

        #[test]
        fn session_keys_of_one_key_sort_by_end_then_start(
            key in prop::collection::vec(any::<u8>(), 0..8),
            a in (0..i64::MAX / 2, 0..i64::MAX / 2),
            b in (0..i64::MAX / 2, 0..i64::MAX / 2),
        ) {
            let (wa, wb) = (window(a.0, a.0 + a.1), window(b.0, b.0 + b.1));
            let encoded_a = encode_session_key(&key, wa);
            let encoded_b = encode_session_key(&key, wb);
            prop_assert_eq!(encoded_a.cmp(&encoded_b), (wa.end, wa.start).cmp(&(wb.end, wb.start)));
        }

        #[test]
        fn keys_of_equal_length_sort_in_key_order_at_equal_times(
            (a, b) in (0..8usize).prop_flat_map(|n| (prop::collection::vec(any::<u8>(), n), prop::collection::vec(any::<u8>(), n))),
            start in 0..=i64::MAX,
            seqnum: u32,
            length in 0..=i64::MAX,
        ) {
            let windows = encode_window_key(&a, start, seqnum).cmp(&encode_window_key(&b, start, seqnum));
            prop_assert_eq!(windows, a.cmp(&b));
            let w = window(start, start.saturating_add(length));
            prop_assert_eq!(encode_session_key(&a, w).cmp(&encode_session_key(&b, w)), a.cmp(&b));
        }

        #[test]
        fn window_bounds_hold_every_matching_key(
            key in prop::collection::vec(any::<u8>(), 0..8),
            start in 0..1000i64,
            seqnum: u32,
            from in -10..1000i64,
            to in 0..1000i64,
        ) {
            let (lower, upper) = window_key_bounds(&key, from, to);
            let encoded = encode_window_key(&key, start, seqnum);
            let within = lower <= encoded && encoded <= upper;
            prop_assert_eq!(within, from <= start && start <= to);
        }

        #[test]
        fn session_bounds_hold_every_matching_session(
            key in prop::collection::vec(any::<u8>(), 0..8),
            start in 0..1000i64,
            length in 0..1000i64,
            earliest_end in -10..2000i64,
            latest_start in 0..2000i64,
        ) {
            let w = window(start, start + length);
            let (lower, upper) = session_key_bounds(&key, earliest_end, latest_start);
            let encoded = encode_session_key(&key, w);
            if w.end >= earliest_end && w.start <= latest_start {
                prop_assert!(lower <= encoded && encoded <= upper);
            }
        }
    }
}

//! The harness's deterministic input, and the output each case must produce from it.
//!
//! Record `i` of the input: key `key-<i mod keys>` (five digits at least), a value of
//! `value_bytes` lowercase letters drawn from `i` (every 20th value is empty, so the stateless
//! filter has something to drop), timestamp [`BASE_TIMESTAMP`]` + i` ms: in order within every
//! partition, so no record is late and every window's final count is known in advance.
//!
//! Both systems read the same topics; the expectations below are computed from the generator, not
//! from either system, so "the same output" means "the right output" too.

use std::collections::HashMap;

use crate::digest::Digest;

/// Event time of input record 0 (2023-11-14), ms since the epoch.
pub const BASE_TIMESTAMP: i64 = 1_700_000_000_000;
/// Event time of every table record: before all input records, so a system that orders its input
/// by timestamp loads the table first.
pub const TABLE_TIMESTAMP: i64 = 1_600_000_000_000;
/// The windowed count's window size (one-minute tumbling windows, as both topologies define it).
pub const WINDOW_MS: i64 = 60_000;
/// Every `EMPTY_EVERY`-th value is empty.
pub const EMPTY_EVERY: u64 = 20;
/// Bytes of a table value.
pub const TABLE_VALUE_BYTES: usize = 20;

/// The shape of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// Input records.
    pub records: u64,
    /// Distinct keys among them.
    pub keys: u64,
    /// Bytes of a non-empty value.
    pub value_bytes: usize,
    /// Partitions of every topic.
    pub partitions: i32,
    /// Keys of the stream-table join's table (the stream's keys are among them).
    pub table_keys: u64,
}

/// SplitMix64: a fast, well-mixed function of the record number.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The key of a key number: `key-00042`.
pub fn key(n: u64) -> String {
    format!("key-{n:05}")
}

/// The value of input record `i`: empty for every [`EMPTY_EVERY`]-th record, else `bytes`
/// lowercase letters.
pub fn value(i: u64, bytes: usize) -> Vec<u8> {
    if i % EMPTY_EVERY == EMPTY_EVERY - 1 {
        return Vec::new();
    }
    let mut state = mix(i);
    (0..bytes)
        .map(|j| {
            if j % 8 == 0 && j > 0 {
                state = mix(state);
            }
            b'a' + ((state >> ((j % 8) * 8)) as u8 % 26)
        })
        .collect()
}

/// The table's value for key number `n` (see [`TABLE_VALUE_BYTES`]).
pub fn table_value(n: u64) -> Vec<u8> {
    let mut value = format!("profile-{n:06}-").into_bytes();
    value.resize(TABLE_VALUE_BYTES, b'#');
    value
}

impl Workload {
    /// Input record `i`: key, value, timestamp.
    pub fn record(&self, i: u64) -> (String, Vec<u8>, i64) {
        (
            key(i % self.keys),
            value(i, self.value_bytes),
            BASE_TIMESTAMP + i as i64,
        )
    }

    /// The stateless case's output: the non-empty values, upper-cased.
    pub fn expected_stateless(&self) -> Digest {
        let mut digest = Digest::default();
        for i in 0..self.records {
            let (key, value, _) = self.record(i);
            if !value.is_empty() {
                digest.add(Some(key.as_bytes()), Some(&value.to_ascii_uppercase()));
            }
        }
        digest
    }

    /// The passthrough's output: the input.
    pub fn expected_passthrough(&self) -> Digest {
        let mut digest = Digest::default();
        for i in 0..self.records {
            let (key, value, _) = self.record(i);
            digest.add(Some(key.as_bytes()), Some(&value));
        }
        digest
    }

    /// The stream-table join's output: every record, its value joined to its key's table value
    /// with `|` (an inner join that always finds its key, as the table holds every stream key).
    pub fn expected_join(&self) -> Digest {
        let mut digest = Digest::default();
        for i in 0..self.records {
            let (key, mut value, _) = self.record(i);
            value.push(b'|');
            value.extend_from_slice(&table_value(i % self.keys));
            digest.add(Some(key.as_bytes()), Some(&value));
        }
        digest
    }

    /// The windowed count's final counts, by output key in Kafka's time-windowed layout (the
    /// key's bytes, then the window start as 8 big-endian bytes).
    pub fn expected_window_counts(&self) -> HashMap<Vec<u8>, i64> {
        let mut counts = HashMap::new();
        for i in 0..self.records {
            let (key, _, timestamp) = self.record(i);
            *counts.entry(windowed_key(key.as_bytes(), timestamp)).or_insert(0) += 1;
        }
        counts
    }
}

/// The time-windowed output key of a record with `key` at `timestamp`.
pub fn windowed_key(key: &[u8], timestamp: i64) -> Vec<u8> {
    let start = timestamp - timestamp.rem_euclid(WINDOW_MS);
    let mut bytes = key.to_vec();
    bytes.extend_from_slice(&start.to_be_bytes());
    bytes
}

/// Follows the latest count of every windowed key in a changelog-like output stream and knows when
/// they all equal the expected final counts.
#[derive(Debug)]
pub struct WindowCountCheck {
    expected: HashMap<Vec<u8>, i64>,
    latest: HashMap<Vec<u8>, i64>,
    matching: usize,
    /// Output records whose key was not expected or whose value was not an 8-byte count.
    pub unexpected: u64,
}

impl WindowCountCheck {
    /// A check against `expected` final counts.
    pub fn new(expected: HashMap<Vec<u8>, i64>) -> Self {
        Self {
            expected,
            latest: HashMap::new(),
            matching: 0,
            unexpected: 0,
        }
    }

    /// Takes one output record (the latest count of its key so far).
    pub fn observe(&mut self, key: &[u8], value: Option<&[u8]>) {
        let Some(&want) = self.expected.get(key) else {
            self.unexpected += 1;
            return;
        };
        let Some(count) = value.and_then(|v| <[u8; 8]>::try_from(v).ok()).map(i64::from_be_bytes) else {
            self.unexpected += 1;
            return;
        };
        let before = self.latest.insert(key.to_vec(), count);
        if before == Some(want) {
            self.matching -= 1;
        }
        if count == want {
            self.matching += 1;
        }
    }

    /// True when every expected key's latest count is its final count and nothing unexpected came.
    pub fn complete(&self) -> bool {
        self.matching == self.expected.len() && self.unexpected == 0
    }

    /// A line saying how far from complete this is.
    pub fn describe(&self) -> String {
        format!(
            "{} of {} windows at their final count, {} seen, {} unexpected records",
            self.matching,
            self.expected.len(),
            self.latest.len(),
            self.unexpected
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Workload {
        Workload {
            records: 200_000,
            keys: 1_000,
            value_bytes: 100,
            partitions: 4,
            table_keys: 2_000,
        }
    }

    #[test]
    fn records_are_deterministic_lowercase_and_every_twentieth_is_empty() {
        let w = small();
        assert_eq!(w.record(7), w.record(7));
        let (key, value, ts) = w.record(1_042);
        assert_eq!(key, "key-00042");
        assert_eq!(ts, BASE_TIMESTAMP + 1_042);
        assert_eq!(value.len(), 100);
        assert!(value.iter().all(u8::is_ascii_lowercase));
        assert!(w.record(19).1.is_empty());
        assert!(!w.record(20).1.is_empty());
        assert_ne!(w.record(1).1, w.record(2).1);
        // The letters are spread: all 26 appear in a few values.
        let letters: std::collections::HashSet<u8> = (0..10).flat_map(|i| super::value(i, 100)).collect();
        assert_eq!(letters.len(), 26);
    }

    #[test]
    fn expected_outputs_count_what_each_topology_emits() {
        let w = small();
        assert_eq!(w.expected_passthrough().count, w.records);
        assert_eq!(w.expected_stateless().count, w.records - w.records / EMPTY_EVERY);
        assert_eq!(w.expected_join().count, w.records);
        let counts = w.expected_window_counts();
        assert_eq!(counts.values().sum::<i64>(), w.records as i64);
        // 200,000 ms of records from 1,700,000,000,000 span 4 minute windows.
        assert_eq!(counts.len(), 4 * 1_000);
    }

    #[test]
    fn windowed_keys_use_kafkas_time_windowed_layout() {
        let key = windowed_key(b"key-00001", 1_700_000_059_999);
        assert_eq!(&key[..9], b"key-00001");
        // 1,700,000,040,000 is a multiple of 60,000: windows align to the epoch, as Kafka's do.
        assert_eq!(i64::from_be_bytes(key[9..].try_into().unwrap()), 1_700_000_040_000);
    }

    #[test]
    fn the_window_check_follows_updates_until_every_count_is_final() {
        let mut expected = HashMap::new();
        expected.insert(b"a".to_vec(), 2);
        expected.insert(b"b".to_vec(), 1);
        let mut check = WindowCountCheck::new(expected);
        check.observe(b"a", Some(&1i64.to_be_bytes()));
        check.observe(b"b", Some(&1i64.to_be_bytes()));
        assert!(!check.complete());
        check.observe(b"a", Some(&2i64.to_be_bytes()));
        assert!(check.complete());
        // A count going past the final one undoes the match.
        check.observe(b"a", Some(&3i64.to_be_bytes()));
        assert!(!check.complete());
        check.observe(b"a", Some(&2i64.to_be_bytes()));
        assert!(check.complete());
        check.observe(b"c", Some(&1i64.to_be_bytes()));
        assert!(!check.complete(), "{}", check.describe());
    }
}

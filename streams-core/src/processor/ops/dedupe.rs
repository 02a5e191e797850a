//! `dedupe_by`: drops replays of an event id within a window of event time, remembering the ids it
//! forwarded in a window store (KIP-655's deduplication, which Kafka Streams never shipped).
//!
//! ```text
//!  record (id, t) ──▶ id serde writes null? ──yes──▶ forward (never checked, never stored)
//!                              │ no
//!                              ▼
//!        store: an entry of id with a start in [t - window, t + window]?
//!               │ yes, written for another input record     │ no (or only for this very input
//!               ▼                                            ▼  record, by an earlier instance)
//!            drop (a replay)                   put (id, t) ──▶ forward unchanged
//! ```
//!
//! # Store
//! A window store, not retaining duplicates, of window size `window` and retention
//! `window + grace + 1 ms`: one entry per forwarded id at window start `t` (the record's
//! timestamp). Entries expire as the store's observed stream time (the largest `t` put) passes
//! them by the retention, so a record at most `grace` behind stream time finds every entry of the
//! window `[t - window, t + window]`: each such entry has a start `>= t - window >= stream time -
//! retention + 1`. Duplicates are not stored: the first forwarded record of an id holds the
//! window, and its replays do not extend it (KIP-655).
//!
//! # Entry values
//! Who wrote the entry, so that an input record processed again after a crash is recognised as
//! itself rather than as a replay:
//!
//! ```text
//! | epoch: u64 BE (8) | partition: i32 BE (4) | offset: i64 BE (8) | topic: UTF-8 (rest) |
//! ```
//!
//! The epoch is drawn at random when the processor instance starts; the rest is the input record's
//! source position (only the epoch when the record has none, e.g. one forwarded by a punctuation).
//! An entry with the same source position and another epoch was written for this very record by
//! an instance whose commit did not cover it (at-least-once: the store's changelog got ahead of
//! the outputs and offsets). The record is then forwarded again, and its entry rewritten with this
//! epoch: a possible duplicate, as at-least-once allows, never a loss. Under exactly-once no such
//! entry survives a crash (uncommitted state is wiped and restored from the committed changelog),
//! so the rule never applies there. Within one instance an entry of the same source position is a
//! true repeat (one input record mapped to several records with one id) and is dropped.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::processor::{Data, Processor, ProcessorContext, Record, RecordMetadata, WindowStoreHandle};
use crate::serde::{BytesSerde, SharedSerde};

/// Forwards a record unless a record with the same id and a timestamp within `window_ms` of its
/// own was forwarded before (see the module docs).
pub(crate) struct Dedupe<F, I> {
    pub(crate) id: Arc<F>,
    pub(crate) window_ms: i64,
    pub(crate) grace_ms: i64,
    pub(crate) store: String,
    pub(crate) id_serde: SharedSerde<I>,
    pub(crate) handle: Option<WindowStoreHandle<I, Vec<u8>>>,
    /// This instance's epoch, drawn in `init`.
    pub(crate) epoch: u64,
}

impl<K, V, I, F> Processor<K, V> for Dedupe<F, I>
where
    K: Data,
    V: Data,
    I: 'static,
    F: Fn(&K, &V) -> I + 'static,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, V>) -> Result<()> {
        self.handle = Some(ctx.window_store_handle_with(&self.store, self.id_serde.clone(), Arc::new(BytesSerde))?);
        self.epoch = new_epoch();
        Ok(())
    }

    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K, V>) -> Result<()> {
        let handle = self.handle.as_ref().expect("init ran");
        let id = (self.id)(&record.key, &record.value);
        let serdes = &handle.serdes;
        let id = match serdes.key.serialize(&serdes.topic, &id) {
            Ok(Some(id)) => id,
            Ok(None) => return ctx.forward(record),
            Err(e) => {
                return Err(Error::processing(format!(
                    "serializing the deduplication id for store {}: {e}",
                    self.store
                )));
            }
        };
        let t = record.timestamp;
        if ctx
            .stream_time()
            .is_some_and(|now| now.saturating_sub(t) > self.grace_ms)
        {
            tracing::debug!(
                store = %self.store,
                timestamp = t,
                "a record further behind stream time than the grace: checked against the ids still kept"
            );
        }
        let source = ctx.record_metadata().cloned();
        let store = ctx.window_store(handle).store;
        let found = store.fetch_range(&id, t.saturating_sub(self.window_ms), t.saturating_add(self.window_ms))?;
        let replay = found
            .iter()
            .any(|(_, entry)| !written_for_this_record_before(entry, self.epoch, source.as_ref()));
        if replay {
            tracing::trace!(store = %self.store, timestamp = t, "dropping a replay");
            return Ok(());
        }
        store.put(&id, Some(&encode_entry(self.epoch, source.as_ref())), t)?;
        ctx.forward(record)
    }
}

/// A random epoch for a new processor instance: the standard library's per-process random hash
/// keys over a counter, the time and the process id.
fn new_epoch() -> u64 {
    static INSTANCES: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(INSTANCES.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// Bytes of the epoch, partition and offset before an entry's topic.
const POSITION_SIZE: usize = 8 + 4 + 8;

/// An entry's value: `epoch`, then `source`'s partition, offset and topic (see the module docs).
fn encode_entry(epoch: u64, source: Option<&RecordMetadata>) -> Vec<u8> {
    let mut bytes = epoch.to_be_bytes().to_vec();
    if let Some(source) = source {
        bytes.reserve(POSITION_SIZE - 8 + source.topic.len());
        bytes.extend_from_slice(&source.partition.to_be_bytes());
        bytes.extend_from_slice(&source.offset.to_be_bytes());
        bytes.extend_from_slice(source.topic.as_bytes());
    }
    bytes
}

/// Whether `entry` was written for the input record at `source` by another instance than the one
/// of `epoch`: this record processed again, not a replay. An entry that does not decode is a
/// replay's (the safe side: it keeps dropping).
fn written_for_this_record_before(entry: &[u8], epoch: u64, source: Option<&RecordMetadata>) -> bool {
    let Some(source) = source else { return false };
    if entry.len() < POSITION_SIZE {
        return false;
    }
    let (fixed, topic) = entry.split_at(POSITION_SIZE);
    let entry_epoch = u64::from_be_bytes(fixed[0..8].try_into().expect("8 bytes"));
    let partition = i32::from_be_bytes(fixed[8..12].try_into().expect("4 bytes"));
    let offset = i64::from_be_bytes(fixed[12..20].try_into().expect("8 bytes"));
    entry_epoch != epoch && partition == source.partition && offset == source.offset && topic == source.topic.as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(topic: &str, partition: i32, offset: i64) -> RecordMetadata {
        RecordMetadata {
            topic: topic.to_string(),
            partition,
            offset,
        }
    }

    #[test]
    fn an_entry_is_this_records_only_for_its_exact_position_and_another_epoch() {
        let source = at("payments", 3, 42);
        let entry = encode_entry(7, Some(&source));
        assert_eq!(entry.len(), POSITION_SIZE + "payments".len());
        assert!(written_for_this_record_before(&entry, 8, Some(&source)));
        assert!(
            !written_for_this_record_before(&entry, 7, Some(&source)),
            "same instance: a repeat"
        );
        for other in [
            at("payments", 3, 43),
            at("payments", 2, 42),
            at("payment", 3, 42),
            at("paymentsx", 3, 42),
        ] {
            assert!(!written_for_this_record_before(&entry, 8, Some(&other)), "{other:?}");
        }
        assert!(!written_for_this_record_before(&entry, 8, None));
        let without_source = encode_entry(7, None);
        assert_eq!(without_source, 7u64.to_be_bytes().to_vec());
        assert!(!written_for_this_record_before(&without_source, 8, Some(&source)));
        assert!(!written_for_this_record_before(b"", 8, Some(&source)));
    }

    #[test]
    fn epochs_differ_between_instances() {
        assert_ne!(new_epoch(), new_epoch());
    }
}

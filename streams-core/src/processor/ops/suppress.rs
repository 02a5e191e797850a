//! `suppress`: holds a table's updates and forwards each key's latest change when its time comes.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::processor::{Change, Data, Processor, ProcessorContext, PunctuationType, PunctuatorId, Record};
use crate::serde::SharedSerde;
use crate::time::{BufferConfig, BufferFull, SuppressKind};

/// The end of a windowed key's window.
pub(crate) type WindowEnd<K> = Arc<dyn Fn(&K) -> i64 + Send + Sync>;

/// A buffered key: its latest change (the index `by_time` holds its time and sequence number).
struct Buffered<K, V> {
    record: Record<K, Change<V>>,
}

/// Buffers one change per key (keys compared by their serialized bytes), each with a time: its
/// window's end (until the window closes) or its first buffered record's timestamp (time limit).
/// A key is emitted when stream time reaches its time plus the grace period or time limit, with
/// its latest new value and the old value it had before it was buffered. Final results drop
/// tombstones, as Kafka Streams does.
///
/// It evicts after each record and on every advance of stream time (a 1 ms stream-time
/// punctuation), so results also come out when time moves without a record reaching it.
pub(crate) struct Suppress<K, V> {
    kind: SuppressKind,
    buffer: BufferConfig,
    grace_ms: i64,
    window_end: Option<WindowEnd<K>>,
    key_serde: SharedSerde<K>,
    /// The topic keys are serialized for: the buffer's changelog-to-be, as Kafka Streams names it
    /// (`<application.id>-<node>-store-changelog`), so schema-registry serdes use one subject.
    topic: String,
    entries: HashMap<Vec<u8>, Buffered<K, V>>,
    by_time: BTreeSet<(i64, u64, Vec<u8>)>,
    next_sequence: u64,
}

impl<K, V> Suppress<K, V> {
    pub(crate) fn new(
        kind: SuppressKind,
        buffer: BufferConfig,
        grace_ms: i64,
        window_end: Option<WindowEnd<K>>,
        key_serde: SharedSerde<K>,
    ) -> Self {
        Suppress {
            kind,
            buffer,
            grace_ms,
            window_end,
            key_serde,
            topic: String::new(),
            entries: HashMap::new(),
            by_time: BTreeSet::new(),
            next_sequence: 0,
        }
    }

    /// How long after its time a key is held.
    fn hold_ms(&self) -> i64 {
        match self.kind {
            SuppressKind::UntilWindowCloses => self.grace_ms,
            SuppressKind::UntilTimeLimit(limit) => limit,
        }
    }

    fn final_results(&self) -> bool {
        self.kind == SuppressKind::UntilWindowCloses
    }
}

impl<K: Data, V: Data> Suppress<K, V> {
    fn emit(&mut self, entry: (i64, u64, Vec<u8>), ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        self.by_time.remove(&entry);
        let buffered = self.entries.remove(&entry.2).expect("the index and the buffer agree");
        if self.final_results() && buffered.record.value.new.is_none() {
            return Ok(());
        }
        ctx.forward(buffered.record)
    }

    fn evict(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        let Some(now) = ctx.stream_time() else { return Ok(()) };
        let limit = now.saturating_sub(self.hold_ms());
        while let Some(first) = self.by_time.first() {
            if first.0 > limit {
                break;
            }
            let first = first.clone();
            self.emit(first, ctx)?;
        }
        Ok(())
    }
}

impl<K: Data, V: Data> Processor<K, Change<V>> for Suppress<K, V> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        self.topic = format!("{}-{}-store-changelog", ctx.application_id(), ctx.node_name());
        ctx.schedule(Duration::from_millis(1), PunctuationType::StreamTime);
        Ok(())
    }

    fn process(&mut self, record: Record<K, Change<V>>, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        let key = self
            .key_serde
            .serialize(&self.topic, &record.key)
            .map_err(|e| Error::processing(format!("serializing a suppressed key: {e}")))?
            .unwrap_or_default();
        match self.entries.get_mut(&key) {
            Some(buffered) => {
                let old = buffered.record.value.old.take();
                buffered.record = Record {
                    value: Change::new(record.value.new, old),
                    ..record
                };
            }
            None => {
                let time = match (&self.kind, &self.window_end) {
                    (SuppressKind::UntilWindowCloses, Some(window_end)) => window_end(&record.key),
                    _ => record.timestamp,
                };
                let sequence = self.next_sequence;
                self.next_sequence += 1;
                self.by_time.insert((time, sequence, key.clone()));
                self.entries.insert(key, Buffered { record });
            }
        }
        if let Some(max) = self.buffer.max_records {
            while self.entries.len() > max {
                match self.buffer.when_full {
                    BufferFull::EmitEarly => {
                        let oldest = self.by_time.first().expect("a full buffer has entries").clone();
                        self.emit(oldest, ctx)?;
                    }
                    BufferFull::ShutDown => {
                        return Err(Error::processing(format!(
                            "suppression buffer full ({max} keys) and configured to shut down when full"
                        )));
                    }
                }
            }
        }
        self.evict(ctx)
    }

    fn punctuate(&mut self, _: PunctuatorId, _: i64, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        self.evict(ctx)
    }
}

//! The source node: bytes from a topic to a typed record, its timestamp checked, stream time
//! advanced.

use std::any::Any;
use std::rc::Rc;

use crate::error::{Error, Result};
use crate::processor::node::Node;
use crate::processor::task::Task;
use crate::processor::{Data, PunctuatorId, Record};
use crate::runtime::RawRecord;
use crate::serde::SharedSerde;

/// Deserializes a topic's records and forwards them.
///
/// A record whose key or value cannot be deserialized fails with [`Error::Deserialization`], for
/// the deserialization error handler; one whose timestamp is missing or negative (Kafka Streams'
/// default `FailOnInvalidTimestamp`) fails with an error naming it.
///
/// The raw record stays in its slot (the source borrows its bytes), so the task still has it to
/// dead-letter when processing fails anywhere downstream.
pub(crate) struct SourceNode<K, V> {
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
}

impl<K, V> SourceNode<K, V> {
    pub(crate) fn new(key_serde: SharedSerde<K>, value_serde: SharedSerde<V>) -> Self {
        SourceNode { key_serde, value_serde }
    }
}

impl<K: Data, V: Data> Node for SourceNode<K, V> {
    fn init(&mut self, _: &mut Task, _: usize) -> Result<()> {
        Ok(())
    }

    fn process(&mut self, record: &mut dyn Any, task: &mut Task, me: usize) -> Result<()> {
        // The headers travel on with the record; a copy stays behind only when the task keeps the
        // original (shared: to dead-letter it, or as an asynchronous node's origin).
        let (raw, headers): (&RawRecord, _) = match record.downcast_mut::<Option<RawRecord>>() {
            Some(Some(raw)) => {
                let headers = std::mem::take(&mut raw.headers);
                (raw, headers)
            }
            _ => {
                let raw = record
                    .downcast_ref::<Option<Rc<RawRecord>>>()
                    .and_then(Option::as_ref)
                    .unwrap_or_else(|| panic!("source {} received no raw record", task.node_name(me)));
                (raw, raw.headers.clone())
            }
        };
        let topic = task.record_metadata().map_or("", |m| m.topic.as_str());
        let key = self
            .key_serde
            .deserialize(topic, raw.key.as_deref())
            .map_err(|e| Error::Deserialization(format!("deserializing the key ({}): {e}", e.kind())))?;
        let value = self
            .value_serde
            .deserialize(topic, raw.value.as_deref())
            .map_err(|e| Error::Deserialization(format!("deserializing the value ({}): {e}", e.kind())))?;
        let timestamp = match raw.timestamp {
            Some(timestamp) if timestamp >= 0 => timestamp,
            other => {
                return Err(Error::processing(format!(
                    "invalid timestamp {other:?}: records need a timestamp >= 0 (as Kafka Streams' FailOnInvalidTimestamp)"
                )));
            }
        };
        task.observe_timestamp(timestamp);
        task.forward(
            me,
            Record {
                key,
                value,
                timestamp,
                headers: headers.into(),
            },
        )
    }

    fn punctuate(&mut self, _: PunctuatorId, _: i64, _: &mut Task, _: usize) -> Result<()> {
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        Ok(())
    }
}

//! The source node: bytes from a topic to a typed record, its timestamp checked, stream time
//! advanced.

use std::any::Any;

use crate::error::{Error, Result};
use crate::processor::node::{Node, take_record};
use crate::processor::task::Task;
use crate::processor::{Data, PunctuatorId, Record};
use crate::runtime::RawRecord;
use crate::serde::SharedSerde;

/// Deserializes a topic's records and forwards them.
///
/// A record whose key or value cannot be deserialized, or whose timestamp is missing or negative
/// (Kafka Streams' default `FailOnInvalidTimestamp`), fails with an error naming it.
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
        let raw: RawRecord = take_record(record, task.node_name(me));
        let topic = task.record_metadata().map_or("", |m| m.topic.as_str());
        let key = self
            .key_serde
            .deserialize(topic, raw.key.as_deref())
            .map_err(|e| Error::processing(format!("deserializing the key: {e}")))?;
        let value = self
            .value_serde
            .deserialize(topic, raw.value.as_deref())
            .map_err(|e| Error::processing(format!("deserializing the value: {e}")))?;
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
                headers: raw.headers.into(),
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

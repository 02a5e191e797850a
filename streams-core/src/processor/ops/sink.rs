//! The sink node: a typed record to bytes, sent to a topic.

use std::any::Any;
use std::sync::Arc;

use crate::error::Result;
use crate::processor::node::{Node, take_record};
use crate::processor::task::Task;
use crate::processor::{Data, PunctuatorId, Record};
use crate::serde::SharedSerde;
use crate::topology::TopicName;

/// Chooses the topic of each record.
pub(crate) type TopicChooser<K, V> = Arc<dyn Fn(&K, &V) -> String + Send + Sync>;

/// Where a sink writes: one topic, or a topic chosen per record.
pub(crate) enum SinkTopic<K, V> {
    Fixed(TopicName),
    PerRecord(TopicChooser<K, V>),
}

impl<K, V> SinkTopic<K, V> {
    pub(crate) fn resolve(&self, application_id: &str) -> Resolved<K, V> {
        match self {
            SinkTopic::Fixed(topic) => Resolved::Fixed(topic.resolve(application_id)),
            SinkTopic::PerRecord(choose) => Resolved::PerRecord(choose.clone()),
        }
    }
}

pub(crate) enum Resolved<K, V> {
    Fixed(String),
    PerRecord(TopicChooser<K, V>),
}

/// Serializes records and hands them to the task's record collector. Keeps the record's timestamp
/// and headers. A serialization error fails with an error naming the input record.
pub(crate) struct SinkNode<K, V> {
    topic: Resolved<K, V>,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
}

impl<K, V> SinkNode<K, V> {
    pub(crate) fn new(topic: Resolved<K, V>, key_serde: SharedSerde<K>, value_serde: SharedSerde<V>) -> Self {
        SinkNode {
            topic,
            key_serde,
            value_serde,
        }
    }
}

impl<K: Data, V: Data> Node for SinkNode<K, V> {
    fn init(&mut self, _: &mut Task, _: usize) -> Result<()> {
        Ok(())
    }

    fn process(&mut self, record: &mut dyn Any, task: &mut Task, me: usize) -> Result<()> {
        let record: Record<K, V> = take_record(record, task.node_name(me));
        let chosen;
        let topic = match &self.topic {
            Resolved::Fixed(topic) => topic.as_str(),
            Resolved::PerRecord(choose) => {
                chosen = choose(&record.key, &record.value);
                chosen.as_str()
            }
        };
        let raw = record.serialize(topic, &self.key_serde, &self.value_serde)?;
        task.send(topic, raw)
    }

    fn punctuate(&mut self, _: PunctuatorId, _: i64, _: &mut Task, _: usize) -> Result<()> {
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        Ok(())
    }
}

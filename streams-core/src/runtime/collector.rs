//! The producer side of a stream thread: one producer for sink, repartition and changelog records,
//! and the bookkeeping a commit needs (delivery failures, changelog offsets for checkpoints).
//!
//! ```text
//!   sink / repartition ──▶ ProducerCollector ─┐
//!                                             ├──▶ producer ──acks──▶ Delivery (offsets, failures)
//!   store writes ──▶ change-logging ─────────┘
//! ```
//!
//! Records are sent without waiting; a commit flushes the producer and then checks [`Delivery`]:
//! one failed record fails the commit, so its input offsets are never committed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, ProducerContext};

use crate::error::{Error, Result};
use crate::processor::task::RecordCollector;
use crate::runtime::RawRecord;
use crate::state::logging::{ChangelogRecord, ChangelogWriter};
use crate::state::{StoreError, StoreResult};

/// How long a send waits, in total, for room in a full producer queue before failing.
const QUEUE_FULL_TIMEOUT: Duration = Duration::from_secs(60);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Delivery reports: the first failure, and per partition the largest acknowledged offset (for
/// changelog checkpoints).
#[derive(Default)]
pub(crate) struct Delivery {
    failure: Mutex<Option<(String, String)>>,
    acked: Mutex<HashMap<(String, i32), i64>>,
}

impl Delivery {
    /// The first delivery failure, as an error.
    pub(crate) fn check(&self) -> Result<()> {
        match &*lock(&self.failure) {
            None => Ok(()),
            Some((topic, reason)) => Err(Error::Delivery {
                topic: topic.clone(),
                reason: reason.clone(),
            }),
        }
    }

    /// The offset after the last acknowledged record of `topic`/`partition`, if any was.
    pub(crate) fn next_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        lock(&self.acked)
            .get(&(topic.to_string(), partition))
            .map(|offset| offset + 1)
    }
}

impl ClientContext for Delivery {}

impl ProducerContext for Delivery {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(message) => {
                let mut acked = lock(&self.acked);
                let entry = acked
                    .entry((message.topic().to_string(), message.partition()))
                    .or_insert(message.offset());
                *entry = (*entry).max(message.offset());
            }
            Err((error, message)) => {
                lock(&self.failure).get_or_insert_with(|| (message.topic().to_string(), error.to_string()));
            }
        }
    }
}

/// The stream thread's producer, shared by its tasks' sinks and change-logging stores.
#[derive(Clone)]
pub(crate) struct SharedProducer(pub(crate) Arc<BaseProducer<Delivery>>);

impl SharedProducer {
    /// Sends one record; on a full queue, serves delivery reports and retries until
    /// [`QUEUE_FULL_TIMEOUT`].
    fn send(&self, topic: &str, partition: Option<i32>, record: &RawRecord) -> std::result::Result<(), KafkaError> {
        let headers = record.owned_headers();
        let mut base = BaseRecord::<[u8], [u8]>::to(topic);
        if let Some(key) = &record.key {
            base = base.key(key.as_slice());
        }
        if let Some(value) = &record.value {
            base = base.payload(value.as_slice());
        }
        if let Some(timestamp) = record.timestamp {
            base = base.timestamp(timestamp);
        }
        if let Some(partition) = partition {
            base = base.partition(partition);
        }
        if let Some(headers) = headers {
            base = base.headers(headers);
        }
        let deadline = std::time::Instant::now() + QUEUE_FULL_TIMEOUT;
        loop {
            match self.0.send(base) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned))
                    if std::time::Instant::now() < deadline =>
                {
                    base = returned;
                    self.0.poll(Duration::from_millis(10));
                }
                Err((error, _)) => return Err(error),
            }
        }
    }
}

/// Where a task's sinks send: the shared producer, partitioned by key (Java's murmur2).
pub(crate) struct ProducerCollector(pub(crate) SharedProducer);

impl RecordCollector for ProducerCollector {
    fn send(&mut self, topic: &str, record: RawRecord) -> Result<()> {
        self.0
            .send(topic, None, &record)
            .map_err(|e| Error::kafka(format!("sending a record to {topic}"), e))
    }
}

impl ChangelogWriter for SharedProducer {
    fn send(&self, record: ChangelogRecord<'_>) -> StoreResult<()> {
        let raw = RawRecord {
            key: Some(record.key.to_vec()),
            value: record.value.map(<[u8]>::to_vec),
            timestamp: Some(record.timestamp),
            headers: Vec::new(),
        };
        SharedProducer::send(self, record.topic, Some(record.partition), &raw).map_err(|e| StoreError::Storage {
            store: record.topic.to_string(),
            source: Box::new(e),
        })
    }
}

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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, DeliveryResult, ProducerContext};
use tracing::warn;

use super::pipe::{send, serve_delivery_reports, wait_for_deliveries};
use crate::error::{Error, Result};
use crate::processor::task::RecordCollector;
use crate::runtime::RawRecord;
use crate::state::logging::{ChangelogRecord, ChangelogWriter};
use crate::state::{StoreError, StoreResult};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Delivery reports: the first failure, and per partition the largest acknowledged offset (for
/// changelog checkpoints).
#[derive(Default)]
pub(crate) struct Delivery {
    failure: Mutex<Option<(String, String)>>,
    acked: Mutex<HashMap<(String, i32), i64>>,
    /// Delivery reports handled so far (acknowledged or failed).
    reports: AtomicU64,
}

/// Counts output records skipped by the production error handler.
#[derive(Clone)]
pub(crate) struct SkipCounter {
    pub(crate) counters: Arc<super::kafka_streams::Counters>,
    pub(crate) metric: metrics::Counter,
}

impl SkipCounter {
    fn skipped(&self, topic: &str, error: &KafkaError) {
        warn!(topic, %error, "skipping an output record the producer refused (ProductionErrorHandler::Skip)");
        self.counters.skipped.fetch_add(1, Ordering::Relaxed);
        self.metric.increment(1);
    }
}

/// Whether a producer error concerns the record itself (its size, its validity, its topic's
/// authorization), so that skipping it is meaningful; other errors concern the connection, the
/// cluster or the producer, and skipping them would drop good records.
pub(crate) fn refuses_the_record(error: &KafkaError) -> bool {
    use RDKafkaErrorCode as Code;
    matches!(
        error.rdkafka_error_code(),
        Some(
            Code::MessageSizeTooLarge
                | Code::InvalidMessageSize
                | Code::InvalidMessage
                | Code::InvalidRecord
                | Code::TopicAuthorizationFailed
                | Code::PolicyViolation
        )
    )
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
        self.reports.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(message) => {
                let mut acked = lock(&self.acked);
                let entry = acked
                    .entry((message.topic().to_string(), message.partition()))
                    .or_insert(message.offset());
                *entry = (*entry).max(message.offset());
            }
            // Never skipped, even under `ProductionErrorHandler::Skip`: librdkafka reports a
            // broker's refusal for every record of the batch, good ones included.
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
    /// Serves the delivery reports waiting (see [`serve_delivery_reports`]).
    pub(crate) fn serve_delivery_reports(&self) {
        serve_delivery_reports(&self.0, |delivery| delivery.reports.load(Ordering::Relaxed));
    }

    /// Waits until every record sent so far is acknowledged or failed, for at most `timeout` (see
    /// [`wait_for_deliveries`]); `true` when none is left in flight.
    pub(crate) fn wait_for_deliveries(&self, timeout: Duration) -> bool {
        wait_for_deliveries(&self.0, timeout)
    }
}

/// Where a task's sinks send: the shared producer, partitioned by key (Java's murmur2).
pub(crate) struct ProducerCollector {
    pub(crate) producer: SharedProducer,
    /// Counts what is sent (`streams_records_produced_total`).
    pub(crate) produced: metrics::Counter,
    /// Set under [`ProductionErrorHandler::Skip`](super::ProductionErrorHandler::Skip): records the
    /// producer refuses when they are sent are skipped and counted here.
    pub(crate) skip_refused: Option<SkipCounter>,
}

impl RecordCollector for ProducerCollector {
    fn send(&mut self, topic: &str, record: RawRecord) -> Result<()> {
        match send(&self.producer.0, topic, None, &record) {
            Ok(()) => {
                self.produced.increment(1);
                Ok(())
            }
            Err(Error::Kafka { source, .. }) if refuses_the_record(&source) => match &self.skip_refused {
                Some(skip) => {
                    skip.skipped(topic, &source);
                    Ok(())
                }
                None => Err(Error::Delivery {
                    topic: topic.to_string(),
                    reason: source.to_string(),
                }),
            },
            Err(error) => Err(error),
        }
    }

    fn send_dead_letter(&mut self, topic: &str, record: RawRecord) -> Result<()> {
        send(&self.producer.0, topic, None, &record)?;
        self.produced.increment(1);
        Ok(())
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
        send(&self.0, record.topic, Some(record.partition), &raw).map_err(|e| StoreError::Storage {
            store: record.topic.to_string(),
            source: Box::new(e),
        })
    }
}

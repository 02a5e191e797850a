//! Deleting committed records from repartition topics (Kafka Streams' `deleteRecords` purge).
//!
//! Repartition topics keep records with no time limit (`retention.ms=-1`), so re-keyed records of
//! any age wait until they are processed. Once the application has committed its input offsets of
//! a repartition partition, the records before them are never read again: every
//! `repartition_purge_interval` the stream thread asks the brokers to delete them, so the topics
//! do not grow without bound.
//!
//! Only offsets known to be committed are purged: the group's committed offsets, read from the
//! group coordinator at purge time (rust-rdkafka does not report asynchronous commits back,
//! fede1024/rust-rdkafka#856, so the offsets the loop sends are not known to be committed). Under
//! exactly-once those are the offsets of committed transactions.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::FutureExt;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaResult;
use rdkafka::{Offset, TopicPartitionList};
use tracing::{debug, warn};

use super::client_config::admin_config;
use crate::config::StreamsConfig;

/// How long reading the group's committed offsets may take.
const COMMITTED_TIMEOUT: Duration = Duration::from_secs(5);

type PurgeFuture = Pin<Box<dyn Future<Output = KafkaResult<TopicPartitionList>> + Send>>;

/// The purge of one stream thread.
pub(crate) struct RepartitionPurge {
    /// The repartition topics the application reads (resolved names).
    topics: HashSet<String>,
    interval: Duration,
    config: StreamsConfig,
    admin: Option<AdminClient<DefaultClientContext>>,
    last: Instant,
    pending: Vec<PurgeFuture>,
}

impl RepartitionPurge {
    /// The purge of the repartition topics `topics` (resolved names).
    pub(crate) fn new(topics: HashSet<String>, config: &StreamsConfig) -> Self {
        RepartitionPurge {
            topics,
            interval: config.repartition_purge_interval(),
            config: config.clone(),
            admin: None,
            last: Instant::now(),
            pending: Vec::new(),
        }
    }

    /// After a commit: reports finished deletions, and, once per interval, asks the brokers to
    /// delete the records before the committed offsets. Never blocks: deletions run in the admin
    /// client's background thread. A failed deletion is only logged (the next one covers it).
    /// `owned` are the partitions this thread reads now; only theirs are purged.
    pub(crate) fn maybe_purge<'a, C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        owned: impl IntoIterator<Item = &'a (String, i32)>,
    ) {
        self.pending.retain_mut(|future| match future.now_or_never() {
            None => true,
            Some(Ok(result)) => {
                for element in result.elements() {
                    if let Err(error) = element.error() {
                        warn!(topic = element.topic(), partition = element.partition(), %error, "could not purge a repartition partition");
                    }
                }
                false
            }
            Some(Err(error)) => {
                warn!(%error, "could not purge repartition topics");
                false
            }
        });
        if self.topics.is_empty() || self.last.elapsed() < self.interval {
            return;
        }
        self.last = Instant::now();
        let mut wanted = TopicPartitionList::new();
        for (topic, partition) in owned.into_iter().filter(|(topic, _)| self.topics.contains(topic)) {
            wanted.add_partition(topic, *partition);
        }
        if wanted.count() == 0 {
            return;
        }
        let committed = match consumer.committed_offsets(wanted, COMMITTED_TIMEOUT) {
            Ok(committed) => committed,
            Err(error) => {
                warn!(%error, "could not read the committed offsets of repartition topics; purging later");
                return;
            }
        };
        let mut offsets = TopicPartitionList::new();
        for element in committed.elements() {
            if let Offset::Offset(offset) = element.offset()
                && offset > 0
                && offsets
                    .add_partition_offset(element.topic(), element.partition(), Offset::Offset(offset))
                    .is_err()
            {
                return;
            }
        }
        if offsets.count() == 0 {
            return;
        }
        if self.admin.is_none() {
            match admin_config(&self.config).create() {
                Ok(admin) => self.admin = Some(admin),
                Err(error) => {
                    warn!(%error, "could not create the admin client that purges repartition topics");
                    return;
                }
            }
        }
        let admin = self.admin.as_ref().expect("created above");
        debug!(?offsets, "purging committed records of repartition topics");
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        self.pending.push(Box::pin(admin.delete_records(&offsets, &options)));
    }
}

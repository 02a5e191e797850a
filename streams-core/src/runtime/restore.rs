//! Restoration: bringing a task's stores up to their changelogs' end before the task processes.
//!
//! ```text
//!   changelog partitions ──▶ restore consumer (no group, assign only) ──batches──▶ store.restore_batch
//!        from the checkpointed offset (or the beginning)          one RocksDB WriteBatch per batch
//! ```
//!
//! One restore consumer per stream thread serves every restoring changelog partition at once, so
//! stores restore side by side; the stream thread polls it for one bounded batch per loop turn,
//! between processing turns of the tasks that are already running, so a long restore never stalls
//! ready tasks. A changelog partition is done when its next offset reaches the end offset read
//! when restoration began (the high watermark then).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tracing::{info, warn};

use crate::config::StreamsConfig;
use crate::error::{Error, Result};
use crate::processor::TaskId;

/// How long the end offsets of a changelog take to fetch at most.
const WATERMARK_TIMEOUT: Duration = Duration::from_secs(30);

/// Callbacks on the progress of restoration (Kafka's `StateRestoreListener`). Every method has a
/// no-op default; they run on the stream thread, so they must be quick.
pub trait StateRestoreListener: Send + Sync {
    /// Restoration of `store` from `topic`/`partition` begins at `start_offset`, and will end at
    /// `end_offset` (exclusive).
    fn on_restore_start(&self, topic: &str, partition: i32, store: &str, start_offset: i64, end_offset: i64) {
        let _ = (topic, partition, store, start_offset, end_offset);
    }

    /// A batch of `restored` records up to `batch_end_offset` (inclusive) was written to `store`.
    fn on_batch_restored(&self, topic: &str, partition: i32, store: &str, batch_end_offset: i64, restored: u64) {
        let _ = (topic, partition, store, batch_end_offset, restored);
    }

    /// `store` is restored from `topic`/`partition`: `total_restored` records were applied.
    fn on_restore_end(&self, topic: &str, partition: i32, store: &str, total_restored: u64) {
        let _ = (topic, partition, store, total_restored);
    }
}

/// One changelog partition being restored.
struct Progress {
    task: TaskId,
    store: String,
    /// The next offset to apply.
    next: i64,
    /// Restoration is done once `next >= end`.
    end: i64,
    restored: u64,
    started: Instant,
    last_report: Instant,
}

/// How often a long restoration logs its progress.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

/// Records read for one store of one task, ready to apply.
pub(crate) struct RestoreBatch {
    pub(crate) task: TaskId,
    pub(crate) store: String,
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) records: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// The offset after the batch's last record.
    pub(crate) next_offset: i64,
}

/// A changelog partition whose restoration finished without a last record to apply.
pub(crate) struct Finished {
    pub(crate) task: TaskId,
    pub(crate) topic: String,
    pub(crate) partition: i32,
    /// Where the store now is: the changelog's end.
    pub(crate) next_offset: i64,
}

/// The stream thread's restore consumer and the progress of each changelog partition.
pub(crate) struct Restorer {
    consumer: BaseConsumer,
    partitions: HashMap<(String, i32), Progress>,
    listener: Option<Arc<dyn StateRestoreListener>>,
}

impl fmt::Debug for Restorer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Restorer")
            .field("partitions", &self.partitions.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Where a changelog partition starts and ends.
pub(crate) enum Start {
    /// Nothing to restore: the store is up to date at this offset.
    UpToDate(i64),
    /// Restoring from the first offset up to the second.
    Restoring,
}

impl Restorer {
    pub(crate) fn new(config: &StreamsConfig, listener: Option<Arc<dyn StateRestoreListener>>) -> Result<Self> {
        let mut client = ClientConfig::new();
        client
            .set("bootstrap.servers", config.bootstrap_servers())
            .set("client.id", format!("{}-restore-consumer", config.application_id()))
            .set("group.id", format!("{}-restore-consumer", config.application_id()))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            .set("fetch.max.bytes", "52428800")
            .set("max.partition.fetch.bytes", "10485760")
            .set("fetch.queue.backoff.ms", "10")
            // A fetch with nothing new to return waits on the broker for at most this long, and
            // the broker answers one connection's requests in order: with librdkafka's default
            // (500 ms), reading the end offsets of the next task's changelog waited behind such a
            // fetch, so a thread's tasks began restoring half a second apart each.
            .set("fetch.wait.max.ms", "10");
        for (key, value) in config.admin_overrides() {
            client.set(key, value);
        }
        let consumer: BaseConsumer = client
            .create()
            .map_err(|e| Error::kafka("creating the restore consumer", e))?;
        Ok(Restorer {
            consumer,
            partitions: HashMap::new(),
            listener,
        })
    }

    /// Starts restoring `store` of `task` from `topic`/`partition`, at `from` (a checkpointed
    /// offset) or at the beginning; `(low, high)` are the partition's watermarks, as
    /// [`watermarks`](Self::watermarks) read them.
    ///
    /// # Errors
    /// [`Error::Store`]-like [`Error::Task`] when the checkpoint is beyond the changelog's end (the
    /// changelog was deleted or recreated): the caller then wipes the local state and restores from
    /// the beginning.
    pub(crate) fn add(
        &mut self,
        task: TaskId,
        store: &str,
        topic: &str,
        partition: i32,
        from: Option<i64>,
        (low, high): (i64, i64),
    ) -> Result<Start> {
        if let Some(from) = from
            && from > high
        {
            return Err(Error::Task {
                task: task.to_string(),
                reason: format!(
                    "the checkpoint of store {store} is at offset {from}, beyond the end ({high}) of changelog \
                     {topic}-{partition}"
                ),
            });
        }
        let start = from.unwrap_or(low).max(low);
        if start >= high {
            return Ok(Start::UpToDate(from.unwrap_or(high).max(high)));
        }
        if let Some(listener) = &self.listener {
            listener.on_restore_start(topic, partition, store, start, high);
        }
        info!(task = %task, store, changelog = %format!("{topic}-{partition}"), from = start, to = high, "restoring");
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(topic, partition, Offset::Offset(start))
            .map_err(|e| Error::kafka("building the restore assignment", e))?;
        self.consumer
            .incremental_assign(&list)
            .map_err(|e| Error::kafka(format!("assigning changelog {topic}-{partition}"), e))?;
        self.partitions.insert(
            (topic.to_string(), partition),
            Progress {
                task,
                store: store.to_string(),
                next: start,
                end: high,
                restored: 0,
                started: Instant::now(),
                last_report: Instant::now(),
            },
        );
        Ok(Start::Restoring)
    }

    /// The low and high watermarks of a changelog partition.
    /// Retries for up to [`WATERMARK_TIMEOUT`] while the partition has no leader (a broker
    /// restarting).
    pub(crate) fn watermarks(&self, topic: &str, partition: i32) -> Result<(i64, i64)> {
        let deadline = Instant::now() + WATERMARK_TIMEOUT;
        loop {
            match self.consumer.fetch_watermarks(topic, partition, WATERMARK_TIMEOUT) {
                Ok(watermarks) => return Ok(watermarks),
                Err(error) if Instant::now() < deadline => {
                    warn!(%error, topic, partition, "reading a changelog's end offset; retrying");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(error) => {
                    return Err(Error::kafka(
                        format!("reading the end offset of changelog {topic}-{partition}"),
                        error,
                    ));
                }
            }
        }
    }

    /// Whether any changelog partition is still being restored.
    pub(crate) fn is_active(&self) -> bool {
        !self.partitions.is_empty()
    }

    /// Changelog records still to restore, over every restoring partition.
    pub(crate) fn remaining(&self) -> u64 {
        self.partitions.values().map(|p| (p.end - p.next).max(0) as u64).sum()
    }

    /// Whether `task` still has a changelog partition to restore.
    pub(crate) fn is_restoring(&self, task: TaskId) -> bool {
        self.partitions.values().any(|p| p.task == task)
    }

    /// Stops restoring `task` (it was revoked or closed).
    pub(crate) fn remove_task(&mut self, task: TaskId) -> Result<()> {
        let keys: Vec<(String, i32)> = self
            .partitions
            .iter()
            .filter(|(_, p)| p.task == task)
            .map(|(k, _)| k.clone())
            .collect();
        self.unassign(&keys)?;
        for key in keys {
            self.partitions.remove(&key);
        }
        Ok(())
    }

    fn unassign(&self, keys: &[(String, i32)]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut list = TopicPartitionList::new();
        for (topic, partition) in keys {
            list.add_partition(topic, *partition);
        }
        self.consumer
            .incremental_unassign(&list)
            .map_err(|e| Error::kafka("unassigning restored changelogs", e))
    }

    /// Reads up to `max_records` changelog records (waiting at most `timeout` for the first), grouped
    /// into one batch per changelog partition.
    pub(crate) fn poll(&mut self, max_records: usize, timeout: Duration) -> Result<Vec<RestoreBatch>> {
        let mut batches: HashMap<(String, i32), RestoreBatch> = HashMap::new();
        let mut wait = timeout;
        for _ in 0..max_records {
            let Some(message) = self.consumer.poll(wait) else { break };
            wait = Duration::ZERO;
            let message = match message {
                Ok(message) => message,
                Err(rdkafka::error::KafkaError::PartitionEOF(_)) => continue,
                Err(e) => return Err(Error::kafka("reading a changelog", e)),
            };
            let key = (message.topic().to_string(), message.partition());
            let Some(progress) = self.partitions.get(&key) else {
                continue;
            };
            if message.offset() < progress.next {
                continue;
            }
            let batch = batches.entry(key.clone()).or_insert_with(|| RestoreBatch {
                task: progress.task,
                store: progress.store.clone(),
                topic: key.0.clone(),
                partition: key.1,
                records: Vec::new(),
                next_offset: progress.next,
            });
            let Some(record_key) = message.key() else {
                return Err(Error::Record {
                    topic: key.0,
                    partition: key.1,
                    offset: message.offset(),
                    reason: "a changelog record without a key".into(),
                });
            };
            batch
                .records
                .push((record_key.to_vec(), message.payload().map(<[u8]>::to_vec)));
            batch.next_offset = message.offset() + 1;
        }
        Ok(batches.into_values().collect())
    }

    /// Records that `batch` was applied; returns whether its changelog partition is now fully
    /// restored (and then stops reading it).
    pub(crate) fn applied(&mut self, batch: &RestoreBatch) -> Result<bool> {
        let key = (batch.topic.clone(), batch.partition);
        let Some(progress) = self.partitions.get_mut(&key) else {
            return Ok(false);
        };
        progress.next = batch.next_offset;
        progress.restored += batch.records.len() as u64;
        if progress.last_report.elapsed() >= PROGRESS_INTERVAL {
            progress.last_report = Instant::now();
            let rate = progress.restored as f64 / progress.started.elapsed().as_secs_f64().max(1e-6);
            info!(
                task = %progress.task,
                store = %progress.store,
                changelog = %format!("{}-{}", key.0, key.1),
                restored = progress.restored,
                remaining = (progress.end - progress.next).max(0),
                records_per_second = rate as u64,
                "restoring"
            );
        }
        if let Some(listener) = &self.listener {
            listener.on_batch_restored(
                &batch.topic,
                batch.partition,
                &batch.store,
                batch.next_offset - 1,
                batch.records.len() as u64,
            );
        }
        // Under exactly-once the end may be a transaction marker: the consumer's position passes it.
        if progress.next < progress.end
            && let Ok(positions) = self.consumer.position()
            && let Some(Offset::Offset(position)) = positions
                .find_partition(&batch.topic, batch.partition)
                .map(|e| e.offset())
        {
            progress.next = progress.next.max(position.min(progress.end));
        }
        self.finish_if_done(&key)
    }

    /// Partitions whose position reached the end without a record (aborted transactions, markers):
    /// finishes them, and tells which.
    pub(crate) fn finish_idle(&mut self) -> Result<Vec<Finished>> {
        let Ok(positions) = self.consumer.position() else {
            return Ok(Vec::new());
        };
        let mut finished = Vec::new();
        let keys: Vec<(String, i32)> = self.partitions.keys().cloned().collect();
        for key in keys {
            let Some(Offset::Offset(position)) = positions.find_partition(&key.0, key.1).map(|e| e.offset()) else {
                continue;
            };
            let progress = self.partitions.get_mut(&key).expect("listed above");
            if position >= progress.end {
                progress.next = progress.end;
                let (task, next) = (progress.task, progress.next);
                if self.finish_if_done(&key)? {
                    finished.push(Finished {
                        task,
                        topic: key.0,
                        partition: key.1,
                        next_offset: next,
                    });
                }
            }
        }
        Ok(finished)
    }

    fn finish_if_done(&mut self, key: &(String, i32)) -> Result<bool> {
        let Some(progress) = self.partitions.get(key) else {
            return Ok(false);
        };
        if progress.next < progress.end {
            return Ok(false);
        }
        let elapsed = progress.started.elapsed();
        let rate = progress.restored as f64 / elapsed.as_secs_f64().max(1e-6);
        info!(
            task = %progress.task,
            store = %progress.store,
            changelog = %format!("{}-{}", key.0, key.1),
            records = progress.restored,
            seconds = elapsed.as_secs_f64(),
            records_per_second = rate as u64,
            "restored"
        );
        if let Some(listener) = &self.listener {
            listener.on_restore_end(&key.0, key.1, &progress.store, progress.restored);
        }
        self.unassign(std::slice::from_ref(key))?;
        self.partitions.remove(key);
        Ok(true)
    }
}

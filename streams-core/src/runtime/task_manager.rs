//! The tasks of one stream thread: creating them when partitions are assigned (state directory
//! lock, checkpoint, store stacks, restoration), feeding them records, committing them, and closing
//! them when partitions are revoked or the application stops.
//!
//! A commit, in this order, so that a crash can only cause reprocessing, never loss:
//!
//! ```text
//!  1. every task flushes its write caches: their latest changes are forwarded and logged; a task
//!     whose changelogs moved on by 10,000 records since its last checkpoint also flushes its
//!     stores to disk (Kafka Streams' rule)
//!  2. the producer flushes: every output, repartition and changelog record is acknowledged
//!  3. the consumer commits the input offsets of the records processed
//!  4. the tasks of step 1 that flushed to disk write their checkpoint: the changelog offsets
//!     their local stores now reflect (a clean close writes every task's)
//! ```
//!
//! A checkpoint never claims more than the local state holds, so after a crash the stores
//! restore from it: at most about 10,000 records per store again, which replaying in changelog
//! order makes harmless.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::Producer;
use rdkafka::{Offset, TopicPartitionList};
use tracing::{debug, info, warn};

use super::RawRecord;
use super::collector::{ProducerCollector, SharedProducer, SkipCounter};
use super::error_handling::{ErrorPolicy, ProductionErrorHandler};
use super::internal_topics::TopicLayout;
use super::kafka_streams::Counters;
use super::metrics::ThreadMetrics;
use super::purge::RepartitionPurge;
use super::record_queue::{Queued, RecordQueues};
use super::restore::{Restorer, Start};
use super::timestamps::{Stamped, stamp};
use crate::config::{ProcessingGuarantee, StreamsConfig};
use crate::error::{Error, Result};
use crate::processor::task::Task;
use crate::processor::{AsyncPoll, AsyncWaker, TaskId};
use crate::state::caching::CacheBudget;
use crate::state::checkpoint::{CheckpointFile, CheckpointOffsets};
use crate::state::directory::{StateDirectory, TaskDirectory};
use crate::state::logging::ChangelogContext;
use crate::state::rocksdb::RocksDbMemory;
use crate::state::{StoreEnv, StoreInstance};
use crate::topology::{SubTopology, TopicPurpose, Topology};

/// How long a commit waits for outstanding records to be acknowledged.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long commits may keep failing for want of acknowledgements before the application stops
/// (Kafka Streams' `task.timeout.ms` default).
const TASK_TIMEOUT: Duration = Duration::from_secs(300);

/// A task and what the runtime keeps beside it.
struct ActiveTask {
    task: Task,
    /// Held while the task lives (stateful tasks only).
    dir: Option<TaskDirectory>,
    /// (store, changelog topic) of each logged store.
    changelogs: Vec<(String, String)>,
    /// Whether each logged store is persistent (only those are checkpointed).
    persistent: HashMap<String, bool>,
    /// The changelog offsets the local stores reflect.
    changelog_offsets: CheckpointOffsets,
    /// The offsets of the last checkpoint written (or read at the start).
    checkpointed: CheckpointOffsets,
    /// Per input partition, the offset after the last record processed since the last commit.
    consumed: HashMap<(String, i32), i64>,
    queues: RecordQueues,
    /// The source partitions of this task that are assigned.
    partitions: Vec<(String, i32)>,
    restoring: bool,
    /// The task's (dropped, skipped, dead-lettered) counts already added to the counters.
    reported: (u64, u64, u64),
}

/// Everything the stream thread owns besides its consumer.
pub(crate) struct TaskManager {
    topology: Arc<Topology>,
    subtopologies: Vec<SubTopology>,
    layout: TopicLayout,
    config: StreamsConfig,
    state_dir: StateDirectory,
    rocksdb: RocksDbMemory,
    cache: CacheBudget,
    producer: SharedProducer,
    restorer: Restorer,
    tasks: BTreeMap<TaskId, ActiveTask>,
    /// Input partitions paused now (restoring tasks, backpressure).
    paused: BTreeSet<(String, i32)>,
    metrics: ThreadMetrics,
    /// Whether the thread runs exactly-once (transactions).
    exactly_once: bool,
    /// Whether a transaction is open.
    in_transaction: bool,
    /// Since when commits have found the producer unable to flush.
    flush_failing_since: Option<Instant>,
    counters: Arc<Counters>,
    /// Deletes committed records of repartition topics.
    purge: RepartitionPurge,
    /// Whether a commit is due and waits for asynchronous work in flight to finish: meanwhile no
    /// task takes new records (see [`ready_to_commit`](Self::ready_to_commit)).
    draining: bool,
    /// Since when a due commit has waited for asynchronous work, and when that was last logged.
    draining_since: Option<(Instant, Instant)>,
    /// Woken by asynchronous processors of this thread's tasks when their work completes.
    waker: AsyncWaker,
}

/// How long the processing turn waits at most at a time for asynchronous work that holds tasks back
/// (the work's completion wakes it at once).
const ASYNC_WAIT: Duration = Duration::from_millis(1);

/// How long a commit may wait for asynchronous work before each warning.
const DRAIN_WARNING: Duration = Duration::from_secs(30);

/// How many records one task processes before the next task's turn.
const RECORDS_PER_TASK_TURN: usize = 100;

impl TaskManager {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        topology: Arc<Topology>,
        subtopologies: Vec<SubTopology>,
        layout: TopicLayout,
        config: StreamsConfig,
        rocksdb: RocksDbMemory,
        cache: CacheBudget,
        producer: SharedProducer,
        restorer: Restorer,
        counters: Arc<Counters>,
        metrics: ThreadMetrics,
    ) -> Self {
        let repartition_topics = topology
            .internal_topics(config.application_id())
            .into_iter()
            .filter(|topic| topic.purpose == TopicPurpose::Repartition)
            .map(|topic| topic.name)
            .collect();
        TaskManager {
            purge: RepartitionPurge::new(repartition_topics, &config),
            metrics,
            exactly_once: config.processing_guarantee() == ProcessingGuarantee::ExactlyOnceV2,
            in_transaction: false,
            state_dir: StateDirectory::new(config.state_dir(), config.application_id()),
            cache,
            topology,
            subtopologies,
            layout,
            config,
            rocksdb,
            producer,
            restorer,
            tasks: BTreeMap::new(),
            paused: BTreeSet::new(),
            flush_failing_since: None,
            counters,
            draining: false,
            draining_since: None,
            waker: AsyncWaker::default(),
        }
    }

    /// The tasks, for queries.
    pub(crate) fn tasks(&self) -> impl Iterator<Item = (TaskId, &Task, bool)> {
        self.tasks.iter().map(|(id, t)| (*id, &t.task, t.restoring))
    }

    /// Whether every task has finished restoring.
    pub(crate) fn all_running(&self) -> bool {
        self.tasks.values().all(|t| !t.restoring)
    }

    /// Creates the tasks of newly assigned partitions (restoring their state), and pauses the
    /// partitions of tasks that must restore first.
    pub(crate) fn assign<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        partitions: &[(String, i32)],
    ) -> Result<()> {
        for (topic, partition) in partitions {
            let Some(sub) = self.layout.subtopology_of(topic) else {
                warn!(topic, partition, "assigned a partition no sub-topology reads");
                continue;
            };
            let id = TaskId {
                subtopology: sub,
                partition: *partition,
            };
            if !self.tasks.contains_key(&id) {
                let task = self.create_task(id)?;
                self.tasks.insert(id, task);
            }
            let task = self.tasks.get_mut(&id).expect("inserted above");
            task.partitions.push((topic.clone(), *partition));
            task.queues.add_partition(topic, *partition);
        }
        // Restoring tasks' partitions are paused at once, before records arrive for them.
        self.flow_control(consumer)
    }

    fn create_task(&mut self, id: TaskId) -> Result<ActiveTask> {
        let sub = &self.subtopologies[id.subtopology];
        let app = self.config.application_id().to_string();
        let specs: Vec<_> = {
            let mut names: Vec<&String> = sub.nodes.iter().flat_map(|&n| &self.topology.node(n).stores).collect();
            names.sort();
            names.dedup();
            names
                .into_iter()
                .map(|name| {
                    self.topology
                        .store(name)
                        .expect("connected stores are declared")
                        .clone()
                })
                .collect()
        };
        let dir = if specs.iter().any(|s| s.is_persistent()) {
            Some(self.state_dir.lock_task(&id.to_string()).map_err(|e| Error::Task {
                task: id.to_string(),
                reason: e.to_string(),
            })?)
        } else {
            None
        };
        let mut checkpoint = match &dir {
            Some(dir) => match CheckpointFile::in_dir(dir.path()).read() {
                Ok(offsets) => offsets,
                Err(error) => {
                    warn!(task = %id, %error, "damaged checkpoint: wiping local state, restoring in full");
                    dir.wipe().map_err(|e| task_error(id, e))?;
                    CheckpointOffsets::new()
                }
            },
            None => CheckpointOffsets::new(),
        };
        // Each changelog's offsets, read once: for the checks below and for the restore.
        let mut watermarks = HashMap::new();
        for spec in specs.iter().filter(|s| s.is_logged()) {
            let topic = spec.changelog_topic(&app);
            let offsets = self.restorer.watermarks(&topic, id.partition)?;
            watermarks.insert(topic, offsets);
        }
        // A checkpoint beyond a changelog's end (the topic was recreated) cannot be trusted.
        let mut beyond_end = false;
        for spec in specs.iter().filter(|s| s.is_logged() && s.is_persistent()) {
            let key = (spec.changelog_topic(&app), id.partition);
            if let Some(&offset) = checkpoint.get(&key) {
                let (_, high) = watermarks[&key.0];
                beyond_end |= offset > high;
            }
        }
        if beyond_end && let Some(dir) = &dir {
            warn!(task = %id, "checkpoint beyond the changelog's end: wiping local state, restoring in full");
            dir.wipe().map_err(|e| task_error(id, e))?;
            checkpoint.clear();
        }
        if self.exactly_once
            && let Some(dir) = &dir
        {
            // Under exactly-once, local state is trusted only with the checkpoint a clean close
            // wrote; without one (a crash), it may hold writes of aborted transactions: rebuild it.
            // The checkpoint is removed while the task runs, so a crash from now on leaves none.
            if checkpoint.is_empty() {
                dir.wipe().map_err(|e| task_error(id, e))?;
            } else {
                CheckpointFile::in_dir(dir.path())
                    .delete()
                    .map_err(|e| task_error(id, e))?;
            }
        }

        let producer = self.producer.clone();
        let (rocksdb, cache) = (self.rocksdb.clone(), self.cache.clone());
        let store_dir = dir.as_ref().map(|d| d.path().to_path_buf());
        let app_for_stores = app.clone();
        let mut make_store = |spec: &crate::state::StoreBuilder, clock: &crate::state::logging::RecordClock| {
            let changelog = spec.is_logged().then(|| ChangelogContext {
                writer: Arc::new(producer.clone()),
                topic: spec.changelog_topic(&app_for_stores).into(),
                partition: id.partition,
                clock: clock.clone(),
            });
            Ok::<StoreInstance, Error>(spec.build_stack(StoreEnv {
                dir: store_dir.as_deref(),
                rocksdb: &rocksdb,
                cache: &cache,
                changelog,
            })?)
        };
        let wall_clock = now_ms();
        let mut task = Task::new(
            &self.topology,
            sub,
            id.partition,
            &app,
            Box::new(ProducerCollector {
                producer: self.producer.clone(),
                produced: self.metrics.produced.clone(),
                skip_refused: (self.config.production_error_handler() == ProductionErrorHandler::Skip).then(|| {
                    SkipCounter {
                        counters: self.counters.clone(),
                        metric: self.metrics.skipped.clone(),
                    }
                }),
            }),
            wall_clock,
            &[],
            &mut make_store,
        )?;
        task.set_error_policy(ErrorPolicy::of(&self.config));
        task.set_waker(self.waker.clone());

        let mut active = ActiveTask {
            task,
            dir,
            changelogs: Vec::new(),
            persistent: HashMap::new(),
            changelog_offsets: CheckpointOffsets::new(),
            checkpointed: checkpoint.clone(),
            consumed: HashMap::new(),
            queues: RecordQueues::default(),
            partitions: Vec::new(),
            restoring: false,
            reported: (0, 0, 0),
        };
        for spec in specs.iter().filter(|s| s.is_logged()) {
            let topic = spec.changelog_topic(&app);
            let key = (topic.clone(), id.partition);
            // In-memory stores start empty: they restore from the beginning whatever the checkpoint says.
            let from = if spec.is_persistent() {
                checkpoint.get(&key).copied()
            } else {
                None
            };
            match self
                .restorer
                .add(id, spec.name(), &topic, id.partition, from, watermarks[&topic])?
            {
                Start::UpToDate(offset) => {
                    active.changelog_offsets.insert(key, offset);
                }
                Start::Restoring => active.restoring = true,
            }
            active.changelogs.push((spec.name().to_string(), topic));
            active.persistent.insert(spec.name().to_string(), spec.is_persistent());
        }
        info!(task = %id, restoring = active.restoring, "task created");
        Ok(active)
    }

    /// Applies one round of restoration (at most `max_records` changelog records); tasks whose
    /// stores are all restored start processing (`flow_control` then resumes their partitions).
    pub(crate) fn restore_step(&mut self, max_records: usize, timeout: Duration) -> Result<()> {
        if !self.restorer.is_active() {
            return Ok(());
        }
        let batches = self.restorer.poll(max_records, timeout)?;
        let mut touched = Vec::new();
        for batch in batches {
            let Some(active) = self.tasks.get_mut(&batch.task) else {
                continue;
            };
            active.task.restore(&batch.store, &batch.records)?;
            self.counters
                .restored
                .fetch_add(batch.records.len() as u64, Ordering::Relaxed);
            self.metrics.restored.increment(batch.records.len() as u64);
            active
                .changelog_offsets
                .insert((batch.topic.clone(), batch.partition), batch.next_offset);
            self.restorer.applied(&batch)?;
            touched.push(batch.task);
        }
        for finished in self.restorer.finish_idle()? {
            if let Some(active) = self.tasks.get_mut(&finished.task) {
                active
                    .changelog_offsets
                    .insert((finished.topic, finished.partition), finished.next_offset);
                touched.push(finished.task);
            }
        }
        let remaining = self.restorer.remaining();
        self.counters.restore_remaining.store(remaining, Ordering::Relaxed);
        self.metrics.restore_remaining.set(remaining as f64);
        for id in touched {
            if self.restorer.is_restoring(id) {
                continue;
            }
            if let Some(active) = self.tasks.get_mut(&id)
                && active.restoring
            {
                active.restoring = false;
                info!(task = %id, "task restored; processing");
            }
        }
        Ok(())
    }

    /// Queues a record read from `topic`/`partition` for its task, with its event time (see
    /// `timestamps`).
    ///
    /// # Errors
    /// [`Error::Record`] for an invalid timestamp under [`InvalidTimestampPolicy::Fail`].
    pub(crate) fn enqueue(&mut self, topic: &str, partition: i32, offset: i64, mut record: RawRecord) -> Result<()> {
        let sub = self
            .layout
            .subtopology_of(topic)
            .ok_or_else(|| Error::Config(format!("read a record of {topic}, which no sub-topology reads")))?;
        let id = TaskId {
            subtopology: sub,
            partition,
        };
        let Some(task) = self.tasks.get_mut(&id) else {
            // Fetched before the partition was lost: not ours to process, and its offset is not
            // committed by us, so its owner will.
            debug!(
                topic,
                partition, offset, "dropping a record of a partition no longer assigned"
            );
            return Ok(());
        };
        let partition_time = task.queues.partition_time(topic, partition);
        let stamped = stamp(
            self.config.timestamp_extractor().as_ref(),
            self.config.invalid_timestamp_policy(),
            topic,
            &record,
            partition_time,
        )
        .map_err(|reason| Error::Record {
            topic: topic.to_string(),
            partition,
            offset,
            reason,
        })?;
        let (timestamp, record) = match stamped {
            Stamped::At(timestamp) => {
                record.timestamp = Some(timestamp);
                (timestamp, Some(record))
            }
            Stamped::Skip => {
                warn!(topic, partition, offset, "skipping a record with an invalid timestamp");
                self.counters.skipped.fetch_add(1, Ordering::Relaxed);
                self.metrics.skipped.increment(1);
                (i64::MIN, None)
            }
        };
        task.queues.push(Queued {
            topic: topic.to_string(),
            partition,
            offset,
            timestamp,
            record,
        });
        Ok(())
    }

    /// Processes queued records of running tasks, in event-time order within each task, until
    /// nothing is left or `budget` has passed (checked after every record, so a slow processor
    /// cannot keep the stream thread from polling); returns how many were processed.
    pub(crate) fn process(&mut self, budget: Duration) -> Result<usize> {
        let started = Instant::now();
        let deadline = started + budget;
        let max_idle = self.config.max_task_idle();
        let correlation_header = self.config.correlation_id_header().map(str::to_string);
        let poll = if self.draining {
            AsyncPoll::Flush
        } else {
            AsyncPoll::Progress
        };
        let mut processed = 0;
        let mut result = Ok(());
        'turn: loop {
            let mut progressed = false;
            for (id, active) in self.tasks.iter_mut().filter(|(_, t)| !t.restoring) {
                let _task = tracing::debug_span!("task", task = %id).entered();
                if active.task.is_asynchronous() {
                    // Results of work done off this thread, forwarded from here (in order).
                    active.task.observe_wall_clock(now_ms());
                    if let Err(error) = active.task.poll_async(poll) {
                        result = Err(error);
                        break 'turn;
                    }
                }
                if self.draining {
                    // A commit waits for the work in flight: take nothing new meanwhile.
                    continue;
                }
                for _ in 0..RECORDS_PER_TASK_TURN {
                    if !active.task.accepts_records() {
                        // Backpressure: the records wait in the queue (and the partitions are
                        // paused when it fills) until the asynchronous work makes room.
                        break;
                    }
                    let Some(queued) = active.queues.next(max_idle) else {
                        break;
                    };
                    if let Some(record) = queued.record {
                        let correlation_id = correlation_header
                            .as_deref()
                            .and_then(|name| header_text(&record, name));
                        let _record =
                            correlation_id.map(|id| tracing::info_span!("record", correlation_id = %id).entered());
                        if let Err(error) = active
                            .task
                            .process(&queued.topic, queued.partition, queued.offset, record)
                        {
                            result = Err(error);
                            break 'turn;
                        }
                        processed += 1;
                    }
                    active
                        .consumed
                        .insert((queued.topic, queued.partition), queued.offset + 1);
                    progressed = true;
                    if Instant::now() >= deadline {
                        break 'turn;
                    }
                }
            }
            if !progressed {
                // Tasks held back by their asynchronous work while records wait, or a commit
                // waiting for that work: wait for it here, within the turn, rather than let the
                // queues fill up until their partitions are paused (librdkafka drops what it
                // prefetched for a paused partition, and a resumed one takes about a second to
                // deliver again). Work slower than the turn still ends it, so the thread polls on
                // time.
                let now = Instant::now();
                let held_back = self.tasks.values().any(|t| {
                    !t.restoring
                        && if self.draining {
                            t.task.in_flight() > 0
                        } else {
                            !t.task.accepts_records() && !t.queues.is_empty()
                        }
                });
                if held_back && now < deadline {
                    self.waker.wait(ASYNC_WAIT.min(deadline - now));
                    continue;
                }
                break;
            }
        }
        self.counters.processed.fetch_add(processed as u64, Ordering::Relaxed);
        self.metrics.processed_turn(processed, started.elapsed());
        self.count_failures();
        result.map(|()| processed)
    }

    /// Whether any task has asynchronous work in flight.
    pub(crate) fn async_in_flight(&self) -> bool {
        self.tasks.values().any(|t| !t.restoring && t.task.in_flight() > 0)
    }

    /// Waits until an asynchronous processor's work completes, or `timeout` has passed.
    pub(crate) fn wait_for_async(&self, timeout: Duration) {
        self.waker.wait(timeout);
    }

    /// Whether a commit can go ahead now: no task has asynchronous work in flight. When some has,
    /// the manager starts draining: from now until this returns `true`, [`process`](Self::process)
    /// gives no task new records and has asynchronous work started at once, so the commit waits only
    /// for the work in flight, while the stream thread keeps polling (and so keeps its group
    /// membership however slow that work is).
    ///
    /// A commit that waits longer than [`DRAIN_WARNING`] (a model that hangs) is logged as a
    /// warning every [`DRAIN_WARNING`] until it goes ahead.
    pub(crate) fn ready_to_commit(&mut self) -> bool {
        let in_flight: usize = self.tasks.values().map(|t| t.task.in_flight()).sum();
        self.draining = in_flight > 0;
        if !self.draining {
            self.draining_since = None;
            return true;
        }
        let now = Instant::now();
        let (since, logged) = self.draining_since.get_or_insert((now, now));
        if now.duration_since(*logged) >= DRAIN_WARNING {
            *logged = now;
            warn!(
                in_flight,
                waited_s = now.duration_since(*since).as_secs(),
                "a commit is waiting for asynchronous work in flight (a slow or stuck model?)"
            );
        }
        false
    }

    /// Adds what the tasks dropped, skipped and dead-lettered since last counted to the counters
    /// and metrics.
    fn count_failures(&mut self) {
        let (mut dropped, mut skipped, mut dead) = (0, 0, 0);
        for active in self.tasks.values_mut() {
            let now = (
                active.task.dropped_records(),
                active.task.skipped_records(),
                active.task.dead_lettered_records(),
            );
            dropped += now.0 - active.reported.0;
            skipped += now.1 - active.reported.1;
            dead += now.2 - active.reported.2;
            active.reported = now;
        }
        self.record_failures(dropped, skipped, dead);
    }

    fn record_failures(&self, dropped: u64, skipped: u64, dead: u64) {
        self.counters.dropped.fetch_add(dropped, Ordering::Relaxed);
        self.metrics.dropped.increment(dropped);
        self.counters.skipped.fetch_add(skipped, Ordering::Relaxed);
        self.metrics.skipped.increment(skipped);
        self.counters.dead_lettered.fetch_add(dead, Ordering::Relaxed);
        self.metrics.dead_lettered.increment(dead);
    }

    /// Pauses and resumes input partitions: those of tasks still restoring stay paused, and so do
    /// those buffering `buffered_records_per_partition` records or more until they are down to half
    /// of that (backpressure: memory stays bounded while the consumer keeps polling, and so keeps
    /// its group membership, however slow processing is).
    pub(crate) fn flow_control<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>) -> Result<()> {
        let high = self.config.buffered_records_per_partition().max(1);
        let mut wanted = BTreeSet::new();
        let mut assigned = BTreeSet::new();
        for active in self.tasks.values() {
            for (topic, partition) in &active.partitions {
                let key = (topic.clone(), *partition);
                let buffered = active.queues.len(topic, *partition);
                let over = buffered >= high || (self.paused.contains(&key) && buffered > high / 2);
                if active.restoring || over {
                    wanted.insert(key.clone());
                }
                assigned.insert(key);
            }
        }
        self.paused.retain(|p| assigned.contains(p));
        let pause: Vec<_> = wanted.difference(&self.paused).cloned().collect();
        let resume: Vec<_> = self.paused.difference(&wanted).cloned().collect();
        set_paused(consumer, &pause, true)?;
        set_paused(consumer, &resume, false)?;
        self.paused = wanted;
        Ok(())
    }

    /// Handles the producer's pending delivery reports.
    pub(crate) fn serve_delivery_reports(&self) {
        self.producer.serve_delivery_reports();
    }

    /// Fires due wall-clock punctuations of running tasks.
    pub(crate) fn punctuate(&mut self) -> Result<()> {
        let now = now_ms();
        let mut result = Ok(());
        for active in self.tasks.values_mut().filter(|t| !t.restoring) {
            result = active.task.advance_wall_clock(now);
            if result.is_err() {
                break;
            }
        }
        self.count_failures();
        result
    }

    /// Commits every task: see the module docs for the order.
    ///
    /// `mode` is how the offsets are committed under at-least-once: the processing loop commits
    /// asynchronously (librdkafka's synchronous commit has no timeout, and waits for a rejoin that
    /// only the loop's next poll can make: after a broker restart that was a deadlock), while a
    /// revocation or a clean close commits synchronously, so the offsets are in before the
    /// partitions are given up.
    pub(crate) fn commit<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>, mode: CommitMode) -> Result<()> {
        let started = Instant::now();
        let result = self.commit_in_order(consumer, mode);
        // Flushing drained asynchronous work, which may have skipped or dead-lettered records.
        self.count_failures();
        self.draining = false;
        self.metrics.commit_latency.record(started.elapsed().as_secs_f64());
        if result.is_ok() {
            let owned = self.tasks.values().flat_map(|t| t.partitions.iter());
            self.purge.maybe_purge(consumer, owned);
        }
        result
    }

    fn commit_in_order<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>, mode: CommitMode) -> Result<()> {
        if self.exactly_once {
            return self.commit_transaction(consumer);
        }
        // Every commit forwards and logs what the caches hold; storage is flushed, and a checkpoint
        // written, only for tasks whose changelogs moved on by CHECKPOINT_DELTA records since
        // their last checkpoint (Kafka Streams' rule): a RocksDB flush and two fsyncs per task
        // and commit cost throughput, and stalled the thread for seconds on a busy disk.
        let mut due = Vec::new();
        for (id, active) in &mut self.tasks {
            active.task.flush_caches()?;
            if checkpoint_due(active, &self.producer) {
                active.task.flush()?;
                due.push(*id);
            }
        }
        if !self.producer.wait_for_deliveries(FLUSH_TIMEOUT) {
            // Brokers away (a restart, a leader election): commit nothing, try again at the next
            // commit, and give up only after TASK_TIMEOUT without success.
            let since = *self.flush_failing_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= TASK_TIMEOUT {
                return Err(Error::kafka(
                    "waiting for output records to be acknowledged",
                    KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut),
                ));
            }
            warn!(
                in_flight = self.producer.0.in_flight_count(),
                "outputs not acknowledged within {FLUSH_TIMEOUT:?}; committing nothing, retrying at the next commit"
            );
            return Ok(());
        }
        self.flush_failing_since = None;
        self.producer.0.context().check()?;
        let offsets = self.consumed_offsets()?;
        if offsets.count() > 0 {
            match consumer.commit(&offsets, mode) {
                Ok(()) => debug!(?offsets, "committed"),
                Err(error) => match CommitFailure::of(&error) {
                    CommitFailure::Retriable => {
                        // The offsets stay pending and the checkpoints unwritten: the next commit
                        // tries again. Outputs are acknowledged, so nothing is lost meanwhile.
                        warn!(%error, "offset commit failed; retrying at the next commit");
                        return Ok(());
                    }
                    CommitFailure::Migrated => {
                        // The group moved on without us: these tasks may belong to another member
                        // now. Close them without a checkpoint; the rejoin reassigns partitions and
                        // their new owner resumes from the last committed offsets.
                        warn!(%error, "lost the group membership; closing every task to rejoin");
                        self.close_all_dirty();
                        return Ok(());
                    }
                    CommitFailure::Fatal => return Err(Error::kafka("committing offsets", error)),
                },
            }
        }
        for (id, active) in &mut self.tasks {
            active.consumed.clear();
            if due.contains(id) {
                write_checkpoint(active, &self.producer)?;
            }
        }
        self.counters.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Commits, then closes the tasks reading any of `partitions` (revoked): their state stays on
    /// disk with a checkpoint, so a later assignment restores only the tail.
    pub(crate) fn revoke<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        partitions: &[(String, i32)],
    ) -> Result<()> {
        let ids: Vec<TaskId> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.partitions.iter().any(|p| partitions.contains(p)))
            .map(|(id, _)| *id)
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        self.commit(consumer, CommitMode::Sync)?;
        for id in ids {
            // A commit that lost the membership closed every task already.
            let Some(mut active) = self.tasks.remove(&id) else {
                continue;
            };
            self.restorer.remove_task(id)?;
            self.close_task(id, &mut active, true);
        }
        Ok(())
    }

    /// Closes every task without committing or checkpointing (the membership was lost): the stores
    /// keep their older checkpoints, so reopening restores from there.
    fn close_all_dirty(&mut self) {
        let ids: Vec<TaskId> = self.tasks.keys().copied().collect();
        for id in ids {
            let mut active = self.tasks.remove(&id).expect("listed above");
            let _ = self.restorer.remove_task(id);
            self.close_task(id, &mut active, false);
        }
        self.paused.clear();
    }

    /// The input offsets to commit: per partition, the one after the last record processed since
    /// the last commit.
    fn consumed_offsets(&self) -> Result<TopicPartitionList> {
        let mut offsets = TopicPartitionList::new();
        for active in self.tasks.values() {
            for ((topic, partition), offset) in &active.consumed {
                offsets
                    .add_partition_offset(topic, *partition, Offset::Offset(*offset))
                    .map_err(|e| Error::kafka("building the offsets to commit", e))?;
            }
        }
        Ok(offsets)
    }

    /// Closes a task (its stores flush to disk as they close); `clean` after a successful commit:
    /// then its checkpoint is written, so a restart restores only what came after.
    fn close_task(&self, id: TaskId, active: &mut ActiveTask, clean: bool) {
        let closed = active.task.close();
        if let Err(error) = &closed {
            warn!(task = %id, %error, "error while closing a task");
        }
        if clean
            && closed.is_ok()
            && let Err(error) = write_checkpoint(active, &self.producer)
        {
            warn!(task = %id, %error, "could not write the checkpoint of a closed task");
        }
        info!(task = %id, clean, "task closed");
    }

    /// Closes every task. With `clean`, after a commit (offsets and checkpoints are written);
    /// otherwise (after an error) the old checkpoints stay, so the next start restores from them.
    pub(crate) fn shutdown<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>, clean: bool) -> Result<()> {
        let committed = if clean {
            self.commit(consumer, CommitMode::Sync)
        } else {
            Ok(())
        };
        if !clean || committed.is_err() {
            self.abort_transaction();
        }
        let ids: Vec<TaskId> = self.tasks.keys().copied().collect();
        for id in ids {
            let mut active = self.tasks.remove(&id).expect("listed above");
            let _ = self.restorer.remove_task(id);
            self.close_task(id, &mut active, clean && committed.is_ok());
        }
        committed
    }

    // --- exactly-once -------------------------------------------------------------------------

    /// Opens a transaction if none is open: everything sent from here to the next commit belongs
    /// to it. A no-op under at-least-once.
    pub(crate) fn ensure_transaction(&mut self) -> Result<()> {
        if self.exactly_once && !self.in_transaction {
            self.producer
                .0
                .begin_transaction()
                .map_err(|e| Error::TaskMigrated(format!("beginning a transaction: {e}")))?;
            self.in_transaction = true;
        }
        Ok(())
    }

    /// The exactly-once commit: flush the tasks (their last sends join the transaction), add the
    /// input offsets to the transaction, commit it. A transaction that cannot commit is aborted
    /// and the stream thread gives up its tasks ([`Error::TaskMigrated`]): their local state holds
    /// uncommitted work, so they are rebuilt from the changelogs by the thread that replaces it.
    fn commit_transaction<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>) -> Result<()> {
        let consumed = self.tasks.values().any(|t| !t.consumed.is_empty());
        if !self.in_transaction && !consumed {
            return Ok(());
        }
        self.ensure_transaction()?;
        // Caches only: under exactly-once, local state is trusted only after a clean close (whose
        // stores flush as they close), so flushing storage at every commit would buy nothing.
        for active in self.tasks.values_mut() {
            active.task.flush_caches()?;
        }
        let offsets = self.consumed_offsets()?;
        // The outputs acknowledged first, quickly (see `wait_for_deliveries`); what is still in
        // flight after the timeout, `commit_transaction` waits for (or fails on) itself.
        self.producer.wait_for_deliveries(FLUSH_TIMEOUT);
        let result = (|| {
            if offsets.count() > 0 {
                let group = consumer
                    .group_metadata()
                    .ok_or_else(|| Error::TaskMigrated("the consumer has no group metadata".into()))?;
                retry_transactional(|| {
                    self.producer
                        .0
                        .send_offsets_to_transaction(&offsets, &group, FLUSH_TIMEOUT)
                })
                .map_err(|e| Error::TaskMigrated(format!("adding offsets to the transaction: {e}")))?;
            }
            retry_transactional(|| self.producer.0.commit_transaction(FLUSH_TIMEOUT))
                .map_err(|e| Error::TaskMigrated(format!("committing the transaction: {e}")))?;
            self.producer.0.context().check()
        })();
        self.in_transaction = false;
        if let Err(error) = result {
            self.abort_transaction();
            // A record the broker refused made the transaction abortable; starting over would
            // only refuse it again: that is the application's failure, not a lost transaction.
            self.producer.0.context().check()?;
            return Err(error);
        }
        debug!(?offsets, "transaction committed");
        for active in self.tasks.values_mut() {
            active.consumed.clear();
        }
        self.counters.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Aborts the open transaction, if any (best effort: a fenced producer cannot).
    fn abort_transaction(&mut self) {
        if self.exactly_once && self.in_transaction {
            if let Err(error) = self.producer.0.abort_transaction(FLUSH_TIMEOUT) {
                warn!(%error, "could not abort the transaction");
            }
            self.in_transaction = false;
        }
    }
}

/// The text of the record's header `name`, if it has one.
fn header_text(record: &RawRecord, name: &str) -> Option<String> {
    record
        .headers
        .iter()
        .find(|(key, _)| key == name)
        .and_then(|(_, value)| value.as_deref())
        .map(|value| String::from_utf8_lossy(value).into_owned())
}

/// How an offset commit failed.
enum CommitFailure {
    /// The coordinator is away for a moment (broker restart, coordinator move): retry later.
    Retriable,
    /// This member is no longer in the group's current generation.
    Migrated,
    /// Anything else.
    Fatal,
}

impl CommitFailure {
    fn of(error: &KafkaError) -> Self {
        use RDKafkaErrorCode as Code;
        let Some(code) = error.rdkafka_error_code() else {
            return CommitFailure::Fatal;
        };
        match code {
            Code::UnknownMemberId | Code::IllegalGeneration | Code::RebalanceInProgress | Code::FencedInstanceId => {
                CommitFailure::Migrated
            }
            Code::RequestTimedOut
            | Code::NotCoordinator
            | Code::CoordinatorNotAvailable
            | Code::CoordinatorLoadInProgress
            | Code::AllBrokersDown
            | Code::BrokerTransportFailure
            | Code::NetworkException
            | Code::OperationTimedOut
            | Code::TimedOutQueue => CommitFailure::Retriable,
            _ => CommitFailure::Fatal,
        }
    }
}

/// Retries a transactional call while librdkafka calls its error retriable (a coordinator moving, a
/// broker restarting), for up to [`TASK_TIMEOUT`].
fn retry_transactional(
    mut call: impl FnMut() -> std::result::Result<(), KafkaError>,
) -> std::result::Result<(), KafkaError> {
    let deadline = Instant::now() + TASK_TIMEOUT;
    loop {
        match call() {
            Err(KafkaError::Transaction(error)) if error.is_retriable() && Instant::now() < deadline => {
                warn!(%error, "retrying a transactional call");
                std::thread::sleep(Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

/// How far a task's changelogs must have moved on since its last checkpoint for a commit to flush
/// its storage and write a new one (Kafka Streams' `OFFSET_DELTA_THRESHOLD_FOR_CHECKPOINT`). After
/// a crash, at most about this many records per store are restored again.
const CHECKPOINT_DELTA: i64 = 10_000;

/// Whether the task's persistent logged stores are CHECKPOINT_DELTA records or more ahead of its
/// last checkpoint.
fn checkpoint_due(active: &ActiveTask, producer: &SharedProducer) -> bool {
    if active.dir.is_none() {
        return false;
    }
    let partition = active.task.id.partition;
    let mut delta = 0;
    for (store, topic) in &active.changelogs {
        if !active.persistent.get(store).copied().unwrap_or(false) {
            continue;
        }
        let key = (topic.clone(), partition);
        let now = producer
            .0
            .context()
            .next_offset(topic, partition)
            .into_iter()
            .chain(active.changelog_offsets.get(&key).copied())
            .max();
        if let Some(now) = now {
            delta += now - active.checkpointed.get(&key).copied().unwrap_or(0);
        }
    }
    delta >= CHECKPOINT_DELTA
}

/// Writes the task's checkpoint: for each persistent logged store, the changelog offset after the
/// last acknowledged write (or, with no write since it was restored, where restoration ended).
fn write_checkpoint(active: &mut ActiveTask, producer: &SharedProducer) -> Result<()> {
    let Some(dir) = &active.dir else { return Ok(()) };
    let partition = active.task.id.partition;
    let mut offsets = CheckpointOffsets::new();
    for (store, topic) in &active.changelogs {
        let key = (topic.clone(), partition);
        if let Some(next) = producer.0.context().next_offset(topic, partition) {
            let entry = active.changelog_offsets.entry(key.clone()).or_insert(next);
            *entry = (*entry).max(next);
        }
        if !active.persistent.get(store).copied().unwrap_or(false) {
            continue;
        }
        if let Some(&offset) = active.changelog_offsets.get(&key) {
            offsets.insert(key, offset);
        }
    }
    CheckpointFile::in_dir(dir.path())
        .write(&offsets)
        .map_err(|e| task_error(active.task.id, e))?;
    active.checkpointed = offsets;
    Ok(())
}

fn task_error(id: TaskId, error: impl std::fmt::Display) -> Error {
    Error::Task {
        task: id.to_string(),
        reason: error.to_string(),
    }
}

/// Pauses or resumes partitions of the main consumer.
pub(crate) fn set_paused<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    partitions: &[(String, i32)],
    pause: bool,
) -> Result<()> {
    if partitions.is_empty() {
        return Ok(());
    }
    let mut list = TopicPartitionList::new();
    for (topic, partition) in partitions {
        list.add_partition(topic, *partition);
    }
    let result = if pause {
        consumer.pause(&list)
    } else {
        consumer.resume(&list)
    };
    result.map_err(|e| {
        Error::kafka(
            if pause {
                "pausing partitions"
            } else {
                "resuming partitions"
            },
            e,
        )
    })
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

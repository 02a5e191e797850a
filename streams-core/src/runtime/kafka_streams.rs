//! [`KafkaStreams`]: a topology running on Kafka, at-least-once, with durable state.
//!
//! ```text
//!                ┌──────────────────────── stream thread ─────────────────────────┐
//!  source and    │ consumer ──▶ task queues ──▶ tasks (processors, store stacks)  │──▶ producer ──▶ sinks,
//!  repartition ─▶│    ▲  pause while restoring       │ store writes ─▶ changelog ─│      repartition and
//!  topics        │    │                              ▼                            │      changelog topics
//!                │ restore consumer ◀── changelogs (from checkpoint) ──▶ stores   │
//!                └────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Start-up creates the internal topics (see `internal_topics`), then one stream thread joins the
//! consumer group `application.id`. For each assigned partition it creates the task of
//! (sub-topology, partition): it locks the task's state directory, opens its stores (RocksDB by
//! default) and restores them from their changelogs, starting at the checkpointed offsets; the
//! task's partitions stay paused until then, while other tasks process. Every `commit.interval` it
//! commits (see `task_manager` for the order). On revocation it commits and closes the revoked
//! tasks, leaving their state and checkpoint on disk. [`KafkaStreams::close`] does the same for
//! every task, then leaves the group.
//!
//! Partitions are assigned with the `range` assignor, which gives one member the same partition
//! numbers of every topic with the same partition count: co-partitioned topics (the two sides of
//! a join, a repartition topic and its readers' other sources) meet in one task on one instance.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::Message;
use rdkafka::producer::BaseProducer;
use rdkafka::{ClientContext, TopicPartitionList};
use tracing::{error, info, warn};

use super::RawRecord;
use super::client_config::{consumer_config, producer_config};
use super::collector::{Delivery, SharedProducer};
use super::internal_topics::{self, TopicLayout};
use super::pipe::panic_message;
use super::restore::{Restorer, StateRestoreListener};
use super::task_manager::TaskManager;
use crate::config::StreamsConfig;
use crate::error::{Error, Result};
use crate::state::rocksdb::RocksDbMemory;
use crate::topology::Topology;

/// At most this many records are read from the consumer per loop turn.
const MAX_POLL_RECORDS: usize = 5_000;
/// How long one turn processes buffered records before polling again.
const PROCESS_TURN: Duration = Duration::from_millis(100);
/// At most this many changelog records are restored per loop turn.
const MAX_RESTORE_RECORDS: usize = 50_000;
/// How long a poll waits when there is nothing else to do; also how long an interactive query
/// waits at most for an idle stream thread.
const IDLE_POLL: Duration = Duration::from_millis(10);

/// The life cycle of an application (Kafka Streams' `KafkaStreams.State`, without the states of
/// features not built yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamsState {
    /// Built, not started.
    Created,
    /// Joining the group, or restoring state: not every assigned task processes yet.
    Rebalancing,
    /// Every assigned task processes.
    Running,
    /// Closing: committing, closing tasks, leaving the group.
    PendingShutdown,
    /// Closed cleanly.
    NotRunning,
    /// Stopped by an error; [`KafkaStreams::close`] returns it.
    Error,
}

/// Counts of an application's work so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamsStats {
    /// Input records processed.
    pub processed: u64,
    /// Changelog records applied to stores while restoring.
    pub restored: u64,
    /// Changelog records still to restore now (0 when every task is restored).
    pub restore_remaining: u64,
    /// Records skipped for an invalid timestamp ([`InvalidTimestampPolicy::SkipAndCount`](super::InvalidTimestampPolicy::SkipAndCount)).
    pub skipped: u64,
    /// Commits made.
    pub commits: u64,
    /// Rebalances (partition assignments) seen.
    pub rebalances: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) processed: AtomicU64,
    pub(crate) restored: AtomicU64,
    pub(crate) restore_remaining: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) commits: AtomicU64,
    pub(crate) rebalances: AtomicU64,
}

/// A question for the stream thread, which owns the tasks (interactive queries).
pub(crate) type Query = Box<dyn FnOnce(&TaskManager) + Send>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A topology running against a Kafka cluster.
///
/// ```no_run
/// use streams_core::dsl::StreamsBuilder;
/// use streams_core::runtime::KafkaStreams;
/// use streams_core::StreamsConfig;
///
/// let builder = StreamsBuilder::new();
/// builder.stream::<String, String>("words").group_by_key().count().to_stream().to("word-counts");
/// let config = StreamsConfig::new("word-count", "127.0.0.1:9092").with_state_dir("/var/lib/word-count");
/// let mut streams = KafkaStreams::new(builder.build()?, config)?;
/// streams.start()?;
/// // … later:
/// streams.close()?;
/// # Ok::<(), streams_core::Error>(())
/// ```
///
/// Delivery is at-least-once: input offsets are committed only after the outputs and changelog
/// records they caused were acknowledged, so a crash replays records (their effects may repeat)
/// but never loses one.
pub struct KafkaStreams {
    topology: Option<Topology>,
    pub(crate) config: StreamsConfig,
    pub(crate) state: Arc<Mutex<StreamsState>>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<()>>>,
    pub(crate) queries: Option<Mutex<mpsc::Sender<Query>>>,
    restore_listener: Option<Arc<dyn StateRestoreListener>>,
    pub(crate) layout: Option<TopicLayout>,
    /// Store name → (sub-topology, whether its values carry timestamps).
    pub(crate) stores: HashMap<String, (usize, bool)>,
}

impl fmt::Debug for KafkaStreams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaStreams")
            .field("config", &self.config)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl KafkaStreams {
    /// An application running `topology` with `config`, not started yet.
    ///
    /// # Errors
    /// [`Error::Config`] for invalid settings, or a topology with global tables (not yet supported
    /// by the Kafka runtime; the test driver runs them).
    pub fn new(topology: Topology, config: StreamsConfig) -> Result<Self> {
        config.validate()?;
        if !topology.global_tables().is_empty() {
            return Err(Error::Config(
                "global tables do not run on the Kafka runtime yet (the test driver runs them)".into(),
            ));
        }
        let mut stores = HashMap::new();
        for sub in topology.sub_topologies() {
            for &n in &sub.nodes {
                for name in &topology.node(n).stores {
                    let timestamped = topology.store(name).is_some_and(|s| s.is_timestamped());
                    stores.insert(name.clone(), (sub.id, timestamped));
                }
            }
        }
        Ok(KafkaStreams {
            topology: Some(topology),
            config,
            state: Arc::new(Mutex::new(StreamsState::Created)),
            counters: Arc::new(Counters::default()),
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
            queries: None,
            restore_listener: None,
            layout: None,
            stores,
        })
    }

    /// Sets the listener told about restoration progress; call before [`start`](Self::start).
    pub fn set_state_restore_listener(&mut self, listener: Arc<dyn StateRestoreListener>) {
        self.restore_listener = Some(listener);
    }

    /// Creates the internal topics, connects, and starts the stream thread. Returns once the thread
    /// runs; the state is [`StreamsState::Rebalancing`] until every assigned task has restored.
    ///
    /// # Errors
    /// [`Error::Config`] when a source topic is missing, an internal topic has the wrong partition
    /// count, or co-partitioned topics differ; [`Error::Kafka`] when the cluster cannot be reached;
    /// [`Error::Config`] when called twice.
    pub fn start(&mut self) -> Result<()> {
        let topology = self
            .topology
            .take()
            .ok_or_else(|| Error::Config("the application was already started".into()))?;
        let subtopologies = topology.sub_topologies();
        let layout = internal_topics::prepare(&topology, &subtopologies, &self.config)?;
        self.layout = Some(layout.clone());

        let producer: BaseProducer<Delivery> = producer_config(&self.config)
            .create_with_context(Delivery::default())
            .map_err(|e| Error::kafka("creating the producer", e))?;
        let producer = SharedProducer(Arc::new(producer));
        let context = ThreadContext {
            assigned: Mutex::new(Vec::new()),
            failure: Mutex::new(None),
            counters: self.counters.clone(),
        };
        let mut consumer = consumer_config(&self.config);
        consumer.set("partition.assignment.strategy", "range");
        let endpoint = self.config.application_server().unwrap_or("");
        consumer.set(
            "client.id",
            format!(
                "{}-consumer{}{endpoint}",
                self.config.application_id(),
                super::queries::ENDPOINT_SEPARATOR
            ),
        );
        let consumer: BaseConsumer<ThreadContext> = consumer
            .create_with_context(context)
            .map_err(|e| Error::kafka("creating the consumer", e))?;
        let topics: Vec<&str> = layout.sources.iter().flatten().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(|e| Error::kafka(format!("subscribing to {topics:?}"), e))?;
        let restorer = Restorer::new(&self.config, self.restore_listener.clone())?;
        let rocksdb = match self.config.rocksdb_config_setter() {
            Some(setter) => RocksDbMemory::with_config_setter(self.config.rocksdb_memory_bytes(), setter.clone()),
            None => RocksDbMemory::new(self.config.rocksdb_memory_bytes()),
        };
        let (config, counters) = (self.config.clone(), self.counters.clone());
        // Tasks hold processors, which need not be `Send`: the manager is built on its thread.
        let make_manager = move || {
            TaskManager::new(
                Arc::new(topology),
                subtopologies,
                layout,
                config,
                rocksdb,
                producer,
                restorer,
                counters,
            )
        };
        let (queries, incoming) = mpsc::channel();
        self.queries = Some(Mutex::new(queries));
        *lock(&self.state) = StreamsState::Rebalancing;
        let worker = StreamThread {
            consumer,
            commit_interval: self.config.commit_interval(),
            stop: self.stop.clone(),
            state: self.state.clone(),
            queries: incoming,
        };
        let thread = std::thread::Builder::new()
            .name(format!("{}-StreamThread-1", self.config.application_id()))
            .spawn(move || worker.run(make_manager()))
            .map_err(|e| Error::Config(format!("could not start the stream thread: {e}")))?;
        self.thread = Some(thread);
        info!(application_id = self.config.application_id(), "started");
        Ok(())
    }

    /// The settings it runs with.
    pub fn config(&self) -> &StreamsConfig {
        &self.config
    }

    /// The current state.
    pub fn state(&self) -> StreamsState {
        *lock(&self.state)
    }

    /// The counts so far.
    pub fn stats(&self) -> StreamsStats {
        StreamsStats {
            processed: self.counters.processed.load(Ordering::Relaxed),
            restored: self.counters.restored.load(Ordering::Relaxed),
            restore_remaining: self.counters.restore_remaining.load(Ordering::Relaxed),
            skipped: self.counters.skipped.load(Ordering::Relaxed),
            commits: self.counters.commits.load(Ordering::Relaxed),
            rebalances: self.counters.rebalances.load(Ordering::Relaxed),
        }
    }

    /// Waits until the state is `state` or `timeout` passes; returns whether it was reached. Fails
    /// at once when the application stopped with an error.
    pub fn wait_for_state(&self, state: StreamsState, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            let now = self.state();
            if now == state {
                return Ok(true);
            }
            if now == StreamsState::Error {
                return Err(Error::Config(
                    "the application stopped with an error (see close())".into(),
                ));
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops gracefully: finishes the records at hand, commits (outputs acknowledged, offsets
    /// committed, checkpoints written), closes every task and its stores, and leaves the group.
    /// Returns the error that stopped the application earlier, if one did.
    pub fn close(&mut self) -> Result<()> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        {
            let mut state = lock(&self.state);
            if *state != StreamsState::Error {
                *state = StreamsState::PendingShutdown;
            }
        }
        self.stop.store(true, Ordering::Release);
        let result = thread.join().map_err(|panic| Error::Panicked(panic_message(&*panic)));
        self.queries = None;
        let result = result.and_then(|r| r);
        *lock(&self.state) = if result.is_ok() {
            StreamsState::NotRunning
        } else {
            StreamsState::Error
        };
        info!(
            application_id = self.config.application_id(),
            ok = result.is_ok(),
            "closed"
        );
        result
    }
}

impl Drop for KafkaStreams {
    fn drop(&mut self) {
        if self.thread.is_some()
            && let Err(error) = self.close()
        {
            warn!(%error, "the application stopped with an error");
        }
    }
}

thread_local! {
    /// The tasks of the stream thread running on this thread. The rebalance callback, which
    /// librdkafka runs on this thread from inside `poll`, reaches them here.
    static MANAGER: RefCell<Option<TaskManager>> = const { RefCell::new(None) };
}

/// Runs `f` on this thread's task manager; `None` when there is none (or it is in use).
fn with_manager<T>(f: impl FnOnce(&mut TaskManager) -> T) -> Option<T> {
    MANAGER.with(|cell| {
        cell.try_borrow_mut()
            .ok()
            .and_then(|mut manager| manager.as_mut().map(f))
    })
}

/// Rebalance events: revocations are handled inside the callback (commit, then close the tasks);
/// assignments are queued for the loop, which creates the tasks.
struct ThreadContext {
    assigned: Mutex<Vec<(String, i32)>>,
    failure: Mutex<Option<Error>>,
    counters: Arc<Counters>,
}

impl ClientContext for ThreadContext {}

fn partitions_of(list: &TopicPartitionList) -> Vec<(String, i32)> {
    list.elements()
        .iter()
        .map(|e| (e.topic().to_string(), e.partition()))
        .collect()
}

impl ConsumerContext for ThreadContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(revoked) = rebalance {
            let partitions = partitions_of(revoked);
            lock(&self.assigned).retain(|p| !partitions.contains(p));
            match with_manager(|manager| manager.revoke(consumer, &partitions)) {
                Some(Err(error)) => {
                    error!(%error, "could not commit revoked tasks");
                    lock(&self.failure).get_or_insert(error);
                }
                Some(Ok(())) => info!(?partitions, "revoked"),
                None => {}
            }
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(assigned) => {
                self.counters.rebalances.fetch_add(1, Ordering::Relaxed);
                let partitions = partitions_of(assigned);
                info!(?partitions, "assigned");
                lock(&self.assigned).extend(partitions);
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(error) => warn!(%error, "rebalance error"),
        }
    }
}

struct StreamThread {
    consumer: BaseConsumer<ThreadContext>,
    commit_interval: Duration,
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<StreamsState>>,
    queries: mpsc::Receiver<Query>,
}

impl StreamThread {
    fn run(self, manager: TaskManager) -> Result<()> {
        MANAGER.with(|cell| *cell.borrow_mut() = Some(manager));
        let result = self.process_until_stopped();
        let clean = result.is_ok();
        if !clean {
            *lock(&self.state) = StreamsState::Error;
        }
        let shutdown = with_manager(|manager| manager.shutdown(&self.consumer, clean)).unwrap_or(Ok(()));
        self.consumer.unsubscribe();
        MANAGER.with(|cell| cell.borrow_mut().take());
        result.and(shutdown)
    }

    fn failure(&self) -> Result<()> {
        match lock(&self.consumer.context().failure).take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Creates the tasks of partitions assigned since last asked.
    fn handle_assignments(&self) -> Result<()> {
        let assigned = std::mem::take(&mut *lock(&self.consumer.context().assigned));
        if assigned.is_empty() {
            return Ok(());
        }
        with_manager(|manager| manager.assign(&self.consumer, &assigned)).unwrap_or(Ok(()))
    }

    fn process_until_stopped(&self) -> Result<()> {
        let mut last_commit = Instant::now();
        while !self.stop.load(Ordering::Acquire) {
            while let Ok(query) = self.queries.try_recv() {
                with_manager(|manager| query(manager));
            }
            with_manager(|m| m.restore_step(MAX_RESTORE_RECORDS, Duration::ZERO)).unwrap_or(Ok(()))?;

            let restoring = with_manager(|m| !m.all_running()).unwrap_or(false);
            let mut wait = if restoring { Duration::ZERO } else { IDLE_POLL };
            for _ in 0..MAX_POLL_RECORDS {
                let polled = self.consumer.poll(wait);
                self.failure()?;
                self.handle_assignments()?;
                let Some(polled) = polled else { break };
                wait = Duration::ZERO;
                match polled {
                    Ok(message) => {
                        let record = RawRecord::from_message(&message);
                        let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
                        with_manager(|m| m.enqueue(topic, partition, offset, record)).unwrap_or(Ok(()))?;
                    }
                    Err(error) => warn!(%error, "consumer error"),
                }
            }
            with_manager(|m| m.process(PROCESS_TURN)).unwrap_or(Ok(0))?;
            with_manager(|m| m.flow_control(&self.consumer)).unwrap_or(Ok(()))?;
            with_manager(TaskManager::punctuate).unwrap_or(Ok(()))?;
            if last_commit.elapsed() >= self.commit_interval {
                with_manager(|m| m.commit(&self.consumer)).unwrap_or(Ok(()))?;
                last_commit = Instant::now();
            }
            let running = with_manager(|m| m.all_running()).unwrap_or(false)
                && !self.consumer.assignment().map(|a| a.count() == 0).unwrap_or(true);
            let mut state = lock(&self.state);
            if matches!(*state, StreamsState::Rebalancing | StreamsState::Running) {
                *state = if running {
                    StreamsState::Running
                } else {
                    StreamsState::Rebalancing
                };
            }
        }
        Ok(())
    }
}

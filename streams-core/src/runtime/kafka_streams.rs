//! [`KafkaStreams`]: a topology running on Kafka, at-least-once, with durable state.
//!
//! ```text
//!                ┌──────────────────────── stream thread ─────────────────────────┐
//!  source and    │ consumer ──▶ task queues ──▶ tasks (processors, store stacks)  │──▶ producer ──▶ sinks,
//!  repartition ─▶│    ▲  pause while restoring       │ store writes ─▶ changelog ─│      repartition and
//!  topics        │    │                              ▼                            │      changelog topics
//!                │ restore consumer ◀── changelogs (from checkpoint) ──▶ stores   │
//!                └────────────────────────────────────────────────────────────────┘
//!                     × num_stream_threads, each a member of the consumer group
//! ```
//!
//! Start-up creates the internal topics (see `internal_topics`), then each stream thread joins the
//! consumer group `application.id`. For each assigned partition a thread creates the task of
//! (sub-topology, partition): it locks the task's state directory, opens its stores (RocksDB by
//! default) and restores them from their changelogs, starting at the checkpointed offsets; the
//! task's partitions stay paused until then, while other tasks process. Every `commit.interval` it
//! commits (see `task_manager` for the order). On revocation it commits and closes the revoked
//! tasks, leaving their state and checkpoint on disk. [`KafkaStreams::close`] does the same for
//! every task, then leaves the group. Scaling out is starting another instance with the same
//! application id: the group spreads the partitions, and moved tasks restore their state.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{error, info, warn};

use super::internal_topics::{self, TopicLayout};
use super::restore::StateRestoreListener;
use super::shutdown_signal::{self, ShutdownWatcher};
use super::stream_thread::{ThreadSetup, ThreadShared, thread_main};
use super::task_manager::TaskManager;
use crate::config::StreamsConfig;
use crate::error::{Error, Result};
use crate::state::caching::CacheBudget;
use crate::state::rocksdb::RocksDbMemory;
use crate::topology::Topology;

/// The life cycle of an application (Kafka Streams' `KafkaStreams.State`).
///
/// ```text
///  Created ──start──▶ Rebalancing ◀──▶ Running
///     │                   │               │
///     └──────close────────┴───────────────┴──▶ PendingShutdown ──▶ NotRunning
///  any state but NotRunning ──a thread fails and the handler shuts down──▶ Error
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamsState {
    /// Built, not started.
    Created,
    /// A stream thread is joining the group, rebalancing, or restoring state.
    Rebalancing,
    /// Every stream thread has its assignment and every task processes.
    Running,
    /// Closing: committing, closing tasks, leaving the group.
    PendingShutdown,
    /// Closed cleanly.
    NotRunning,
    /// Stopped by an error; [`KafkaStreams::close`] returns it.
    Error,
}

impl StreamsState {
    /// Whether Kafka Streams allows the change from `self` to `next`.
    fn may_become(self, next: StreamsState) -> bool {
        use StreamsState::*;
        match (self, next) {
            (Created, Rebalancing | PendingShutdown) => true,
            (Rebalancing, Running) | (Running, Rebalancing) => true,
            (Rebalancing | Running, PendingShutdown) => true,
            (PendingShutdown, NotRunning) => true,
            (NotRunning | Error, _) => false,
            (_, Error) => true,
            _ => false,
        }
    }
}

/// What happens when a stream thread fails (Kafka Streams' `StreamThreadExceptionResponse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamThreadExceptionResponse {
    /// Start a new stream thread in its place: its tasks reopen and resume from the last committed
    /// offsets (records since then are processed again).
    ReplaceThread,
    /// Stop this instance: every stream thread closes, the state becomes [`StreamsState::Error`]
    /// (the default).
    ShutdownClient,
    /// Stop every instance of the application: a request goes to the application's
    /// `<application.id>-shutdown-requests` topic, which every instance watches.
    ShutdownApplication,
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
    /// Records dropped by operators by design: too late for their window (Kafka's
    /// `dropped-records`).
    pub dropped: u64,
    /// Records skipped: input records with an invalid timestamp
    /// ([`InvalidTimestampPolicy::SkipAndCount`](super::InvalidTimestampPolicy::SkipAndCount)) or
    /// that failed under [`RecordErrorHandler::LogAndContinue`](super::RecordErrorHandler::LogAndContinue),
    /// and output records refused under [`ProductionErrorHandler::Skip`](super::ProductionErrorHandler::Skip).
    pub skipped: u64,
    /// Input records that failed and were sent to the dead-letter topic
    /// ([`RecordErrorHandler::DeadLetter`](super::RecordErrorHandler::DeadLetter)). Under
    /// exactly-once, a count of sends: a send in a transaction that aborts counts again when the
    /// record is processed again.
    pub dead_lettered: u64,
    /// Commits made.
    pub commits: u64,
    /// Rebalances (partition assignments) seen, over all stream threads.
    pub rebalances: u64,
    /// Stream threads replaced after a failure.
    pub replaced_threads: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) processed: AtomicU64,
    pub(crate) restored: AtomicU64,
    pub(crate) restore_remaining: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) commits: AtomicU64,
    pub(crate) rebalances: AtomicU64,
    pub(crate) replaced_threads: AtomicU64,
}

/// A question for a stream thread, which owns its tasks (interactive queries).
pub(crate) type Query = Box<dyn FnOnce(&TaskManager) + Send>;

/// Called with the new and the old state on every change.
type StateListener = Arc<dyn Fn(StreamsState, StreamsState) + Send + Sync>;
/// Decides what a stream thread's failure does.
type ExceptionHandler = Arc<dyn Fn(&Error) -> StreamThreadExceptionResponse + Send + Sync>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the handle and its stream threads share: the state, the handlers, the first error.
pub(crate) struct AppShared {
    state: Mutex<StreamsState>,
    listener: Mutex<Option<StateListener>>,
    handler: Mutex<Option<ExceptionHandler>>,
    error: Mutex<Option<Error>>,
    threads: Mutex<Vec<Arc<ThreadShared>>>,
}

impl AppShared {
    fn new() -> Self {
        AppShared {
            state: Mutex::new(StreamsState::Created),
            listener: Mutex::new(None),
            handler: Mutex::new(None),
            error: Mutex::new(None),
            threads: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn state(&self) -> StreamsState {
        *lock(&self.state)
    }

    /// Moves to `next` if Kafka Streams allows it from the current state; tells the listener.
    pub(crate) fn set_state(&self, next: StreamsState) -> bool {
        let old = {
            let mut state = lock(&self.state);
            let old = *state;
            if old == next || !old.may_become(next) {
                return false;
            }
            *state = next;
            old
        };
        info!(from = ?old, to = ?next, "state change");
        let listener = lock(&self.listener).clone();
        if let Some(listener) = listener {
            listener(next, old);
        }
        true
    }

    /// Running when every live stream thread is running; rebalancing otherwise.
    pub(crate) fn update_running(&self) {
        let threads = lock(&self.threads).clone();
        let live: Vec<_> = threads.iter().filter(|t| !t.finished.load(Ordering::Acquire)).collect();
        if live.is_empty() {
            return;
        }
        let running = live.iter().all(|t| t.running.load(Ordering::Acquire));
        self.set_state(if running {
            StreamsState::Running
        } else {
            StreamsState::Rebalancing
        });
    }

    /// The handler's answer to a thread's failure (shut the client down without a handler).
    pub(crate) fn respond(&self, error: &Error) -> StreamThreadExceptionResponse {
        let handler = lock(&self.handler).clone();
        handler.map_or(StreamThreadExceptionResponse::ShutdownClient, |handler| handler(error))
    }

    /// Whether the application is failing or failed.
    pub(crate) fn is_failed(&self) -> bool {
        lock(&self.error).is_some()
    }

    /// Stops every stream thread of this instance for `error` (the first one is kept for
    /// `close`), and moves to [`StreamsState::Error`].
    pub(crate) fn fail(&self, error: Error) {
        error!(%error, "shutting down this instance");
        lock(&self.error).get_or_insert(error);
        for thread in lock(&self.threads).iter() {
            thread.stop.store(true, Ordering::Release);
        }
        self.set_state(StreamsState::Error);
    }

    /// Asks every instance to shut down (see [`StreamThreadExceptionResponse::ShutdownApplication`]).
    pub(crate) fn request_application_shutdown(&self, config: &StreamsConfig, error: &Error) {
        if let Err(failure) = shutdown_signal::request(config, &error.to_string()) {
            warn!(%failure, "could not ask the other instances to shut down");
        }
    }
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
/// streams.set_state_listener(|new, old| println!("{old:?} -> {new:?}"));
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
    app: Arc<AppShared>,
    counters: Arc<Counters>,
    threads: Vec<(Arc<ThreadShared>, Option<JoinHandle<()>>)>,
    watcher: Option<ShutdownWatcher>,
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
            app: Arc::new(AppShared::new()),
            counters: Arc::new(Counters::default()),
            threads: Vec::new(),
            watcher: None,
            restore_listener: None,
            layout: None,
            stores,
        })
    }

    /// Sets the listener told about restoration progress; call before [`start`](Self::start).
    pub fn set_state_restore_listener(&mut self, listener: Arc<dyn StateRestoreListener>) {
        self.restore_listener = Some(listener);
    }

    /// Sets the listener called with `(new, old)` on every state change. It runs on whichever
    /// thread changes the state: keep it quick.
    pub fn set_state_listener(&mut self, listener: impl Fn(StreamsState, StreamsState) + Send + Sync + 'static) {
        *lock(&self.app.listener) = Some(Arc::new(listener));
    }

    /// Sets what a stream thread's failure does (Kafka's `setUncaughtExceptionHandler`); without a
    /// handler, the instance shuts down ([`StreamThreadExceptionResponse::ShutdownClient`]).
    pub fn set_uncaught_exception_handler(
        &mut self,
        handler: impl Fn(&Error) -> StreamThreadExceptionResponse + Send + Sync + 'static,
    ) {
        *lock(&self.app.handler) = Some(Arc::new(handler));
    }

    /// Creates the internal topics, connects, and starts the stream threads. Returns once they run;
    /// the state is [`StreamsState::Rebalancing`] until every assigned task has restored.
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
        self.watcher = Some(ShutdownWatcher::start(&self.config, self.app.clone())?);
        let rocksdb = match self.config.rocksdb_config_setter() {
            Some(setter) => RocksDbMemory::with_config_setter(self.config.rocksdb_memory_bytes(), setter.clone()),
            None => RocksDbMemory::new(self.config.rocksdb_memory_bytes()),
        };
        let topology = Arc::new(topology);
        let cache = CacheBudget::new(self.config.cache_max_bytes());
        self.app.set_state(StreamsState::Rebalancing);
        for index in 1..=self.config.num_stream_threads() {
            let (queries, incoming) = mpsc::channel();
            let shared = Arc::new(ThreadShared {
                name: format!("StreamThread-{index}"),
                stop: AtomicBool::new(false),
                running: AtomicBool::new(false),
                finished: AtomicBool::new(false),
                queries: Mutex::new(queries),
            });
            lock(&self.app.threads).push(shared.clone());
            let setup = ThreadSetup {
                topology: topology.clone(),
                subtopologies: subtopologies.clone(),
                layout: layout.clone(),
                config: self.config.clone(),
                rocksdb: rocksdb.clone(),
                cache: cache.clone(),
                restore_listener: self.restore_listener.clone(),
                counters: self.counters.clone(),
                app: self.app.clone(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("{}-{}", self.config.application_id(), shared.name))
                .spawn({
                    let shared = shared.clone();
                    move || thread_main(setup, shared, incoming)
                })
                .map_err(|e| Error::Config(format!("could not start a stream thread: {e}")))?;
            self.threads.push((shared, Some(thread)));
        }
        info!(
            application_id = self.config.application_id(),
            threads = self.threads.len(),
            "started"
        );
        Ok(())
    }

    /// The settings it runs with.
    pub fn config(&self) -> &StreamsConfig {
        &self.config
    }

    /// The current state.
    pub fn state(&self) -> StreamsState {
        self.app.state()
    }

    /// The counts so far.
    pub fn stats(&self) -> StreamsStats {
        let c = &self.counters;
        StreamsStats {
            processed: c.processed.load(Ordering::Relaxed),
            restored: c.restored.load(Ordering::Relaxed),
            restore_remaining: c.restore_remaining.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            skipped: c.skipped.load(Ordering::Relaxed),
            dead_lettered: c.dead_lettered.load(Ordering::Relaxed),
            commits: c.commits.load(Ordering::Relaxed),
            rebalances: c.rebalances.load(Ordering::Relaxed),
            replaced_threads: c.replaced_threads.load(Ordering::Relaxed),
        }
    }

    /// The stream threads, for queries: each one's query channel.
    pub(crate) fn thread_queries(&self) -> Vec<mpsc::Sender<Query>> {
        self.threads
            .iter()
            .filter(|(shared, _)| !shared.finished.load(Ordering::Acquire))
            .map(|(shared, _)| lock(&shared.queries).clone())
            .collect()
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

    /// Stops gracefully and waits for it: finishes the records at hand, commits (outputs
    /// acknowledged, offsets committed, checkpoints written), closes every task and its stores,
    /// and leaves the group. Returns the error that stopped the application earlier, if one did.
    pub fn close(&mut self) -> Result<()> {
        self.close_with_timeout(Duration::MAX).map(|_| ())
    }

    /// [`close`](Self::close), waiting at most `timeout`: `Ok(false)` when the stream threads are
    /// still closing then (they go on; a later `close` waits for them).
    pub fn close_with_timeout(&mut self, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now().checked_add(timeout);
        self.app.set_state(StreamsState::PendingShutdown);
        for (shared, _) in &self.threads {
            shared.stop.store(true, Ordering::Release);
        }
        for (shared, handle) in &mut self.threads {
            let Some(thread) = handle.take() else { continue };
            while !thread.is_finished() {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    *handle = Some(thread);
                    warn!(thread = %shared.name, "still closing after the timeout");
                    return Ok(false);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            if thread.join().is_err() {
                self.app
                    .fail(Error::Panicked(format!("{} panicked while closing", shared.name)));
            }
        }
        if let Some(watcher) = self.watcher.take() {
            watcher.stop();
        }
        match lock(&self.app.error).take() {
            Some(error) => {
                self.app.set_state(StreamsState::Error);
                info!(application_id = self.config.application_id(), %error, "closed after an error");
                Err(error)
            }
            None => {
                self.app.set_state(StreamsState::NotRunning);
                info!(application_id = self.config.application_id(), "closed");
                Ok(true)
            }
        }
    }
}

/// How long dropping a running application waits for it to close.
const DROP_CLOSE_TIMEOUT: Duration = Duration::from_secs(60);

/// Dropping a running application closes it, waiting at most a minute (then its threads finish
/// closing in the background).
impl Drop for KafkaStreams {
    fn drop(&mut self) {
        if self.threads.iter().any(|(_, handle)| handle.is_some()) {
            match self.close_with_timeout(DROP_CLOSE_TIMEOUT) {
                Ok(true) => {}
                Ok(false) => warn!("the application was still closing when dropped"),
                Err(error) => warn!(%error, "the application stopped with an error"),
            }
        }
    }
}

//! A stream thread: one consumer-group member with its own producer, restore consumer and tasks,
//! running the processing loop; and what happens when it fails (the uncaught-error handler).
//!
//! ```text
//!  loop until stopped:
//!    answer interactive queries ─▶ restore one bounded batch ─▶ poll up to 5,000 records into the
//!    tasks' queues ─▶ process for up to 100 ms ─▶ pause/resume partitions ─▶ punctuate ─▶ commit
//!    when the interval has passed
//! ```
//!
//! Asynchronous processors (model scoring) forward their results from the process step. A commit
//! that finds work of theirs in flight waits for it without blocking: the loop goes on polling and
//! forwarding results, no task takes new records, and the commit happens on the first turn with
//! nothing in flight.
//!
//! A thread's tasks are not `Send` (processors need not be), so they live in a thread-local
//! [`TaskManager`]; librdkafka runs the rebalance callback on this thread from inside `poll`, which
//! is how revocations commit and close tasks before the partitions are given up.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::{ClientContext, Statistics, TopicPartitionList};
use tracing::{error, info, warn};

use super::RawRecord;
use super::client_config::{consumer_config, producer_config};
use super::collector::{Delivery, SharedProducer};
use super::internal_topics::TopicLayout;
use super::kafka_streams::{AppShared, Counters, Query, StreamThreadExceptionResponse};
use super::metrics::{ThreadMetrics, consumer_lag};
use super::pipe::panic_message;
use super::restore::{Restorer, StateRestoreListener};
use super::task_manager::TaskManager;
use crate::config::{ProcessingGuarantee, StreamsConfig};
use crate::error::{Error, Result};
use crate::state::caching::CacheBudget;
use crate::state::directory::StateDirectory;
use crate::state::rocksdb::RocksDbMemory;
use crate::topology::{SubTopology, Topology};

/// At most this many records are read from the consumer per loop turn.
const MAX_POLL_RECORDS: usize = 5_000;
/// How long one turn processes buffered records before polling again.
const PROCESS_TURN: Duration = Duration::from_millis(100);
/// At most this many changelog records are restored per loop turn.
const MAX_RESTORE_RECORDS: usize = 50_000;
/// How long a poll waits when there is nothing else to do; also how long an interactive query
/// waits at most for an idle stream thread.
const IDLE_POLL: Duration = Duration::from_millis(10);
/// How long the thread waits at most for asynchronous work before it looks again (a batch waiting
/// for more records is started on time to within this).
const ASYNC_TICK: Duration = Duration::from_millis(1);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the application handle and a stream thread share.
pub(crate) struct ThreadShared {
    /// `StreamThread-<n>`, from 1.
    pub(crate) name: String,
    pub(crate) stop: AtomicBool,
    /// Whether the thread has finished a rebalance and every task of it is restored.
    pub(crate) running: AtomicBool,
    /// Whether the thread has ended (cleanly or not).
    pub(crate) finished: AtomicBool,
    pub(crate) queries: Mutex<mpsc::Sender<Query>>,
}

/// What every incarnation of a stream thread is built from.
pub(crate) struct ThreadSetup {
    pub(crate) topology: Arc<Topology>,
    pub(crate) subtopologies: Vec<SubTopology>,
    pub(crate) layout: TopicLayout,
    pub(crate) config: StreamsConfig,
    pub(crate) rocksdb: RocksDbMemory,
    /// The write cache budget, shared by every stream thread of the instance.
    pub(crate) cache: CacheBudget,
    pub(crate) restore_listener: Option<Arc<dyn StateRestoreListener>>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) app: Arc<AppShared>,
}

/// The `group.instance.id` of stream thread `thread`: the one the user gave as a prefix, or, under
/// static membership, one derived from the application and instance ids; `None` for a dynamic
/// member.
fn group_instance_id(
    given: Option<&str>,
    config: &StreamsConfig,
    thread: &str,
    process_id: impl FnOnce() -> Result<String>,
) -> Result<Option<String>> {
    Ok(match given {
        Some(prefix) => Some(format!("{prefix}-{thread}")),
        None if config.static_membership() => Some(format!("{}-{}-{thread}", config.application_id(), process_id()?)),
        None => None,
    })
}

/// The body of a stream thread: runs incarnations until stopped; when one fails, the uncaught-error
/// handler says whether a new one replaces it or the client (or the whole application) shuts down.
pub(crate) fn thread_main(setup: ThreadSetup, shared: Arc<ThreadShared>, queries: mpsc::Receiver<Query>) {
    loop {
        let result = catch_unwind(AssertUnwindSafe(|| run_incarnation(&setup, &shared, &queries)))
            .unwrap_or_else(|panic| Err(Error::Panicked(panic_message(&*panic))));
        shared.running.store(false, Ordering::Release);
        match result {
            Ok(()) => break,
            Err(Error::TaskMigrated(reason)) if !shared.stop.load(Ordering::Acquire) => {
                // Fenced, or an aborted transaction: a fresh thread (new producer, tasks restored
                // from their changelogs, input from the last commit) is the recovery.
                warn!(thread = %shared.name, %reason, "stream thread lost its tasks; starting over");
                continue;
            }
            Err(error) if shared.stop.load(Ordering::Acquire) && setup.app.is_failed() => {
                // Shutting down after another thread's failure: that failure is the one reported.
                warn!(thread = %shared.name, %error, "error while shutting down");
                break;
            }
            Err(error) => {
                error!(thread = %shared.name, %error, "stream thread failed");
                match setup.app.respond(&error) {
                    StreamThreadExceptionResponse::ReplaceThread => {
                        setup.counters.replaced_threads.fetch_add(1, Ordering::Relaxed);
                        warn!(thread = %shared.name, "replacing the failed stream thread");
                        continue;
                    }
                    StreamThreadExceptionResponse::ShutdownClient => setup.app.fail(error),
                    StreamThreadExceptionResponse::ShutdownApplication => {
                        setup.app.request_application_shutdown(&setup.config, &error);
                        setup.app.fail(error);
                    }
                }
                break;
            }
        }
    }
    shared.finished.store(true, Ordering::Release);
    setup.app.update_running();
}

thread_local! {
    /// The tasks of the stream thread running on this thread.
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

/// One run of a stream thread, with fresh clients and no tasks, until stopped or failed.
fn run_incarnation(setup: &ThreadSetup, shared: &ThreadShared, queries: &mpsc::Receiver<Query>) -> Result<()> {
    let config = &setup.config;
    let exactly_once = config.processing_guarantee() == ProcessingGuarantee::ExactlyOnceV2;
    let mut producer_settings = producer_config(config);
    producer_settings.set(
        "client.id",
        format!("{}-{}-producer", config.application_id(), shared.name),
    );
    // Stable across restarts of this instance (kept in its state directory).
    let process_id = || {
        StateDirectory::new(config.state_dir(), config.application_id())
            .process_id()
            .map_err(|e| Error::Config(e.to_string()))
    };
    if exactly_once {
        // A restarted instance fences its dead predecessor's transaction at once instead of
        // waiting for it to time out.
        let process_id = process_id()?;
        producer_settings
            .set(
                "transactional.id",
                format!("{}-{process_id}-{}", config.application_id(), shared.name),
            )
            .set("transaction.timeout.ms", "10000");
    }
    let producer: BaseProducer<Delivery> = producer_settings
        .create_with_context(Delivery::default())
        .map_err(|e| Error::kafka("creating the producer", e))?;
    if exactly_once {
        producer
            .init_transactions(Duration::from_secs(60))
            .map_err(|e| Error::kafka("initialising transactions", e))?;
    }
    let context = ThreadContext {
        metrics: ThreadMetrics::new(&shared.name),
        assigned: Mutex::new(Vec::new()),
        rebalancing: AtomicBool::new(true),
        failure: Mutex::new(None),
        counters: setup.counters.clone(),
    };
    let mut client = consumer_config(config);
    client.set("partition.assignment.strategy", assignor(&setup.layout));
    if exactly_once {
        // Repartition topics are written in transactions: read only what was committed.
        client.set("isolation.level", "read_committed");
    }
    // Static membership: one stable member id per stream thread, so a restarted instance takes its
    // partitions back without waiting for its predecessor's session to time out.
    let given = client.get("group.instance.id").map(str::to_string);
    if let Some(id) = group_instance_id(given.as_deref(), config, &shared.name, process_id)? {
        client.set("group.instance.id", id);
    }
    if client.get("statistics.interval.ms").is_none() {
        // Consumer lag per partition comes from librdkafka's statistics.
        client.set("statistics.interval.ms", "5000");
    }
    let endpoint = config.application_server().unwrap_or("");
    client.set(
        "client.id",
        format!(
            "{}-{}-consumer{}{endpoint}",
            config.application_id(),
            shared.name,
            super::queries::ENDPOINT_SEPARATOR
        ),
    );
    let consumer: BaseConsumer<ThreadContext> = client
        .create_with_context(context)
        .map_err(|e| Error::kafka("creating the consumer", e))?;
    let topics: Vec<&str> = setup.layout.sources.iter().flatten().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .map_err(|e| Error::kafka(format!("subscribing to {topics:?}"), e))?;
    let restorer = Restorer::new(config, setup.restore_listener.clone())?;
    let metrics = consumer.context().metrics.clone();
    let manager = TaskManager::new(
        setup.topology.clone(),
        setup.subtopologies.clone(),
        setup.layout.clone(),
        config.clone(),
        setup.rocksdb.clone(),
        setup.cache.clone(),
        SharedProducer(Arc::new(producer)),
        restorer,
        setup.counters.clone(),
        metrics,
    );
    MANAGER.with(|cell| *cell.borrow_mut() = Some(manager));
    let thread = StreamThread {
        consumer,
        commit_interval: config.commit_interval(),
        shared,
        app: &setup.app,
        queries,
    };
    let result = thread.process_until_stopped();
    let shutdown = with_manager(|manager| manager.shutdown(&thread.consumer, result.is_ok())).unwrap_or(Ok(()));
    thread.consumer.unsubscribe();
    MANAGER.with(|cell| cell.borrow_mut().take());
    result.and(shutdown)
}

/// The partition assignor: `cooperative-sticky` (a rebalance moves only the partitions that must
/// move) when the application reads a single topic; `range` otherwise. Range gives one member the
/// same partition numbers of every topic with the same partition count, which a task reading
/// several topics (a join, a merge) needs, and spreads every topic, so each sub-topology's tasks
/// are balanced over the members; cooperative-sticky balances only the total number of partitions,
/// and could leave one instance all the stateful work.
fn assignor(layout: &TopicLayout) -> &'static str {
    let topics: std::collections::BTreeSet<&String> = layout.sources.iter().flatten().collect();
    if topics.len() == 1 {
        "cooperative-sticky"
    } else {
        "range"
    }
}

/// Rebalance events: revocations are handled inside the callback (commit, then close the tasks);
/// assignments are queued for the loop, which creates the tasks.
struct ThreadContext {
    metrics: ThreadMetrics,
    assigned: Mutex<Vec<(String, i32)>>,
    /// From a revocation (or the start) until the next assignment.
    rebalancing: AtomicBool,
    failure: Mutex<Option<Error>>,
    counters: Arc<Counters>,
}

impl ClientContext for ThreadContext {
    fn stats(&self, statistics: Statistics) {
        for (topic, stats) in &statistics.topics {
            for (partition, stats) in &stats.partitions {
                // librdkafka reports -1 for partitions it does not consume, and a pseudo-partition -1.
                if *partition >= 0 && stats.consumer_lag >= 0 {
                    consumer_lag(topic, *partition, stats.consumer_lag);
                }
            }
        }
    }
}

fn partitions_of(list: &TopicPartitionList) -> Vec<(String, i32)> {
    list.elements()
        .iter()
        .map(|e| (e.topic().to_string(), e.partition()))
        .collect()
}

impl ConsumerContext for ThreadContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(revoked) = rebalance {
            self.rebalancing.store(true, Ordering::Release);
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

    fn commit_callback(&self, result: rdkafka::error::KafkaResult<()>, offsets: &TopicPartitionList) {
        if let Err(error) = result {
            // The offsets stay uncommitted: the next commit covers them, or, if the group moved on,
            // their new owner replays from the last commit (at-least-once).
            warn!(%error, offsets = offsets.count(), "an offset commit failed");
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(assigned) => {
                self.counters.rebalances.fetch_add(1, Ordering::Relaxed);
                self.metrics.rebalances.increment(1);
                let partitions = partitions_of(assigned);
                info!(?partitions, "assigned");
                lock(&self.assigned).extend(partitions);
                self.rebalancing.store(false, Ordering::Release);
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(error) => warn!(%error, "rebalance error"),
        }
    }
}

struct StreamThread<'a> {
    consumer: BaseConsumer<ThreadContext>,
    commit_interval: Duration,
    shared: &'a ThreadShared,
    app: &'a Arc<AppShared>,
    queries: &'a mpsc::Receiver<Query>,
}

impl StreamThread<'_> {
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
        while !self.shared.stop.load(Ordering::Acquire) {
            while let Ok(query) = self.queries.try_recv() {
                with_manager(|manager| query(manager));
            }
            with_manager(|m| m.restore_step(MAX_RESTORE_RECORDS, Duration::ZERO)).unwrap_or(Ok(()))?;

            let restoring = with_manager(|m| !m.all_running()).unwrap_or(false);
            // With asynchronous work in flight, the thread waits for it below, not in the poll.
            let async_busy = with_manager(|m| m.async_in_flight()).unwrap_or(false);
            let mut wait = if restoring || async_busy {
                Duration::ZERO
            } else {
                IDLE_POLL
            };
            let mut polled_any = false;
            for _ in 0..MAX_POLL_RECORDS {
                let polled = self.consumer.poll(wait);
                self.failure()?;
                self.handle_assignments()?;
                let Some(polled) = polled else { break };
                wait = Duration::ZERO;
                polled_any = true;
                match polled {
                    Ok(message) => {
                        self.consumer.context().metrics.consumed.increment(1);
                        let record = RawRecord::from_message(&message);
                        let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
                        with_manager(|m| m.enqueue(topic, partition, offset, record)).unwrap_or(Ok(()))?;
                    }
                    Err(error) => warn!(%error, "consumer error"),
                }
            }
            with_manager(TaskManager::ensure_transaction).unwrap_or(Ok(()))?;
            let processed = with_manager(|m| m.process(PROCESS_TURN)).unwrap_or(Ok(0))?;
            with_manager(|m| m.serve_delivery_reports());
            with_manager(|m| m.flow_control(&self.consumer)).unwrap_or(Ok(()))?;
            with_manager(TaskManager::punctuate).unwrap_or(Ok(()))?;
            // A commit waits (polling on) while asynchronous work is in flight: see `ready_to_commit`.
            if last_commit.elapsed() >= self.commit_interval
                && with_manager(TaskManager::ready_to_commit).unwrap_or(true)
            {
                with_manager(|m| m.commit(&self.consumer, CommitMode::Async)).unwrap_or(Ok(()))?;
                last_commit = Instant::now();
            }
            if async_busy && !polled_any && processed == 0 {
                // Nothing to read or process until a batch completes (which wakes the thread at
                // once) or a batch's wait is up (checked every ASYNC_TICK).
                with_manager(|m| m.wait_for_async(ASYNC_TICK));
            }
            let running = !self.consumer.context().rebalancing.load(Ordering::Acquire)
                && with_manager(|m| m.all_running()).unwrap_or(false);
            if self.shared.running.swap(running, Ordering::AcqRel) != running {
                self.app.update_running();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stream_thread_gets_its_own_static_member_id() {
        let config = StreamsConfig::new("fraud", "b:1");
        let id = |given: Option<&str>, config: &StreamsConfig| {
            group_instance_id(given, config, "StreamThread-2", || Ok("p-17".to_string())).unwrap()
        };
        assert_eq!(id(None, &config), None, "dynamic membership by default");
        let static_config = config.clone().with_static_membership(true);
        assert_eq!(id(None, &static_config).as_deref(), Some("fraud-p-17-StreamThread-2"));
        assert_eq!(
            id(Some("host-a"), &config).as_deref(),
            Some("host-a-StreamThread-2"),
            "a given id is a prefix: threads must not share one"
        );
    }
}

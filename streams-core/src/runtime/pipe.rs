//! [`Pipe`]: the smallest running path, one source topic to one sink topic through a byte-level
//! transform, at-least-once.
//!
//! ```text
//!   source topic ──poll──▶ transform ──send──▶ producer ──acks──▶ sink topic
//!        ▲                                         │
//!        └──── commit input offsets ◀── flush ◀────┘   (every commit interval, on revoke, on stop)
//! ```
//!
//! Delivery: an input offset is committed only after every output produced before it has been
//! acknowledged by the broker (`acks=all`, idempotent producer), so a crash replays records but
//! never loses one. Per key, outputs keep input order: one thread reads each partition in offset
//! order and the idempotent producer never reorders within a partition.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tracing::{debug, info, warn};

use super::client_config::{consumer_config, producer_config};
use crate::config::StreamsConfig;
use crate::error::{Error, Result};

/// How long one poll waits for records when none are queued.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// At most this many records are handled between two checks of the stop flag and the commit clock.
const MAX_BATCH: usize = 10_000;
/// How long a commit waits for outstanding outputs to be acknowledged.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);
/// How long start-up waits for the source topic's metadata.
const METADATA_TIMEOUT: Duration = Duration::from_secs(30);

/// A record as a [`Pipe`] transform sees it: bytes, as they are on the topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawRecord {
    /// The key; `None` for a record without a key.
    pub key: Option<Vec<u8>>,
    /// The value; `None` for a tombstone.
    pub value: Option<Vec<u8>>,
    /// Milliseconds since the epoch; `None` when the record has no timestamp (the producer then
    /// stamps the output with the current time).
    pub timestamp: Option<i64>,
    /// Headers, in order; a header may repeat.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl RawRecord {
    /// A copy of a consumed message's key, value, timestamp and headers.
    pub(crate) fn from_message(message: &BorrowedMessage<'_>) -> Self {
        RawRecord {
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
            timestamp: message.timestamp().to_millis(),
            headers: message
                .headers()
                .map(|headers| {
                    headers
                        .iter()
                        .map(|header| (header.key.to_string(), header.value.map(<[u8]>::to_vec)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Librdkafka headers holding these headers, or `None` when there are none.
    pub(crate) fn owned_headers(&self) -> Option<OwnedHeaders> {
        (!self.headers.is_empty()).then(|| {
            self.headers.iter().fold(
                OwnedHeaders::new_with_capacity(self.headers.len()),
                |headers, (key, value)| {
                    headers.insert(Header {
                        key,
                        value: value.as_deref(),
                    })
                },
            )
        })
    }
}

/// Where an input record was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourcePosition<'a> {
    /// The source topic.
    pub topic: &'a str,
    /// The partition.
    pub partition: i32,
    /// The record's offset.
    pub offset: i64,
}

/// The transform of a [`Pipe`]: `Ok(Some(out))` produces `out`, `Ok(None)` drops the record,
/// `Err(reason)` stops the run with [`Error::Record`].
type Transform = Box<dyn FnMut(RawRecord, SourcePosition<'_>) -> Result<Option<RawRecord>, String> + Send>;

/// Copies records from a source topic to a sink topic through a transform, at-least-once.
///
/// It is a consumer group member (group id = the application id), so several instances with the
/// same application id share the source topic's partitions. Output records keep the input's key,
/// value, timestamp and headers unless the transform changes them; they are partitioned by key with
/// Java's partitioner.
///
/// Failure semantics:
/// - a transform error stops the run with [`Error::Record`] naming the record's topic, partition and
///   offset; the offsets of the records before it are committed, so a restart begins at that record;
/// - a delivery failure stops the run with [`Error::Delivery`] and commits nothing more;
/// - on revocation of partitions (rebalance), their outputs are flushed and their offsets committed
///   before they are given up.
///
/// ```no_run
/// use streams_core::StreamsConfig;
/// use streams_core::runtime::Pipe;
///
/// let config = StreamsConfig::new("shout", "127.0.0.1:9092");
/// let running = Pipe::new(config, "words", "loud-words")
///     .with_transform(|mut record, _position| {
///         record.value = record.value.map(|v| v.to_ascii_uppercase());
///         Ok(Some(record))
///     })
///     .spawn()?;
/// // … later:
/// let stats = running.stop()?;
/// println!("{} records in, {} out", stats.consumed, stats.produced);
/// # Ok::<(), streams_core::Error>(())
/// ```
pub struct Pipe {
    config: StreamsConfig,
    source: String,
    sink: String,
    transform: Transform,
}

impl fmt::Debug for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipe")
            .field("config", &self.config)
            .field("source", &self.source)
            .field("sink", &self.sink)
            .finish_non_exhaustive()
    }
}

impl Pipe {
    /// A pipe that copies every record of `source` to `sink` unchanged.
    pub fn new(config: StreamsConfig, source: impl Into<String>, sink: impl Into<String>) -> Self {
        Pipe {
            config,
            source: source.into(),
            sink: sink.into(),
            transform: Box::new(|record, _| Ok(Some(record))),
        }
    }

    /// Replaces the transform. It is called once per input record, in offset order per partition,
    /// on the pipe's own thread.
    pub fn with_transform<F>(mut self, transform: F) -> Self
    where
        F: FnMut(RawRecord, SourcePosition<'_>) -> Result<Option<RawRecord>, String> + Send + 'static,
    {
        self.transform = Box::new(transform);
        self
    }

    /// Checks the settings, connects, checks that the source topic exists, joins the consumer group
    /// and starts processing on a thread of its own.
    ///
    /// Fails with [`Error::Config`] for invalid settings or a missing source topic, and with
    /// [`Error::Kafka`] when the brokers cannot be reached.
    pub fn spawn(self) -> Result<RunningPipe> {
        self.config.validate()?;
        let counters = Arc::new(Counters::default());
        if self.source == self.sink {
            return Err(Error::Config(format!(
                "source and sink are the same topic ({}): the pipe would read its own output",
                self.source
            )));
        }
        let producer: BaseProducer<DeliveryContext> = producer_config(&self.config)
            .create_with_context(DeliveryContext {
                counters: counters.clone(),
                failure: Mutex::new(None),
            })
            .map_err(|e| Error::kafka("creating the producer", e))?;
        let shared = Arc::new(Shared {
            source: self.source.clone(),
            producer,
            pending: Mutex::new(HashMap::new()),
            assignment: Arc::new(Mutex::new(BTreeSet::new())),
            counters: counters.clone(),
        });
        let assignment = shared.assignment.clone();
        let consumer: BaseConsumer<PipeConsumerContext> = consumer_config(&self.config)
            .create_with_context(PipeConsumerContext { shared: shared.clone() })
            .map_err(|e| Error::kafka("creating the consumer", e))?;
        check_source_exists(&consumer, &self.source, self.config.bootstrap_servers())?;
        consumer
            .subscribe(&[&self.source])
            .map_err(|e| Error::kafka(format!("subscribing to {}", self.source), e))?;
        info!(
            application_id = self.config.application_id(),
            source = %self.source,
            sink = %self.sink,
            "pipe started"
        );

        let stop = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            consumer,
            shared,
            sink: self.sink,
            transform: self.transform,
            commit_interval: self.config.commit_interval(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("{}-pipe", self.config.application_id()))
            .spawn({
                let stop = stop.clone();
                move || worker.run(&stop)
            })
            .map_err(|e| Error::Config(format!("could not start the pipe's thread: {e}")))?;
        Ok(RunningPipe {
            stop,
            counters,
            assignment,
            thread: Some(thread),
        })
    }
}

fn check_source_exists(consumer: &BaseConsumer<PipeConsumerContext>, source: &str, brokers: &str) -> Result<()> {
    let metadata = consumer
        .fetch_metadata(Some(source), METADATA_TIMEOUT)
        .map_err(|e| Error::kafka(format!("fetching metadata of source topic {source} from {brokers}"), e))?;
    match metadata.topics().first() {
        Some(topic) if topic.error().is_none() && !topic.partitions().is_empty() => Ok(()),
        _ => Err(Error::Config(format!(
            "source topic {source} does not exist on {brokers}"
        ))),
    }
}

/// Counts of a pipe's work so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PipeStats {
    /// Records read from the source topic and handed to the transform.
    pub consumed: u64,
    /// Records handed to the producer for the sink topic.
    pub produced: u64,
    /// Records the transform dropped (returned `Ok(None)`).
    pub dropped: u64,
    /// Output records the broker acknowledged.
    pub delivered: u64,
    /// Offset commits made.
    pub commits: u64,
}

#[derive(Debug, Default)]
struct Counters {
    consumed: AtomicU64,
    produced: AtomicU64,
    dropped: AtomicU64,
    delivered: AtomicU64,
    commits: AtomicU64,
}

/// A pipe running on its own thread.
///
/// Dropping it stops the pipe as [`stop`](RunningPipe::stop) does, discarding the result.
#[derive(Debug)]
pub struct RunningPipe {
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    assignment: Arc<Mutex<BTreeSet<i32>>>,
    thread: Option<JoinHandle<Result<PipeStats>>>,
}

impl RunningPipe {
    /// The counts so far.
    pub fn stats(&self) -> PipeStats {
        self.counters.snapshot()
    }

    /// The source partitions this pipe owns now, as the consumer group assigned them; empty until
    /// the pipe has joined the group.
    pub fn assignment(&self) -> BTreeSet<i32> {
        lock(&self.assignment).clone()
    }

    /// Whether the run has ended (it ends by itself only on an error).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops the pipe gracefully: it finishes the record at hand, waits for its outputs to be
    /// acknowledged, commits its offsets and leaves the group. Returns the final counts, or the
    /// error that ended the run before.
    pub fn stop(mut self) -> Result<PipeStats> {
        self.stop.store(true, Ordering::Release);
        self.wait()
    }

    /// Waits until the run ends by itself, which it does only on an error.
    pub fn join(mut self) -> Result<PipeStats> {
        self.wait()
    }

    fn wait(&mut self) -> Result<PipeStats> {
        let thread = self
            .thread
            .take()
            .expect("a running pipe has its thread until it is waited for");
        thread.join().map_err(|panic| Error::Panicked(panic_message(&*panic)))?
    }
}

impl Drop for RunningPipe {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop.store(true, Ordering::Release);
            let _ = self.wait();
        }
    }
}

impl Counters {
    fn snapshot(&self) -> PipeStats {
        PipeStats {
            consumed: self.consumed.load(Ordering::Relaxed),
            produced: self.produced.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
        }
    }
}

/// What the processing loop and the rebalance callback share: both commit.
struct Shared {
    source: String,
    producer: BaseProducer<DeliveryContext>,
    /// Per source partition, the offset to commit: one past the last record handled since the last
    /// commit of that partition.
    pending: Mutex<HashMap<i32, i64>>,
    /// The source partitions assigned to this member now.
    assignment: Arc<Mutex<BTreeSet<i32>>>,
    counters: Arc<Counters>,
}

/// Locks a mutex; a panic elsewhere while holding it leaves data that is still consistent here
/// (counters and offset maps updated in single steps).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, HashMap<i32, i64>> {
        lock(&self.pending)
    }

    /// Flushes the producer and, if every output was delivered, commits the pending offsets of the
    /// given partitions (all when `only` is `None`). On failure nothing is committed and the
    /// offsets stay pending.
    fn commit(&self, consumer: &BaseConsumer<PipeConsumerContext>, only: Option<&[i32]>) -> Result<()> {
        let mut pending = self.pending();
        let offsets: Vec<(i32, i64)> = pending
            .iter()
            .filter(|(partition, _)| only.is_none_or(|only| only.contains(partition)))
            .map(|(&partition, &offset)| (partition, offset))
            .collect();
        if offsets.is_empty() {
            return Ok(());
        }
        if !wait_for_deliveries(&self.producer, FLUSH_TIMEOUT) {
            return Err(Error::kafka(
                "waiting for output records to be acknowledged",
                KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut),
            ));
        }
        self.producer.context().check()?;
        let mut list = TopicPartitionList::new();
        for &(partition, offset) in &offsets {
            list.add_partition_offset(&self.source, partition, Offset::Offset(offset))
                .map_err(|e| Error::kafka("building the offsets to commit", e))?;
        }
        consumer
            .commit(&list, CommitMode::Sync)
            .map_err(|e| Error::kafka(format!("committing offsets of {}", self.source), e))?;
        for (partition, _) in offsets {
            pending.remove(&partition);
        }
        self.counters.commits.fetch_add(1, Ordering::Relaxed);
        debug!(?list, "committed");
        Ok(())
    }
}

/// Commits the offsets of revoked partitions before they are given up, so the next owner starts
/// where this one stopped.
struct PipeConsumerContext {
    shared: Arc<Shared>,
}

impl ClientContext for PipeConsumerContext {}

impl ConsumerContext for PipeConsumerContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(revoked) = rebalance else {
            return;
        };
        let partitions: Vec<i32> = revoked
            .elements_for_topic(&self.shared.source)
            .iter()
            .map(|element| element.partition())
            .collect();
        if let Err(error) = self.shared.commit(consumer, Some(&partitions)) {
            // The next owner replays from the last commit: duplicates, never a loss.
            warn!(%error, ?partitions, "could not commit revoked partitions");
        }
        let mut pending = self.shared.pending();
        for partition in &partitions {
            pending.remove(partition);
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let mut assignment = lock(&self.shared.assignment);
        match rebalance {
            Rebalance::Assign(assigned) => {
                assignment.extend(
                    assigned
                        .elements_for_topic(&self.shared.source)
                        .iter()
                        .map(|e| e.partition()),
                );
            }
            Rebalance::Revoke(revoked) => {
                for element in revoked.elements_for_topic(&self.shared.source) {
                    assignment.remove(&element.partition());
                }
            }
            Rebalance::Error(error) => warn!(%error, "rebalance error"),
        }
        info!(assignment = ?*assignment, "partitions assigned");
    }
}

/// Counts acknowledged outputs and remembers the first delivery failure.
struct DeliveryContext {
    counters: Arc<Counters>,
    failure: Mutex<Option<(String, String)>>,
}

impl DeliveryContext {
    /// The first delivery failure, as an error.
    fn check(&self) -> Result<()> {
        match &*lock(&self.failure) {
            None => Ok(()),
            Some((topic, reason)) => Err(Error::Delivery {
                topic: topic.clone(),
                reason: reason.clone(),
            }),
        }
    }
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.counters.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((error, message)) => {
                lock(&self.failure).get_or_insert_with(|| (message.topic().to_string(), error.to_string()));
            }
        }
    }
}

/// The processing loop, on the pipe's thread.
struct Worker {
    consumer: BaseConsumer<PipeConsumerContext>,
    shared: Arc<Shared>,
    sink: String,
    transform: Transform,
    commit_interval: Duration,
}

impl Worker {
    fn run(mut self, stop: &AtomicBool) -> Result<PipeStats> {
        match self.process_until(stop) {
            Ok(()) => self.shared.commit(&self.consumer, None)?,
            Err(error @ Error::Record { .. }) => {
                // Commit what came before the bad record, so a restart begins at it.
                if let Err(commit_error) = self.shared.commit(&self.consumer, None) {
                    warn!(%commit_error, "could not commit the records before the failed one");
                }
                return Err(error);
            }
            Err(error) => return Err(error),
        }
        self.consumer.unsubscribe();
        let stats = self.shared.counters.snapshot();
        info!(?stats, "pipe stopped");
        Ok(stats)
    }

    fn process_until(&mut self, stop: &AtomicBool) -> Result<()> {
        let mut next_commit = Instant::now() + self.commit_interval;
        while !stop.load(Ordering::Acquire) {
            let mut timeout = POLL_TIMEOUT;
            for _ in 0..MAX_BATCH {
                let Some(polled) = self.consumer.poll(timeout) else {
                    break;
                };
                timeout = Duration::ZERO;
                match polled {
                    Ok(message) => {
                        handle(&message, &mut self.transform, &self.shared, &self.sink)?;
                    }
                    Err(error) => on_consume_error(error, &self.shared.source)?,
                }
            }
            serve_delivery_reports(&self.shared.producer, |c| c.counters.delivered.load(Ordering::Relaxed));
            self.shared.producer.context().check()?;
            if Instant::now() >= next_commit {
                self.shared.commit(&self.consumer, None)?;
                next_commit = Instant::now() + self.commit_interval;
            }
        }
        Ok(())
    }
}

/// Transforms one input record, sends its output and marks its offset as done.
fn handle(message: &BorrowedMessage<'_>, transform: &mut Transform, shared: &Shared, sink: &str) -> Result<()> {
    let position = SourcePosition {
        topic: message.topic(),
        partition: message.partition(),
        offset: message.offset(),
    };
    let record = RawRecord::from_message(message);
    shared.counters.consumed.fetch_add(1, Ordering::Relaxed);
    match transform(record, position) {
        Err(reason) => {
            return Err(Error::Record {
                topic: position.topic.to_string(),
                partition: position.partition,
                offset: position.offset,
                reason,
            });
        }
        Ok(None) => {
            shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Some(output)) => {
            send(&shared.producer, sink, None, &output)?;
            shared.counters.produced.fetch_add(1, Ordering::Relaxed);
        }
    }
    shared.pending().insert(position.partition, position.offset + 1);
    Ok(())
}

/// Hands a record to the producer, waiting while its queue is full. With `partition`, the record
/// goes to that partition; without, the producer's partitioner chooses by key.
pub(crate) fn send<C>(producer: &BaseProducer<C>, topic: &str, partition: Option<i32>, output: &RawRecord) -> Result<()>
where
    C: ProducerContext<DeliveryOpaque = ()>,
{
    let mut record = BaseRecord::<[u8], [u8]>::to(topic);
    if let Some(key) = &output.key {
        record = record.key(key.as_slice());
    }
    if let Some(value) = &output.value {
        record = record.payload(value.as_slice());
    }
    if let Some(timestamp) = output.timestamp {
        record = record.timestamp(timestamp);
    }
    if let Some(partition) = partition {
        record = record.partition(partition);
    }
    if let Some(headers) = output.owned_headers() {
        record = record.headers(headers);
    }
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                record = returned;
                producer.poll(Duration::from_millis(50));
            }
            Err((error, _)) => return Err(Error::kafka(format!("producing to {topic}"), error)),
        }
    }
}

/// The message of a panic's payload (what `catch_unwind` or `JoinHandle::join` returns): the text
/// given to `panic!`, or `(no message)` for a payload that is not text. For code that runs user
/// code on threads of its own, as the runtime does with processors.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Serves delivery reports until none are left: each poll serves one batch, and reports that pile
/// up hold memory and slow the producer down (`shared/notes/rdkafka-throughput.md`). `reports`
/// reads how many reports the producer's context has handled so far.
pub(crate) fn serve_delivery_reports<C: ProducerContext>(producer: &BaseProducer<C>, reports: impl Fn(&C) -> u64) {
    for _ in 0..1_000 {
        let before = reports(producer.context());
        producer.poll(Duration::ZERO);
        if reports(producer.context()) == before {
            break;
        }
    }
}

/// Sends the lingering records at once and waits until all records sent so far are acknowledged
/// or failed (serving their delivery reports), for at most `timeout`; `true` when none is left in
/// flight.
///
/// What a commit waits for before committing. rdkafka's own `flush` (which `commit_transaction`
/// also calls) polls in steps of 100 ms and each step lasts its full 100 ms, so a flush with records
/// in flight costs at least 100 ms, per commit; this polls in 1 ms steps, returns within a
/// millisecond of the last acknowledgement, and leaves `flush` nothing to wait for. librdkafka's
/// flush itself is called once, without waiting, to send the batches that linger: called at every
/// step, its wake-ups of the broker threads kept the producer from recovering after a broker
/// restart (tests/kafka_broker_restart.rs).
pub(crate) fn wait_for_deliveries<C: ProducerContext>(producer: &BaseProducer<C>, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    // Fails (times out at once) whenever records are in flight: only its sending matters here.
    let _ = producer.flush(Duration::ZERO);
    while producer.in_flight_count() > 0 {
        if Instant::now() >= deadline {
            return false;
        }
        producer.poll(DELIVERY_POLL);
    }
    true
}

/// How long [`wait_for_deliveries`] polls for delivery reports between checks.
const DELIVERY_POLL: Duration = Duration::from_millis(1);

/// Consumer errors: a fatal one or a vanished source topic ends the run; the others are transient
/// (librdkafka reconnects and retries) and only logged.
fn on_consume_error(error: KafkaError, source: &str) -> Result<()> {
    match error {
        KafkaError::MessageConsumptionFatal(_) => Err(Error::kafka(format!("consuming from {source}"), error)),
        KafkaError::MessageConsumption(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic) => {
            Err(Error::Config(format!("source topic {source} no longer exists")))
        }
        other => {
            warn!(error = %other, source, "transient consumer error");
            Ok(())
        }
    }
}

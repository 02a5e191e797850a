//! `passthrough-ceiling`: no library, a plain rdkafka consume → produce loop copying each record
//! (key, value, timestamp) to the same partition number of the output topic, with the client
//! settings our runtime uses. What any stream processor on rdkafka could reach on this machine
//! (`shared/notes/rdkafka-throughput.md`); at-least-once only.
//!
//! ```text
//!  input ──poll (batches of ≤ 10,000)──▶ send to output, same partition ──acks──▶ acknowledged offsets
//!    ▲                                                                              │
//!    └──────── commit asynchronously every commit interval (sync at the stop) ◀─────┘
//! ```
//!
//! An input offset is committed only once its copy is acknowledged: the copies of one input
//! partition go to one output partition, whose acknowledgements the idempotent producer reports in
//! order, so the highest acknowledged offset per partition covers everything before it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use serde_json::Value;
use streams_core::runtime::{CONSUMER_DEFAULTS, PRODUCER_DEFAULTS};

use super::clock::{Clock, Progress, Stop, millis};
use super::json::JsonLine;
use super::options::{Options, UsageError, usage};
use super::signals;

/// The options of this case: the broker cases' that apply to a plain loop.
const OPTIONS: &[&str] = &[
    "bootstrap",
    "application-id",
    "input",
    "output",
    "guarantee",
    "commit-interval-ms",
    "threads",
    "expected",
    "timeout-s",
];

/// The commit interval without `--commit-interval-ms`.
const DEFAULT_COMMIT_INTERVAL: Duration = Duration::from_millis(100);
/// How long the first poll of a loop turn waits for records.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// Records copied per loop turn at most, between checks of the clock, the signal and the commit.
const MAX_BATCH: usize = 10_000;
/// How long the stop waits for the last copies to be acknowledged.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the metadata of the topics may take.
const METADATA_TIMEOUT: Duration = Duration::from_secs(30);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Counts acknowledged copies and keeps, per partition, the offset after the highest acknowledged
/// input record (each copy carries its input offset as its delivery opaque).
#[derive(Default)]
struct Acks {
    delivered: AtomicU64,
    acknowledged: Mutex<HashMap<i32, i64>>,
    failure: Mutex<Option<String>>,
}

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, offset: usize) {
        match result {
            Ok(message) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
                let next = offset as i64 + 1;
                let mut acknowledged = lock(&self.acknowledged);
                let entry = acknowledged.entry(message.partition()).or_insert(next);
                *entry = (*entry).max(next);
            }
            Err((error, message)) => {
                lock(&self.failure).get_or_insert_with(|| format!("delivering to {}: {error}", message.topic()));
            }
        }
    }
}

/// Notes when the group first assigned partitions (the loop's "running"), and logs failed commits.
#[derive(Default)]
struct Membership {
    assigned_at: OnceLock<Instant>,
}

impl ClientContext for Membership {}

impl ConsumerContext for Membership {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(assigned) = rebalance
            && assigned.count() > 0
        {
            let _ = self.assigned_at.set(Instant::now());
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(error) = result {
            eprintln!("streams-bench: passthrough: a commit failed: {error}");
        }
    }
}

struct Settings {
    bootstrap: String,
    group: String,
    input: String,
    output: String,
    commit_interval: Duration,
    expected: u64,
    timeout: Duration,
}

/// Runs the case with the options `args`; prints the JSON line and returns the exit status.
pub fn run(args: &[String], clock: &Clock) -> Result<i32, UsageError> {
    let options = Options::parse(args, OPTIONS, &[])?;
    match options.get("guarantee").unwrap_or("at_least_once") {
        "at_least_once" => {}
        other => {
            return Err(usage(format!(
                "passthrough-ceiling runs at_least_once only, not {other}"
            )));
        }
    }
    if options.number::<u64>("threads")?.is_some_and(|threads| threads != 1) {
        return Err(usage("passthrough-ceiling runs one thread (--threads 1)"));
    }
    let settings = Settings {
        bootstrap: options.required("bootstrap")?.to_string(),
        group: options.required("application-id")?.to_string(),
        input: options.required("input")?.to_string(),
        output: options.required("output")?.to_string(),
        commit_interval: options
            .number("commit-interval-ms")?
            .map_or(DEFAULT_COMMIT_INTERVAL, Duration::from_millis),
        expected: options.number("expected")?.unwrap_or(0),
        timeout: Duration::from_secs(options.number("timeout-s")?.unwrap_or(600)),
    };

    let outcome = copy(&settings);
    if let Some(error) = &outcome.error {
        eprintln!("streams-bench: passthrough: {error}");
    }
    let mut json = JsonLine::default();
    json.put("case", "passthrough-ceiling")
        .put("system", "streams")
        .put("guarantee", "at_least_once")
        .put("threads", 1)
        .put("commit_interval_ms", settings.commit_interval.as_millis() as u64)
        .put("cache_bytes", Value::Null)
        .put("store", Value::Null)
        .put("records", outcome.copied)
        .put("expected", (settings.expected > 0).then_some(settings.expected));
    outcome.progress.put_rate(&mut json);
    json.put("outputs", outcome.delivered);
    outcome.progress.put_first(&mut json, clock);
    json.put("first_output_ms", Value::Null)
        .put("running_ms", outcome.assigned_at.map(|at| clock.ms_at(at)))
        .put("close_ms", outcome.close.map_or(Value::Null, |(took, _)| millis(took)))
        .put("closed_cleanly", outcome.close.is_some_and(|(_, clean)| clean))
        .put("total_ms", clock.total_ms())
        .put("stop", outcome.stop.name());
    if let Some(error) = &outcome.error {
        json.put("error", error.as_str());
    }
    println!("{json}");
    Ok(outcome.stop.exit_code())
}

/// What the loop measured.
struct Outcome {
    stop: Stop,
    error: Option<String>,
    progress: Progress,
    copied: u64,
    delivered: Option<u64>,
    assigned_at: Option<Instant>,
    close: Option<(Duration, bool)>,
}

impl Outcome {
    fn failed(error: String) -> Self {
        Outcome {
            stop: Stop::Error,
            error: Some(error),
            progress: Progress::default(),
            copied: 0,
            delivered: None,
            assigned_at: None,
            close: None,
        }
    }
}

fn client(bootstrap: &str, client_id: String, defaults: &[(&str, &str)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap).set("client.id", client_id);
    for &(key, value) in defaults {
        config.set(key, value);
    }
    config
}

/// The partition count of `topic`, or `None` when it does not exist.
fn partitions(consumer: &BaseConsumer<Membership>, topic: &str) -> Result<Option<usize>, String> {
    let metadata = consumer
        .fetch_metadata(Some(topic), METADATA_TIMEOUT)
        .map_err(|e| format!("reading the metadata of {topic}: {e}"))?;
    Ok(metadata
        .topics()
        .first()
        .filter(|t| t.error().is_none() && !t.partitions().is_empty())
        .map(|t| t.partitions().len()))
}

fn copy(settings: &Settings) -> Outcome {
    let consumer: BaseConsumer<Membership> = match client(
        &settings.bootstrap,
        format!("{}-consumer", settings.group),
        CONSUMER_DEFAULTS,
    )
    .set("group.id", &settings.group)
    .create_with_context(Membership::default())
    {
        Ok(consumer) => consumer,
        Err(e) => return Outcome::failed(format!("creating the consumer: {e}")),
    };
    let producer: BaseProducer<Acks> = match client(
        &settings.bootstrap,
        format!("{}-producer", settings.group),
        PRODUCER_DEFAULTS,
    )
    .create_with_context(Acks::default())
    {
        Ok(producer) => producer,
        Err(e) => return Outcome::failed(format!("creating the producer: {e}")),
    };
    // Each copy goes to its input's partition number: the output needs at least as many.
    let checked = partitions(&consumer, &settings.input).and_then(|input| {
        let input = input.ok_or_else(|| format!("input topic {} does not exist", settings.input))?;
        match partitions(&consumer, &settings.output)? {
            Some(output) if output >= input => Ok(()),
            Some(output) => Err(format!(
                "output topic {} has {output} partitions, fewer than the input's {input}",
                settings.output
            )),
            None => Err(format!("output topic {} does not exist", settings.output)),
        }
    });
    if let Err(error) = checked.and_then(|()| {
        consumer
            .subscribe(&[&settings.input])
            .map_err(|e| format!("subscribing to {}: {e}", settings.input))
    }) {
        return Outcome::failed(error);
    }

    let mut progress = Progress::default();
    let mut copied = 0u64;
    let mut committed: HashMap<i32, i64> = HashMap::new();
    let mut error = None;
    let deadline = Instant::now() + settings.timeout;
    let mut next_commit = Instant::now() + settings.commit_interval;
    let stop = 'run: loop {
        let mut timeout = POLL_TIMEOUT;
        for _ in 0..MAX_BATCH {
            let Some(polled) = consumer.poll(timeout) else {
                break;
            };
            timeout = Duration::ZERO;
            let message = match polled {
                Ok(message) => message,
                Err(failure @ KafkaError::MessageConsumptionFatal(_)) => {
                    error = Some(format!("consuming from {}: {failure}", settings.input));
                    break 'run Stop::Error;
                }
                Err(failure) => {
                    eprintln!("streams-bench: passthrough: consumer: {failure}");
                    continue;
                }
            };
            if let Err(failure) = send(&producer, &settings.output, &message) {
                error = Some(failure);
                break 'run Stop::Error;
            }
            copied += 1;
            progress.observe(copied);
            if copied == settings.expected {
                progress.end(copied);
                break;
            }
        }
        serve_delivery_reports(&producer);
        if let Some(failure) = lock(&producer.context().failure).clone() {
            error = Some(failure);
            break Stop::Error;
        }
        if settings.expected > 0 && copied >= settings.expected {
            break Stop::Done;
        }
        if signals::received() {
            progress.end(copied);
            break Stop::Signal;
        }
        if Instant::now() >= deadline {
            break Stop::Timeout;
        }
        if Instant::now() >= next_commit {
            if let Err(failure) = commit(&consumer, &producer, &settings.input, &mut committed, CommitMode::Async) {
                eprintln!("streams-bench: passthrough: {failure}");
            }
            next_commit = Instant::now() + settings.commit_interval;
        }
    };

    // The stop: every copy acknowledged, the offsets committed, the group left (the consumer's drop).
    let closing = Instant::now();
    let flushed = wait_for_deliveries(&producer, FLUSH_TIMEOUT);
    let delivery_failure = lock(&producer.context().failure).clone();
    // Everything acknowledged, whether an asynchronous commit of it went through or not.
    committed.clear();
    let committed_all = match commit(&consumer, &producer, &settings.input, &mut committed, CommitMode::Sync) {
        Ok(()) => true,
        Err(failure) => {
            error.get_or_insert(failure);
            false
        }
    };
    if let Some(failure) = &delivery_failure {
        error.get_or_insert(failure.clone());
    }
    let assigned_at = consumer.context().assigned_at.get().copied();
    drop(consumer);
    let delivered = producer.context().delivered.load(Ordering::Relaxed);
    drop(producer);
    let clean = flushed && committed_all && delivery_failure.is_none();
    Outcome {
        stop,
        error,
        progress,
        copied,
        delivered: Some(delivered),
        assigned_at,
        close: Some((closing.elapsed(), clean)),
    }
}

/// Hands a copy of `message` to the producer, for the same partition number of `output`; waits
/// while the producer's queue is full.
fn send(producer: &BaseProducer<Acks>, output: &str, message: &BorrowedMessage<'_>) -> Result<(), String> {
    let mut record = BaseRecord::<[u8], [u8], usize>::with_opaque_to(output, message.offset() as usize)
        .partition(message.partition());
    if let Some(key) = message.key() {
        record = record.key(key);
    }
    if let Some(value) = message.payload() {
        record = record.payload(value);
    }
    if let Some(timestamp) = message.timestamp().to_millis() {
        record = record.timestamp(timestamp);
    }
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                record = returned;
                producer.poll(Duration::from_millis(5));
            }
            Err((error, _)) => return Err(format!("producing to {output}: {error}")),
        }
    }
}

/// Commits, per partition, the offset after the highest acknowledged copy, where it moved since
/// the last commit.
fn commit(
    consumer: &BaseConsumer<Membership>,
    producer: &BaseProducer<Acks>,
    input: &str,
    committed: &mut HashMap<i32, i64>,
    mode: CommitMode,
) -> Result<(), String> {
    let acknowledged = lock(&producer.context().acknowledged).clone();
    let mut list = TopicPartitionList::new();
    for (&partition, &offset) in &acknowledged {
        if committed.get(&partition).is_none_or(|&done| done < offset) {
            list.add_partition_offset(input, partition, Offset::Offset(offset))
                .map_err(|e| format!("building the offsets to commit: {e}"))?;
        }
    }
    if list.count() == 0 {
        return Ok(());
    }
    consumer
        .commit(&list, mode)
        .map_err(|e| format!("committing offsets of {input}: {e}"))?;
    committed.extend(acknowledged);
    Ok(())
}

/// Serves delivery reports until none are left: one poll serves one batch of them.
fn serve_delivery_reports(producer: &BaseProducer<Acks>) {
    for _ in 0..1_000 {
        let before = producer.context().delivered.load(Ordering::Relaxed);
        producer.poll(Duration::ZERO);
        if producer.context().delivered.load(Ordering::Relaxed) == before {
            break;
        }
    }
}

/// Sends what lingers and waits (polling every millisecond) until every copy is acknowledged or
/// failed, at most `timeout`; `true` when none is left in flight.
fn wait_for_deliveries(producer: &BaseProducer<Acks>, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    // Only its sending matters: it returns at once while records are in flight.
    let _ = producer.flush(Duration::ZERO);
    while producer.in_flight_count() > 0 {
        if Instant::now() >= deadline {
            return false;
        }
        producer.poll(Duration::from_millis(1));
    }
    true
}

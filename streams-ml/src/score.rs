//! The scoring operator: `stream.score(scoring, |key, value| features)`.
//!
//! ```text
//!            process (task thread)                     workers (off the polling path)
//!  record ─▶ features(key, value) ─▶ pending batch ─┐
//!                                                  ├─▶ full (max_batch) or old (max_wait) ─▶ model.predict(batch)
//!  outputs ◀─ forward_from(origin) ◀─ oldest batch done first ◀───────────────────────────────┘
//! ```
//!
//! - **Batching**: records gather per task into a batch of up to `max_batch`; a batch is scored
//!   when full, or once its first record has waited `max_wait` (wall-clock time), with one call to
//!   the model.
//! - **Off the polling path**: batches are scored by a pool of `workers` threads shared by the
//!   operator's tasks in the instance. The stream thread never waits for a model while it runs:
//!   it goes on polling, so a slow model cannot make it miss `max.poll.interval.ms`.
//! - **Backpressure**: a task has at most `max_in_flight_batches` batches being scored; when they
//!   are all busy and the next batch is full, the task takes no more records; they wait in its
//!   input queue, and the runtime pauses the input partitions when that fills
//!   (`buffered.records.per.partition`), so memory stays bounded.
//! - **Order**: a task's batches are forwarded in the order they were started, each in input order,
//!   so outputs keep the input order of the task, and so of every key.
//! - **Commits**: a commit waits until every record taken so far has been scored and its result
//!   forwarded (and produced), so the committed input offsets never run ahead of the outputs:
//!   at-least-once and exactly-once both hold. The stream thread keeps polling meanwhile.
//! - **Versions**: each batch is scored by the model current when it starts (see
//!   [`ModelHandle`]); every output names that model's name and version.
//! - **Failures**: when the model fails on a batch (an error or a panic), every record of the batch
//!   goes to the scoring error handler: by default the dead-letter topic, with the original record
//!   and the reason in its headers. A features function that returns the wrong number of values
//!   fails that record like any processing error (the application's processing-error handler).
//!
//! Under the test driver, batches that start are waited for before the driver returns, so a test
//! sees their outputs at once; a batch that is not full starts when the driver's wall clock has
//! moved `max_wait` past its first record (`advance_wall_clock_time`).

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use streams_core::dsl::{KStream, ProcessorOptions};
use streams_core::processor::{AsyncPoll, AsyncWaker, Data, Origin, Processor, ProcessorContext, Record};
use streams_core::{Error, RecordErrorHandler, Result};

use crate::model::{Model, ModelError, ModelHandle, Named};

/// A value with the scores a model gave it.
///
/// Serializes as `{"value": …, "scores": […], "label": …, "model": …, "model_version": …,
/// "latency_us": …, "batch_size": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored<V> {
    /// The input value, unchanged.
    pub value: V,
    /// The model's scores for it (for a classifier, one probability per label).
    pub scores: Vec<f32>,
    /// For a classifier with labels, the label of the highest score.
    pub label: Option<Arc<str>>,
    /// The name of the model that scored it.
    pub model: Arc<str>,
    /// The version of the model that scored it.
    pub model_version: Arc<str>,
    /// How long the model took on the batch this value was scored in, in microseconds.
    pub latency_us: u64,
    /// How many records that batch had.
    pub batch_size: u32,
}

/// How a stream is scored: the model, batching, the worker pool, and what a model failure does.
#[derive(Debug, Clone)]
pub struct Scoring {
    model: ModelHandle,
    max_batch: usize,
    max_wait: Duration,
    workers: usize,
    max_in_flight: usize,
    on_error: Option<RecordErrorHandler>,
    name: Option<String>,
}

impl Scoring {
    /// Scoring with the model of `model`, batches of up to 64 records waiting at most 5 ms, one
    /// worker thread, two batches in flight per task, and records of a failed batch dead-lettered.
    pub fn new(model: ModelHandle) -> Self {
        Scoring {
            model,
            max_batch: 64,
            max_wait: Duration::from_millis(5),
            workers: 1,
            max_in_flight: 2,
            on_error: Some(RecordErrorHandler::DeadLetter),
            name: None,
        }
    }

    /// At most `records` per batch (1 scores record by record).
    ///
    /// # Panics
    /// When `records` is 0.
    pub fn max_batch(mut self, records: usize) -> Self {
        assert!(records >= 1, "a batch holds at least one record");
        self.max_batch = records;
        self
    }

    /// How long the first record of a batch that is not full waits for more (wall-clock time).
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// How many threads score batches (shared by the operator's tasks in this instance).
    ///
    /// # Panics
    /// When `threads` is 0.
    pub fn workers(mut self, threads: usize) -> Self {
        assert!(threads >= 1, "scoring needs at least one worker thread");
        self.workers = threads;
        self
    }

    /// How many batches of one task may be scored at once before the task stops taking records.
    ///
    /// # Panics
    /// When `batches` is 0.
    pub fn max_in_flight_batches(mut self, batches: usize) -> Self {
        assert!(batches >= 1, "at least one batch must be allowed in flight");
        self.max_in_flight = batches;
        self
    }

    /// What happens to the records of a batch the model fails on: `Some(handler)` (default
    /// `Some(DeadLetter)`), or `None` for the application's processing-error handler.
    pub fn on_model_error(mut self, handler: Option<RecordErrorHandler>) -> Self {
        self.on_error = handler;
        self
    }

    /// The operator's node name in the topology.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The model handle.
    pub fn model(&self) -> &ModelHandle {
        &self.model
    }
}

/// Adds [`score`](ScoreExt::score) to [`KStream`].
pub trait ScoreExt<K, V> {
    /// Scores each record with `scoring`'s model, on the features `features(key, value)` returns
    /// (as many values as the model takes); forwards the record with its value wrapped in
    /// [`Scored`], keeping key, timestamp and headers. See the module docs for batching, ordering,
    /// commits and failures.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use streams_core::dsl::StreamsBuilder;
    /// use streams_ml::model::{Features, ModelHandle, ModelSpec, OnnxModel};
    /// use streams_ml::{ScoreExt, Scoring};
    ///
    /// let spec = ModelSpec::new(Features::named(["amount", "count_1h"]));
    /// let model = ModelHandle::new(OnnxModel::from_file("models/fraud.onnx", &spec)?);
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream::<String, f64>("amounts")
    ///     .score(Scoring::new(model).max_batch(64).max_wait(Duration::from_millis(5)), |_card, amount| {
    ///         [*amount as f32, 1.0]
    ///     })
    ///     .filter(|_, scored| scored.scores[1] > 0.9)
    ///     .map_values(|scored| scored.value)
    ///     .to("alerts");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn score<F, R>(&self, scoring: Scoring, features: F) -> KStream<K, Scored<V>>
    where
        F: Fn(&K, &V) -> R + Send + Sync + 'static,
        R: AsRef<[f32]>;
}

impl<K: Data, V: Data> ScoreExt<K, V> for KStream<K, V> {
    fn score<F, R>(&self, scoring: Scoring, features: F) -> KStream<K, Scored<V>>
    where
        F: Fn(&K, &V) -> R + Send + Sync + 'static,
        R: AsRef<[f32]>,
    {
        let mut options = ProcessorOptions::new();
        if let Some(name) = &scoring.name {
            options = options.named(name.clone());
        }
        if scoring.on_error == Some(RecordErrorHandler::DeadLetter) {
            options = options.dead_lettering();
        }
        let pool = Arc::new(Pool::new(scoring.workers));
        let scoring = Arc::new(scoring);
        let features = Arc::new(features);
        self.process_values_with(
            move || ScoreProcessor::new(scoring.clone(), pool.clone(), features.clone()),
            options,
        )
    }
}

/// A record waiting for its score, with the input record it came from.
struct Entry<K, V> {
    record: Record<K, V>,
    origin: Option<Origin>,
}

/// A batch being scored.
struct Batch<K, V> {
    seq: u64,
    entries: Vec<Entry<K, V>>,
    model: Arc<dyn Model>,
    done: Option<Done>,
}

/// A scored batch, from a worker.
struct Done {
    seq: u64,
    result: std::result::Result<Vec<f32>, ModelError>,
    latency: Duration,
}

struct Job {
    seq: u64,
    model: Arc<dyn Model>,
    features: Vec<f32>,
    rows: usize,
    /// A batch size worth a plan of its own (the configured maximum).
    prepare: bool,
    reply: Sender<Done>,
    /// Wakes the task's stream thread once the reply is sent.
    waker: AsyncWaker,
}

/// The worker threads of one scoring operator, started with its first batch; they end when the
/// operator's topology and tasks are gone.
struct Pool {
    workers: usize,
    jobs: Mutex<Option<Sender<Job>>>,
}

impl Pool {
    fn new(workers: usize) -> Self {
        Pool {
            workers,
            jobs: Mutex::new(None),
        }
    }

    fn submit(&self, job: Job) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let sender = jobs.get_or_insert_with(|| {
            let (sender, receiver) = mpsc::channel::<Job>();
            let receiver = Arc::new(Mutex::new(receiver));
            for i in 0..self.workers {
                let receiver = receiver.clone();
                std::thread::Builder::new()
                    .name(format!("streams-ml-score-{i}"))
                    .spawn(move || work(&receiver))
                    .expect("spawning a scoring worker");
            }
            sender
        });
        if let Err(mpsc::SendError(job)) = sender.send(job) {
            // The workers are gone (cannot happen while the pool lives): fail the batch, not the thread.
            let _ = job.reply.send(Done {
                seq: job.seq,
                result: Err(ModelError::Inference("the scoring workers are gone".into())),
                latency: Duration::ZERO,
            });
        }
    }
}

fn work(jobs: &Mutex<Receiver<Job>>) {
    loop {
        let job = {
            let receiver = jobs.lock().unwrap_or_else(|p| p.into_inner());
            receiver.recv()
        };
        let Ok(job) = job else { return };
        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| {
            if job.prepare {
                job.model.prepare(job.rows);
            }
            job.model.predict(&job.features, job.rows)
        }))
        .unwrap_or_else(|panic| {
            Err(ModelError::Inference(format!(
                "the model panicked: {}",
                streams_core::runtime::panic_message(&*panic)
            )))
        });
        let latency = started.elapsed();
        metrics::histogram!("streams_ml_inference_seconds").record(latency.as_secs_f64());
        metrics::histogram!("streams_ml_batch_size").record(job.rows as f64);
        let _ = job.reply.send(Done {
            seq: job.seq,
            result,
            latency,
        });
        job.waker.wake();
    }
}

/// The scoring operator's processor: one per task.
struct ScoreProcessor<K, V, F> {
    scoring: Arc<Scoring>,
    /// Features per record: the same for every model the handle may swap in.
    width: usize,
    pool: Arc<Pool>,
    features: Arc<F>,
    pending: Vec<Entry<K, V>>,
    pending_features: Vec<f32>,
    /// Wall-clock time the oldest pending record arrived.
    pending_since: i64,
    batches: VecDeque<Batch<K, V>>,
    in_flight_records: usize,
    next_seq: u64,
    reply: Sender<Done>,
    replies: Receiver<Done>,
    waker: Option<AsyncWaker>,
}

impl<K: Data, V: Data, F> ScoreProcessor<K, V, F> {
    fn new(scoring: Arc<Scoring>, pool: Arc<Pool>, features: Arc<F>) -> Self {
        let (reply, replies) = mpsc::channel();
        ScoreProcessor {
            width: scoring.model.current().info().input_width,
            scoring,
            pool,
            features,
            pending: Vec::new(),
            pending_features: Vec::new(),
            pending_since: 0,
            batches: VecDeque::new(),
            in_flight_records: 0,
            next_seq: 0,
            reply,
            replies,
            waker: None,
        }
    }

    /// Starts scoring the first `count` pending records.
    fn start(&mut self, count: usize) {
        let model = self.scoring.model.current();
        let entries: Vec<Entry<K, V>> = self.pending.drain(..count).collect();
        let features: Vec<f32> = self.pending_features.drain(..count * self.width).collect();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight_records += count;
        self.pool.submit(Job {
            seq,
            model: model.clone(),
            features,
            rows: count,
            prepare: count == self.scoring.max_batch && count > 1,
            reply: self.reply.clone(),
            waker: self.waker.clone().unwrap_or_default(),
        });
        self.batches.push_back(Batch {
            seq,
            entries,
            model,
            done: None,
        });
    }

    /// Starts what may start: full batches while there is room; with `all` (or once the oldest
    /// pending record has waited long enough), the rest too.
    fn start_work(&mut self, all: bool, now: i64) {
        let max = self.scoring.max_batch;
        while self.pending.len() >= max && self.batches.len() < self.scoring.max_in_flight {
            self.start(max);
        }
        let waited = now.saturating_sub(self.pending_since);
        let due = all || i128::from(waited) >= self.scoring.max_wait.as_millis() as i128;
        if due && !self.pending.is_empty() && self.batches.len() < self.scoring.max_in_flight {
            self.start(self.pending.len().min(max));
        }
    }

    fn receive(&mut self, done: Done) {
        if let Some(batch) = self.batches.iter_mut().find(|b| b.seq == done.seq) {
            batch.done = Some(done);
        }
    }

    /// Forwards finished batches from the oldest, stopping at the first unfinished one.
    fn forward_finished(&mut self, ctx: &mut ProcessorContext<'_, K, Scored<V>>) -> Result<()> {
        while self.batches.front().is_some_and(|b| b.done.is_some()) {
            let batch = self.batches.pop_front().expect("checked above");
            self.in_flight_records -= batch.entries.len();
            self.forward_batch(batch, ctx)?;
        }
        Ok(())
    }

    fn forward_batch(&self, batch: Batch<K, V>, ctx: &mut ProcessorContext<'_, K, Scored<V>>) -> Result<()> {
        let Batch {
            entries, model, done, ..
        } = batch;
        let done = done.expect("only finished batches are forwarded");
        let info = model.info();
        let rows = entries.len();
        let width = info.output_width;
        let result = done.result.and_then(|scores| {
            if scores.len() == rows * width {
                Ok(scores)
            } else {
                Err(ModelError::Inference(format!(
                    "it returned {} scores for {rows} records of {width} scores each",
                    scores.len()
                )))
            }
        });
        match result {
            Ok(scores) => {
                metrics::counter!("streams_ml_scored_records_total", "model" => info.name.to_string())
                    .increment(rows as u64);
                let latency_us = u64::try_from(done.latency.as_micros()).unwrap_or(u64::MAX);
                for (entry, scores) in entries.into_iter().zip(scores.chunks_exact(width.max(1))) {
                    let Entry { record, origin } = entry;
                    let scored = Scored {
                        label: info.label_of(scores).cloned(),
                        scores: scores.to_vec(),
                        model: info.name.clone(),
                        model_version: info.version.clone(),
                        latency_us,
                        batch_size: rows as u32,
                        value: record.value,
                    };
                    let record = Record {
                        key: record.key,
                        value: scored,
                        timestamp: record.timestamp,
                        headers: record.headers,
                    };
                    match &origin {
                        Some(origin) => ctx.forward_from(origin, record)?,
                        None => ctx.forward(record)?,
                    }
                }
                Ok(())
            }
            Err(error) => {
                metrics::counter!("streams_ml_model_errors_total", "model" => info.name.to_string())
                    .increment(rows as u64);
                let reason = format!("model {} failed on a batch of {rows} records: {error}", Named(info));
                for entry in entries {
                    match &entry.origin {
                        Some(origin) => {
                            ctx.fail_record(origin, Error::Processing(reason.clone()), self.scoring.on_error)?
                        }
                        // Forwarded from a punctuation upstream: no input record to hand over.
                        None => return Err(Error::Processing(reason)),
                    }
                }
                Ok(())
            }
        }
    }
}

impl<K, V, F, R> Processor<K, V, K, Scored<V>> for ScoreProcessor<K, V, F>
where
    K: Data,
    V: Data,
    F: Fn(&K, &V) -> R + Send + Sync + 'static,
    R: AsRef<[f32]>,
{
    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K, Scored<V>>) -> Result<()> {
        if self.waker.is_none() {
            // The stream thread's, which the task has by the first record (not yet at `init`).
            self.waker = Some(ctx.async_waker());
        }
        let width = self.width;
        let row = (self.features)(&record.key, &record.value);
        let row = row.as_ref();
        if row.len() != width {
            return Err(Error::Processing(format!(
                "the features function gave {} values, but model {} takes {width}",
                row.len(),
                Named(self.scoring.model.current().info())
            )));
        }
        if self.pending.is_empty() {
            self.pending_since = ctx.wall_clock_time();
        }
        self.pending_features.extend_from_slice(row);
        self.pending.push(Entry {
            record,
            origin: ctx.origin(),
        });
        self.start_work(false, ctx.wall_clock_time());
        Ok(())
    }

    fn is_asynchronous(&self) -> bool {
        true
    }

    fn poll_async(&mut self, mode: AsyncPoll, ctx: &mut ProcessorContext<'_, K, Scored<V>>) -> Result<()> {
        while let Ok(done) = self.replies.try_recv() {
            self.receive(done);
        }
        self.forward_finished(ctx)?;
        self.start_work(mode.starts_pending(), ctx.wall_clock_time());
        if !mode.waits() {
            return Ok(());
        }
        loop {
            if self.batches.is_empty() {
                if mode == AsyncPoll::Drain && !self.pending.is_empty() {
                    self.start_work(true, ctx.wall_clock_time());
                    continue;
                }
                return Ok(());
            }
            match self.replies.recv_timeout(Duration::from_secs(1)) {
                Ok(done) => self.receive(done),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => unreachable!("the processor holds a sender"),
            }
            self.forward_finished(ctx)?;
            self.start_work(mode.starts_pending(), ctx.wall_clock_time());
        }
    }

    fn in_flight(&self) -> usize {
        self.pending.len() + self.in_flight_records
    }

    fn accepts_records(&self) -> bool {
        self.pending.len() < self.scoring.max_batch || self.batches.len() < self.scoring.max_in_flight
    }
}

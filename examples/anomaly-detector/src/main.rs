//! A sensor anomaly detector on Kafka, measured against ground truth while it runs.
//!
//! Three parts in one process:
//!
//! ```text
//!  generator thread ──▶ sensor-readings ──▶ topology (KafkaStreams, exactly-once) ──▶ sensor-scores
//!  (ReadingGenerator,    JSON keyed by      profile table → features → score         anomalies
//!   labels kept aside)   sensor, event      hopping 60 s/10 s window statistics          │
//!        │               time as record                                                 │
//!        └── ground truth (in memory) ──▶ evaluating consumer (read_committed) ◀────────┘
//!                                         precision, recall, delay, latency, throughput
//! ```
//!
//! - The **generator** sends readings of `--sensors` sensors (seeded by `--seed`) at `--rate`
//!   readings/s for `--duration` seconds, each with the reading's event time as its record
//!   timestamp. Which readings are anomalous (and of what kind) stays in memory, never in a record.
//! - The **topology** (see `anomaly_detector::topology`) computes every reading's features
//!   exactly as the reference `anomaly_detector::features` does, from a per-sensor profile in a
//!   RocksDB table, and scores them with `models/anomaly-iforest.onnx`; scores go to
//!   `sensor-scores`, readings whose anomaly score is above `--threshold` to `anomalies` with a
//!   reason.
//! - The **consumer** reads both topics and prints, once a second and at the end (or on Ctrl-C),
//!   precision and recall per reading and per anomaly episode, detection delay, throughput and the
//!   end-to-end latency from producing a reading to reading its alert.
//!
//! The model is an **isolation forest**, trained without labels (`scripts/train-models`): it
//! scores how easily random splits isolate a reading's `zscore_60s`, log `std_60s` and
//! log |`delta_prev`| (computed inside the ONNX graph from the six features) from those of the
//! training readings. The anomaly score is its negated decision function: the higher, the more
//! anomalous, 0 being the model's own cut (`anomaly_detector::records::ModelKind`), which is the
//! default threshold. `--model models/anomaly-mlp.onnx` scores with the supervised MLP instead
//! (anomaly score = its probability of `anomaly`, default threshold 0.5).
//!
//! Measured as `scripts/anomaly-demo` runs it (release build, the defaults: seed 7, 16 sensors,
//! 2,000 readings/s for 30 s, threshold 0): all 60,003 readings scored at the generator's rate;
//! end-to-end latency p50 114 ms, p99 264 ms; per reading precision 0.666, recall 0.772; per
//! episode precision 0.244, recall 0.955 (42 of 44 episodes: every stuck-at, level shift and noise
//! burst, 19 of 21 spikes); detection delay p50 0 s, p99 7 s of event time. The MLP, in a run of
//! the same readings: precision 0.574, recall 0.540 per reading; 0.231, 0.864 per episode (6 of 11
//! stuck-at). Precision per episode is low because most false alarms are single readings; the
//! threshold trades them for missed faults (`anomaly-thresholds`, docs/anomaly-detector.md).
//!
//! Delivery guarantee: exactly-once (`exactly_once_v2`); the consumer reads `read_committed`.
//!
//! Run `scripts/anomaly-demo` (it starts the local broker). Options: `--seed N`, `--sensors N`
//! (default 16), `--rate N` readings/s (default 2000; 0 = as fast as possible), `--duration S`
//! (default 30), `--threshold S` (default 0 for an isolation forest, 0.5 for a classifier),
//! `--partitions N` (default 4), `--model PATH` (default `models/anomaly-iforest.onnx`),
//! `--check` (a 20 s run that fails when the alerts are worse than a floor: what CI runs).

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anomaly_detector::evaluation::{GroundTruth, KINDS, Metrics, Observed, kind_name, percentile};
use anomaly_detector::generator::DEFAULT_START_MS;
use anomaly_detector::records::{AnomalyAlert, ModelKind, ScoreRecord, WindowStats};
use anomaly_detector::topology::{
    MODEL_PATH, Topics, WINDOW_ADVANCE, WINDOW_SIZE, WINDOW_STORE, event_time, load_model, topology,
};
use anomaly_detector::{AnomalyKind, GeneratorConfig, ReadingGenerator};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use streams_core::runtime::{KafkaStreams, StreamsState};
use streams_core::testing::kafka::TestKafka;
use streams_core::{ProcessingGuarantee, StreamsConfig};
use streams_ml::Scoring;

/// Floors of `--check` (the default model and threshold), per episode. Its 40,000 readings (seed 7,
/// 16 sensors) measure, with the isolation forest at threshold 0, recall 1.000 (26 of 26 episodes)
/// and precision 0.244 (50 of 205 alert runs; most false alarms are single readings, each its own
/// alert run; see docs/anomaly-detector.md); the MLP at 0.5 measured 0.885 and 0.209. The floors
/// leave a wide margin.
const CHECK_MIN_EPISODE_RECALL: f64 = 0.7;
const CHECK_MIN_EPISODE_PRECISION: f64 = 0.1;

/// How long, after the generator stops, the scores of every reading may take to arrive.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// The command line.
#[derive(Debug, Clone)]
struct Args {
    seed: u64,
    sensors: usize,
    rate: f64,
    duration: Duration,
    /// `None`: the model kind's default ([`ModelKind::default_threshold`]).
    threshold: Option<f32>,
    partitions: i32,
    model: String,
    check: bool,
}

const USAGE: &str = "anomaly-detector [--seed N] [--sensors N] [--rate READINGS_PER_S] [--duration S] \
                     [--threshold S] [--partitions N] [--model PATH] [--check]";

impl Args {
    fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
        let mut parsed = Args {
            seed: 7,
            sensors: 16,
            rate: 2000.0,
            duration: Duration::from_secs(30),
            threshold: None,
            partitions: 4,
            model: MODEL_PATH.to_string(),
            check: false,
        };
        let mut duration_given = false;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .ok_or_else(|| format!("{name} needs a value\nusage: {USAGE}"))
            };
            let bad = |name: &str, e: &dyn std::fmt::Display| format!("{name}: {e}\nusage: {USAGE}");
            match arg.as_str() {
                "--seed" => parsed.seed = value("--seed")?.parse().map_err(|e| bad("--seed", &e))?,
                "--sensors" => {
                    parsed.sensors = value("--sensors")?.parse().map_err(|e| bad("--sensors", &e))?;
                    if !(1..=1000).contains(&parsed.sensors) {
                        return Err(bad("--sensors", &"1 to 1000"));
                    }
                }
                "--rate" => {
                    parsed.rate = value("--rate")?.parse().map_err(|e| bad("--rate", &e))?;
                    if !(parsed.rate >= 0.0 && parsed.rate.is_finite()) {
                        return Err(bad("--rate", &"0 (as fast as possible) or more"));
                    }
                }
                "--duration" => {
                    let seconds: f64 = value("--duration")?.parse().map_err(|e| bad("--duration", &e))?;
                    parsed.duration = Duration::try_from_secs_f64(seconds).map_err(|e| bad("--duration", &e))?;
                    duration_given = true;
                }
                "--threshold" => {
                    parsed.threshold = Some(value("--threshold")?.parse().map_err(|e| bad("--threshold", &e))?);
                }
                "--partitions" => {
                    parsed.partitions = value("--partitions")?.parse().map_err(|e| bad("--partitions", &e))?;
                    if parsed.partitions < 1 {
                        return Err(bad("--partitions", &"at least 1"));
                    }
                }
                "--model" => parsed.model = value("--model")?,
                "--check" => parsed.check = true,
                "-h" | "--help" => return Err(format!("usage: {USAGE}")),
                other => return Err(format!("unknown argument {other}\nusage: {USAGE}")),
            }
        }
        if parsed.check && !duration_given {
            parsed.duration = Duration::from_secs(20);
        }
        Ok(parsed)
    }
}

/// What the generator thread, the Ctrl-C watcher and the evaluation share.
#[derive(Debug, Default)]
struct Shared {
    /// The labels of the readings sent.
    truth: Mutex<GroundTruth>,
    /// Readings sent so far.
    produced: AtomicU64,
    /// Set once the generator has sent its last reading (or failed).
    generator_done: AtomicBool,
    /// Set on Ctrl-C (or when the run ends): the generator stops sending.
    stop: AtomicBool,
}

impl Shared {
    fn truth(&self) -> MutexGuard<'_, GroundTruth> {
        lock(&self.truth)
    }

    fn produced(&self) -> u64 {
        self.produced.load(Ordering::Acquire)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("anomaly-detector: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs everything; `Ok(false)` when `--check` fails.
fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let Some(kafka) = TestKafka::from_env() else {
        return Err("set STREAMS_BOOTSTRAP_SERVERS (scripts/anomaly-demo does)".into());
    };
    // The generated readings' event times (the records' timestamps) lie in the past, months before
    // now: under the broker's default 7-day time retention, its next retention check would delete
    // them while the run reads them. These topics keep their records.
    let keep = [("retention.ms", "-1")];
    let readings_topic = kafka.create_topic_with_config("sensor-readings", args.partitions, &keep);
    let scores_topic = kafka.create_topic_with_config("sensor-scores", args.partitions, &keep);
    let anomalies_topic = kafka.create_topic_with_config("anomalies", args.partitions, &keep);
    let topics = Topics {
        readings: readings_topic.name().to_string(),
        scores: scores_topic.name().to_string(),
        anomalies: anomalies_topic.name().to_string(),
    };
    println!(
        "topics: {} → {} (every score), {} (alerts); {} partitions each",
        topics.readings, topics.scores, topics.anomalies, args.partitions
    );

    // An isolation forest (one score per reading) or a normal/anomaly classifier; anything else
    // is refused here.
    let (model, kind) = load_model(&args.model)?;
    let threshold = args.threshold.unwrap_or(kind.default_threshold());
    let info = model.current().info().clone();
    println!(
        "model: {} version {} ({}), features {:?}; {}",
        info.name,
        info.version,
        info.content_hash,
        info.feature_names,
        match kind {
            ModelKind::IsolationForest =>
                "an isolation forest: anomaly score = its negated decision function (0 = its own cut)".to_string(),
            ModelKind::Classifier => format!("a classifier {:?}: anomaly score = p(anomaly)", info.labels),
        }
    );
    let scoring = Scoring::new(model)
        .max_batch(64)
        .max_wait(Duration::from_millis(5))
        .named("score-readings");
    let topology = topology(&topics, scoring, threshold)?;
    println!("{}", topology.describe());

    let application_id = kafka.unique_name("anomaly-detector");
    let state_dir = tempfile::tempdir()?;
    let config = StreamsConfig::new(&application_id, kafka.bootstrap_servers())
        .with_processing_guarantee(ProcessingGuarantee::ExactlyOnceV2)
        .with_state_dir(state_dir.path())
        .with_timestamp_extractor(event_time());
    let mut streams = KafkaStreams::new(topology, config)?;
    streams.start()?;
    if !streams.wait_for_state(StreamsState::Running, Duration::from_secs(60))? {
        return Err("the application did not reach RUNNING in 60 s".into());
    }
    println!(
        "application {application_id} running (exactly-once); {} sensors at {} for {:.0} s, seed {}, threshold {}",
        args.sensors,
        if args.rate > 0.0 {
            format!("{} readings/s", args.rate)
        } else {
            "full speed".to_string()
        },
        args.duration.as_secs_f64(),
        args.seed,
        threshold
    );

    let shared = Arc::new(Shared::default());
    watch_ctrl_c(shared.clone());
    let consumer = evaluating_consumer(
        kafka.bootstrap_servers(),
        &kafka.unique_name("anomaly-evaluator"),
        &topics,
        args.partitions,
    )?;

    let started = Instant::now();
    let generator = {
        let (args, topic, bootstrap) = (
            args.clone(),
            topics.readings.clone(),
            kafka.bootstrap_servers().to_string(),
        );
        let shared = shared.clone();
        std::thread::Builder::new().name("generator".into()).spawn(move || {
            let result = generate(&args, &bootstrap, &topic, &shared);
            shared.generator_done.store(true, Ordering::Release);
            result
        })?
    };

    let outcome = evaluate(&consumer, &topics.anomalies, &streams, &shared, started);
    shared.stop.store(true, Ordering::Release);
    let generated = generator.join().map_err(|_| "the generator panicked")?;
    let Evaluated {
        observed,
        last_score,
        samples,
        complete,
    } = outcome?;
    generated?;

    let elapsed = last_score.map_or(started.elapsed(), |last| last.duration_since(started));
    let metrics = observed.evaluate(&shared.truth());
    print_summary(args, &shared.truth(), &observed, &metrics, elapsed, complete);
    print_samples(&samples);
    print_window_examples(&streams, &metrics);
    println!("application stats: {:?}", streams.stats());

    let passed = if args.check {
        check(&observed, &metrics, complete)
    } else {
        true
    };
    streams.close()?;
    kafka.delete_topics_with_prefix(&application_id);
    Ok(passed)
}

/// Sets `stop` on Ctrl-C.
fn watch_ctrl_c(shared: Arc<Shared>) {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        if let Ok(runtime) = runtime
            && runtime.block_on(tokio::signal::ctrl_c()).is_ok()
        {
            eprintln!("\nCtrl-C: stopping; the summary covers what was processed");
            shared.stop.store(true, Ordering::Release);
        }
    });
}

/// Sends readings to `topic` until the duration has passed or `stop` is set, noting each one's
/// ground truth before it is sent.
fn generate(args: &Args, bootstrap: &str, topic: &str, shared: &Shared) -> Result<(), String> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        // Java's key partitioner, as the runtime uses for its own topics.
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .create()
        .map_err(|e| format!("creating the generator's producer: {e}"))?;
    let mut generator = ReadingGenerator::new(GeneratorConfig {
        sensors: args.sensors,
        ..GeneratorConfig::with_seed(args.seed)
    });
    let start = Instant::now();
    let mut sent: u64 = 0;
    while !shared.stop.load(Ordering::Acquire) && start.elapsed() < args.duration {
        if args.rate > 0.0 {
            let due = start + Duration::from_secs_f64(sent as f64 / args.rate);
            let now = Instant::now();
            if due > now + Duration::from_millis(1) {
                std::thread::sleep(due - now);
            }
        }
        let (reading, kind) = generator.next_with_kind();
        let payload = serde_json::to_vec(&reading).map_err(|e| e.to_string())?;
        shared
            .truth()
            .record(&reading.sensor_id, reading.timestamp_ms, kind, Instant::now());
        let mut record = BaseRecord::to(topic)
            .key(reading.sensor_id.as_bytes())
            .payload(&payload)
            .timestamp(reading.timestamp_ms);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((
                    rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                    back,
                )) => {
                    record = back;
                    producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => return Err(format!("producing a reading: {e}")),
            }
        }
        sent += 1;
        shared.produced.store(sent, Ordering::Release);
        if sent.is_multiple_of(64) {
            producer.poll(Duration::ZERO);
        }
    }
    producer
        .flush(Duration::from_secs(30))
        .map_err(|e| format!("flushing the readings: {e}"))
}

/// A consumer of every partition of the scores and anomalies topics, from the start,
/// `read_committed`.
fn evaluating_consumer(bootstrap: &str, group: &str, topics: &Topics, partitions: i32) -> Result<BaseConsumer, String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("fetch.wait.max.ms", "20")
        .create()
        .map_err(|e| format!("creating the evaluating consumer: {e}"))?;
    let mut assignment = TopicPartitionList::new();
    for topic in [&topics.scores, &topics.anomalies] {
        for partition in 0..partitions {
            assignment
                .add_partition_offset(topic, partition, Offset::Beginning)
                .map_err(|e| e.to_string())?;
        }
    }
    consumer
        .assign(&assignment)
        .map_err(|e| format!("assigning the evaluator: {e}"))?;
    Ok(consumer)
}

/// What the evaluation read.
struct Evaluated {
    observed: Observed,
    /// When the last score was read.
    last_score: Option<Instant>,
    /// The first alert of each anomaly kind, and the first false alarm (`None`).
    samples: Vec<(Option<AnomalyKind>, AnomalyAlert)>,
    /// Whether every reading sent was scored.
    complete: bool,
}

/// Reads scores and alerts, printing progress once a second, until every reading sent has been
/// scored (and alerts have been quiet for a second), or `stop`.
fn evaluate(
    consumer: &BaseConsumer,
    anomalies_topic: &str,
    streams: &KafkaStreams,
    shared: &Shared,
    started: Instant,
) -> Result<Evaluated, String> {
    let mut observed = Observed::new();
    let mut samples: Vec<(Option<AnomalyKind>, AnomalyAlert)> = Vec::new();
    let mut last_score: Option<Instant> = None;
    let mut last_alert = Instant::now();
    let mut next_report = started + Duration::from_secs(1);
    let mut scores_at_last_report = 0;
    let mut drained_since: Option<Instant> = None;
    let complete = loop {
        if let Some(message) = consumer.poll(Duration::from_millis(50)) {
            let message = message.map_err(|e| format!("reading the outputs: {e}"))?;
            let payload = message.payload().unwrap_or_default();
            let now = Instant::now();
            if message.topic() == anomalies_topic {
                let alert: AnomalyAlert = serde_json::from_slice(payload).map_err(|e| format!("an alert: {e}"))?;
                let truth = shared.truth();
                let at = &alert.scored;
                observed.on_alert(&truth, &at.sensor_id, at.timestamp_ms, now);
                let kind = truth.find(&at.sensor_id, at.timestamp_ms).and_then(|r| r.kind);
                if !samples.iter().any(|(k, _)| *k == kind) {
                    samples.push((kind, alert));
                }
                last_alert = now;
            } else {
                let score: ScoreRecord = serde_json::from_slice(payload).map_err(|e| format!("a score: {e}"))?;
                observed.on_score(&score.sensor_id, score.timestamp_ms);
                last_score = Some(now);
            }
        }
        let now = Instant::now();
        if now >= next_report {
            let interval_scores = observed.scores - scores_at_last_report;
            scores_at_last_report = observed.scores;
            let metrics = observed.evaluate(&shared.truth());
            println!(
                "{}",
                progress_line(
                    now.duration_since(started),
                    shared.produced(),
                    &observed,
                    &metrics,
                    interval_scores
                )
            );
            next_report += Duration::from_secs(1);
            if streams.state() == StreamsState::Error {
                return Err("the application failed; see its log".into());
            }
        }
        if shared.stop.load(Ordering::Acquire) {
            break false;
        }
        if shared.generator_done.load(Ordering::Acquire) {
            let since = *drained_since.get_or_insert(now);
            if observed.scores >= shared.produced() && now.duration_since(last_alert) >= Duration::from_secs(1) {
                break true;
            }
            if now.duration_since(since) > DRAIN_TIMEOUT {
                eprintln!(
                    "only {} of {} readings scored {} s after the generator stopped",
                    observed.scores,
                    shared.produced(),
                    DRAIN_TIMEOUT.as_secs()
                );
                break false;
            }
        }
    };
    Ok(Evaluated {
        observed,
        last_score,
        samples,
        complete,
    })
}

fn fmt_ratio(value: Option<f64>) -> String {
    value.map_or("n/a".to_string(), |v| format!("{v:.3}"))
}

fn fmt_ms(value: Option<f64>) -> String {
    value.map_or("n/a".to_string(), |v| format!("{v:.0} ms"))
}

fn fmt_s(value: Option<f64>) -> String {
    value.map_or("n/a".to_string(), |v| format!("{:.1} s", v / 1e3))
}

fn progress_line(at: Duration, produced: u64, observed: &Observed, metrics: &Metrics, interval_scores: u64) -> String {
    format!(
        "[{:>4.0} s] produced {produced:>7}  scored {:>7} ({interval_scores:>5}/s)  alerts {:>5} | reading P {} R {} | episode P {} R {} ({}/{}) | delay p50 {} | e2e p50 {} p99 {}",
        at.as_secs_f64(),
        observed.scores,
        observed.alerts,
        fmt_ratio(metrics.precision()),
        fmt_ratio(metrics.recall()),
        fmt_ratio(metrics.episode_precision()),
        fmt_ratio(metrics.episode_recall()),
        metrics.detected,
        metrics.episodes,
        fmt_s(metrics.delay_percentile(50.0)),
        fmt_ms(percentile(&observed.latencies_ms, 50.0)),
        fmt_ms(percentile(&observed.latencies_ms, 99.0)),
    )
}

fn print_summary(
    args: &Args,
    truth: &GroundTruth,
    observed: &Observed,
    metrics: &Metrics,
    elapsed: Duration,
    complete: bool,
) {
    println!("\n== summary ==");
    println!(
        "readings: {} sent ({} anomalous), {} scored{}",
        truth.readings(),
        truth.anomalous(),
        observed.scores,
        if complete {
            ""
        } else {
            " (run cut short: figures cover the scored readings)"
        }
    );
    println!(
        "throughput: {:.0} readings/s processed ({} in {:.1} s, first reading sent to last score read; generator rate {})",
        observed.scores as f64 / elapsed.as_secs_f64().max(1e-9),
        observed.scores,
        elapsed.as_secs_f64(),
        if args.rate > 0.0 {
            format!("{}/s", args.rate)
        } else {
            "unlimited".to_string()
        }
    );
    println!(
        "end-to-end latency (reading produced → its alert read, read_committed): p50 {}, p99 {} over {} alerts",
        fmt_ms(percentile(&observed.latencies_ms, 50.0)),
        fmt_ms(percentile(&observed.latencies_ms, 99.0)),
        observed.latencies_ms.len()
    );
    println!(
        "per reading: precision {} recall {} ({} alerted, {} of them anomalous; {} anomalous readings)",
        fmt_ratio(metrics.precision()),
        fmt_ratio(metrics.recall()),
        metrics.alerted,
        metrics.true_positives,
        metrics.anomalous
    );
    println!(
        "per episode: precision {} ({} of {} alert runs touch an episode), recall {} ({} of {} episodes detected)",
        fmt_ratio(metrics.episode_precision()),
        metrics.true_alert_runs,
        metrics.alert_runs,
        fmt_ratio(metrics.episode_recall()),
        metrics.detected,
        metrics.episodes
    );
    let by_kind: Vec<String> = KINDS
        .iter()
        .zip(metrics.by_kind)
        .map(|(kind, (episodes, detected))| format!("{} {detected}/{episodes}", kind_name(*kind)))
        .collect();
    println!("episodes detected by kind: {}", by_kind.join(", "));
    println!(
        "detection delay (event time, episode start → first alert): p50 {}, p99 {} over {} detected episodes",
        fmt_s(metrics.delay_percentile(50.0)),
        fmt_s(metrics.delay_percentile(99.0)),
        metrics.delays_ms.len()
    );
    if observed.duplicate_alerts + observed.unknown_alerts > 0 {
        println!(
            "unexpected: {} duplicate alerts, {} alerts of readings never sent",
            observed.duplicate_alerts, observed.unknown_alerts
        );
    }
}

/// One alert of each anomaly kind and one false alarm, as they were written.
fn print_samples(samples: &[(Option<AnomalyKind>, AnomalyAlert)]) {
    println!("sample alerts (the first of each kind, and the first false alarm):");
    for (kind, alert) in samples {
        println!(
            "  {:<11} {} at {} score {:.3} (model {} v{}): {}",
            kind.map_or("false alarm", kind_name),
            alert.scored.sensor_id,
            clock(alert.scored.timestamp_ms),
            alert.scored.score,
            alert.scored.model,
            alert.scored.model_version,
            alert.reason
        );
    }
}

/// `HH:MM:SS` (UTC) of an event time, with the day when it is not the generator's first.
fn clock(timestamp_ms: i64) -> String {
    let seconds = timestamp_ms.div_euclid(1000);
    let day = (timestamp_ms - DEFAULT_START_MS).div_euclid(86_400_000);
    let time = format!(
        "{:02}:{:02}:{:02}",
        seconds.rem_euclid(86_400) / 3600,
        seconds.rem_euclid(3600) / 60,
        seconds.rem_euclid(60)
    );
    if day == 0 {
        time
    } else {
        format!("day {} {time}", day + 1)
    }
}

/// The hopping-window statistics of a detected episode of each kind, by interactive queries of
/// the window store: the last window before the episode, and the window starting at its first
/// alert.
fn print_window_examples(streams: &KafkaStreams, metrics: &Metrics) {
    let store = match streams.window_store::<String, WindowStats>(WINDOW_STORE) {
        Ok(store) => store,
        Err(error) => {
            println!("window store {WINDOW_STORE} not queryable: {error}");
            return;
        }
    };
    let advance = WINDOW_ADVANCE.as_millis() as i64;
    let size = WINDOW_SIZE.as_millis() as i64;
    println!(
        "window statistics around detected episodes (interactive queries of {WINDOW_STORE}, {} s windows every {} s):",
        size / 1000,
        advance / 1000
    );
    for example in &metrics.examples {
        let before = example.start_ms - example.start_ms.rem_euclid(advance) - size;
        let during = example.first_alert_ms - example.first_alert_ms.rem_euclid(advance);
        let window = |start: i64| match store.fetch(&example.sensor, start, start) {
            Ok(found) => found.first().map_or("none".to_string(), |(_, stats)| stats.summary()),
            Err(error) => format!("error: {error}"),
        };
        println!(
            "  {} on {} ({} readings, first alert after {:.0} s): window [{}, +60 s) before it: {} | window [{}, +60 s) from the alert: {}",
            kind_name(example.kind),
            example.sensor,
            example.readings,
            (example.first_alert_ms - example.start_ms) as f64 / 1e3,
            clock(before),
            window(before),
            clock(during),
            window(during)
        );
    }
}

/// Whether a `--check` run is good enough; says why not.
fn check(observed: &Observed, metrics: &Metrics, complete: bool) -> bool {
    let mut failures = Vec::new();
    if !complete {
        failures.push("not every reading was scored".to_string());
    }
    if observed.alerts == 0 {
        failures.push("no anomaly was read".to_string());
    }
    if observed.duplicate_alerts + observed.unknown_alerts > 0 {
        failures.push("duplicate or unknown alerts under exactly-once".to_string());
    }
    let recall = metrics.episode_recall().unwrap_or(0.0);
    if recall < CHECK_MIN_EPISODE_RECALL {
        failures.push(format!("episode recall {recall:.3} < {CHECK_MIN_EPISODE_RECALL}"));
    }
    let precision = metrics.episode_precision().unwrap_or(0.0);
    if precision < CHECK_MIN_EPISODE_PRECISION {
        failures.push(format!(
            "episode precision {precision:.3} < {CHECK_MIN_EPISODE_PRECISION}"
        ));
    }
    if failures.is_empty() {
        println!(
            "check passed: episode recall {recall:.3} ≥ {CHECK_MIN_EPISODE_RECALL}, precision {precision:.3} ≥ {CHECK_MIN_EPISODE_PRECISION}"
        );
        true
    } else {
        eprintln!("check FAILED: {}", failures.join("; "));
        false
    }
}

//! The broker cases on our runtime: build the case's topology, start [`KafkaStreams`], wait for the
//! expected count (restore: for the stores to be restored), a signal, the timeout or an error;
//! then close (final flush and commit, leaving the group) and describe the run in one JSON line.
//! The twin of `StreamsRun.java`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use streams_core::runtime::{KafkaStreams, StateRestoreListener, StreamsState};
use streams_core::topology::Topology;
use streams_core::{ProcessingGuarantee, RecordErrorHandler, StreamsConfig};

use super::clock::{Clock, Progress, Stop, millis};
use super::json::{JsonLine, decimal};
use super::options::{Options, UsageError, usage};
use super::topologies::{self, StoreKind};
use super::{fraud, signals};

/// The options of the broker cases (`--model`: `fraud-score` only).
const OPTIONS: &[&str] = &[
    "bootstrap",
    "application-id",
    "input",
    "output",
    "table",
    "guarantee",
    "commit-interval-ms",
    "cache-bytes",
    "state-dir",
    "threads",
    "expected",
    "timeout-s",
    "store",
    "model",
];
/// The switches of the broker cases.
const FLAGS: &[&str] = &["describe"];
/// How long the close may take before the run reports it unclean (Java: 120 s).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a restore run waits, once running, for restorations still reported open.
const RESTORE_END_WAIT: Duration = Duration::from_secs(10);
/// How often the waiting loops read the counts.
const POLL: Duration = Duration::from_millis(1);

/// A case that runs a topology on our runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// filter, map_values, to.
    Stateless,
    /// A windowed count, optionally to an output topic.
    WindowedCount,
    /// The windowed count under exactly-once v2.
    WindowedCountEos,
    /// A stream inner-joined with a table.
    StreamTableJoin,
    /// The fraud detector's topology (no Java twin).
    FraudScore,
    /// Restoration of a key-value store from its changelog.
    Restore,
}

impl Case {
    /// The case named `name`, if it is one of these.
    pub fn parse(name: &str) -> Option<Case> {
        Some(match name {
            "stateless" => Case::Stateless,
            "windowed-count" => Case::WindowedCount,
            "windowed-count-eos" => Case::WindowedCountEos,
            "stream-table-join" => Case::StreamTableJoin,
            "fraud-score" => Case::FraudScore,
            "restore" => Case::Restore,
            _ => return None,
        })
    }

    /// Its name on the command line and in the JSON line.
    pub fn name(self) -> &'static str {
        match self {
            Case::Stateless => "stateless",
            Case::WindowedCount => "windowed-count",
            Case::WindowedCountEos => "windowed-count-eos",
            Case::StreamTableJoin => "stream-table-join",
            Case::FraudScore => "fraud-score",
            Case::Restore => "restore",
        }
    }
}

/// The guarantee as the option and the JSON line spell it.
pub fn guarantee_name(guarantee: ProcessingGuarantee) -> &'static str {
    match guarantee {
        ProcessingGuarantee::AtLeastOnce => "at_least_once",
        ProcessingGuarantee::ExactlyOnceV2 => "exactly_once_v2",
    }
}

/// The options of a run, checked.
#[derive(Debug)]
struct Settings {
    bootstrap: String,
    application_id: String,
    input: String,
    output: Option<String>,
    table: Option<String>,
    guarantee: ProcessingGuarantee,
    commit_interval_ms: Option<u64>,
    cache_bytes: Option<usize>,
    state_dir: Option<PathBuf>,
    threads: usize,
    expected: u64,
    timeout: Duration,
    store: StoreKind,
    model: PathBuf,
    describe: bool,
}

impl Settings {
    fn read(case: Case, options: &Options) -> Result<Self, UsageError> {
        let output = match case {
            Case::Restore => None,
            // The Rust windowed-count bench has no sink: the output is optional, as in Java.
            Case::WindowedCount | Case::WindowedCountEos => options.get("output").map(str::to_string),
            _ => Some(options.required("output")?.to_string()),
        };
        let table = match case {
            Case::StreamTableJoin => Some(options.required("table")?.to_string()),
            _ => None,
        };
        let mut guarantee = match options.get("guarantee").unwrap_or("at_least_once") {
            "at_least_once" => ProcessingGuarantee::AtLeastOnce,
            "exactly_once_v2" => ProcessingGuarantee::ExactlyOnceV2,
            other => {
                return Err(usage(format!(
                    "--guarantee is at_least_once or exactly_once_v2, not {other}"
                )));
            }
        };
        if case == Case::WindowedCountEos {
            if options.has("guarantee") && guarantee != ProcessingGuarantee::ExactlyOnceV2 {
                return Err(usage("windowed-count-eos always runs exactly_once_v2"));
            }
            guarantee = ProcessingGuarantee::ExactlyOnceV2;
        }
        let store = options.get("store").unwrap_or("rocksdb");
        let store =
            StoreKind::parse(store).ok_or_else(|| usage(format!("--store is rocksdb or in-memory, not {store}")))?;
        if case == Case::FraudScore && store != StoreKind::RocksDb {
            return Err(usage(
                "fraud-score keeps the fraud detector's stores as it defines them (RocksDB): no --store in-memory",
            ));
        }
        let threads = options.number("threads")?.unwrap_or(1);
        if threads == 0 {
            return Err(usage("--threads must be at least 1"));
        }
        Ok(Settings {
            bootstrap: options.required("bootstrap")?.to_string(),
            application_id: options.required("application-id")?.to_string(),
            input: options.required("input")?.to_string(),
            output,
            table,
            guarantee,
            commit_interval_ms: options.number("commit-interval-ms")?,
            cache_bytes: options.number("cache-bytes")?,
            state_dir: options.get("state-dir").map(PathBuf::from),
            threads,
            expected: options.number("expected")?.unwrap_or(0),
            timeout: Duration::from_secs(options.number("timeout-s")?.unwrap_or(600)),
            store,
            model: fraud::model_path(options.get("model")),
            describe: options.flag("describe"),
        })
    }

    /// The application's settings: ours by default, the run's where given.
    fn config(&self, case: Case, state_dir: PathBuf) -> StreamsConfig {
        let mut config = StreamsConfig::new(&self.application_id, &self.bootstrap)
            .with_state_dir(state_dir)
            .with_processing_guarantee(self.guarantee)
            .with_num_stream_threads(self.threads);
        if let Some(ms) = self.commit_interval_ms {
            config = config.with_commit_interval(Duration::from_millis(ms));
        }
        if let Some(bytes) = self.cache_bytes {
            config = config.with_cache_max_bytes(bytes);
        }
        if case == Case::FraudScore {
            // As the application: unreadable transactions are dead-lettered, not fatal.
            config = config
                .with_deserialization_error_handler(RecordErrorHandler::DeadLetter)
                .with_dead_letter_topic(format!("{}-dlq", self.application_id));
        }
        config
    }
}

/// Runs `case` with the options `args`; prints the JSON line and returns the exit status.
pub fn run(case: Case, args: &[String], clock: &Clock) -> Result<i32, UsageError> {
    let known: Vec<&str> = OPTIONS
        .iter()
        .copied()
        .filter(|&option| option != "model" || case == Case::FraudScore)
        .collect();
    let options = Options::parse(args, &known, FLAGS)?;
    let settings = Settings::read(case, &options)?;
    let (state_dir, temporary) = match &settings.state_dir {
        Some(dir) => (dir.clone(), None),
        None => match tempfile::Builder::new().prefix("streams-bench-").tempdir() {
            Ok(dir) => (dir.path().to_path_buf(), Some(dir)),
            Err(e) => {
                eprintln!("streams-bench: cannot create a temporary state directory: {e}");
                return Ok(1);
            }
        },
    };
    let config = settings.config(case, state_dir);
    let mut json = JsonLine::default();
    json.put("case", case.name())
        .put("system", "streams")
        .put("guarantee", guarantee_name(config.processing_guarantee()))
        .put("threads", config.num_stream_threads())
        .put("commit_interval_ms", config.commit_interval().as_millis() as u64)
        .put("cache_bytes", config.cache_max_bytes())
        .put("store", settings.store.name());

    let outcome = execute(case, &settings, config);
    // The state directory goes after the close (the stores are closed then).
    drop(temporary);

    if let Some(restore) = outcome.restore {
        let ms = restore.millis();
        json.put("restored", restore.restored)
            .put("expected", (settings.expected > 0).then_some(settings.expected))
            .put("restore_partitions", restore.partitions)
            .put("restore_ms", decimal(ms))
            .put(
                "restore_records_per_s",
                decimal(
                    ms.filter(|&ms| ms > 0.0)
                        .map(|ms| restore.restored as f64 / (ms / 1000.0)),
                ),
            );
    } else {
        json.put("records", outcome.records)
            .put("expected", (settings.expected > 0).then_some(settings.expected));
        outcome.progress.put_rate(&mut json);
        // The harness reads the output topics itself.
        json.put("outputs", Value::Null);
        outcome.progress.put_first(&mut json, clock);
        json.put("first_output_ms", Value::Null);
    }
    json.put("running_ms", outcome.running_at.map(|at| clock.ms_at(at)));
    if case == Case::FraudScore {
        json.put("model", settings.model.display().to_string())
            .put("dead_lettered", outcome.dead_lettered);
    }
    json.put("close_ms", outcome.close.map_or(Value::Null, |(took, _)| millis(took)))
        .put("closed_cleanly", outcome.close.is_some_and(|(_, clean)| clean))
        .put("total_ms", clock.total_ms())
        .put("stop", outcome.stop.name());
    if let Some(error) = &outcome.error {
        json.put("error", error.as_str());
    }
    println!("{json}");
    Ok(outcome.stop.exit_code())
}

/// What a run measured.
struct Outcome {
    stop: Stop,
    error: Option<String>,
    progress: Progress,
    /// Input records processed, read after the close.
    records: u64,
    running_at: Option<Instant>,
    /// How long the close took, and whether it was clean.
    close: Option<(Duration, bool)>,
    restore: Option<RestoreSummary>,
    dead_lettered: Option<u64>,
}

impl Outcome {
    fn failed(error: String) -> Self {
        eprintln!("streams-bench: {error}");
        Outcome {
            stop: Stop::Error,
            error: Some(error),
            progress: Progress::default(),
            records: 0,
            running_at: None,
            close: None,
            restore: None,
            dead_lettered: None,
        }
    }
}

fn topology(case: Case, settings: &Settings, joined: &Arc<AtomicU64>) -> Result<Topology, String> {
    let output = settings.output.as_deref();
    let wanted = || output.expect("the options require --output for this case");
    Ok(match case {
        Case::Stateless => topologies::stateless(&settings.input, wanted()),
        Case::WindowedCount | Case::WindowedCountEos => {
            topologies::windowed_count(&settings.input, output, settings.store)
        }
        Case::StreamTableJoin => topologies::stream_table_join(
            &settings.input,
            settings
                .table
                .as_deref()
                .expect("the options require --table for this case"),
            wanted(),
            settings.store,
            joined.clone(),
        ),
        Case::Restore => topologies::restore(&settings.input, settings.store),
        Case::FraudScore => {
            let topology = fraud::build(&settings.input, wanted(), &settings.model)?;
            let outputs = [wanted().to_string(), fraud::alerts_topic(wanted())];
            fraud::prepare_topics(&settings.bootstrap, &settings.input, &outputs)?;
            topology
        }
    })
}

fn execute(case: Case, settings: &Settings, config: StreamsConfig) -> Outcome {
    // The join counts its stream's records itself: the processed count includes the table's.
    let joined = Arc::new(AtomicU64::new(0));
    let topology = match topology(case, settings, &joined) {
        Ok(topology) => topology,
        Err(error) => return Outcome::failed(error),
    };
    if settings.describe {
        eprintln!("{}", topology.describe());
    }
    let mut streams = match KafkaStreams::new(topology, config) {
        Ok(streams) => streams,
        Err(error) => return Outcome::failed(error.to_string()),
    };
    let running_at = Arc::new(OnceLock::new());
    streams.set_state_listener({
        let running_at = running_at.clone();
        move |new, _old| {
            if new == StreamsState::Running {
                let _ = running_at.set(Instant::now());
            }
        }
    });
    let timing = Arc::new(RestoreTiming::default());
    if case == Case::Restore {
        streams.set_state_restore_listener(timing.clone());
    }
    let count = |streams: &KafkaStreams| match case {
        Case::StreamTableJoin => joined.load(Ordering::Relaxed),
        _ => streams.stats().processed,
    };

    let mut progress = Progress::default();
    let mut error = None;
    let stop = match streams.start() {
        Err(failure) => {
            error = Some(failure.to_string());
            Stop::Error
        }
        Ok(()) if case == Case::Restore => wait_restored(&streams, &timing, settings),
        Ok(()) => wait_processed(&streams, &count, settings, &mut progress),
    };
    eprintln!("streams-bench: {}: closing ({})", case.name(), stop.name());
    let closing = Instant::now();
    let closed = streams.close_with_timeout(CLOSE_TIMEOUT);
    let took = closing.elapsed();
    let clean = match closed {
        Ok(clean) => clean,
        Err(failure) => {
            // The error that stopped the run (state Error), or a failure of the final commit.
            error.get_or_insert(failure.to_string());
            false
        }
    };
    if let Some(error) = &error {
        eprintln!("streams-bench: {error}");
    }
    Outcome {
        stop,
        error,
        progress,
        records: count(&streams),
        running_at: running_at.get().copied(),
        close: Some((took, clean)),
        restore: (case == Case::Restore).then(|| timing.summary()),
        dead_lettered: (case == Case::FraudScore).then(|| streams.stats().dead_lettered),
    }
}

/// Polls the input count until `--expected`, a signal, an error or the timeout.
fn wait_processed(
    streams: &KafkaStreams,
    count: &dyn Fn(&KafkaStreams) -> u64,
    settings: &Settings,
    progress: &mut Progress,
) -> Stop {
    let deadline = Instant::now() + settings.timeout;
    loop {
        let n = count(streams);
        progress.observe(n);
        if settings.expected > 0 && n >= settings.expected {
            progress.end(n);
            return Stop::Done;
        }
        if signals::received() {
            progress.end(n);
            return Stop::Signal;
        }
        if streams.state() == StreamsState::Error {
            progress.end(n);
            return Stop::Error;
        }
        if Instant::now() >= deadline {
            return Stop::Timeout;
        }
        std::thread::sleep(POLL);
    }
}

/// Waits until the application runs with every restoration ended; done when `--expected` records
/// (if given) were restored.
fn wait_restored(streams: &KafkaStreams, timing: &RestoreTiming, settings: &Settings) -> Stop {
    let deadline = Instant::now() + settings.timeout;
    let mut running_since = None;
    loop {
        match streams.state() {
            StreamsState::Running => {
                let since = *running_since.get_or_insert_with(Instant::now);
                let summary = timing.summary();
                if summary.open == 0 || since.elapsed() >= RESTORE_END_WAIT {
                    let complete = settings.expected == 0 || summary.restored >= settings.expected;
                    return if complete { Stop::Done } else { Stop::Timeout };
                }
            }
            StreamsState::Error => return Stop::Error,
            _ => running_since = None,
        }
        if signals::received() {
            return Stop::Signal;
        }
        if Instant::now() >= deadline {
            return Stop::Timeout;
        }
        std::thread::sleep(POLL);
    }
}

/// Restoration over all partitions: from the first start to the last end, totals summed.
#[derive(Debug, Default, Clone, Copy)]
struct RestoreSummary {
    started: Option<Instant>,
    ended: Option<Instant>,
    open: u32,
    partitions: u32,
    restored: u64,
}

impl RestoreSummary {
    fn millis(&self) -> Option<f64> {
        let (started, ended) = (self.started?, self.ended?);
        Some(ended.saturating_duration_since(started).as_secs_f64() * 1000.0)
    }
}

/// The restore listener of the `restore` case.
#[derive(Debug, Default)]
struct RestoreTiming(Mutex<RestoreSummary>);

impl RestoreTiming {
    fn summary(&self) -> RestoreSummary {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn update(&self, change: impl FnOnce(&mut RestoreSummary)) {
        change(&mut self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    }
}

impl StateRestoreListener for RestoreTiming {
    fn on_restore_start(&self, _topic: &str, _partition: i32, _store: &str, _start: i64, _end: i64) {
        let now = Instant::now();
        self.update(|s| {
            s.started.get_or_insert(now);
            s.open += 1;
            s.partitions += 1;
        });
    }

    fn on_restore_end(&self, _topic: &str, _partition: i32, _store: &str, total_restored: u64) {
        let now = Instant::now();
        self.update(|s| {
            s.ended = Some(now);
            s.open = s.open.saturating_sub(1);
            s.restored += total_restored;
        });
    }
}

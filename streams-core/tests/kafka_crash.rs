//! The large crash test: a re-keying, windowed, stateful application is killed with SIGKILL at
//! random moments and restarted each time (same application id, same state directory) while its
//! input keeps arriving; a last clean run finishes the work; then every output, read
//! `read_committed`, is compared per windowed key with what the `TopologyTestDriver` computes from
//! the same input.
//!
//! ```text
//! input (4 partitions)  key user-N, value "<number>" (−20..=100), timestamp set by the producer
//!   │ map: key group-(N mod 16), value parsed       (re-keyed: repartition)
//!   │ filter: value > 0
//!   ▼
//! <app>-sums-repartition
//!   │ group_by_key → tumbling 10 s windows (grace 24 h: no record is ever late)
//!   │ reduce: sum, store "sums" without cache       (every update is an output)
//!   ▼
//! output  Windowed<group> → running sum
//! ```
//!
//! What it proves, per windowed key, against the driver's run of the same topology on the same
//! records (a check that holds whatever the interleaving of input partitions was):
//! - exactly-once v2: the same number of updates (none repeated, none missing), the same final
//!   sum, and the successive differences of the sums are the same multiset as the values the
//!   window got; the final window store equals the driver's.
//! - at-least-once: every window is there and its final sum is at least the driver's (nothing
//!   lost); the duplicates the crashes caused are counted and printed.
//!
//! Event time starts shortly before the test (record timestamps are set explicitly, relative to
//! that start, so the run is deterministic but for the shift): the broker rolls and deletes log
//! segments by record timestamps, and would delete changelog and input records of last year while
//! the application still needs them.
//!
//! CI runs the small version (`CRASH_RECORDS`=20000, `CRASH_KILLS`=3 by default). The large
//! version is `scripts/crash-test` (200,000 records, 10 kills, release build). `CRASH_SEED=<n>`
//! replays a run's input and its choice of kill moments (the seed is printed; when the kills land
//! still depends on timing). Needs `STREAMS_BOOTSTRAP_SERVERS`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use streams_core::dsl::{Materialized, StreamsBuilder};
use streams_core::runtime::{KafkaStreams, RawRecord, StreamsState};
use streams_core::serde::DefaultSerde;
use streams_core::testing::TopologyTestDriver;
use streams_core::testing::kafka::{ReadRecord, TestKafka, TestTopic};
use streams_core::time::{TimeWindows, Windowed, hours, seconds};
use streams_core::topology::Topology;
use streams_core::{ProcessingGuarantee, StreamsConfig};

/// Partitions of the input and output topics (and so of the repartition topic).
const PARTITIONS: i32 = 4;
/// Distinct input keys, `user-0` … `user-239`.
const USERS: u64 = 240;
/// Distinct keys after re-keying, `group-0` … `group-15`: each is fed by every input partition.
const GROUPS: u64 = 16;
/// The window size in milliseconds (10 s).
const WINDOW_MS: i64 = 10_000;
/// Event time advances this much per record…
const TIMESTAMP_STEP_MS: i64 = 10;
/// …plus a random jitter below this, so records arrive out of order (never later than the grace).
const TIMESTAMP_JITTER_MS: u64 = 2_000;
/// The window store's name; its changelog and repartition topics are named after it.
const STORE: &str = "sums";
/// The commit interval under at-least-once: short, so that a killed instance loses seconds of
/// work, not the default 30 s.
const ALOS_COMMIT_INTERVAL: Duration = Duration::from_secs(1);
/// A helper instance that made no progress for this long after it started is killed anyway.
const IDLE_SINCE_SPAWN: Duration = Duration::from_secs(20);
/// A helper instance whose progress stopped for this long (its input is consumed) is killed anyway.
const IDLE_SINCE_PROGRESS: Duration = Duration::from_secs(3);
/// Input produced during the kills comes in this many chunks.
const PRODUCE_CHUNKS: usize = 20;
/// The input produced during the kills is spread over about this much time per kill: about what
/// a kill takes (a restarted instance waits ~6 s for the dead member's session to expire, then
/// works until its moment), so that most restarted instances find new input.
const PRODUCE_SPREAD_PER_KILL: Duration = Duration::from_secs(9);
/// How often the harness looks at a helper's progress.
const POLL: Duration = Duration::from_millis(5);

/// The stateful topology under test, the same for the helper process, the final run and the
/// driver (the oracle).
fn topology(input: &str, output: &str) -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>(input)
        .map(|user: String, value: String| (group_of(&user), value.parse::<i64>().expect("a number")))
        .filter(|_group, value| *value > 0)
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(seconds(10), hours(24)))
        .reduce_with(|sum, value| sum + value, Materialized::named(STORE).without_caching())
        .to_stream()
        .to(output);
    builder.build().expect("a valid topology")
}

/// The key a user is re-keyed to: `user-N` → `group-(N mod GROUPS)`.
fn group_of(user: &str) -> String {
    let n: u64 = user
        .strip_prefix("user-")
        .and_then(|n| n.parse().ok())
        .expect("a key user-N");
    format!("group-{}", n % GROUPS)
}

/// The application's settings: short session timeout (a killed member holds its partitions until
/// it expires: the runtime does not use static membership) and, under at-least-once, a short
/// commit interval.
fn config(app: &str, bootstrap: &str, state: &Path, guarantee: ProcessingGuarantee) -> StreamsConfig {
    let config = StreamsConfig::new(app, bootstrap)
        .with_state_dir(state)
        .with_processing_guarantee(guarantee)
        .with_consumer_config("session.timeout.ms", "6000")
        .with_consumer_config("heartbeat.interval.ms", "1000");
    if guarantee == ProcessingGuarantee::AtLeastOnce {
        config.with_commit_interval(ALOS_COMMIT_INTERVAL)
    } else {
        config
    }
}

// --- parameters and randomness -------------------------------------------------------------------

/// The run's size and seed, from the environment.
#[derive(Debug, Clone, Copy)]
struct Params {
    /// `CRASH_RECORDS`: input records (default 20,000).
    records: usize,
    /// `CRASH_KILLS`: SIGKILLs (default 3).
    kills: usize,
    /// `CRASH_SEED`: the seed of the input and the kill moments (default: from the clock).
    seed: u64,
    /// Event time of the first record: a window boundary shortly before now, such that the last
    /// record's time is a minute in the past. Not older: the broker rolls segments and deletes
    /// them by the records' timestamps (`segment.ms`, `retention.ms`), so input, repartition and
    /// changelog records of last year would be deleted under the application's feet.
    base_timestamp: i64,
}

impl Params {
    /// Reads `CRASH_RECORDS`, `CRASH_KILLS` and `CRASH_SEED`.
    ///
    /// # Panics
    /// When one is set but is not a number, or the records would span more than the grace.
    fn from_env() -> Params {
        let number = |name: &str, default: u64| -> u64 {
            std::env::var(name).map_or(default, |v| {
                v.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}"))
            })
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("a clock after 1970");
        let records = number("CRASH_RECORDS", 20_000) as usize;
        let span = records as i64 * TIMESTAMP_STEP_MS + TIMESTAMP_JITTER_MS as i64;
        assert!(
            span < 23 * 3_600_000,
            "CRASH_RECORDS={records} spans more event time than the grace"
        );
        let start = now.as_millis() as i64 - span - 60_000;
        Params {
            records,
            kills: number("CRASH_KILLS", 3) as usize,
            seed: number("CRASH_SEED", now.as_nanos() as u64 % 1_000_000_007),
            base_timestamp: start - start.rem_euclid(WINDOW_MS),
        }
    }
}

/// A small deterministic generator (xorshift64*): the same seed gives the same run.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    /// A generator for `seed` and one of the run's independent `stream`s.
    fn new(seed: u64, stream: u64) -> Rng {
        let mut state = (seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_add(0x2545_F491_4F6C_DD1D);
        if state == 0 {
            state = 1;
        }
        let mut rng = Rng(state);
        for _ in 0..4 {
            rng.next();
        }
        rng
    }

    /// The next 64 random bits.
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The generator stream of the input records.
const INPUT_STREAM: u64 = 1;
/// The generator stream of the kill moments.
const KILL_STREAM: u64 = 2;
/// The generator stream of the pauses between produced chunks.
const PRODUCE_STREAM: u64 = 3;

// --- input and oracle ----------------------------------------------------------------------------

/// One input record.
#[derive(Debug, Clone)]
struct Input {
    /// `user-N`.
    key: String,
    /// A number in −20..=100, as text.
    value: String,
    /// Event time, ms.
    timestamp: i64,
}

impl Input {
    /// The record as produced to Kafka, with its timestamp.
    fn raw(&self) -> RawRecord {
        RawRecord {
            key: Some(self.key.clone().into_bytes()),
            value: Some(self.value.clone().into_bytes()),
            timestamp: Some(self.timestamp),
            headers: Vec::new(),
        }
    }
}

/// `records` random input records from event time `base` on, in production order.
fn generate(records: usize, base: i64, rng: &mut Rng) -> Vec<Input> {
    (0..records)
        .map(|i| Input {
            key: format!("user-{}", rng.below(USERS)),
            value: (rng.below(121) as i64 - 20).to_string(),
            timestamp: base + i as i64 * TIMESTAMP_STEP_MS + rng.below(TIMESTAMP_JITTER_MS) as i64,
        })
        .collect()
}

/// A windowed key: the group and its window's start.
type WindowKey = (String, i64);

/// What the topology must produce for the input, from the `TopologyTestDriver`.
#[derive(Debug)]
struct Oracle {
    /// Per windowed key, its sums in the order the driver output them.
    updates: BTreeMap<WindowKey, Vec<i64>>,
    /// Per windowed key, the values it summed, sorted.
    values: BTreeMap<WindowKey, Vec<i64>>,
}

impl Oracle {
    /// Runs the topology in the driver over `inputs` in production order (one valid interleaving
    /// of the input partitions), and checks it against a direct computation.
    fn compute(inputs: &[Input]) -> Oracle {
        let driver = TopologyTestDriver::new(topology("input", "output"), StreamsConfig::for_tests("crash-oracle"))
            .expect("the driver starts");
        let input = driver.input_topic::<String, String>("input");
        let output = driver.output_topic::<Windowed<String>, Option<i64>>("output");
        let mut values: BTreeMap<WindowKey, Vec<i64>> = BTreeMap::new();
        for record in inputs {
            input.pipe_input_at(record.key.clone(), record.value.clone(), record.timestamp);
            let value: i64 = record.value.parse().unwrap();
            if value > 0 {
                let start = record.timestamp - record.timestamp.rem_euclid(WINDOW_MS);
                values.entry((group_of(&record.key), start)).or_default().push(value);
            }
        }
        assert_eq!(driver.dropped_records(), 0, "no record is late for its window");
        let mut updates: BTreeMap<WindowKey, Vec<i64>> = BTreeMap::new();
        for (key, sum) in output.read_key_values_to_list() {
            assert_eq!(key.window.end - key.window.start, WINDOW_MS);
            updates
                .entry((key.key, key.window.start))
                .or_default()
                .push(sum.expect("a sum, not a tombstone"));
        }
        // The driver agrees with the running sums computed here: the oracle is sound.
        assert_eq!(updates.len(), values.len(), "one output key per window with input");
        for (key, values) in &mut values {
            let running: Vec<i64> = values
                .iter()
                .scan(0, |sum, v| {
                    *sum += v;
                    Some(*sum)
                })
                .collect();
            assert_eq!(updates[key], running, "the driver's sums of {key:?}");
            values.sort_unstable();
        }
        Oracle { updates, values }
    }

    /// Per windowed key, the final sum.
    fn finals(&self) -> BTreeMap<WindowKey, i64> {
        self.updates
            .iter()
            .map(|(key, sums)| (key.clone(), *sums.last().unwrap()))
            .collect()
    }

    /// The number of updates over all windows.
    fn total_updates(&self) -> usize {
        self.updates.values().map(Vec::len).sum()
    }
}

// --- the helper process ----------------------------------------------------------------------------

/// The run's settings, passed to the helper process through these environment variables.
const HELPER_ENV: [&str; 5] = [
    "CRASH_HELPER_APP",
    "CRASH_HELPER_STATE",
    "CRASH_HELPER_INPUT",
    "CRASH_HELPER_OUTPUT",
    "CRASH_HELPER_GUARANTEE",
];

/// Runs the application until killed: the process the crash tests send SIGKILL. Prints
/// `progress processed=<n> restored=<r> dropped=<d> commits=<c>` every 20 ms. Not a test of its own.
#[test]
#[ignore = "a helper process started by the crash tests"]
fn crash_helper_application() {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("run by the crash tests only ({name})"));
    let [app, state, input, output, guarantee] = HELPER_ENV.map(var);
    let guarantee = match guarantee.as_str() {
        "eos" => ProcessingGuarantee::ExactlyOnceV2,
        "alos" => ProcessingGuarantee::AtLeastOnce,
        other => panic!("unknown guarantee {other}"),
    };
    let config = config(&app, &var("STREAMS_BOOTSTRAP_SERVERS"), state.as_ref(), guarantee);
    let mut streams = KafkaStreams::new(topology(&input, &output), config).unwrap();
    streams.start().unwrap();
    loop {
        let stats = streams.stats();
        println!(
            "progress processed={} restored={} dropped={} commits={}",
            stats.processed, stats.restored, stats.dropped, stats.commits
        );
        assert_ne!(streams.state(), StreamsState::Error, "the application failed");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One test's run: where the application's topics and state are.
#[derive(Debug)]
struct Run<'a> {
    /// `eos` or `alos`: prefixes every printed line.
    label: &'static str,
    /// The guarantee under test.
    guarantee: ProcessingGuarantee,
    /// The broker.
    kafka: &'a TestKafka,
    /// The application id, the same for every instance.
    app: String,
    /// The state directory, the same for every instance.
    state: PathBuf,
    /// The input topic.
    input: &'a TestTopic,
    /// The output topic.
    output: &'a TestTopic,
}

/// What a helper instance reported last.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    /// Records processed by this instance.
    processed: u64,
    /// Changelog records it restored.
    restored: u64,
    /// Records it dropped as late.
    dropped: u64,
    /// Commits it made.
    commits: u64,
    /// From its start to its first processed record.
    first_progress: Option<Duration>,
    /// When `processed` last changed.
    last_change: Option<Instant>,
    /// Whether its output ended (it exited).
    ended: bool,
}

/// When to kill a helper instance.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// Once it has processed this many records.
    Processed(u64),
    /// This long after its first processed record.
    AfterFirstRecord(Duration),
    /// This long after it was started (maybe while it joins the group or restores).
    AfterStart(Duration),
}

impl Moment {
    /// A random moment: 40 % after a number of records (with a backlog, often within a second of
    /// the first record: before the first commit under at-least-once), 40 % within 6 s of the first
    /// record (several commits in), 20 % within 9 s of the start (maybe while joining the group or
    /// restoring).
    fn choose(rng: &mut Rng, params: &Params) -> Moment {
        // Each record is processed twice: from the input, and from the repartition topic.
        let budget = (2 * params.records as u64 / (params.kills as u64 + 1)).max(1);
        match rng.below(5) {
            0 | 1 => Moment::Processed(1 + rng.below(budget)),
            2 | 3 => Moment::AfterFirstRecord(Duration::from_millis(rng.below(6_000))),
            _ => Moment::AfterStart(Duration::from_millis(rng.below(9_000))),
        }
    }
}

impl std::fmt::Display for Moment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Moment::Processed(n) => write!(f, "after {n} records"),
            Moment::AfterFirstRecord(d) => write!(f, "{} ms after its first record", d.as_millis()),
            Moment::AfterStart(d) => write!(f, "{} ms after its start", d.as_millis()),
        }
    }
}

/// A running helper process and a thread reading its progress lines. Killed when dropped.
struct Helper {
    /// The process.
    child: Child,
    /// When it was started.
    spawned: Instant,
    /// Its last report.
    progress: Arc<Mutex<Progress>>,
    /// The thread reading its output.
    reader: Option<JoinHandle<()>>,
}

impl Helper {
    /// Starts an instance of the application in a new process (this test binary, running
    /// [`crash_helper_application`]).
    fn start(run: &Run<'_>) -> Helper {
        let guarantee = if run.guarantee == ProcessingGuarantee::ExactlyOnceV2 {
            "eos"
        } else {
            "alos"
        };
        let values = [
            run.app.as_str(),
            run.state.to_str().unwrap(),
            run.input.name(),
            run.output.name(),
            guarantee,
        ];
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "--exact",
                "crash_helper_application",
                "--include-ignored",
                "--nocapture",
            ])
            .stdout(Stdio::piped());
        for (name, value) in HELPER_ENV.iter().zip(values) {
            command.env(name, value);
        }
        let spawned = Instant::now();
        let mut child = command.spawn().expect("the helper starts");
        let stdout = child.stdout.take().unwrap();
        let progress = Arc::new(Mutex::new(Progress::default()));
        let shared = progress.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Some(rest) = line.strip_prefix("progress ") else {
                    continue;
                };
                let field = |name: &str| -> u64 {
                    rest.split(' ')
                        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or_default()
                };
                let mut progress = shared.lock().unwrap();
                let processed = field("processed");
                if processed != progress.processed {
                    progress.last_change = Some(Instant::now());
                    if progress.first_progress.is_none() {
                        progress.first_progress = Some(spawned.elapsed());
                    }
                }
                progress.processed = processed;
                progress.restored = field("restored");
                progress.commits = field("commits");
                progress.dropped = progress.dropped.max(field("dropped"));
            }
            shared.lock().unwrap().ended = true;
        });
        Helper {
            child,
            spawned,
            progress,
            reader: Some(reader),
        }
    }

    /// Its last report.
    fn progress(&self) -> Progress {
        *self.progress.lock().unwrap()
    }

    /// Waits for `moment`; returns whether it came (`false`: the instance went idle first).
    ///
    /// # Panics
    /// When the instance exits by itself.
    fn wait_for(&self, moment: Moment) -> bool {
        loop {
            let progress = self.progress();
            assert!(!progress.ended, "the helper exited by itself (its panic is above)");
            let since_start = self.spawned.elapsed();
            let reached = match moment {
                Moment::Processed(n) => progress.processed >= n,
                Moment::AfterFirstRecord(d) => progress.first_progress.is_some_and(|first| since_start >= first + d),
                Moment::AfterStart(d) => since_start >= d,
            };
            if reached {
                return true;
            }
            let idle = match progress.last_change {
                Some(last) => last.elapsed() >= IDLE_SINCE_PROGRESS,
                None => since_start >= IDLE_SINCE_SPAWN,
            };
            if idle {
                return false;
            }
            std::thread::sleep(POLL);
        }
    }

    /// SIGKILL; returns its last report.
    fn kill(mut self) -> Progress {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.progress()
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        // A failing test leaves no application process behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one killed instance did.
#[derive(Debug)]
struct Killed {
    /// Whether its kill moment came (else it was killed when idle).
    reached: bool,
    /// Its last report.
    progress: Progress,
}

/// Produces `records` in [`PRODUCE_CHUNKS`] chunks with random pauses, spread over about
/// `spread`.
fn produce_slowly(kafka: &TestKafka, topic: &TestTopic, records: &[Input], spread: Duration, rng: &mut Rng) {
    let chunk = records.len().div_ceil(PRODUCE_CHUNKS).max(1);
    let mean_pause = spread.as_millis() as u64 / PRODUCE_CHUNKS as u64;
    for chunk in records.chunks(chunk) {
        std::thread::sleep(Duration::from_millis(rng.below(2 * mean_pause + 1)));
        kafka.produce_records(topic, chunk.iter().map(Input::raw));
    }
}

// --- the final run and the verifier ---------------------------------------------------------------

/// What the last, clean run did.
#[derive(Debug)]
struct FinalRun {
    /// From its start to its first processed record (`None`: nothing was left to do).
    first_progress: Option<Duration>,
    /// From its start until its store was complete.
    done: Duration,
    /// Records it processed.
    processed: u64,
    /// Changelog records it restored.
    restored: u64,
    /// Records it dropped as late.
    dropped: u64,
}

/// The window store of a running instance, or `None` while it is not readable (rebalancing).
fn store_contents(streams: &KafkaStreams) -> Option<BTreeMap<WindowKey, i64>> {
    let all = streams.window_store::<String, i64>(STORE).ok()?.all().ok()?;
    Some(
        all.into_iter()
            .map(|(group, start, sum)| ((group, start), sum))
            .collect(),
    )
}

/// Whether `store` holds what the oracle expects: exactly under exactly-once; under
/// at-least-once every window, with at least the expected sum.
fn store_complete(store: &BTreeMap<WindowKey, i64>, expected: &BTreeMap<WindowKey, i64>, exact: bool) -> bool {
    if exact {
        store == expected
    } else {
        store.len() == expected.len()
            && expected
                .iter()
                .all(|(key, sum)| store.get(key).is_some_and(|s| s >= sum))
    }
}

/// At most `limit` differences between a store and the oracle, described.
fn store_differences(
    store: &BTreeMap<WindowKey, i64>,
    expected: &BTreeMap<WindowKey, i64>,
    limit: usize,
) -> Vec<String> {
    let mut differences = Vec::new();
    for (key, sum) in expected {
        match store.get(key) {
            Some(s) if s == sum => {}
            Some(s) => differences.push(format!("{key:?}: store {s}, expected {sum}")),
            None => differences.push(format!("{key:?}: not in the store, expected {sum}")),
        }
    }
    for (key, s) in store {
        if !expected.contains_key(key) {
            differences.push(format!("{key:?}: store {s}, expected no such window"));
        }
    }
    differences.truncate(limit);
    differences
}

/// Runs the application once more, in this process, until its store holds every expected window;
/// then closes it cleanly.
fn finish(run: &Run<'_>, expected: &BTreeMap<WindowKey, i64>, params: &Params) -> FinalRun {
    let exact = run.guarantee == ProcessingGuarantee::ExactlyOnceV2;
    let started = Instant::now();
    let mut streams = KafkaStreams::new(
        topology(run.input.name(), run.output.name()),
        config(&run.app, run.kafka.bootstrap_servers(), &run.state, run.guarantee),
    )
    .unwrap();
    streams.start().unwrap();
    let deadline = started + Duration::from_secs(120 + params.records as u64 / 1_000);
    let mut first_progress = None;
    let mut last_processed = 0;
    let mut last_change = Instant::now();
    let mut last_check = Instant::now() - Duration::from_secs(1);
    loop {
        let stats = streams.stats();
        assert_ne!(streams.state(), StreamsState::Error, "the final run failed");
        if stats.processed != last_processed {
            last_processed = stats.processed;
            last_change = Instant::now();
            first_progress.get_or_insert(started.elapsed());
        }
        if last_check.elapsed() >= Duration::from_millis(250) {
            last_check = Instant::now();
            let store = store_contents(&streams);
            let complete = store
                .as_ref()
                .is_some_and(|store| store_complete(store, expected, exact));
            // At-least-once: also wait until the work has settled (a window can run ahead of the
            // oracle while records of it are still on their way).
            let settled = exact
                || (streams.state() == StreamsState::Running
                    && stats.restore_remaining == 0
                    && last_change.elapsed() >= Duration::from_secs(2));
            if complete && settled {
                break;
            }
            if Instant::now() >= deadline {
                let store = store.unwrap_or_default();
                panic!(
                    "[{}] seed {}: the final run's store is not complete after {:?} ({} of {} windows, \
                     stats {stats:?}); first differences:\n{}",
                    run.label,
                    params.seed,
                    started.elapsed(),
                    store.len(),
                    expected.len(),
                    store_differences(&store, expected, 20).join("\n")
                );
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let done = started.elapsed();
    let stats = streams.stats();
    streams.close().unwrap();
    FinalRun {
        first_progress,
        done,
        processed: stats.processed,
        restored: stats.restored,
        dropped: stats.dropped,
    }
}

/// Decodes output records into each windowed key's sums, in offset order.
fn decode(topic: &str, records: Vec<ReadRecord>) -> BTreeMap<WindowKey, Vec<i64>> {
    let keys = Windowed::<String>::default_serde();
    let values = i64::default_serde();
    let mut sums: BTreeMap<WindowKey, Vec<i64>> = BTreeMap::new();
    for read in records {
        let key = keys
            .deserialize(topic, read.record.key.as_deref())
            .expect("a windowed key");
        let sum = values
            .deserialize(
                topic,
                Some(read.record.value.as_deref().expect("a sum, not a tombstone")),
            )
            .expect("an i64 sum");
        sums.entry((key.key, key.window.start)).or_default().push(sum);
    }
    sums
}

/// Reads every committed output record (`read_committed`), however many there are.
///
/// Under exactly-once the end offsets also count transaction markers, so it first reads the
/// number the oracle expects, then reads again for twice as long as that took (plus 3 s) to catch
/// any record beyond them.
fn read_outputs(run: &Run<'_>, expected: usize) -> BTreeMap<WindowKey, Vec<i64>> {
    let kafka = run.kafka;
    if run.guarantee == ProcessingGuarantee::AtLeastOnce {
        // No transactions: the end offsets count the records.
        let count: i64 = kafka.end_offsets(run.output).values().sum();
        let records = kafka.read(run.output, count as usize, Duration::from_secs(120));
        assert_eq!(records.len(), count as usize, "every output record read");
        return decode(run.output.name(), records);
    }
    let started = Instant::now();
    let first = kafka.read(run.output, expected, Duration::from_secs(120));
    let took = started.elapsed();
    let records = kafka.read(run.output, 2 * expected + 1_000, 2 * took + Duration::from_secs(3));
    assert!(records.len() >= first.len());
    decode(run.output.name(), records)
}

/// The successive differences of a window's sums (the first sum counts as one), sorted: the
/// values it summed, if each was summed once.
fn increments(sums: &[i64]) -> Vec<i64> {
    let mut increments: Vec<i64> = std::iter::once(0)
        .chain(sums.iter().copied())
        .collect::<Vec<_>>()
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .collect();
    increments.sort_unstable();
    increments
}

/// Every way the outputs differ from exactly-once, described.
fn exactly_once_failures(oracle: &Oracle, got: &BTreeMap<WindowKey, Vec<i64>>) -> Vec<String> {
    let mut failures = Vec::new();
    for (key, expected) in &oracle.updates {
        let Some(sums) = got.get(key) else {
            failures.push(format!(
                "{key:?}: no output; expected {} updates ending at {}",
                expected.len(),
                expected.last().unwrap()
            ));
            continue;
        };
        if sums.len() != expected.len() || sums.last() != expected.last() {
            failures.push(format!(
                "{key:?}: {} updates ending at {:?}, expected {} ending at {:?}; got {sums:?}, expected (in the driver's order) {expected:?}",
                sums.len(),
                sums.last(),
                expected.len(),
                expected.last()
            ));
        } else if increments(sums) != oracle.values[key] {
            failures.push(format!(
                "{key:?}: the increments {:?} are not the values summed {:?}; got {sums:?}",
                increments(sums),
                oracle.values[key]
            ));
        }
    }
    for (key, sums) in got {
        if !oracle.updates.contains_key(key) {
            failures.push(format!("{key:?}: outputs {sums:?} for a window that has no input"));
        }
    }
    failures
}

/// How at-least-once outputs exceed the oracle's.
#[derive(Debug, Default)]
struct Duplicates {
    /// Output updates beyond the oracle's number.
    extra_updates: i64,
    /// Windows whose final sum is larger than the oracle's.
    windows_ahead: usize,
    /// Over all windows, the final sums' excess over the oracle's.
    excess: i64,
}

/// Every way the outputs lose data (at-least-once failures), and the duplicates counted.
fn at_least_once_failures(oracle: &Oracle, got: &BTreeMap<WindowKey, Vec<i64>>) -> (Vec<String>, Duplicates) {
    let mut failures = Vec::new();
    let mut duplicates = Duplicates::default();
    for (key, expected) in &oracle.updates {
        let expected_final = *expected.last().unwrap();
        let Some(sums) = got.get(key) else {
            failures.push(format!("{key:?}: no output; expected a sum of {expected_final}"));
            continue;
        };
        let last = *sums.last().unwrap();
        if last < expected_final {
            failures.push(format!(
                "{key:?}: final sum {last} < {expected_final}: records lost; got {sums:?}"
            ));
        }
        duplicates.extra_updates += sums.len() as i64 - expected.len() as i64;
        duplicates.excess += last - expected_final;
        duplicates.windows_ahead += usize::from(last > expected_final);
    }
    for (key, sums) in got {
        if !oracle.updates.contains_key(key) {
            failures.push(format!("{key:?}: outputs {sums:?} for a window that has no input"));
        }
    }
    (failures, duplicates)
}

/// `d` in seconds with one decimal, or `-`.
fn secs(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_string(), |d| format!("{:.1} s", d.as_secs_f64()))
}

// --- the tests -------------------------------------------------------------------------------------

/// The whole crash test under `guarantee`; see the module docs.
fn crash_test(guarantee: ProcessingGuarantee, label: &'static str) {
    let Some(kafka) = TestKafka::from_env() else { return };
    let wall = Instant::now();
    let params = Params::from_env();
    println!(
        "[{label}] seed {} (CRASH_SEED={} replays it), {} records, {} kills",
        params.seed, params.seed, params.records, params.kills
    );
    let inputs = generate(
        params.records,
        params.base_timestamp,
        &mut Rng::new(params.seed, INPUT_STREAM),
    );
    let oracle = Oracle::compute(&inputs);
    let expected = oracle.finals();
    println!(
        "[{label}] oracle: {} windows, {} updates (the driver took {:.1} s)",
        expected.len(),
        oracle.total_updates(),
        wall.elapsed().as_secs_f64()
    );

    let input = kafka.create_topic(&format!("crash-{label}-in"), PARTITIONS);
    let output = kafka.create_topic(&format!("crash-{label}-out"), PARTITIONS);
    let state = tempfile::tempdir().unwrap();
    let run = Run {
        label,
        guarantee,
        kafka: &kafka,
        app: kafka.unique_name(&format!("crash-{label}")),
        state: state.path().to_path_buf(),
        input: &input,
        output: &output,
    };

    // Half of the input first, the rest while the application is killed again and again.
    let (before, during) = inputs.split_at(inputs.len() / 2);
    kafka.produce_records(&input, before.iter().map(Input::raw));
    let mut moments = Rng::new(params.seed, KILL_STREAM);
    let spread = PRODUCE_SPREAD_PER_KILL * params.kills as u32;
    let killed: Vec<Killed> = std::thread::scope(|scope| {
        let producer = scope.spawn(|| {
            produce_slowly(
                &kafka,
                &input,
                during,
                spread,
                &mut Rng::new(params.seed, PRODUCE_STREAM),
            );
        });
        let mut killed = Vec::new();
        for _ in 0..params.kills {
            let moment = Moment::choose(&mut moments, &params);
            let helper = Helper::start(&run);
            let reached = helper.wait_for(moment);
            let progress = helper.kill();
            let committed: i64 = kafka.committed_offsets(&run.app, &input).values().sum();
            println!(
                "[{label}] kill {}: {moment}{}; first record after {}, {} processed, {} restored, {} commits; \
                 input committed: {committed}",
                killed.len() + 1,
                if reached { "" } else { " (went idle first)" },
                secs(progress.first_progress),
                progress.processed,
                progress.restored,
                progress.commits
            );
            killed.push(Killed { reached, progress });
        }
        producer.join().expect("the input is produced");
        killed
    });

    // A last, clean run finishes the work.
    let last = finish(&run, &expected, &params);
    println!(
        "[{label}] final run: first record after {}, store complete after {}, {} processed, {} restored",
        secs(last.first_progress),
        secs(Some(last.done)),
        last.processed,
        last.restored
    );
    let dropped = killed
        .iter()
        .map(|k| k.progress.dropped)
        .max()
        .unwrap_or(0)
        .max(last.dropped);
    assert_eq!(dropped, 0, "no record is late: the runtime drops none");

    let got = read_outputs(&run, oracle.total_updates());
    let restarts: Vec<Option<Duration>> = killed
        .iter()
        .skip(1)
        .map(|k| k.progress.first_progress)
        .chain(std::iter::once(last.first_progress))
        .collect();
    let mut measured: Vec<Duration> = restarts.iter().flatten().copied().collect();
    measured.sort();
    println!(
        "[{label}] restarts, start → first processed record: {} (min {}, median {}, max {}; {} of {} made progress); \
         first start {}",
        restarts.iter().map(|d| secs(*d)).collect::<Vec<_>>().join(", "),
        secs(measured.first().copied()),
        secs(measured.get(measured.len() / 2).copied()),
        secs(measured.last().copied()),
        measured.len(),
        restarts.len(),
        secs(killed.first().and_then(|k| k.progress.first_progress))
    );
    let reached = killed.iter().filter(|k| k.reached).count();
    let outputs: usize = got.values().map(Vec::len).sum();
    if guarantee == ProcessingGuarantee::ExactlyOnceV2 {
        let failures = exactly_once_failures(&oracle, &got);
        assert!(
            failures.is_empty(),
            "[{label}] seed {}: {} of {} windows are wrong ({outputs} outputs read, {} expected); first ones:\n{}",
            params.seed,
            failures.len(),
            expected.len(),
            oracle.total_updates(),
            failures.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
        );
        println!(
            "[{label}] exactly once: {outputs} committed outputs = the oracle's, in {} windows; 0 duplicates, 0 lost",
            expected.len()
        );
    } else {
        let (failures, duplicates) = at_least_once_failures(&oracle, &got);
        assert!(
            failures.is_empty(),
            "[{label}] seed {}: {} of {} windows lost records; first ones:\n{}",
            params.seed,
            failures.len(),
            expected.len(),
            failures.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
        );
        println!(
            "[{label}] at least once: nothing lost; duplicates: {} extra outputs ({outputs} vs {}), {} of {} windows \
             ahead of the oracle, by {} in total",
            duplicates.extra_updates,
            oracle.total_updates(),
            duplicates.windows_ahead,
            expected.len(),
            duplicates.excess
        );
    }
    println!(
        "[{label}] {} records, {} kills ({reached} at their moment, {} when idle), wall time {:.1} s",
        params.records,
        killed.len(),
        killed.len() - reached,
        wall.elapsed().as_secs_f64()
    );
    kafka.delete_topics_with_prefix(&run.app);
}

/// Exactly-once v2 survives SIGKILL at random moments: every input in every window's sum once.
#[test]
fn exactly_once_survives_random_kills_with_every_record_summed_once() {
    crash_test(ProcessingGuarantee::ExactlyOnceV2, "eos");
}

/// At-least-once survives SIGKILL at random moments: nothing lost; duplicates counted.
#[test]
fn at_least_once_survives_random_kills_and_loses_nothing() {
    crash_test(ProcessingGuarantee::AtLeastOnce, "alos");
}

//! Durable state against the real broker: RocksDB stores logged to changelog topics, checkpoints on
//! clean shutdown, restoration after a crash with the local state deleted, stores restoring side by
//! side, and interactive queries. Needs `STREAMS_BOOTSTRAP_SERVERS` (scripts/test sets it).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use streams_core::StreamsConfig;
use streams_core::dsl::{Materialized, StreamsBuilder};
use streams_core::runtime::{KafkaStreams, StateRestoreListener, StreamsState};
use streams_core::testing::kafka::{TestKafka, TestTopic};
use streams_core::topology::Topology;

const WAIT: Duration = Duration::from_secs(90);
const KEYS: usize = 50;

/// Counts per key into the store `counts` (logged, cached), and sums the values' lengths per key
/// into `lengths`: two stores in one task.
fn counting_topology(input: &str, output: &str) -> Topology {
    let builder = StreamsBuilder::new();
    let grouped = builder.stream::<String, String>(input).group_by_key();
    grouped.count_with(Materialized::named("counts")).to_stream().to(output);
    grouped.aggregate(
        || 0i64,
        |_key, value: &String, total| total + value.len() as i64,
        Materialized::named("lengths"),
    );
    builder.build().expect("a valid topology")
}

/// `range` as (`key-<i % KEYS>`, `value-<i>`).
fn records(range: std::ops::Range<usize>) -> impl Iterator<Item = (Option<Vec<u8>>, Option<Vec<u8>>)> {
    range.map(|i| {
        (
            Some(format!("key-{}", i % KEYS).into_bytes()),
            Some(format!("value-{i}").into_bytes()),
        )
    })
}

/// What `counts` must hold after records `0..n`.
fn expected_counts(n: usize) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for i in 0..n {
        *counts.entry(format!("key-{}", i % KEYS)).or_insert(0) += 1;
    }
    counts
}

struct Fixture {
    kafka: TestKafka,
    input: TestTopic,
    output: TestTopic,
    application_id: String,
    state_dir: tempfile::TempDir,
}

impl Fixture {
    fn new(name: &str) -> Option<Fixture> {
        let kafka = TestKafka::from_env()?;
        Some(Fixture {
            input: kafka.create_topic(&format!("{name}-in"), 2),
            output: kafka.create_topic(&format!("{name}-out"), 2),
            application_id: kafka.unique_name(name),
            state_dir: tempfile::tempdir().expect("a temporary state directory"),
            kafka,
        })
    }

    fn config(&self) -> StreamsConfig {
        StreamsConfig::new(&self.application_id, self.kafka.bootstrap_servers())
            .with_state_dir(self.state_dir.path())
            .with_commit_interval(Duration::from_millis(200))
            .with_application_server("localhost:7070")
    }

    fn start(&self, listener: Option<Arc<dyn StateRestoreListener>>) -> KafkaStreams {
        let mut streams = KafkaStreams::new(counting_topology(self.input.name(), self.output.name()), self.config())
            .expect("a valid application");
        if let Some(listener) = listener {
            streams.set_state_restore_listener(listener);
        }
        streams.start().expect("the application starts");
        assert!(
            streams.wait_for_state(StreamsState::Running, WAIT).expect("no error"),
            "not running after {WAIT:?}: {:?}",
            streams.state()
        );
        streams
    }

    /// Records restored so far, summed over both changelogs' end offsets.
    fn changelog_records(&self) -> i64 {
        ["counts", "lengths"]
            .iter()
            .map(|store| {
                let topic = format!("{}-{store}-changelog", self.application_id);
                self.kafka.end_offsets_of(&topic, 2).values().sum::<i64>()
            })
            .sum()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.kafka.delete_topics_with_prefix(&self.application_id);
    }
}

fn wait_until_processed(streams: &KafkaStreams, count: u64) {
    let deadline = Instant::now() + WAIT;
    while streams.stats().processed < count {
        assert_ne!(streams.state(), StreamsState::Error, "the application failed");
        assert!(Instant::now() < deadline, "only {:?} after {WAIT:?}", streams.stats());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn counts_of(streams: &KafkaStreams) -> BTreeMap<String, i64> {
    streams
        .key_value_store::<String, i64>("counts")
        .expect("the store exists")
        .all()
        .expect("the store can be queried")
        .into_iter()
        .collect()
}

#[test]
fn a_clean_restart_restores_only_the_tail() {
    let Some(t) = Fixture::new("state-clean") else { return };
    t.kafka.produce(&t.input, records(0..2_000));
    let mut streams = t.start(None);
    wait_until_processed(&streams, 2_000);
    assert_eq!(counts_of(&streams), expected_counts(2_000));
    streams.close().expect("a clean close");
    let checkpoints: Vec<_> = std::fs::read_dir(t.state_dir.path().join(&t.application_id))
        .expect("the application's state directory")
        .map(|task| task.expect("a task directory").path().join(".checkpoint"))
        .collect();
    assert_eq!(
        checkpoints.len(),
        2,
        "one task directory per partition: {checkpoints:?}"
    );
    assert!(
        checkpoints.iter().all(|c| c.exists()),
        "checkpoints written: {checkpoints:?}"
    );
    let logged = t.changelog_records();
    assert!(logged > 0, "the stores were logged");

    t.kafka.produce(&t.input, records(2_000..2_100));
    let mut streams = t.start(None);
    wait_until_processed(&streams, 100);
    let stats = streams.stats();
    assert_eq!(stats.restored, 0, "nothing to restore after a clean close: {stats:?}");
    assert_eq!(counts_of(&streams), expected_counts(2_100));
    let one = streams
        .key_value_store::<String, i64>("counts")
        .unwrap()
        .get(&"key-7".to_string())
        .unwrap();
    assert_eq!(one, Some(42));

    // The key's partition is the one the producer chose, and this instance hosts it.
    let produced = t.kafka.read(&t.input, 2_100, WAIT);
    let partition = produced
        .iter()
        .find(|r| r.record.key.as_deref() == Some(b"key-7".as_slice()))
        .expect("key-7 was produced")
        .partition;
    let metadata = streams
        .query_metadata_for_key::<String>("counts", &"key-7".to_string())
        .expect("metadata");
    assert_eq!(metadata.partition, partition);
    assert_eq!(metadata.active_host.as_deref(), Some("localhost:7070"));
    streams.close().expect("a clean close");
    let closed = streams.key_value_store::<String, i64>("counts").unwrap().all();
    assert!(closed.is_err(), "a closed application answers no query");
}

/// Runs the counting application in this process until it is killed: the crashing half of
/// `a_crash_with_the_state_deleted_restores_everything_from_the_changelog`. It prints
/// `processed=<n> commits=<c>` lines for the parent. Not a test of its own.
#[test]
#[ignore = "a helper process started by a crash test"]
fn crash_helper_counting_application() {
    let (Ok(app), Ok(state), Ok(input), Ok(output), Ok(bootstrap)) = (
        std::env::var("CRASH_APP"),
        std::env::var("CRASH_STATE"),
        std::env::var("CRASH_INPUT"),
        std::env::var("CRASH_OUTPUT"),
        std::env::var("STREAMS_BOOTSTRAP_SERVERS"),
    ) else {
        panic!("run by the crash test only");
    };
    let config = StreamsConfig::new(app, bootstrap)
        .with_state_dir(state)
        .with_commit_interval(Duration::from_millis(200));
    let mut streams = KafkaStreams::new(counting_topology(&input, &output), config).unwrap();
    streams.start().unwrap();
    loop {
        let stats = streams.stats();
        println!("processed={} commits={}", stats.processed, stats.commits);
        assert_ne!(streams.state(), StreamsState::Error);
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_crash_with_the_state_deleted_restores_everything_from_the_changelog() {
    let Some(t) = Fixture::new("state-crash") else { return };
    t.kafka.produce(&t.input, records(0..3_000));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_helper_counting_application",
            "--include-ignored",
            "--nocapture",
        ])
        .env("CRASH_APP", &t.application_id)
        .env("CRASH_STATE", t.state_dir.path())
        .env("CRASH_INPUT", t.input.name())
        .env("CRASH_OUTPUT", t.output.name())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the helper process starts");
    // Wait until everything is processed and a commit happened after that, then kill -9.
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + WAIT;
    let mut commits_when_done = None;
    for line in lines {
        let line = line.unwrap();
        let Some(rest) = line.strip_prefix("processed=") else {
            continue;
        };
        let (processed, commits) = rest.split_once(" commits=").unwrap();
        let (processed, commits): (u64, u64) = (processed.parse().unwrap(), commits.parse().unwrap());
        assert!(Instant::now() < deadline, "the helper did not finish: {line}");
        match commits_when_done {
            None if processed == 3_000 => commits_when_done = Some(commits),
            Some(done) if commits > done + 1 => break,
            _ => {}
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    assert!(commits_when_done.is_some(), "the helper never processed everything");

    std::fs::remove_dir_all(t.state_dir.path().join(&t.application_id)).expect("local state deleted");
    let logged = t.changelog_records();
    let mut streams = t.start(None);
    let stats = streams.stats();
    assert_eq!(
        stats.restored as i64, logged,
        "every changelog record restored: {stats:?}"
    );
    assert_eq!(
        counts_of(&streams),
        expected_counts(3_000),
        "counts exactly right after the crash"
    );
    t.kafka.produce(&t.input, records(3_000..3_050));
    wait_until_processed(&streams, 50);
    assert_eq!(counts_of(&streams), expected_counts(3_050));
    streams.close().expect("a clean close");
}

/// Remembers restoration events in order.
#[derive(Default)]
struct Events(Mutex<Vec<String>>);

impl StateRestoreListener for Events {
    fn on_restore_start(&self, _topic: &str, partition: i32, store: &str, _start: i64, _end: i64) {
        self.0.lock().unwrap().push(format!("start {store} {partition}"));
    }

    fn on_restore_end(&self, _topic: &str, partition: i32, store: &str, _total: u64) {
        self.0.lock().unwrap().push(format!("end {store} {partition}"));
    }
}

#[test]
fn two_stores_of_one_task_restore_side_by_side() {
    let Some(t) = Fixture::new("state-parallel") else {
        return;
    };
    t.kafka.produce(&t.input, records(0..4_000));
    let mut streams = t.start(None);
    wait_until_processed(&streams, 4_000);
    streams.close().expect("a clean close");
    remove_state(t.state_dir.path(), &t.application_id);

    let events = Arc::new(Events::default());
    let mut streams = t.start(Some(events.clone()));
    let events = events.0.lock().unwrap().clone();
    for partition in 0..2 {
        let position = |what: &str| {
            events
                .iter()
                .position(|e| e == &format!("{what} {partition}"))
                .unwrap_or_else(|| panic!("no `{what} {partition}` in {events:?}"))
        };
        let last_start = position("start counts").max(position("start lengths"));
        let first_end = position("end counts").min(position("end lengths"));
        assert!(
            last_start < first_end,
            "both stores of task 0_{partition} restore at once: {events:?}"
        );
    }
    assert_eq!(streams.stats().restored as i64, t.changelog_records());
    assert_eq!(counts_of(&streams), expected_counts(4_000));
    let lengths: BTreeMap<String, i64> = streams
        .key_value_store::<String, i64>("lengths")
        .unwrap()
        .all()
        .unwrap()
        .into_iter()
        .collect();
    let expected: i64 = (0..4_000).map(|i| format!("value-{i}").len() as i64).sum();
    assert_eq!(lengths.values().sum::<i64>(), expected);
    streams.close().expect("a clean close");
}

fn remove_state(state_dir: &Path, application_id: &str) {
    std::fs::remove_dir_all(state_dir.join(application_id)).expect("local state deleted");
}

/// Counts per key into `counts`, with or without a write cache, to `output`.
fn count_topology(input: &str, output: &str, cached: bool) -> Topology {
    let builder = StreamsBuilder::new();
    let materialized = Materialized::named("counts");
    let materialized = if cached {
        materialized
    } else {
        materialized.without_caching()
    };
    builder
        .stream::<String, String>(input)
        .group_by_key()
        .count_with(materialized)
        .to_stream()
        .to(output);
    builder.build().expect("a valid topology")
}

#[test]
fn the_write_cache_forwards_one_update_per_key_and_commit_and_without_it_every_update() {
    for cached in [true, false] {
        let Some(t) = Fixture::new(if cached { "state-cached" } else { "state-uncached" }) else {
            return;
        };
        t.kafka.produce(&t.input, records(0..1_000));
        // No commit before close: with the cache, the close's commit is the only flush.
        let config = t.config().with_commit_interval(Duration::from_secs(3_600));
        let mut streams = KafkaStreams::new(count_topology(t.input.name(), t.output.name(), cached), config).unwrap();
        streams.start().unwrap();
        wait_until_processed(&streams, 1_000);
        streams.close().expect("a clean close");
        let expected = if cached { KEYS } else { 1_000 };
        let outputs = t.kafka.read(&t.output, expected + 1, Duration::from_secs(5));
        assert_eq!(outputs.len(), expected, "updates forwarded with cached={cached}");
        // Either way the last update of each key is its final count.
        let mut last: BTreeMap<String, i64> = BTreeMap::new();
        for read in outputs {
            let key = String::from_utf8(read.record.key.unwrap()).unwrap();
            let value = i64::from_be_bytes(read.record.value.unwrap().try_into().unwrap());
            last.insert(key, value);
        }
        assert_eq!(last, expected_counts(1_000), "cached={cached}");
    }
}

#[test]
fn window_stores_are_restored_and_answer_fetch_queries() {
    use streams_core::time::{TimeWindows, seconds};
    let Some(t) = Fixture::new("state-windows") else { return };
    // Records of key-<i % KEYS> at second i / 100 after BASE: ten one-second windows per key.
    const BASE: i64 = 1_700_000_000_000;
    t.kafka.produce_records(
        &t.input,
        (0..1_000).map(|i| streams_core::runtime::RawRecord {
            key: Some(format!("key-{}", i % KEYS).into_bytes()),
            value: Some(b"v".to_vec()),
            timestamp: Some(BASE + 1_000 * (i as i64 / 100)),
            headers: Vec::new(),
        }),
    );
    let topology = || {
        let builder = StreamsBuilder::new();
        builder
            .stream::<String, String>(t.input.name())
            .group_by_key()
            .windowed_by(TimeWindows::of_size_and_grace(seconds(1), seconds(3_600)))
            .count_with(Materialized::named("per-second"));
        builder.build().unwrap()
    };
    let expected: Vec<(i64, i64)> = (0..10).map(|second| (BASE + second * 1_000, 2)).collect();
    let mut streams = KafkaStreams::new(topology(), t.config()).unwrap();
    streams.start().unwrap();
    wait_until_processed(&streams, 1_000);
    let fetched = streams
        .window_store::<String, i64>("per-second")
        .unwrap()
        .fetch(&"key-3".to_string(), BASE, BASE + 100_000)
        .unwrap();
    assert_eq!(fetched, expected);
    streams.close().unwrap();

    remove_state(t.state_dir.path(), &t.application_id);
    let mut streams = KafkaStreams::new(topology(), t.config()).unwrap();
    streams.start().unwrap();
    assert!(streams.wait_for_state(StreamsState::Running, WAIT).unwrap());
    assert!(streams.stats().restored > 0, "{:?}", streams.stats());
    let windows = streams.window_store::<String, i64>("per-second").unwrap();
    assert_eq!(
        windows.fetch(&"key-3".to_string(), BASE, BASE + 100_000).unwrap(),
        expected
    );
    let some = windows.fetch(&"key-3".to_string(), BASE + 2_000, BASE + 3_000).unwrap();
    assert_eq!(some, expected[2..4].to_vec());
    streams.close().unwrap();
}

#[test]
fn a_long_restore_of_one_task_does_not_hold_up_a_ready_task() {
    use streams_core::runtime::RawRecord;
    let Some(t) = Fixture::new("state-not-blocked") else {
        return;
    };
    // Task 0_0's store has a long changelog; task 0_1's has none.
    const LOGGED: usize = 400_000;
    let changelog = t
        .kafka
        .create_named_topic(&format!("{}-counts-changelog", t.application_id), 2);
    let mut value = 1_700_000_000_000i64.to_be_bytes().to_vec();
    value.extend_from_slice(&1i64.to_be_bytes());
    t.kafka.produce_to_partition(
        &changelog,
        0,
        (0..LOGGED).map(|i| RawRecord {
            key: Some(format!("old-{i}").into_bytes()),
            value: Some(value.clone()),
            timestamp: Some(1_700_000_000_000),
            headers: Vec::new(),
        }),
    );
    let input = (0..20).map(|i| RawRecord {
        key: Some(format!("key-{i}").into_bytes()),
        value: Some(b"v".to_vec()),
        timestamp: Some(1_700_000_000_000),
        headers: Vec::new(),
    });
    t.kafka.produce_to_partition(&t.input, 1, input);

    let mut streams = KafkaStreams::new(count_topology(t.input.name(), t.output.name(), false), t.config()).unwrap();
    streams.start().unwrap();
    wait_until_processed(&streams, 20);
    let then = streams.stats();
    let restored_then = then.restored;
    assert!(then.restore_remaining > 0, "the restore is still under way: {then:?}");
    eprintln!("restored when task 0_1 had processed its records: {restored_then} of {LOGGED}");
    assert!(
        restored_then < LOGGED as u64,
        "task 0_1 processed only after task 0_0 restored everything ({restored_then} records)"
    );
    assert!(streams.wait_for_state(StreamsState::Running, WAIT).unwrap());
    assert_eq!(streams.stats().restored, LOGGED as u64);
    assert_eq!(streams.stats().restore_remaining, 0);
    let counts = streams.key_value_store::<String, i64>("counts").unwrap();
    assert_eq!(counts.get(&"old-7".to_string()).unwrap(), Some(1));
    assert_eq!(counts.get(&"key-7".to_string()).unwrap(), Some(1));
    streams.close().unwrap();
    drop(changelog);
}

#[test]
fn state_moves_to_a_second_instance_through_its_changelog() {
    let Some(t) = Fixture::new("state-moves") else { return };
    t.kafka.produce(&t.input, records(0..2_000));
    let first = t.start(None);
    wait_until_processed(&first, 2_000);

    // A second instance with its own state directory: one of the two tasks moves to it, and its
    // store is rebuilt there from the changelog.
    let second_dir = tempfile::tempdir().unwrap();
    let config = t.config().with_state_dir(second_dir.path());
    let mut second =
        KafkaStreams::new(counting_topology(t.input.name(), t.output.name()), config).expect("a valid application");
    second.start().unwrap();
    let deadline = Instant::now() + WAIT;
    while !(second.state() == StreamsState::Running && second.stats().restored > 0) {
        assert!(
            Instant::now() < deadline,
            "no task moved: {:?} {:?}",
            second.state(),
            second.stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(first.wait_for_state(StreamsState::Running, WAIT).unwrap());

    t.kafka.produce(&t.input, records(2_000..3_000));
    let deadline = Instant::now() + WAIT;
    loop {
        let mut counts = counts_of(&first);
        let on_second = counts_of(&second);
        assert!(
            counts.keys().all(|k| !on_second.contains_key(k)),
            "each key lives on one instance"
        );
        counts.extend(on_second);
        if counts == expected_counts(3_000) {
            break;
        }
        assert!(Instant::now() < deadline, "counts never converged: {counts:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut first = first;
    first.close().unwrap();
    second.close().unwrap();
}

//! Exactly-once against the real broker: an application killed with SIGKILL again and again,
//! restarted each time, ends with every input counted exactly once in its output (each key's
//! counts read `read_committed` are 1, 2, …, n: no repeat, no gap) and in its store; and a clean
//! restart under exactly-once restores nothing. Needs `STREAMS_BOOTSTRAP_SERVERS`.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use streams_core::dsl::{Materialized, StreamsBuilder};
use streams_core::runtime::{KafkaStreams, StreamsState};
use streams_core::testing::kafka::{TestKafka, TestTopic};
use streams_core::topology::Topology;
use streams_core::{ProcessingGuarantee, StreamsConfig};

const WAIT: Duration = Duration::from_secs(90);
const KEYS: usize = 30;
/// How long a helper takes per record at least: at most about 3,000 records/s.
const HELPER_PACE: Duration = Duration::from_micros(300);

/// A count per key, every update to `output` (no cache).
fn counting(input: &str, output: &str) -> Topology {
    counting_paced(input, output, Duration::ZERO)
}

/// [`counting`], taking at least `pace` per record: the crash test's helpers are slowed down so that
/// its kills land in the middle of their work (at full speed a helper can finish all its input
/// before the test has read that it passed the point where it is to be killed).
fn counting_paced(input: &str, output: &str, pace: Duration) -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>(input)
        .peek(move |_, _| std::thread::sleep(pace))
        .group_by_key()
        .count_with(Materialized::named("counts").without_caching())
        .to_stream()
        .to(output);
    builder.build().unwrap()
}

fn config(app: &str, bootstrap: &str, state: &std::path::Path) -> StreamsConfig {
    StreamsConfig::new(app, bootstrap)
        .with_state_dir(state)
        .with_processing_guarantee(ProcessingGuarantee::ExactlyOnceV2)
        // A killed member holds its partitions until its session times out: the broker's minimum.
        .with_consumer_config("session.timeout.ms", "6000")
        .with_consumer_config("heartbeat.interval.ms", "1000")
}

fn produce(kafka: &TestKafka, topic: &TestTopic, range: std::ops::Range<usize>) {
    kafka.produce(
        topic,
        range.map(|i| {
            (
                Some(format!("key-{}", i % KEYS).into_bytes()),
                Some(i.to_string().into_bytes()),
            )
        }),
    );
}

/// Runs the counting application until killed: the half of the crash test that gets SIGKILL.
/// Prints `processed=<n> restored=<r>` lines. Not a test of its own.
#[test]
#[ignore = "a helper process started by the exactly-once crash test"]
fn eos_helper_counting_application() {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("run by the crash test only ({name})"));
    let mut config = config(
        &var("EOS_APP"),
        &var("STREAMS_BOOTSTRAP_SERVERS"),
        var("EOS_STATE").as_ref(),
    );
    if std::env::var_os("EOS_STATIC").is_some() {
        config = config
            .with_static_membership(true)
            .with_consumer_config("session.timeout.ms", "30000");
    }
    let mut streams = KafkaStreams::new(
        counting_paced(&var("EOS_INPUT"), &var("EOS_OUTPUT"), HELPER_PACE),
        config,
    )
    .unwrap();
    streams.start().unwrap();
    loop {
        let stats = streams.stats();
        println!("processed={} restored={}", stats.processed, stats.restored);
        assert_ne!(streams.state(), StreamsState::Error);
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Helper {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Helper {
    fn start(app: &str, state: &std::path::Path, input: &TestTopic, output: &TestTopic) -> Helper {
        Self::start_with(app, state, input, output, false)
    }

    /// A helper; with `static_membership`, a static group member whose session lasts 30 s.
    fn start_with(
        app: &str,
        state: &std::path::Path,
        input: &TestTopic,
        output: &TestTopic,
        static_membership: bool,
    ) -> Helper {
        let mut command = Command::new(std::env::current_exe().unwrap());
        if static_membership {
            command.env("EOS_STATIC", "1");
        }
        let mut child = command
            .args([
                "--exact",
                "eos_helper_counting_application",
                "--include-ignored",
                "--nocapture",
            ])
            .env("EOS_APP", app)
            .env("EOS_STATE", state)
            .env("EOS_INPUT", input.name())
            .env("EOS_OUTPUT", output.name())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the helper starts");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Helper { child, lines }
    }

    /// Waits until the helper has processed at least `processed` records; returns (processed,
    /// restored) then.
    fn wait_processed(&mut self, processed: u64) -> (u64, u64) {
        let deadline = Instant::now() + WAIT;
        for line in self.lines.by_ref() {
            let line = line.unwrap();
            let Some(rest) = line.strip_prefix("processed=") else {
                continue;
            };
            let (p, r) = rest.split_once(" restored=").unwrap();
            let (p, r): (u64, u64) = (p.parse().unwrap(), r.parse().unwrap());
            if p >= processed {
                return (p, r);
            }
            assert!(Instant::now() < deadline, "the helper is stuck at {p}");
        }
        panic!("the helper ended");
    }

    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }
}

#[test]
fn kill_minus_9_again_and_again_and_every_record_counts_exactly_once() {
    let Some(kafka) = TestKafka::from_env() else { return };
    let input = kafka.create_topic("eos-in", 2);
    let output = kafka.create_topic("eos-out", 2);
    let app = kafka.unique_name("eos");
    let state = tempfile::tempdir().unwrap();
    const RECORDS: usize = 6_000;
    produce(&kafka, &input, 0..RECORDS / 2);

    // Killed in the middle of its work, three times; more input arrives in between.
    let mut helper = Helper::start(&app, state.path(), &input, &output);
    helper.wait_processed(500);
    helper.kill();
    let mut helper = Helper::start(&app, state.path(), &input, &output);
    helper.wait_processed(300);
    produce(&kafka, &input, RECORDS / 2..RECORDS);
    helper.wait_processed(700);
    helper.kill();
    let mut helper = Helper::start(&app, state.path(), &input, &output);
    let (_, restored) = helper.wait_processed(100);
    assert!(
        restored > 0,
        "after a crash the local state is rebuilt from the changelog"
    );
    helper.kill();

    // A last, clean run finishes the work.
    let mut streams = KafkaStreams::new(
        counting(input.name(), output.name()),
        config(&app, kafka.bootstrap_servers(), state.path()),
    )
    .unwrap();
    streams.start().unwrap();
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for i in 0..RECORDS {
        *expected.entry(format!("key-{}", i % KEYS)).or_insert(0) += 1;
    }
    common::wait_for("the final counts", WAIT, || {
        streams
            .key_value_store::<String, i64>("counts")
            .and_then(|s| s.all())
            .is_ok_and(|all| all.into_iter().collect::<BTreeMap<_, _>>() == expected)
    });
    streams.close().unwrap();

    // Every committed output: per key exactly 1, 2, …, n; aborted transactions' records unseen.
    let outputs = kafka.read(&output, RECORDS + 1, Duration::from_secs(20));
    let mut per_key: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for read in outputs {
        let key = String::from_utf8(read.record.key.unwrap()).unwrap();
        let count = i64::from_be_bytes(read.record.value.unwrap().try_into().unwrap());
        per_key.entry(key).or_default().push(count);
    }
    for (key, counts) in &per_key {
        let n = expected[key];
        assert_eq!(
            *counts,
            (1..=n).collect::<Vec<_>>(),
            "{key}: every input counted exactly once"
        );
    }
    assert_eq!(per_key.len(), KEYS);
    kafka.delete_topics_with_prefix(&app);
}

#[test]
fn a_clean_restart_under_exactly_once_restores_nothing() {
    let Some(kafka) = TestKafka::from_env() else { return };
    let input = kafka.create_topic("eos-clean-in", 2);
    let output = kafka.create_topic("eos-clean-out", 2);
    let app = kafka.unique_name("eos-clean");
    let state = tempfile::tempdir().unwrap();
    produce(&kafka, &input, 0..1_000);
    let start = || {
        let mut streams = KafkaStreams::new(
            counting(input.name(), output.name()),
            config(&app, kafka.bootstrap_servers(), state.path()),
        )
        .unwrap();
        streams.start().unwrap();
        assert!(streams.wait_for_state(StreamsState::Running, WAIT).unwrap());
        streams
    };
    let mut streams = start();
    common::wait_for("everything processed", WAIT, || streams.stats().processed == 1_000);
    streams.close().unwrap();

    produce(&kafka, &input, 1_000..1_100);
    let mut streams = start();
    assert_eq!(
        streams.stats().restored,
        0,
        "the checkpoint of the clean close is trusted"
    );
    common::wait_for("the new records", WAIT, || streams.stats().processed == 100);
    let count = streams
        .key_value_store::<String, i64>("counts")
        .unwrap()
        .get(&"key-7".to_string())
        .unwrap();
    // key-7 is records 7, 37, 67, …, 1087.
    assert_eq!(count, Some(37));
    streams.close().unwrap();
    kafka.delete_topics_with_prefix(&app);
}

#[test]
fn with_static_membership_a_killed_instance_restarts_without_waiting_for_its_session() {
    // The session lasts 30 s: a restart that had to wait for the dead member's session to expire
    // would take that long. A static member comes back under its old member id at once.
    let Some(kafka) = TestKafka::from_env() else { return };
    let input = kafka.create_topic("static-in", 2);
    let output = kafka.create_topic("static-out", 2);
    let app = kafka.unique_name("static");
    let state = tempfile::tempdir().unwrap();
    produce(&kafka, &input, 0..1_000);
    let mut helper = Helper::start_with(&app, state.path(), &input, &output, true);
    helper.wait_processed(1_000);
    helper.kill();

    let restarted = Instant::now();
    let mut helper = Helper::start_with(&app, state.path(), &input, &output, true);
    produce(&kafka, &input, 1_000..1_100);
    helper.wait_processed(1);
    let took = restarted.elapsed();
    eprintln!("static membership: restart to first processed record in {took:?}");
    assert!(
        took < Duration::from_secs(15),
        "a restarted static member resumes well within its 30 s session, took {took:?}"
    );
    helper.kill();
    kafka.delete_topics_with_prefix(&app);
}

//! The application's life cycle on the real broker: states and their listener, several stream
//! threads, and what a failing stream thread does (replace it, shut this instance down, or shut
//! every instance down). Needs `STREAMS_BOOTSTRAP_SERVERS` (scripts/test sets it).

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use streams_core::StreamsConfig;
use streams_core::dsl::{Materialized, StreamsBuilder};
use streams_core::runtime::{KafkaStreams, StreamThreadExceptionResponse, StreamsState};
use streams_core::testing::kafka::{TestKafka, TestTopic};
use streams_core::topology::Topology;

const WAIT: Duration = Duration::from_secs(90);

fn wait_for(what: &str, done: impl FnMut() -> bool) {
    common::wait_for(what, WAIT, done);
}

/// `key-<i % 20>` → `i`, and one `boom` record after `boom_after` records when it is set.
fn produce(kafka: &TestKafka, topic: &TestTopic, range: std::ops::Range<usize>, boom_at: Option<usize>) {
    kafka.produce(
        topic,
        range.map(|i| {
            let value = if Some(i) == boom_at {
                "boom".to_string()
            } else {
                i.to_string()
            };
            (Some(format!("key-{}", i % 20).into_bytes()), Some(value.into_bytes()))
        }),
    );
}

/// The largest number per key into `largest` (replays cannot change it); `boom` panics while
/// `armed` is set, once.
fn largest_topology(input: &str, armed: Arc<AtomicBool>) -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>(input)
        .peek(move |_, value| {
            if value == "boom" && armed.swap(false, Ordering::AcqRel) {
                panic!("boom: a processor failed");
            }
        })
        .filter(|_, value| value != "boom")
        .group_by_key()
        .reduce_with(common::larger_number, Materialized::named("largest"));
    builder.build().unwrap()
}

fn largest(streams: &KafkaStreams) -> Option<BTreeMap<String, String>> {
    let store = streams.key_value_store::<String, String>("largest").ok()?;
    Some(store.all().ok()?.into_iter().collect())
}

fn expected_largest(n: usize) -> BTreeMap<String, String> {
    (n.saturating_sub(20)..n)
        .map(|i| (format!("key-{}", i % 20), i.to_string()))
        .collect()
}

struct Fixture {
    kafka: TestKafka,
    input: TestTopic,
    app: String,
    dirs: Vec<tempfile::TempDir>,
}

impl Fixture {
    fn new(name: &str) -> Option<Self> {
        let kafka = TestKafka::from_env()?;
        Some(Fixture {
            input: kafka.create_topic(&format!("{name}-in"), 4),
            app: kafka.unique_name(name),
            dirs: (0..2).map(|_| tempfile::tempdir().unwrap()).collect(),
            kafka,
        })
    }

    fn config(&self, instance: usize) -> StreamsConfig {
        StreamsConfig::new(&self.app, self.kafka.bootstrap_servers())
            .with_state_dir(self.dirs[instance].path())
            .with_commit_interval(Duration::from_millis(100))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.kafka.delete_topics_with_prefix(&self.app);
    }
}

#[test]
fn states_follow_kafka_streams_and_two_threads_share_the_work() {
    let Some(t) = Fixture::new("lifecycle-threads") else {
        return;
    };
    produce(&t.kafka, &t.input, 0..2_000, None);
    let topology = largest_topology(t.input.name(), Arc::new(AtomicBool::new(false)));
    let mut streams = KafkaStreams::new(topology, t.config(0).with_num_stream_threads(2)).unwrap();
    let changes = Arc::new(Mutex::new(Vec::new()));
    streams.set_state_listener({
        let changes = changes.clone();
        move |new, old| changes.lock().unwrap().push((old, new))
    });
    assert_eq!(streams.state(), StreamsState::Created);
    streams.start().unwrap();
    wait_for("the expected values", || {
        largest(&streams) == Some(expected_largest(2_000))
    });
    assert_eq!(streams.state(), StreamsState::Running);
    // Four partitions over two threads: two consumer-group members, each with its own tasks.
    let tasks: Vec<String> = std::fs::read_dir(t.dirs[0].path().join(&t.app))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(tasks.len(), 4, "{tasks:?}");
    assert!(
        streams.stats().rebalances >= 2,
        "both threads were assigned: {:?}",
        streams.stats()
    );
    assert!(
        streams.close_with_timeout(Duration::from_secs(60)).unwrap(),
        "closed within the timeout"
    );
    assert_eq!(streams.state(), StreamsState::NotRunning);

    let changes = changes.lock().unwrap().clone();
    use StreamsState::*;
    assert_eq!(changes.first(), Some(&(Created, Rebalancing)), "{changes:?}");
    assert!(changes.contains(&(Rebalancing, Running)), "{changes:?}");
    assert_eq!(
        changes[changes.len() - 2..],
        [(Running, PendingShutdown), (PendingShutdown, NotRunning)],
        "{changes:?}"
    );
}

#[test]
fn a_replaced_thread_resumes_from_the_last_commit() {
    let Some(t) = Fixture::new("lifecycle-replace") else {
        return;
    };
    produce(&t.kafka, &t.input, 0..1_000, Some(500));
    let armed = Arc::new(AtomicBool::new(true));
    let mut streams = KafkaStreams::new(largest_topology(t.input.name(), armed.clone()), t.config(0)).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    streams.set_uncaught_exception_handler({
        let seen = seen.clone();
        move |error| {
            seen.lock().unwrap().push(error.to_string());
            StreamThreadExceptionResponse::ReplaceThread
        }
    });
    streams.start().unwrap();
    let mut expected = expected_largest(1_000);
    wait_for("the expected values", || largest(&streams) == Some(expected.clone()));
    assert!(!armed.load(Ordering::Acquire), "the processor failed once");
    assert_eq!(streams.stats().replaced_threads, 1);
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.len() == 1 && seen[0].contains("boom: a processor failed"),
        "{seen:?}"
    );
    produce(&t.kafka, &t.input, 1_000..1_100, None);
    expected = expected_largest(1_100);
    wait_for("the later values", || largest(&streams) == Some(expected.clone()));
    streams.close().unwrap();
}

#[test]
fn without_a_handler_a_failure_shuts_the_instance_down_and_close_reports_it() {
    let Some(t) = Fixture::new("lifecycle-fail") else {
        return;
    };
    produce(&t.kafka, &t.input, 0..100, Some(50));
    let armed = Arc::new(AtomicBool::new(true));
    let mut streams = KafkaStreams::new(largest_topology(t.input.name(), armed), t.config(0)).unwrap();
    streams.start().unwrap();
    wait_for("the error state", || streams.state() == StreamsState::Error);
    let error = streams.close().unwrap_err().to_string();
    assert!(error.contains("boom: a processor failed"), "{error}");
    assert_eq!(streams.state(), StreamsState::Error);
}

#[test]
fn shutdown_application_stops_every_instance() {
    let Some(t) = Fixture::new("lifecycle-shutdown-app") else {
        return;
    };
    produce(&t.kafka, &t.input, 0..400, None);
    let armed = Arc::new(AtomicBool::new(true));
    let start = |instance: usize| {
        let mut streams =
            KafkaStreams::new(largest_topology(t.input.name(), armed.clone()), t.config(instance)).unwrap();
        streams.set_uncaught_exception_handler(|_| StreamThreadExceptionResponse::ShutdownApplication);
        streams.start().unwrap();
        streams
    };
    let mut first = start(0);
    let mut second = start(1);
    wait_for("both running", || {
        first.state() == StreamsState::Running && second.state() == StreamsState::Running
    });
    wait_for("the first values", || {
        let (a, b) = (largest(&first), largest(&second));
        matches!((a, b), (Some(a), Some(b)) if a.len() + b.len() == 20)
    });
    // One bad record: whichever instance reads it asks both to stop.
    produce(&t.kafka, &t.input, 400..401, Some(400));
    wait_for("both instances in error", || {
        first.state() == StreamsState::Error && second.state() == StreamsState::Error
    });
    let errors = [
        first.close().unwrap_err().to_string(),
        second.close().unwrap_err().to_string(),
    ];
    assert!(errors.iter().any(|e| e.contains("boom")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("asked to shut down")), "{errors:?}");
}

//! End to end against the real broker: the smallest running path (`runtime::Pipe`) from a source
//! topic to a sink topic. Needs `STREAMS_BOOTSTRAP_SERVERS` (scripts/test sets it).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use streams_core::runtime::{Pipe, RawRecord, RunningPipe};
use streams_core::testing::kafka::{ReadRecord, TestKafka, TestTopic};
use streams_core::{Error, StreamsConfig};

const KEYS: usize = 50;
const RECORDS: usize = 10_000;
/// Long enough for a consumer group's first join after a broker start (1–3 s here) on a busy machine.
const WAIT: Duration = Duration::from_secs(60);

/// `RECORDS` records over `KEYS` keys; the value of a record is `<key>:<sequence number within the key>`,
/// its timestamp a fixed base plus its index, and it carries a header with its index.
fn keyed_records() -> Vec<RawRecord> {
    (0..RECORDS)
        .map(|i| {
            let key = format!("key-{}", i % KEYS);
            let sequence = i / KEYS;
            RawRecord {
                value: Some(format!("{key}:{sequence}").into_bytes()),
                key: Some(key.into_bytes()),
                timestamp: Some(1_700_000_000_000 + i as i64),
                headers: vec![("index".to_string(), Some(i.to_string().into_bytes()))],
            }
        })
        .collect()
}

/// A test's broker, its own input and output topics, and an application id no other test uses.
struct Fixture {
    kafka: TestKafka,
    input: TestTopic,
    output: TestTopic,
    application_id: String,
}

impl Fixture {
    /// `None` when the test is skipped (no broker configured, outside CI).
    fn new(name: &str, partitions: i32) -> Option<Fixture> {
        let kafka = TestKafka::from_env()?;
        Some(Fixture {
            input: kafka.create_topic(&format!("{name}-in"), partitions),
            output: kafka.create_topic(&format!("{name}-out"), partitions),
            application_id: kafka.unique_name(name),
            kafka,
        })
    }

    fn config(&self) -> StreamsConfig {
        StreamsConfig::new(&self.application_id, self.kafka.bootstrap_servers())
    }

    fn pipe(&self, config: StreamsConfig) -> Pipe {
        Pipe::new(config, self.input.name(), self.output.name())
    }

    /// Whether the group committed exactly the end of every input partition.
    fn committed_everything(&self) -> bool {
        self.kafka.committed_offsets(&self.application_id, &self.input) == self.kafka.end_offsets(&self.input)
    }
}

/// Records `range` as (`key-<i % keys>`, `<i>`).
fn numbered(range: std::ops::Range<usize>, keys: usize) -> impl Iterator<Item = (Option<Vec<u8>>, Option<Vec<u8>>)> {
    range.map(move |i| {
        (
            Some(format!("key-{}", i % keys).into_bytes()),
            Some(i.to_string().into_bytes()),
        )
    })
}

fn text(bytes: &Option<Vec<u8>>) -> String {
    String::from_utf8(bytes.clone().expect("present")).expect("UTF-8")
}

/// Waits until the pipe has handed `count` records to the transform, or fails the test.
fn wait_until_consumed(pipe: &RunningPipe, count: u64) {
    let deadline = Instant::now() + WAIT;
    while pipe.stats().consumed < count {
        assert!(!pipe.is_finished(), "the pipe ended early: {:?}", pipe.stats());
        assert!(Instant::now() < deadline, "only {:?} after {WAIT:?}", pipe.stats());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_record_arrives_in_order_per_key_with_timestamp_and_headers() {
    let Some(t) = Fixture::new("pipe-e2e", 4) else { return };
    let sent = keyed_records();
    t.kafka.produce_records(&t.input, sent.clone());

    let pipe = t
        .pipe(t.config().with_commit_interval(Duration::from_millis(500)))
        .with_transform(|mut record, position| {
            let value = String::from_utf8(record.value.take().unwrap_or_default()).map_err(|e| e.to_string())?;
            record.value = Some(format!("{value}|p{}", position.partition).into_bytes());
            Ok(Some(record))
        })
        .spawn()
        .expect("the pipe starts");
    let received = t.kafka.read(&t.output, RECORDS, WAIT);
    let stats = pipe.stop().expect("the pipe stops cleanly");

    assert_eq!(received.len(), RECORDS, "records in the sink topic (pipe: {stats:?})");
    assert_eq!(stats.consumed, RECORDS as u64);
    assert_eq!(stats.produced, RECORDS as u64);
    assert_eq!(stats.delivered, RECORDS as u64);
    assert!(stats.commits >= 1, "{stats:?}");

    // Per key: every sequence number once, in order, with the input's timestamp and header.
    let mut per_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for ReadRecord { record, .. } in &received {
        let key = text(&record.key);
        let value = text(&record.value);
        let (body, _partition_tag) = value.split_once("|p").expect("the transform's mark");
        let (value_key, sequence) = body.split_once(':').expect("<key>:<sequence>");
        assert_eq!(value_key, key, "a record kept its key");
        let sequence: usize = sequence.parse().expect("a number");
        let index = key.trim_start_matches("key-").parse::<usize>().unwrap() + sequence * KEYS;
        assert_eq!(record.timestamp, sent[index].timestamp, "timestamp of {key}:{sequence}");
        assert_eq!(record.headers, sent[index].headers, "headers of {key}:{sequence}");
        per_key.entry(key).or_default().push(sequence);
    }
    assert_eq!(per_key.len(), KEYS);
    let expected: Vec<usize> = (0..RECORDS / KEYS).collect();
    for (key, sequences) in &per_key {
        assert_eq!(sequences, &expected, "order of {key}");
    }
    assert!(t.committed_everything(), "the group committed everything it read");
}

#[test]
fn a_failing_record_stops_the_run_naming_it_and_commits_what_came_before() {
    let Some(t) = Fixture::new("pipe-bad", 1) else { return };
    t.kafka.produce(
        &t.input,
        (0..100).map(|i| {
            (
                Some(b"k".to_vec()),
                Some(if i == 42 {
                    b"\xff".to_vec()
                } else {
                    i.to_string().into_bytes()
                }),
            )
        }),
    );

    let pipe = t
        .pipe(t.config())
        .with_transform(|record, _| {
            let value = record.value.clone().unwrap_or_default();
            String::from_utf8(value).map_err(|e| format!("value is not UTF-8: {e}"))?;
            Ok(Some(record))
        })
        .spawn()
        .expect("the pipe starts");
    let error = pipe.join().expect_err("the bad record ends the run");

    match &error {
        Error::Record {
            topic,
            partition,
            offset,
            reason,
        } => {
            assert_eq!((topic.as_str(), *partition, *offset), (t.input.name(), 0, 42));
            assert!(reason.contains("not UTF-8"), "{reason}");
        }
        other => panic!("expected a record error, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains(&format!("{}/0@42", t.input.name())), "{message}");
    // The 42 records before it were delivered and committed; a restart begins at the bad one.
    assert_eq!(t.kafka.read(&t.output, 42, WAIT).len(), 42);
    assert_eq!(
        t.kafka.committed_offsets(&t.application_id, &t.input),
        BTreeMap::from([(0, 42)])
    );
}

#[test]
fn a_restarted_pipe_resumes_after_its_last_commit() {
    let Some(t) = Fixture::new("pipe-resume", 2) else {
        return;
    };

    t.kafka.produce(&t.input, numbered(0..500, 7));
    let first = t.pipe(t.config()).spawn().expect("first run starts");
    wait_until_consumed(&first, 500);
    assert_eq!(first.stop().expect("first run stops").consumed, 500);

    t.kafka.produce(&t.input, numbered(500..1000, 7));
    let second = t.pipe(t.config()).spawn().expect("second run starts");
    wait_until_consumed(&second, 500);
    let stats = second.stop().expect("second run stops");
    assert_eq!(stats.consumed, 500, "the second run reads only the new records");

    let mut values: Vec<usize> = t
        .kafka
        .read(&t.output, 1000, WAIT)
        .iter()
        .map(|r| text(&r.record.value).parse().unwrap())
        .collect();
    values.sort_unstable();
    assert_eq!(values, (0..1000).collect::<Vec<_>>(), "each record once");
}

#[test]
fn a_missing_source_topic_is_a_clear_error_at_start() {
    let Some(kafka) = TestKafka::from_env() else { return };
    let output = kafka.create_topic("pipe-missing-out", 1);
    let missing = kafka.unique_name("no-such-topic");
    let config = StreamsConfig::new(kafka.unique_name("pipe-missing"), kafka.bootstrap_servers());
    let error = Pipe::new(config, &missing, output.name())
        .spawn()
        .expect_err("no source topic");
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .contains(&format!("source topic {missing} does not exist")),
        "{error}"
    );
}

#[test]
fn a_second_member_takes_over_partitions_without_loss_or_duplicates() {
    let Some(t) = Fixture::new("pipe-rebalance", 4) else {
        return;
    };
    // No periodic commit during the test: the handover relies on the commit on revocation alone.
    let config = t.config().with_commit_interval(Duration::from_secs(600));

    t.kafka.produce(&t.input, numbered(0..2_000, 100));
    let first = t.pipe(config.clone()).spawn().expect("first member starts");
    wait_until_consumed(&first, 2_000);
    let second = t.pipe(config).spawn().expect("second member starts");
    let deadline = Instant::now() + WAIT;
    loop {
        let (a, b) = (first.assignment(), second.assignment());
        if !a.is_empty() && !b.is_empty() && a.len() + b.len() == 4 && a.is_disjoint(&b) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no stable split of 4 partitions: {a:?} / {b:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    t.kafka.produce(&t.input, numbered(2_000..4_000, 100));
    let deadline = Instant::now() + WAIT;
    while first.stats().consumed + second.stats().consumed < 4_000 {
        assert!(
            Instant::now() < deadline,
            "consumed {:?} + {:?}",
            first.stats(),
            second.stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let second_stats = second.stop().expect("second member stops");
    let first_stats = first.stop().expect("first member stops");
    assert!(
        second_stats.consumed > 0,
        "the second member got work: {second_stats:?}"
    );
    assert_eq!(
        first_stats.consumed + second_stats.consumed,
        4_000,
        "each record read once"
    );

    let received = t.kafka.read(&t.output, 4_000, WAIT);
    let mut per_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for read in &received {
        per_key
            .entry(text(&read.record.key))
            .or_default()
            .push(text(&read.record.value).parse().unwrap());
    }
    for (key, values) in &per_key {
        let expected: Vec<usize> = (0..4_000).filter(|i| format!("key-{}", i % 100) == *key).collect();
        assert_eq!(values, &expected, "{key}: every record once, in order");
    }
    assert_eq!(received.len(), 4_000);
    assert!(t.committed_everything(), "the group committed everything it read");
}

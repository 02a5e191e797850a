//! `KStream::dedupe_by` against the real broker: replays inside the window are dropped end to end;
//! the remembered ids survive a restart with the same state directory and one with the state
//! directory wiped (restored from the changelog), under at-least-once and exactly-once; and an
//! input record processed again after a crash (its id already in the changelog, its output maybe
//! lost) is forwarded again rather than dropped. Needs `STREAMS_BOOTSTRAP_SERVERS`.

mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use streams_core::dsl::{Deduplicated, StreamsBuilder};
use streams_core::runtime::{KafkaStreams, RawRecord, StreamsState};
use streams_core::state::encoding::encode_window_key;
use streams_core::testing::kafka::{TestKafka, TestTopic};
use streams_core::time::hours;
use streams_core::topology::Topology;
use streams_core::{ProcessingGuarantee, StreamsConfig};

const WAIT: Duration = Duration::from_secs(90);
/// Event time of second 0: a minute ago. Event time must be near the wall clock: the broker
/// deletes a window store's changelog records once their timestamps are older than the
/// changelog's retention (window + grace + 1 day), and a restore would then miss those ids.
fn base() -> i64 {
    static BASE: OnceLock<i64> = OnceLock::new();
    *BASE.get_or_init(|| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("a clock after 1970");
        i64::try_from(now.as_millis()).expect("a sane clock") / 1_000 * 1_000 - 60_000
    })
}
const CARDS: usize = 7;

/// Payments keyed by card, valued `"<txn id>:<note>"`, deduplicated by transaction id within an
/// hour into the store `txn-store`.
fn topology(input: &str, output: &str) -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>(input)
        .dedupe_by_with(
            |_card, payment| payment.split(':').next().unwrap_or_default().to_string(),
            hours(1),
            Deduplicated::named("txn"),
        )
        .to(output);
    builder.build().expect("a valid topology")
}

/// Transaction `txn` of its card at `second` after [`base`], valued `t<txn>:<note>`. A replay has the
/// original's key (card), so it lands in the original's partition.
fn payment(txn: usize, note: &str, second: i64) -> RawRecord {
    RawRecord {
        key: Some(format!("card-{}", txn % CARDS).into_bytes()),
        value: Some(format!("t{txn}:{note}").into_bytes()),
        timestamp: Some(base() + second * 1_000),
        headers: vec![("attempt".to_string(), Some(note.as_bytes().to_vec()))],
    }
}

struct Fixture {
    kafka: TestKafka,
    input: TestTopic,
    output: TestTopic,
    application_id: String,
    state_dir: tempfile::TempDir,
    guarantee: ProcessingGuarantee,
}

impl Fixture {
    fn new(name: &str, partitions: i32, guarantee: ProcessingGuarantee) -> Option<Fixture> {
        let kafka = TestKafka::from_env()?;
        Some(Fixture {
            input: kafka.create_topic(&format!("{name}-in"), partitions),
            output: kafka.create_topic(&format!("{name}-out"), partitions),
            application_id: kafka.unique_name(name),
            state_dir: tempfile::tempdir().expect("a temporary state directory"),
            kafka,
            guarantee,
        })
    }

    fn start(&self) -> KafkaStreams {
        let config = StreamsConfig::new(&self.application_id, self.kafka.bootstrap_servers())
            .with_state_dir(self.state_dir.path())
            .with_processing_guarantee(self.guarantee);
        let config = match self.guarantee {
            ProcessingGuarantee::AtLeastOnce => config.with_commit_interval(Duration::from_millis(200)),
            _ => config,
        };
        let mut streams =
            KafkaStreams::new(topology(self.input.name(), self.output.name()), config).expect("a valid application");
        streams.start().expect("the application starts");
        assert!(
            streams.wait_for_state(StreamsState::Running, WAIT).expect("no error"),
            "not running after {WAIT:?}: {:?}",
            streams.state()
        );
        streams
    }

    fn wait_until_processed(&self, streams: &KafkaStreams, count: u64) {
        common::wait_for(&format!("{count} records processed"), WAIT, || {
            assert_ne!(streams.state(), StreamsState::Error, "the application failed");
            streams.stats().processed >= count
        });
    }

    /// The output records, once `expected` have been read (and a moment more, to see any extra).
    fn read_outputs(&self, expected: usize) -> Vec<RawRecord> {
        let mut read = self.kafka.read(&self.output, expected, WAIT);
        if read.len() == expected {
            read = self.kafka.read(&self.output, expected + 1, Duration::from_secs(3));
        }
        read.into_iter().map(|r| r.record).collect()
    }

    /// Every output value with how often it was written (see [`read_outputs`](Self::read_outputs)).
    fn outputs(&self, expected: usize) -> BTreeMap<String, usize> {
        let mut values = BTreeMap::new();
        for record in self.read_outputs(expected) {
            let value = String::from_utf8(record.value.expect("a value")).unwrap();
            *values.entry(value).or_insert(0) += 1;
        }
        values
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.kafka.delete_topics_with_prefix(&self.application_id);
    }
}

/// `t<txn>:original` once for each of `txns`.
fn originals(txns: impl IntoIterator<Item = usize>) -> BTreeMap<String, usize> {
    txns.into_iter().map(|txn| (format!("t{txn}:original"), 1)).collect()
}

#[test]
fn replays_inside_the_window_are_dropped_end_to_end() {
    let Some(t) = Fixture::new("dedupe-e2e", 2, ProcessingGuarantee::AtLeastOnce) else {
        return;
    };
    let mut records: Vec<RawRecord> = (0..200).map(|txn| payment(txn, "original", txn as i64)).collect();
    // Every third transaction retried half a minute later; t5 retried out of order (its retry
    // stamped before it) and retried again; t1 retried once more after its window.
    records.extend((0..200).step_by(3).map(|txn| payment(txn, "retry", txn as i64 + 30)));
    records.push(payment(5, "early-retry", 2));
    records.push(payment(5, "retry", 3_605));
    records.push(payment(1, "after-the-window", 3_602));
    t.kafka.produce_records(&t.input, records);

    let mut streams = t.start();
    t.wait_until_processed(&streams, 270);
    let outputs = t.read_outputs(201);
    let mut values = BTreeMap::new();
    for output in &outputs {
        let value = String::from_utf8(output.value.clone().expect("a value")).unwrap();
        *values.entry(value.clone()).or_insert(0) += 1;
        // Forwarded unchanged: the key, timestamp and headers of the record that passed.
        let (txn, note) = value.split_once(':').unwrap();
        let txn: usize = txn[1..].parse().unwrap();
        let second = if note == "original" { txn as i64 } else { 3_602 };
        assert_eq!(output, &payment(txn, note, second), "{value}");
    }
    let mut expected = originals(0..200);
    expected.insert("t1:after-the-window".to_string(), 1);
    assert_eq!(values, expected);
    streams.close().expect("a clean close");
}

/// Originals, then replays and new payments after a clean restart, then after a restart with the
/// state directory wiped: every replay is dropped, every original passes once.
fn ids_survive_restarts(guarantee: ProcessingGuarantee, name: &str) {
    let Some(t) = Fixture::new(name, 2, guarantee) else {
        return;
    };
    t.kafka
        .produce_records(&t.input, (0..100).map(|txn| payment(txn, "original", txn as i64)));
    let mut streams = t.start();
    t.wait_until_processed(&streams, 100);
    streams.close().expect("a clean close");

    // A restart with the same state directory: the ids are in RocksDB, checkpointed.
    let replays = (0..100).step_by(2).map(|txn| payment(txn, "retry", txn as i64 + 60));
    let new = (100..120).map(|txn| payment(txn, "original", txn as i64));
    t.kafka.produce_records(&t.input, replays.chain(new));
    let mut streams = t.start();
    assert_eq!(streams.stats().restored, 0, "a clean close leaves nothing to restore");
    t.wait_until_processed(&streams, 70);
    streams.close().expect("a clean close");

    // A restart with the local state gone: the ids come back from the changelog.
    std::fs::remove_dir_all(t.state_dir.path().join(&t.application_id)).expect("local state deleted");
    let replays = (0..120)
        .step_by(3)
        .map(|txn| payment(txn, "retry-after-wipe", txn as i64 + 120));
    let new = (120..130).map(|txn| payment(txn, "original", txn as i64));
    t.kafka.produce_records(&t.input, replays.chain(new));
    let mut streams = t.start();
    let restored = streams.stats().restored;
    assert!(restored >= 120, "the 120 ids restored from the changelog: {restored}");
    t.wait_until_processed(&streams, 50);
    assert_eq!(t.outputs(130), originals(0..130));
    streams.close().expect("a clean close");
}

#[test]
fn ids_survive_restarts_under_at_least_once() {
    ids_survive_restarts(ProcessingGuarantee::AtLeastOnce, "dedupe-restart-alos");
}

#[test]
fn ids_survive_restarts_under_exactly_once() {
    ids_survive_restarts(ProcessingGuarantee::ExactlyOnceV2, "dedupe-restart-eos");
}

/// The value the operator stores for an id (processor/ops/dedupe.rs): the writing instance's
/// epoch, then the input record's partition, offset and topic.
fn entry(epoch: u64, partition: i32, offset: i64, topic: &str) -> Vec<u8> {
    let mut bytes = epoch.to_be_bytes().to_vec();
    bytes.extend_from_slice(&partition.to_be_bytes());
    bytes.extend_from_slice(&offset.to_be_bytes());
    bytes.extend_from_slice(topic.as_bytes());
    bytes
}

#[test]
fn a_record_processed_again_after_a_crash_is_forwarded_again_not_dropped() {
    let Some(t) = Fixture::new("dedupe-crash", 1, ProcessingGuarantee::AtLeastOnce) else {
        return;
    };
    // What an instance that crashed before committing leaves: the changelog holds the ids of the
    // records it processed (t1 at offset 0), their outputs may be lost, the offsets are not
    // committed. It had also remembered t2 from another record (offset 7).
    let changelog = t
        .kafka
        .create_named_topic(&format!("{}-txn-store-changelog", t.application_id), 1);
    let logged = [("t1", 0), ("t2", 7)].map(|(id, offset)| RawRecord {
        key: Some(encode_window_key(id.as_bytes(), base(), 0)),
        value: Some(entry(0x5eed, 0, offset, t.input.name())),
        timestamp: Some(base()),
        headers: Vec::new(),
    });
    t.kafka.produce_to_partition(&changelog, 0, logged);
    let input = [
        payment(1, "original", 0), // offset 0: processed again, forwarded again
        payment(2, "retry", 0),    // offset 1: a replay of offset 7's t2, dropped
        payment(3, "original", 0), // offset 2: new
        payment(1, "retry", 1),    // offset 3: a replay of t1 after all
    ];
    t.kafka.produce_to_partition(&t.input, 0, input);

    let mut streams = t.start();
    assert!(streams.stats().restored >= 2, "{:?}", streams.stats());
    t.wait_until_processed(&streams, 4);
    assert_eq!(t.outputs(2), originals([1, 3]));
    streams.close().expect("a clean close");
    drop(changelog);
}

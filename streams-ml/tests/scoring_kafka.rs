//! The scoring operator on the Kafka runtime, against the real broker (scripts/test starts it):
//! a slow model does not cost the group membership and backpressure holds memory; under
//! exactly-once every record is scored or dead-lettered exactly once; a models topic swaps the
//! model in. Needs `STREAMS_BOOTSTRAP_SERVERS`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::Linear;
use streams_core::dsl::StreamsBuilder;
use streams_core::runtime::{KafkaStreams, RawRecord, StreamsState};
use streams_core::testing::kafka::{ReadRecord, TestKafka};
use streams_core::{ProcessingGuarantee, StreamsConfig};
use streams_ml::model::{Features, ModelHandle, ModelSpec, ModelTopic};
use streams_ml::{ScoreExt, Scored, Scoring};

const WAIT: Duration = Duration::from_secs(120);

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn raw(key: String, value: String, timestamp: i64) -> RawRecord {
    RawRecord {
        key: Some(key.into_bytes()),
        value: Some(value.into_bytes()),
        timestamp: Some(timestamp),
        headers: Vec::new(),
    }
}

fn topology(input: &str, output: &str, scoring: Scoring) -> streams_core::topology::Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>(input)
        .score(scoring, |_, v: &String| {
            let (a, b) = v.split_once(',').unwrap_or(("x", "x"));
            [
                a.parse::<f32>().unwrap_or(f32::NAN),
                b.parse::<f32>().unwrap_or(f32::NAN),
            ]
        })
        .map_values(|scored| serde_json::to_string(&scored).unwrap())
        .to(output);
    builder.build().unwrap()
}

fn scored(records: &[ReadRecord]) -> Vec<(String, Scored<String>)> {
    records
        .iter()
        .map(|r| {
            let key = String::from_utf8(r.record.key.clone().unwrap()).unwrap();
            (key, serde_json::from_slice(r.record.value.as_deref().unwrap()).unwrap())
        })
        .collect()
}

/// Per key, the values in the order they were read (one partition per key: the topic's order).
fn per_key(records: &[(String, Scored<String>)]) -> BTreeMap<String, Vec<String>> {
    let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, scored) in records {
        keys.entry(key.clone()).or_default().push(scored.value.clone());
    }
    keys
}

#[test]
fn a_slow_model_neither_costs_the_group_membership_nor_loses_order() {
    let Some(kafka) = TestKafka::from_env() else { return };
    let input = kafka.create_topic("slow-model-in", 2);
    let output = kafka.create_topic("slow-model-out", 2);
    let app = kafka.unique_name("slow-model");
    const RECORDS: usize = 1_000;
    kafka.produce_records(
        &input,
        (0..RECORDS).map(|i| raw(format!("k{}", i % 10), format!("{i},1"), 1_000 + i as i64)),
    );
    // 1,000 records in batches of 20, 200 ms each, one worker: 10 s of scoring, while the consumer
    // must poll every 7 s. Commits (every 500 ms) wait for the work in flight; at most 2 batches
    // per task run, and 50 records per partition are buffered before it is paused.
    let model = Linear::new("1", 1.0).slow(Duration::from_millis(200)).shared();
    let scoring = Scoring::new(ModelHandle::from_arc(model))
        .max_batch(20)
        .max_wait(Duration::from_millis(50))
        .max_in_flight_batches(2);
    let state = tempfile::tempdir().unwrap();
    let config = StreamsConfig::new(&app, kafka.bootstrap_servers())
        .with_state_dir(state.path())
        .with_commit_interval(Duration::from_millis(500))
        .with_buffered_records_per_partition(50)
        .with_consumer_config("session.timeout.ms", "6000")
        .with_consumer_config("max.poll.interval.ms", "7000");
    let mut streams = KafkaStreams::new(topology(input.name(), output.name(), scoring), config).unwrap();
    streams.start().unwrap();
    let records = kafka.read(&output, RECORDS, WAIT);
    assert_eq!(records.len(), RECORDS);
    let stats = streams.stats();
    assert_eq!(stats.rebalances, 1, "one assignment, never lost: {stats:?}");
    assert_eq!(streams.state(), StreamsState::Running);
    streams.close().unwrap();

    let scored = scored(&records);
    let values: BTreeSet<&str> = scored.iter().map(|(_, s)| s.value.as_str()).collect();
    assert_eq!(values.len(), RECORDS, "every record scored once");
    for (key, values) in per_key(&scored) {
        let numbers: Vec<usize> = values
            .iter()
            .map(|v| v.split_once(',').unwrap().0.parse().unwrap())
            .collect();
        assert!(
            numbers.windows(2).all(|w| w[0] < w[1]),
            "{key} in input order: {numbers:?}"
        );
    }
    assert!(
        scored.iter().all(|(_, s)| s.batch_size <= 20
            && s.scores[0] == s.value.split_once(',').unwrap().0.parse::<f32>().unwrap() + 1.0),
        "scores of the records they name"
    );
    let committed = kafka.committed_offsets(&app, &input);
    assert_eq!(committed, kafka.end_offsets(&input), "everything scored is committed");
    kafka.delete_topics_with_prefix(&app);
}

#[test]
fn under_exactly_once_every_record_is_scored_or_dead_lettered_exactly_once() {
    let Some(kafka) = TestKafka::from_env() else { return };
    let input = kafka.create_topic("eos-score-in", 2);
    let output = kafka.create_topic("eos-score-out", 2);
    let app = kafka.unique_name("eos-score");
    const RECORDS: usize = 3_000;
    // Every 500th record has a NaN feature: its whole batch fails and is dead-lettered.
    let value = |i: usize| {
        if i % 500 == 7 {
            format!("x,{i}")
        } else {
            format!("{i},0")
        }
    };
    kafka.produce_records(
        &input,
        (0..RECORDS).map(|i| raw(format!("k{}", i % 17), value(i), 1_000 + i as i64)),
    );
    let model = Linear::new("1", 2.0).slow(Duration::from_millis(2)).shared();
    let scoring = Scoring::new(ModelHandle::from_arc(model)).max_batch(16).workers(2);
    let state = tempfile::tempdir().unwrap();
    let config = StreamsConfig::new(&app, kafka.bootstrap_servers())
        .with_state_dir(state.path())
        .with_processing_guarantee(ProcessingGuarantee::ExactlyOnceV2);
    let mut streams = KafkaStreams::new(topology(input.name(), output.name(), scoring), config).unwrap();
    streams.start().unwrap();
    // Every record taken; closing drains the batches in flight and commits their outputs.
    wait_for("every record taken", || streams.stats().processed == RECORDS as u64);
    streams.close().unwrap();
    let dlq = kafka.existing_topic(&format!("{app}-dlq"));
    assert_eq!(dlq.partitions(), 2, "created like the input");
    let records = kafka.read(&output, RECORDS, Duration::from_secs(10));
    let dead = kafka.read(&dlq, RECORDS, Duration::from_secs(5));
    let scored = scored(&records);
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for (_, s) in &scored {
        assert!(seen.insert(s.value.clone()), "{} scored twice", s.value);
        let i: f32 = s.value.split_once(',').unwrap().0.parse().unwrap();
        assert_eq!(s.scores[0], i * 2.0);
    }
    for record in &dead {
        let value = String::from_utf8(record.record.value.clone().unwrap()).unwrap();
        assert!(
            seen.insert(value.clone()),
            "{value} both scored and dead-lettered, or dead-lettered twice"
        );
    }
    assert_eq!(
        seen.len(),
        RECORDS,
        "every record exactly once: {} scored, {} dead",
        scored.len(),
        dead.len()
    );
    assert!(
        dead.len() >= 6 && dead.len() <= 6 * 16,
        "the failed batches only: {}",
        dead.len()
    );
    assert_eq!(streams.stats().dead_lettered, dead.len() as u64);
    assert_eq!(kafka.committed_offsets(&app, &input), kafka.end_offsets(&input));
    drop(dlq);
    kafka.delete_topics_with_prefix(&app);
}

#[test]
fn a_models_topic_swaps_the_latest_model_in() {
    let Some(kafka) = TestKafka::from_env() else { return };
    let topic = kafka.create_topic_with_config("models", 1, &[("cleanup.policy", "compact")]);
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let bytes = |file: &str| std::fs::read(models.join(file)).unwrap();
    let model = |file: &str, key: &str, version: Option<&str>| RawRecord {
        key: Some(key.as_bytes().to_vec()),
        value: Some(bytes(file)),
        timestamp: None,
        headers: version
            .map(|v| vec![("version".to_string(), Some(v.as_bytes().to_vec()))])
            .unwrap_or_default(),
    };
    // Two versions already there: only the latest is loaded on start.
    kafka.produce_records(
        &topic,
        [
            model("fraud-forest.onnx", "fraud", Some("1")),
            model("fraud-mlp.onnx", "fraud", Some("2")),
            model("anomaly-mlp.onnx", "anomaly", Some("9")),
        ],
    );
    let spec = ModelSpec::new(Features::width(8));
    let handle =
        ModelHandle::new(streams_ml::model::OnnxModel::from_file(models.join("fraud-forest.onnx"), &spec).unwrap());
    let config = StreamsConfig::new(kafka.unique_name("models-app"), kafka.bootstrap_servers());
    let watcher = handle
        .follow_topic(&config, ModelTopic::new(topic.name(), "fraud", spec))
        .unwrap();
    wait_for("version 2 from the topic", || &*handle.current().info().version == "2");
    assert_eq!(&*handle.current().info().name, "fraud-mlp");
    assert_eq!(handle.swaps(), 1, "version 1 was caught up over, not loaded");

    // A new version while running; a model taking other features is refused.
    kafka.produce_records(&topic, [model("anomaly-mlp.onnx", "fraud", Some("3"))]);
    kafka.produce_records(&topic, [model("fraud-forest.onnx", "fraud", None)]);
    wait_for("the forest", || &*handle.current().info().name == "fraud-forest");
    assert_eq!(
        &*handle.current().info().version,
        "1",
        "the file's own version without a header"
    );
    assert_eq!(handle.swaps(), 2);
    watcher.stop();
}

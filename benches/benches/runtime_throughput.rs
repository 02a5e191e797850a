//! Throughput of the Kafka runtime: 1,000,000 records of 100-byte values over 4 partitions
//! (10,000 keys), through (a) a stateless filter + map_values + to, (b) a windowed count
//! (one-minute tumbling windows, RocksDB, write cache on), at-least-once and exactly-once, and
//! (c) model scoring: the shipped fraud MLP (`models/fraud-mlp.onnx`) on 8 features made from each
//! record, batches of 64, one worker thread, the fraud probability to the output topic. Each
//! runs three times with a fresh
//! application id (so from the topic's start); a run is timed from its first processed record to
//! its last, so group joins are not counted. Prints every run and the medians.
//!
//! Run: `scripts/kafka-local start` then
//! `STREAMS_BOOTSTRAP_SERVERS=$(scripts/kafka-local bootstrap) cargo bench -p streams-benches --bench runtime_throughput`
//! (`BENCH_ONLY=<text>` runs only the scenarios whose name contains it, e.g. `BENCH_ONLY=scoring`).

use std::time::{Duration, Instant};

use streams_core::dsl::{Materialized, StreamsBuilder};
use streams_core::runtime::{KafkaStreams, RawRecord};
use streams_core::testing::kafka::TestKafka;
use streams_core::time::{TimeWindows, minutes, seconds};
use streams_core::topology::Topology;
use streams_core::{ProcessingGuarantee, StreamsConfig};
use streams_ml::model::{Features, ModelHandle, ModelSpec, OnnxModel};
use streams_ml::{ScoreExt, Scoring};

const RECORDS: usize = 1_000_000;
const KEYS: usize = 10_000;
const VALUE_BYTES: usize = 100;
const RUNS: usize = 3;

fn stateless(input: &str, output: &str) -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>(input)
        .filter(|_, value| !value.is_empty())
        .map_values(|value: String| value.to_ascii_uppercase())
        .to(output);
    builder.build().unwrap()
}

fn windowed_count(input: &str) -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>(input)
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(minutes(1), seconds(30)))
        .count_with(Materialized::named("per-minute"));
    builder.build().unwrap()
}

/// Scores every record with the fraud MLP: 8 features from the key's number and the value.
fn scoring(input: &str, output: &str, model: &ModelHandle) -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>(input)
        .score(
            Scoring::new(model.clone()).max_batch(64),
            |key: &String, value: &String| {
                let n = key.trim_start_matches("key-").parse::<f32>().unwrap_or(0.0);
                let amount = 1.0 + n % 500.0;
                [
                    amount,
                    amount.ln_1p(),
                    1.0 + n % 7.0,
                    amount * 2.0,
                    1.0 + n % 3.0,
                    (n % 11.0) - 5.0,
                    24.0,
                    (value.len() % 2) as f32,
                ]
            },
        )
        .map_values(|scored| format!("{:.4}", scored.scores[1]))
        .to(output);
    builder.build().unwrap()
}

/// Records/s of one run of `topology`.
fn run(kafka: &TestKafka, name: &str, topology: Topology, guarantee: ProcessingGuarantee) -> f64 {
    let app = kafka.unique_name(name);
    let state = tempfile::tempdir().unwrap();
    let config = StreamsConfig::new(&app, kafka.bootstrap_servers())
        .with_state_dir(state.path())
        .with_processing_guarantee(guarantee);
    let mut streams = KafkaStreams::new(topology, config).unwrap();
    streams.start().unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut first = None;
    loop {
        let processed = streams.stats().processed;
        if processed > 0 && first.is_none() {
            first = Some((Instant::now(), processed));
        }
        if processed >= RECORDS as u64 {
            break;
        }
        assert!(Instant::now() < deadline, "{name}: only {processed} records in 600 s");
        std::thread::sleep(Duration::from_millis(1));
    }
    let (since, already) = first.unwrap();
    let rate = (RECORDS as u64 - already) as f64 / since.elapsed().as_secs_f64();
    streams.close().unwrap();
    kafka.delete_topics_with_prefix(&app);
    rate
}

fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let Some(kafka) = TestKafka::from_env() else {
        println!("runtime throughput bench: STREAMS_BOOTSTRAP_SERVERS is not set; skipped");
        return;
    };
    // The records' event times lie in 2023: under the broker's default 7-day time retention its
    // next retention check (every 5 minutes) would delete them between runs.
    let keep = [("retention.ms", "-1")];
    let input = kafka.create_topic_with_config("throughput-in", 4, &keep);
    let output = kafka.create_topic_with_config("throughput-out", 4, &keep);
    let value = "x".repeat(VALUE_BYTES);
    let started = Instant::now();
    kafka.produce_records(
        &input,
        (0..RECORDS).map(|i| RawRecord {
            key: Some(format!("key-{:05}", i % KEYS).into_bytes()),
            value: Some(value.clone().into_bytes()),
            timestamp: Some(1_700_000_000_000 + i as i64),
            headers: Vec::new(),
        }),
    );
    println!(
        "produced {RECORDS} records of {VALUE_BYTES} bytes over 4 partitions in {:?}",
        started.elapsed()
    );
    let mut results = Vec::new();
    let stateless_topology = || stateless(input.name(), output.name());
    let windowed_topology = || windowed_count(input.name());
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let model = ModelHandle::new(
        OnnxModel::from_file(models.join("fraud-mlp.onnx"), &ModelSpec::new(Features::width(8))).unwrap(),
    );
    let scoring_topology = || scoring(input.name(), output.name(), &model);
    let scenarios: [(&str, &dyn Fn() -> Topology, ProcessingGuarantee); 5] = [
        (
            "stateless filter+map",
            &stateless_topology,
            ProcessingGuarantee::AtLeastOnce,
        ),
        ("windowed count", &windowed_topology, ProcessingGuarantee::AtLeastOnce),
        (
            "windowed count, exactly-once",
            &windowed_topology,
            ProcessingGuarantee::ExactlyOnceV2,
        ),
        ("MLP scoring", &scoring_topology, ProcessingGuarantee::AtLeastOnce),
        (
            "MLP scoring, exactly-once",
            &scoring_topology,
            ProcessingGuarantee::ExactlyOnceV2,
        ),
    ];
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    for (name, make, guarantee) in scenarios.into_iter().filter(|(name, ..)| name.contains(only.as_str())) {
        let rates: Vec<f64> = (1..=RUNS)
            .map(|run_number| {
                let rate = run(&kafka, "throughput", make(), guarantee);
                println!("{name}, run {run_number}: {rate:.0} records/s");
                rate
            })
            .collect();
        results.push((name, median(rates)));
    }
    for (name, rate) in &results {
        println!("{name}: median {rate:.0} records/s ({RUNS} runs, 4 partitions, one stream thread)");
    }
}

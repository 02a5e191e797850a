//! How fast a key-value store is restored from its changelog: 1,000,000 records of 100-byte values
//! (unique 12-byte keys) in one changelog partition, restored into RocksDB three times from an
//! empty state directory; prints each rate and the median.
//!
//! Run: `scripts/kafka-local start` then
//! `STREAMS_BOOTSTRAP_SERVERS=$(scripts/kafka-local bootstrap) cargo bench -p streams-benches --bench restore`.
//! Without `STREAMS_BOOTSTRAP_SERVERS` it prints a line and exits.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use streams_core::StreamsConfig;
use streams_core::dsl::{Materialized, StreamsBuilder};
use streams_core::runtime::{KafkaStreams, RawRecord, StateRestoreListener, StreamsState};
use streams_core::testing::kafka::TestKafka;

const RECORDS: usize = 1_000_000;
const VALUE_BYTES: usize = 100;
const RUNS: usize = 3;

/// When restoration started and ended, and how many records it applied.
#[derive(Default)]
struct Timing(Mutex<(Option<Instant>, Option<Instant>, u64)>);

impl StateRestoreListener for Timing {
    fn on_restore_start(&self, _: &str, _: i32, _: &str, _: i64, _: i64) {
        self.0.lock().unwrap().0 = Some(Instant::now());
    }

    fn on_restore_end(&self, _: &str, _: i32, _: &str, total: u64) {
        let mut timing = self.0.lock().unwrap();
        timing.1 = Some(Instant::now());
        timing.2 = total;
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let Some(kafka) = TestKafka::from_env() else {
        println!("restore bench: STREAMS_BOOTSTRAP_SERVERS is not set; skipped");
        return;
    };
    let app = kafka.unique_name("restore-bench");
    // Event times in 2023: kept whatever the broker's time retention (7 days by default).
    let input = kafka.create_topic_with_config("restore-bench-in", 1, &[("retention.ms", "-1")]);
    // As the application would create it: compacted (a key-value store's changelog), so the
    // broker's time retention does not delete the 2023 records mid-run.
    let changelog =
        kafka.create_named_topic_with_config(&format!("{app}-store-changelog"), 1, &[("cleanup.policy", "compact")]);
    // A timestamped store value: 8 bytes of timestamp, then the value.
    let mut value = 1_700_000_000_000i64.to_be_bytes().to_vec();
    value.resize(VALUE_BYTES, b'x');
    let started = Instant::now();
    kafka.produce_records(
        &changelog,
        (0..RECORDS).map(|i| RawRecord {
            key: Some(format!("key-{i:08}").into_bytes()),
            value: Some(value.clone()),
            timestamp: Some(1_700_000_000_000),
            headers: Vec::new(),
        }),
    );
    println!("filled the changelog with {RECORDS} records in {:?}", started.elapsed());

    let mut rates = Vec::new();
    for run in 1..=RUNS {
        let state_dir = tempfile::tempdir().expect("a state directory");
        let builder = StreamsBuilder::new();
        builder
            .stream::<String, String>(input.name())
            .group_by_key()
            .reduce_with(|a, _| a, Materialized::named("store"));
        let config = StreamsConfig::new(&app, kafka.bootstrap_servers()).with_state_dir(state_dir.path());
        let mut streams = KafkaStreams::new(builder.build().unwrap(), config).unwrap();
        let timing = Arc::new(Timing::default());
        streams.set_state_restore_listener(timing.clone());
        streams.start().unwrap();
        assert!(
            streams
                .wait_for_state(StreamsState::Running, Duration::from_secs(600))
                .unwrap()
        );
        let (start, end, total) = *timing.0.lock().unwrap();
        let seconds = (end.unwrap() - start.unwrap()).as_secs_f64();
        let rate = total as f64 / seconds;
        println!("run {run}: restored {total} records in {seconds:.2} s: {rate:.0} records/s");
        assert_eq!(total, RECORDS as u64);
        let stored = streams
            .key_value_store::<String, String>("store")
            .unwrap()
            .approximate_num_entries()
            .unwrap();
        println!("run {run}: the store holds about {stored} entries");
        streams.close().unwrap();
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "restore: median {:.0} records/s of {VALUE_BYTES}-byte values over {RUNS} runs",
        rates[RUNS / 2]
    );
    kafka.delete_topics_with_prefix(&app);
}

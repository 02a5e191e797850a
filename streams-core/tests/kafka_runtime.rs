//! Topologies on the Kafka runtime beyond a single sub-topology: a repartition topic between a
//! re-keying step and a count. Needs `STREAMS_BOOTSTRAP_SERVERS` (scripts/test sets it).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use streams_core::StreamsConfig;
use streams_core::dsl::{Materialized, StreamsBuilder};
use streams_core::runtime::{KafkaStreams, StreamsState};
use streams_core::testing::kafka::TestKafka;

const WAIT: Duration = Duration::from_secs(90);

#[test]
fn a_word_count_through_a_repartition_topic_counts_every_word() {
    let Some(kafka) = TestKafka::from_env() else { return };
    let input = kafka.create_topic("words-in", 2);
    let output = kafka.create_topic("words-out", 2);
    let app = kafka.unique_name("word-count");
    let state = tempfile::tempdir().unwrap();

    let lines: Vec<String> = (0..500)
        .map(|i| format!("the {} fox jumps over {} dogs", ["quick", "slow"][i % 2], i % 7))
        .collect();
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for word in lines.iter().flat_map(|l| l.split(' ')) {
        *expected.entry(word.to_string()).or_insert(0) += 1;
    }
    kafka.produce(
        &input,
        lines
            .iter()
            .enumerate()
            .map(|(i, line)| (Some(i.to_string().into_bytes()), Some(line.clone().into_bytes()))),
    );

    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>(input.name())
        .flat_map_values(|line: String| line.split(' ').map(str::to_string).collect::<Vec<_>>())
        .group_by(|_, word: &String| word.clone())
        .count_with(Materialized::named("word-counts"))
        .to_stream()
        .to(output.name());
    let topology = builder.build().unwrap();
    assert_eq!(topology.describe().subtopology_count(), 2, "{}", topology.describe());
    let config = StreamsConfig::new(&app, kafka.bootstrap_servers())
        .with_state_dir(state.path())
        .with_commit_interval(Duration::from_millis(200));
    let mut streams = KafkaStreams::new(topology, config).unwrap();
    streams.start().unwrap();
    assert!(streams.wait_for_state(StreamsState::Running, WAIT).unwrap());

    let words = lines.iter().map(|l| l.split(' ').count() as u64).sum::<u64>();
    let deadline = Instant::now() + WAIT;
    // Every line is read once, then every word once more from the repartition topic.
    while streams.stats().processed < lines.len() as u64 + words {
        assert!(Instant::now() < deadline, "{:?}", streams.stats());
        std::thread::sleep(Duration::from_millis(20));
    }
    let counts: BTreeMap<String, i64> = streams
        .key_value_store::<String, i64>("word-counts")
        .unwrap()
        .all()
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(counts, expected);
    streams.close().unwrap();
    assert_eq!(streams.state(), StreamsState::NotRunning);
    kafka.delete_topics_with_prefix(&app);
}

const BASE: i64 = 1_700_000_000_000;

/// A one-minute windowed count per key into `per-minute`, kept for a day.
fn windowed_count(input: &str) -> streams_core::topology::Topology {
    use streams_core::time::{TimeWindows, hours, minutes};
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>(input)
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(minutes(1), minutes(10)))
        .count_with(Materialized::named("per-minute").with_retention(hours(24)));
    builder.build().unwrap()
}

/// `n` records over 1,000 keys, 10 ms apart: in time order on every partition.
fn timed_records(range: std::ops::Range<usize>) -> impl Iterator<Item = streams_core::runtime::RawRecord> {
    range.map(|i| streams_core::runtime::RawRecord {
        key: Some(format!("k{}", i % 1_000).into_bytes()),
        value: Some(b"v".to_vec()),
        timestamp: Some(BASE + 10 * i as i64),
        headers: Vec::new(),
    })
}

/// What the test driver computes for records `range`: (key, window start) → count.
fn oracle(range: std::ops::Range<usize>) -> BTreeMap<(String, i64), i64> {
    use streams_core::testing::TopologyTestDriver;
    let driver = TopologyTestDriver::new(windowed_count("in"), StreamsConfig::for_tests("oracle")).unwrap();
    let input = driver.input_topic::<String, String>("in");
    for record in timed_records(range) {
        let key = String::from_utf8(record.key.unwrap()).unwrap();
        input.pipe_input_at(key, "v".to_string(), record.timestamp.unwrap());
    }
    driver
        .window_store::<String, i64>("per-minute")
        .all()
        .into_iter()
        .map(|(key, start, count)| ((key, start), count))
        .collect()
}

/// Every instance's windows; `None` while one cannot answer (rebalancing or restoring).
fn windowed_counts(instances: &[&KafkaStreams]) -> Option<BTreeMap<(String, i64), i64>> {
    let mut all = BTreeMap::new();
    for streams in instances {
        let windows = streams.window_store::<String, i64>("per-minute").unwrap().all().ok()?;
        for (key, start, count) in windows {
            assert!(
                all.insert((key, start), count).is_none(),
                "a window lives on one instance"
            );
        }
    }
    Some(all)
}

fn wait_for(what: &str, done: impl FnMut() -> bool) {
    common::wait_for(what, WAIT, done);
}

#[test]
fn a_windowed_count_over_four_partitions_equals_the_test_driver() {
    let Some(kafka) = TestKafka::from_env() else { return };
    const RECORDS: usize = 100_000;
    let input = kafka.create_topic("windowed-in", 4);
    let app = kafka.unique_name("windowed");
    let state = tempfile::tempdir().unwrap();
    kafka.produce_records(&input, timed_records(0..RECORDS));
    let config = StreamsConfig::new(&app, kafka.bootstrap_servers()).with_state_dir(state.path());
    let mut streams = KafkaStreams::new(windowed_count(input.name()), config).unwrap();
    streams.start().unwrap();
    wait_for("every record processed", || streams.stats().processed >= RECORDS as u64);
    assert_eq!(windowed_counts(&[&streams]), Some(oracle(0..RECORDS)));
    streams.close().unwrap();
    kafka.delete_topics_with_prefix(&app);
}

#[test]
fn instances_joining_and_leaving_end_with_the_counts_of_the_test_driver() {
    let Some(kafka) = TestKafka::from_env() else { return };
    const RECORDS: usize = 30_000;
    let input = kafka.create_topic("scale-in", 4);
    let app = kafka.unique_name("scale");
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let start = |i: usize| {
        let config = StreamsConfig::new(&app, kafka.bootstrap_servers())
            .with_state_dir(dirs[i].path())
            .with_commit_interval(Duration::from_millis(100));
        let mut streams = KafkaStreams::new(windowed_count(input.name()), config).unwrap();
        streams.start().unwrap();
        streams
    };
    let processed = |instances: &[&KafkaStreams]| instances.iter().map(|s| s.stats().processed).sum::<u64>();

    // One instance takes the first half.
    kafka.produce_records(&input, timed_records(0..RECORDS / 2));
    let mut first = start(0);
    wait_for("the first half", || processed(&[&first]) >= (RECORDS / 2) as u64);

    // Two more join; the rest arrives while the group rebalances.
    let mut second = start(1);
    let mut third = start(2);
    kafka.produce_records(&input, timed_records(RECORDS / 2..RECORDS));
    wait_for("all three running", || {
        [&first, &second, &third]
            .iter()
            .all(|s| s.state() == StreamsState::Running)
    });
    let expected = oracle(0..RECORDS);
    wait_for("counts equal the oracle with three instances", || {
        windowed_counts(&[&first, &second, &third]).as_ref() == Some(&expected)
    });
    assert!(
        second.stats().restored + third.stats().restored > 0,
        "moved tasks were restored"
    );

    // One leaves cleanly: its tasks move to the other two, state and all.
    third.close().unwrap();
    wait_for("two running", || {
        [&first, &second].iter().all(|s| s.state() == StreamsState::Running)
    });
    kafka.produce_records(&input, timed_records(RECORDS..RECORDS + 1_000));
    let expected = oracle(0..RECORDS + 1_000);
    wait_for("counts equal the oracle with two instances", || {
        windowed_counts(&[&first, &second]).as_ref() == Some(&expected)
    });
    first.close().unwrap();
    second.close().unwrap();
    kafka.delete_topics_with_prefix(&app);
}

fn raw(key: &str, value: &str, timestamp: Option<i64>) -> streams_core::runtime::RawRecord {
    streams_core::runtime::RawRecord {
        key: Some(key.as_bytes().to_vec()),
        value: Some(value.as_bytes().to_vec()),
        timestamp,
        headers: Vec::new(),
    }
}

#[test]
fn a_task_reading_two_topics_processes_them_in_event_time_order() {
    let Some(kafka) = TestKafka::from_env() else { return };
    let prices = kafka.create_topic("prices", 1);
    let orders = kafka.create_topic("orders", 1);
    let output = kafka.create_topic("priced-orders", 1);
    let app = kafka.unique_name("event-time");
    // Orders are produced (and so fetched) before the prices they must meet: only event-time order
    // across the two topics joins each order with the price valid at its time.
    kafka.produce_records(
        &orders,
        [
            raw("apple", "order-at-20", Some(BASE + 20)),
            raw("apple", "order-at-40", Some(BASE + 40)),
        ],
    );
    kafka.produce_records(
        &prices,
        [
            raw("apple", "price-at-10", Some(BASE + 10)),
            raw("apple", "price-at-30", Some(BASE + 30)),
        ],
    );

    let builder = StreamsBuilder::new();
    let table = builder.table::<String, String>(prices.name());
    builder
        .stream::<String, String>(orders.name())
        .join_table(&table, |order: &String, price: &String| format!("{order} {price}"))
        .to(output.name());
    let state = tempfile::tempdir().unwrap();
    let config = StreamsConfig::new(&app, kafka.bootstrap_servers())
        .with_state_dir(state.path())
        .with_max_task_idle(Duration::from_secs(2));
    let mut streams = KafkaStreams::new(builder.build().unwrap(), config).unwrap();
    streams.start().unwrap();
    let joined: Vec<String> = kafka
        .read(&output, 2, WAIT)
        .into_iter()
        .map(|r| String::from_utf8(r.record.value.unwrap()).unwrap())
        .collect();
    assert_eq!(joined, ["order-at-20 price-at-10", "order-at-40 price-at-30"]);
    streams.close().unwrap();
    kafka.delete_topics_with_prefix(&app);
}

#[test]
fn event_time_from_the_value_and_invalid_timestamps_follow_the_policy() {
    use streams_core::runtime::{InvalidTimestampPolicy, timestamp_from_value};
    use streams_core::serde::DefaultSerde;
    let Some(kafka) = TestKafka::from_env() else { return };
    let input = kafka.create_topic("stamped", 1);
    let app = kafka.unique_name("stamped");
    // The value is the event time in seconds; "-5" is an invalid (negative) time.
    let values = ["100", "-5", "160", "170"];
    kafka.produce_records(&input, values.iter().map(|v| raw("k", v, Some(BASE))));
    let extractor = timestamp_from_value(String::default_serde(), |v: &String| v.parse::<i64>().unwrap() * 1_000);
    let state = tempfile::tempdir().unwrap();
    let config = |policy| {
        StreamsConfig::new(&app, kafka.bootstrap_servers())
            .with_state_dir(state.path())
            .with_timestamp_extractor(extractor.clone())
            .with_invalid_timestamp_policy(policy)
    };

    // Fail (the default): the application stops, naming the record.
    let mut streams = KafkaStreams::new(windowed_count(input.name()), config(InvalidTimestampPolicy::Fail)).unwrap();
    streams.start().unwrap();
    wait_for("the failure", || streams.state() == StreamsState::Error);
    let error = streams.close().unwrap_err().to_string();
    assert!(
        error.contains(&format!("{}/0@1", input.name())) && error.contains("timestamp -5000"),
        "{error}"
    );

    // Skip and count: the record is skipped, the others are counted in their event-time windows.
    let mut streams = KafkaStreams::new(
        windowed_count(input.name()),
        config(InvalidTimestampPolicy::SkipAndCount),
    )
    .unwrap();
    streams.start().unwrap();
    wait_for("three records processed", || streams.stats().processed == 3);
    assert_eq!(streams.stats().skipped, 1);
    let windows: Vec<(i64, i64)> = streams
        .window_store::<String, i64>("per-minute")
        .unwrap()
        .fetch(&"k".to_string(), 0, i64::MAX)
        .unwrap();
    assert_eq!(
        windows,
        [(60_000, 1), (120_000, 2)],
        "windows of the values' times, not the records'"
    );
    streams.close().unwrap();
    let committed = kafka.committed_offsets(&app, &input);
    assert_eq!(
        committed.get(&0),
        Some(&4),
        "the skipped record's offset is committed too"
    );
    kafka.delete_topics_with_prefix(&app);
}

#[test]
fn a_slow_processor_keeps_its_group_membership() {
    let Some(kafka) = TestKafka::from_env() else { return };
    let input = kafka.create_topic("slow-in", 1);
    let app = kafka.unique_name("slow");
    const RECORDS: usize = 400;
    kafka.produce_records(
        &input,
        (0..RECORDS).map(|i| raw(&format!("k{i}"), "v", Some(BASE + i as i64))),
    );
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>(input.name())
        .peek(|_, _| std::thread::sleep(Duration::from_millis(25)));
    // 400 records × 25 ms = 10 s of processing, more than the 7 s allowed between polls.
    let state = tempfile::tempdir().unwrap();
    let config = StreamsConfig::new(&app, kafka.bootstrap_servers())
        .with_state_dir(state.path())
        .with_consumer_config("session.timeout.ms", "6000")
        .with_consumer_config("max.poll.interval.ms", "7000");
    let mut streams = KafkaStreams::new(builder.build().unwrap(), config).unwrap();
    streams.start().unwrap();
    wait_for("every record processed", || streams.stats().processed == RECORDS as u64);
    assert_eq!(
        streams.stats().rebalances,
        1,
        "one assignment, never lost: {:?}",
        streams.stats()
    );
    streams.close().unwrap();
    kafka.delete_topics_with_prefix(&app);
}

#[test]
fn a_repartitioning_topology_spreads_over_two_instances() {
    let Some(kafka) = TestKafka::from_env() else { return };
    let input = kafka.create_topic("rekey-in", 4);
    let app = kafka.unique_name("rekey");
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    // Keys are users; the topology re-keys by country (select_key + group_by_key: a repartition
    // topic) and counts per country.
    let countries = ["fr", "de", "it", "es", "pt", "nl", "be"];
    kafka.produce(
        &input,
        (0..3_000).map(|i| {
            let country = countries[i % countries.len()];
            (
                Some(format!("user-{}", i % 97).into_bytes()),
                Some(country.as_bytes().to_vec()),
            )
        }),
    );
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for i in 0..3_000 {
        *expected.entry(countries[i % countries.len()].to_string()).or_insert(0) += 1;
    }
    let start = |i: usize| {
        let builder = StreamsBuilder::new();
        builder
            .stream::<String, String>(input.name())
            .select_key(|_, country: &String| country.clone())
            .group_by_key()
            .count_with(Materialized::named("per-country"));
        let config = StreamsConfig::new(&app, kafka.bootstrap_servers())
            .with_state_dir(dirs[i].path())
            .with_commit_interval(Duration::from_millis(100));
        let mut streams = KafkaStreams::new(builder.build().unwrap(), config).unwrap();
        streams.start().unwrap();
        streams
    };
    let mut first = start(0);
    let mut second = start(1);
    let counts = |instances: &[&KafkaStreams]| -> Option<BTreeMap<String, i64>> {
        let mut all = BTreeMap::new();
        for streams in instances {
            for (country, count) in streams.key_value_store::<String, i64>("per-country").ok()?.all().ok()? {
                assert!(
                    all.insert(country, count).is_none(),
                    "a country is counted on one instance"
                );
            }
        }
        Some(all)
    };
    wait_for("counts per country over both instances", || {
        counts(&[&first, &second]).as_ref() == Some(&expected)
    });
    let on_first = counts(&[&first]).unwrap().len();
    assert!(
        on_first > 0 && on_first < countries.len(),
        "both instances hold countries ({on_first} on the first)"
    );
    first.close().unwrap();
    second.close().unwrap();
    kafka.delete_topics_with_prefix(&app);
}

#[test]
fn committed_records_are_purged_from_repartition_topics_under_both_guarantees() {
    let Some(kafka) = TestKafka::from_env() else { return };
    let input = kafka.create_topic("purge-in", 2);
    kafka.produce(
        &input,
        (0..2_000).map(|i| {
            (
                Some(format!("k{i}").into_bytes()),
                Some(format!("w{}", i % 50).into_bytes()),
            )
        }),
    );
    for guarantee in [
        streams_core::ProcessingGuarantee::AtLeastOnce,
        streams_core::ProcessingGuarantee::ExactlyOnceV2,
    ] {
        let app = kafka.unique_name("purge");
        let state = tempfile::tempdir().unwrap();
        let builder = StreamsBuilder::new();
        builder
            .stream::<String, String>(input.name())
            .group_by(|_, word: &String| word.clone())
            .count_with(Materialized::named("word-counts"));
        let config = StreamsConfig::new(&app, kafka.bootstrap_servers())
            .with_state_dir(state.path())
            .with_processing_guarantee(guarantee)
            .with_commit_interval(Duration::from_millis(100))
            .with_repartition_purge_interval(Duration::from_millis(200));
        let mut streams = KafkaStreams::new(builder.build().unwrap(), config).unwrap();
        streams.start().unwrap();
        common::wait_for("every record read twice", WAIT, || streams.stats().processed == 4_000);
        // Every record of the repartition topic (2,000, one per input) was committed, then deleted:
        // the partitions start past them (under exactly-once, transaction markers take offsets too,
        // and the last one stays).
        let repartition = format!("{app}-word-counts-repartition");
        common::wait_for("the repartition topic purged", WAIT, || {
            kafka.start_offsets_of(&repartition, 2).values().sum::<i64>() >= 2_000
        });
        let total: i64 = streams
            .key_value_store::<String, i64>("word-counts")
            .unwrap()
            .all()
            .unwrap()
            .into_iter()
            .map(|(_, count)| count)
            .sum();
        assert_eq!(total, 2_000, "{guarantee:?}");
        streams.close().unwrap();
        kafka.delete_topics_with_prefix(&app);
    }
}

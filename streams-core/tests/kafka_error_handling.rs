//! The error handlers on the real broker: poison pills dead-lettered (inside the transaction under
//! exactly-once) while the application never stops; `Fail` stopping at the first one without
//! committing past it; panicking closures; outputs the producer refuses. Needs
//! `STREAMS_BOOTSTRAP_SERVERS` (scripts/test sets it).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use streams_core::dsl::StreamsBuilder;
use streams_core::runtime::error_handling::{
    HEADER_APPLICATION_ID, HEADER_KIND, HEADER_MESSAGE, HEADER_OFFSET, HEADER_PARTITION, HEADER_PROCESSOR,
    HEADER_TIMESTAMP, HEADER_TOPIC,
};
use streams_core::runtime::{KafkaStreams, RawRecord, StreamsState};
use streams_core::testing::kafka::{TestKafka, TestTopic};
use streams_core::topology::Topology;
use streams_core::{Error, ProcessingGuarantee, ProductionErrorHandler, RecordErrorHandler, StreamsConfig};

const WAIT: Duration = Duration::from_secs(120);

/// `i64` values × 10; the closure panics on values ending in 13 (`v % 10_000 == 13`).
fn times_ten(input: &str, output: &str) -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>(input)
        .map_values(|v| {
            assert!(v % 10_000 != 13, "thirteen is unlucky");
            v * 10
        })
        .to(output);
    builder.build().unwrap()
}

/// `i64` values × 10, never panicking.
fn plain_times_ten(input: &str, output: &str) -> Topology {
    let builder = StreamsBuilder::new();
    builder.stream::<String, i64>(input).map_values(|v| v * 10).to(output);
    builder.build().unwrap()
}

/// Record `i`: key `key-i`, an 8-byte big-endian `i64` value, timestamp `i`, a `trace` header;
/// when `bad(i)`, a value that is not 8 bytes (it does not deserialize).
fn record(i: i64, bad: bool) -> RawRecord {
    RawRecord {
        key: Some(format!("key-{i}").into_bytes()),
        value: Some(if bad {
            format!("not-a-number-{i}").into_bytes()
        } else {
            i.to_be_bytes().to_vec()
        }),
        timestamp: Some(1_700_000_000_000 + i),
        headers: vec![("trace".to_string(), Some(format!("t-{i}").into_bytes()))],
    }
}

fn header(record: &RawRecord, name: &str) -> Option<String> {
    record
        .headers
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .and_then(|(_, value)| value.clone())
        .map(|bytes| String::from_utf8(bytes).unwrap())
}

fn config(app: &str, kafka: &TestKafka, state: &std::path::Path) -> StreamsConfig {
    StreamsConfig::new(app, kafka.bootstrap_servers()).with_state_dir(state)
}

/// Waits until `done` while checking that the application never stops.
fn run_until(streams: &KafkaStreams, what: &str, mut done: impl FnMut(&KafkaStreams) -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done(streams) {
        assert_ne!(
            streams.state(),
            StreamsState::Error,
            "the application stopped while {what}"
        );
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {:?}",
            streams.stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn one_percent_poison_pills_all_go_to_the_dead_letter_topic_in_the_transaction_and_the_app_never_stops() {
    let Some(kafka) = TestKafka::from_env() else { return };
    const RECORDS: i64 = 100_000;
    let is_bad = |i: i64| i % 100 == 50;
    let panics = |i: i64| !is_bad(i) && i % 10_000 == 13;
    let input = kafka.create_topic("poison-in", 2);
    let output = kafka.create_topic("poison-out", 2);
    let app = kafka.unique_name("poison");
    let state = tempfile::tempdir().unwrap();
    kafka.produce_records(&input, (0..RECORDS).map(|i| record(i, is_bad(i))));
    // Where each record landed, to check the dead letters' headers against.
    let placed: BTreeMap<Vec<u8>, (i32, i64)> = kafka
        .read(&input, RECORDS as usize, WAIT)
        .into_iter()
        .map(|r| (r.record.key.unwrap(), (r.partition, r.offset)))
        .collect();
    assert_eq!(placed.len(), RECORDS as usize);

    let mut streams = KafkaStreams::new(
        times_ten(input.name(), output.name()),
        config(&app, &kafka, state.path())
            .with_processing_guarantee(ProcessingGuarantee::ExactlyOnceV2)
            .with_deserialization_error_handler(RecordErrorHandler::DeadLetter)
            .with_processing_error_handler(RecordErrorHandler::DeadLetter),
    )
    .unwrap();
    streams.start().unwrap();
    run_until(&streams, "processing every record", |s| {
        s.stats().processed == RECORDS as u64
    });
    let stats = streams.stats();
    let bad: BTreeSet<i64> = (0..RECORDS).filter(|&i| is_bad(i)).collect();
    let panicked: BTreeSet<i64> = (0..RECORDS).filter(|&i| panics(i)).collect();
    assert_eq!(bad.len(), 1_000, "1% of the records are malformed");
    assert_eq!(stats.dead_lettered, (bad.len() + panicked.len()) as u64);
    assert_eq!(stats.skipped, 0);
    streams.close().unwrap();

    // Every good record processed exactly once (read_committed).
    let good = RECORDS as usize - bad.len() - panicked.len();
    let outputs = kafka.read(&output, good + 1, Duration::from_secs(30));
    let mut values: Vec<i64> = outputs
        .iter()
        .map(|r| i64::from_be_bytes(r.record.value.clone().unwrap().try_into().unwrap()))
        .collect();
    values.sort_unstable();
    let expected: Vec<i64> = (0..RECORDS)
        .filter(|i| !bad.contains(i) && !panicked.contains(i))
        .map(|i| i * 10)
        .collect();
    assert_eq!(values.len(), expected.len(), "no good record lost or repeated");
    assert_eq!(values, expected);

    // Every failed record in the dead-letter topic, once, as it was, saying where and why.
    let dlq = kafka.existing_topic(&format!("{app}-dlq"));
    let dead = kafka.read(&dlq, bad.len() + panicked.len() + 1, Duration::from_secs(30));
    assert_eq!(dead.len(), bad.len() + panicked.len());
    let mut seen = BTreeSet::new();
    for read in &dead {
        let record = &read.record;
        let key = String::from_utf8(record.key.clone().unwrap()).unwrap();
        let i: i64 = key.strip_prefix("key-").unwrap().parse().unwrap();
        assert!(seen.insert(i), "{key} dead-lettered twice");
        let original = self::record(i, is_bad(i));
        assert_eq!(record.value, original.value, "{key}: the value bytes are kept");
        assert_eq!(record.timestamp, original.timestamp, "{key}: the timestamp is kept");
        assert_eq!(header(record, "trace"), Some(format!("t-{i}")));
        let (partition, offset) = placed[record.key.as_ref().unwrap()];
        assert_eq!(header(record, HEADER_TOPIC).as_deref(), Some(input.name()));
        assert_eq!(header(record, HEADER_PARTITION), Some(partition.to_string()));
        assert_eq!(header(record, HEADER_OFFSET), Some(offset.to_string()));
        assert_eq!(
            header(record, HEADER_TIMESTAMP),
            Some(original.timestamp.unwrap().to_string())
        );
        assert_eq!(header(record, HEADER_APPLICATION_ID).as_deref(), Some(app.as_str()));
        let message = header(record, HEADER_MESSAGE).unwrap();
        if is_bad(i) {
            assert_eq!(header(record, HEADER_KIND).as_deref(), Some("deserialization"));
            assert_eq!(
                header(record, HEADER_PROCESSOR).as_deref(),
                Some("KSTREAM-SOURCE-0000000000")
            );
            assert!(message.contains("deserializing the value"), "{message}");
        } else {
            assert!(panicked.contains(&i), "{key} should not have failed");
            assert_eq!(header(record, HEADER_KIND).as_deref(), Some("panic"));
            assert_eq!(
                header(record, HEADER_PROCESSOR).as_deref(),
                Some("KSTREAM-MAPVALUES-0000000001")
            );
            assert!(message.contains("thirteen is unlucky"), "{message}");
        }
    }
    drop(dlq);
    kafka.delete_topics_with_prefix(&app);
}

/// Runs `topology` until it stops with an error; returns the error.
fn run_until_failed(streams: &mut KafkaStreams) -> Error {
    common::wait_for("the application to stop with an error", WAIT, || {
        streams.state() == StreamsState::Error
    });
    streams
        .close()
        .expect_err("close reports the error that stopped the application")
}

#[test]
fn fail_stops_at_the_first_poison_pill_naming_it_and_commits_nothing_past_it() {
    let Some(kafka) = TestKafka::from_env() else { return };
    let input = kafka.create_topic("fail-in", 1);
    let output = kafka.create_topic("fail-out", 1);
    let app = kafka.unique_name("fail");
    let state = tempfile::tempdir().unwrap();
    let mut streams = KafkaStreams::new(
        plain_times_ten(input.name(), output.name()),
        config(&app, &kafka, state.path()).with_commit_interval(Duration::from_millis(50)),
    )
    .unwrap();
    streams.start().unwrap();
    // A first part, processed and committed.
    kafka.produce_records(&input, (0..5_000).map(|i| record(i, false)));
    common::wait_for("the first part committed", WAIT, || {
        kafka.committed_offsets(&app, &input).get(&0) == Some(&5_000)
    });
    // Then good records, the first poison pill at offset 5_020, and 1% malformed after it.
    kafka.produce_records(&input, (5_000..100_000).map(|i| record(i, i >= 5_020 && i % 100 == 20)));
    let error = run_until_failed(&mut streams);
    let Error::Record {
        topic,
        partition,
        offset,
        reason,
    } = &error
    else {
        panic!("not a record error: {error}");
    };
    assert_eq!(
        (topic.as_str(), *partition, *offset),
        (input.name(), 0, 5_020),
        "{error}"
    );
    assert!(reason.contains("deserializing the value"), "{error}");
    let committed = kafka.committed_offsets(&app, &input)[&0];
    assert!(
        (5_000..=5_020).contains(&committed),
        "committed {committed}: nothing past the poison pill"
    );
    // Nothing after it was processed (the outputs of the 20 records before it may not have been
    // sent when the application stopped: at-least-once processes them again at the next start).
    let outputs = kafka.read(&output, 5_021, Duration::from_secs(10));
    let last = outputs
        .iter()
        .map(|r| i64::from_be_bytes(r.record.value.clone().unwrap().try_into().unwrap()))
        .max()
        .unwrap();
    assert!((4_999 * 10..=5_019 * 10).contains(&last), "last output {last}");
    kafka.delete_topics_with_prefix(&app);
}

#[test]
fn a_panicking_closure_under_fail_stops_the_application_and_under_log_and_continue_skips_one_record() {
    let Some(kafka) = TestKafka::from_env() else { return };
    let input = kafka.create_topic("panic-in", 2);
    kafka.produce_records(&input, (0..1_000).map(|i| record(i, false)));

    // Fail: the application stops, with the panic's message and the record.
    let output = kafka.create_topic("panic-fail-out", 2);
    let app = kafka.unique_name("panic-fail");
    let state = tempfile::tempdir().unwrap();
    let mut streams = KafkaStreams::new(
        times_ten(input.name(), output.name()),
        config(&app, &kafka, state.path()),
    )
    .unwrap();
    streams.start().unwrap();
    let error = run_until_failed(&mut streams);
    let text = error.to_string();
    assert!(matches!(error, Error::Record { .. }), "{text}");
    assert!(text.contains("panicked: thirteen is unlucky"), "{text}");
    assert!(text.contains("KSTREAM-MAPVALUES-0000000001"), "{text}");
    kafka.delete_topics_with_prefix(&app);

    // LogAndContinue: that record is skipped; every other one, on both partitions, is processed.
    let output = kafka.create_topic("panic-continue-out", 2);
    let app = kafka.unique_name("panic-continue");
    let mut streams = KafkaStreams::new(
        times_ten(input.name(), output.name()),
        config(&app, &kafka, state.path()).with_processing_error_handler(RecordErrorHandler::LogAndContinue),
    )
    .unwrap();
    streams.start().unwrap();
    run_until(&streams, "processing every record", |s| s.stats().processed == 1_000);
    assert_eq!(streams.stats().skipped, 1);
    streams.close().unwrap();
    let outputs = kafka.read(&output, 1_000, Duration::from_secs(10));
    assert_eq!(outputs.len(), 999);
    kafka.delete_topics_with_prefix(&app);
}

/// Values to text; the value 7 becomes a text of 2 MB, over the producer's `message.max.bytes`.
fn with_a_huge_output(input: &str, output: &str) -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>(input)
        .map_values(|v| if v == 7 { "x".repeat(2 << 20) } else { v.to_string() })
        .to(output);
    builder.build().unwrap()
}

fn huge_output_run(
    kafka: &TestKafka,
    input: &TestTopic,
    guarantee: ProcessingGuarantee,
    handler: ProductionErrorHandler,
) {
    let output = kafka.create_topic("huge-out", 1);
    let app = kafka.unique_name("huge");
    let state = tempfile::tempdir().unwrap();
    let mut streams = KafkaStreams::new(
        with_a_huge_output(input.name(), output.name()),
        config(&app, kafka, state.path())
            .with_processing_guarantee(guarantee)
            .with_production_error_handler(handler),
    )
    .unwrap();
    streams.start().unwrap();
    match handler {
        ProductionErrorHandler::Fail => {
            let error = run_until_failed(&mut streams);
            let text = error.to_string();
            assert!(text.contains(output.name()), "names the topic: {text}");
            assert!(
                text.contains(&format!("{}/0@7", input.name())),
                "names the input record: {text}"
            );
        }
        ProductionErrorHandler::Skip => {
            run_until(&streams, "processing every record", |s| s.stats().processed == 100);
            assert_eq!(streams.stats().skipped, 1, "the refused output is counted");
            streams.close().unwrap();
            let outputs = kafka.read(&output, 100, Duration::from_secs(10));
            let values: Vec<String> = outputs
                .iter()
                .map(|r| String::from_utf8(r.record.value.clone().unwrap()).unwrap())
                .collect();
            let expected: Vec<String> = (0..100).filter(|&i| i != 7).map(|i| i.to_string()).collect();
            assert_eq!(values, expected, "{guarantee:?}");
        }
    }
    kafka.delete_topics_with_prefix(&app);
}

#[test]
fn an_output_the_producer_refuses_stops_the_application_or_is_skipped_and_counted() {
    let Some(kafka) = TestKafka::from_env() else { return };
    let input = kafka.create_topic("huge-in", 1);
    kafka.produce_records(&input, (0..100).map(|i| record(i, false)));
    huge_output_run(
        &kafka,
        &input,
        ProcessingGuarantee::AtLeastOnce,
        ProductionErrorHandler::Fail,
    );
    huge_output_run(
        &kafka,
        &input,
        ProcessingGuarantee::AtLeastOnce,
        ProductionErrorHandler::Skip,
    );
    huge_output_run(
        &kafka,
        &input,
        ProcessingGuarantee::ExactlyOnceV2,
        ProductionErrorHandler::Skip,
    );
}

/// Values to text, the value 7 as 5,000 bytes: accepted by the producer, refused by a topic whose
/// `max.message.bytes` is 2,000 — a refusal that arrives with the delivery report.
fn with_a_large_output(input: &str, output: &str) -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>(input)
        .map_values(|v| if v == 7 { "y".repeat(5_000) } else { v.to_string() })
        .to(output);
    builder.build().unwrap()
}

#[test]
fn an_output_the_broker_refuses_stops_the_application_even_under_skip() {
    // librdkafka reports a broker's refusal for the whole batch the record was in: skipping would
    // drop good records with it. The application stops, committing nothing past the refusal.
    let Some(kafka) = TestKafka::from_env() else { return };
    let input = kafka.create_topic("refused-in", 1);
    kafka.produce_records(&input, (0..100).map(|i| record(i, false)));
    for guarantee in [ProcessingGuarantee::AtLeastOnce, ProcessingGuarantee::ExactlyOnceV2] {
        let output = kafka.create_topic_with_config("refused-out", 1, &[("max.message.bytes", "2000")]);
        let app = kafka.unique_name("refused");
        let state = tempfile::tempdir().unwrap();
        let mut streams = KafkaStreams::new(
            with_a_large_output(input.name(), output.name()),
            config(&app, &kafka, state.path())
                .with_processing_guarantee(guarantee)
                .with_commit_interval(Duration::from_millis(100))
                .with_production_error_handler(ProductionErrorHandler::Skip),
        )
        .unwrap();
        streams.start().unwrap();
        let error = run_until_failed(&mut streams);
        assert!(matches!(error, Error::Delivery { .. }), "{guarantee:?}: {error}");
        assert!(error.to_string().contains(output.name()), "{error}");
        assert_eq!(streams.stats().skipped, 0, "{guarantee:?}");
        let committed = kafka.committed_offsets(&app, &input).get(&0).copied();
        assert!(
            committed.is_none_or(|offset| offset <= 7),
            "{guarantee:?}: committed {committed:?}, past the refused record"
        );
        kafka.delete_topics_with_prefix(&app);
    }
}

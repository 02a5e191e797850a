//! The record error handlers, with the test driver: what `Fail`, `LogAndContinue` and `DeadLetter`
//! do with a record whose bytes do not deserialize, whose processor returns an error, or whose
//! user closure panics; and what a dead-lettered record looks like.

use streams_core::dsl::StreamsBuilder;
use streams_core::processor::{Processor, ProcessorContext, Record};
use streams_core::runtime::RawRecord;
use streams_core::runtime::error_handling::{
    HEADER_APPLICATION_ID, HEADER_KIND, HEADER_MESSAGE, HEADER_OFFSET, HEADER_PARTITION, HEADER_PROCESSOR,
    HEADER_TIMESTAMP, HEADER_TOPIC,
};
use streams_core::testing::TopologyTestDriver;
use streams_core::topology::Topology;
use streams_core::{Error, RecordErrorHandler, StreamsConfig};

/// `numbers` (i64 values) → value × 10 → `out`; a value of 13 makes the closure panic.
fn times_ten() -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("numbers")
        .map_values(|v| {
            assert_ne!(v, 13, "thirteen is unlucky");
            v * 10
        })
        .to("out");
    builder.build().unwrap()
}

/// Fails (returns an error) on negative values, forwards the others.
struct NoNegatives;

impl Processor<String, i64> for NoNegatives {
    fn process(
        &mut self,
        record: Record<String, i64>,
        ctx: &mut ProcessorContext<'_, String, i64>,
    ) -> streams_core::Result<()> {
        if record.value < 0 {
            return Err(Error::processing(format!("{} is negative", record.value)));
        }
        ctx.forward(record)
    }
}

fn no_negatives() -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("numbers")
        .process(|| NoNegatives)
        .to("out");
    builder.build().unwrap()
}

fn driver(
    topology: Topology,
    deserialization: RecordErrorHandler,
    processing: RecordErrorHandler,
) -> TopologyTestDriver {
    let config = StreamsConfig::for_tests("app")
        .with_deserialization_error_handler(deserialization)
        .with_processing_error_handler(processing);
    TopologyTestDriver::new(topology, config).unwrap()
}

/// A record as it would be on the topic, with an `i64` value unless `value` says otherwise.
fn raw(key: &str, value: &[u8], timestamp: i64) -> RawRecord {
    RawRecord {
        key: Some(key.as_bytes().to_vec()),
        value: Some(value.to_vec()),
        timestamp: Some(timestamp),
        headers: vec![("trace".to_string(), Some(b"t-1".to_vec()))],
    }
}

fn good(key: &str, value: i64, timestamp: i64) -> RawRecord {
    raw(key, &value.to_be_bytes(), timestamp)
}

fn header<'a>(record: &'a Record<Vec<u8>, Vec<u8>>, name: &str) -> Option<&'a str> {
    record
        .headers
        .last(name)
        .flatten()
        .map(|bytes| std::str::from_utf8(bytes).unwrap())
}

#[test]
fn a_bad_record_stops_the_run_under_fail_naming_topic_partition_offset_and_cause() {
    let driver = driver(times_ten(), RecordErrorHandler::Fail, RecordErrorHandler::Fail);
    let input = driver.input_topic::<String, i64>("numbers");
    input.try_pipe_raw(good("a", 1, 10)).unwrap();
    let error = input.try_pipe_raw(raw("b", b"oops", 20)).unwrap_err();
    let Error::Record {
        topic,
        partition,
        offset,
        reason,
    } = &error
    else {
        panic!("not a record error: {error}");
    };
    assert_eq!((topic.as_str(), *partition, *offset), ("numbers", 0, 1));
    assert!(reason.contains("deserializing the value"), "{error}");
    assert!(reason.contains("KSTREAM-SOURCE-0000000000"), "{error}");
    assert_eq!(driver.skipped_records(), 0);
    assert_eq!(driver.dead_lettered_records(), 0);
}

#[test]
fn log_and_continue_skips_bad_records_and_counts_them() {
    let driver = driver(
        times_ten(),
        RecordErrorHandler::LogAndContinue,
        RecordErrorHandler::Fail,
    );
    let input = driver.input_topic::<String, i64>("numbers");
    let output = driver.output_topic::<String, i64>("out");
    input.try_pipe_raw(good("a", 1, 10)).unwrap();
    input.try_pipe_raw(raw("b", b"oops", 20)).unwrap();
    input.try_pipe_raw(raw("c", &[1, 2, 3], 30)).unwrap();
    input.try_pipe_raw(good("d", 4, 40)).unwrap();
    assert_eq!(
        output.read_key_values_to_list(),
        vec![("a".to_string(), 10), ("d".to_string(), 40)]
    );
    assert_eq!(driver.skipped_records(), 2);
    assert!(driver.output_topic::<Vec<u8>, Vec<u8>>("app-dlq").is_empty());
}

#[test]
fn dead_letter_keeps_the_bytes_and_headers_and_adds_where_and_why() {
    let driver = driver(times_ten(), RecordErrorHandler::DeadLetter, RecordErrorHandler::Fail);
    let input = driver.input_topic::<String, i64>("numbers");
    let output = driver.output_topic::<String, i64>("out");
    let dlq = driver.output_topic::<Vec<u8>, Vec<u8>>("app-dlq");
    input.try_pipe_raw(good("a", 1, 10)).unwrap();
    input.try_pipe_raw(raw("b", b"oops", 20)).unwrap();
    input.try_pipe_raw(good("c", 3, 30)).unwrap();

    assert_eq!(
        output.read_key_values_to_list(),
        vec![("a".to_string(), 10), ("c".to_string(), 30)]
    );
    let dead = dlq.read_records_to_list();
    assert_eq!(dead.len(), 1);
    let record = &dead[0];
    assert_eq!(record.key, b"b");
    assert_eq!(record.value, b"oops");
    assert_eq!(record.timestamp, 20);
    assert_eq!(header(record, "trace"), Some("t-1"), "the original headers are kept");
    assert_eq!(header(record, HEADER_TOPIC), Some("numbers"));
    assert_eq!(header(record, HEADER_PARTITION), Some("0"));
    assert_eq!(header(record, HEADER_OFFSET), Some("1"));
    assert_eq!(header(record, HEADER_TIMESTAMP), Some("20"));
    assert_eq!(header(record, HEADER_KIND), Some("deserialization"));
    assert_eq!(header(record, HEADER_PROCESSOR), Some("KSTREAM-SOURCE-0000000000"));
    assert_eq!(header(record, HEADER_APPLICATION_ID), Some("app"));
    let message = header(record, HEADER_MESSAGE).unwrap();
    assert!(message.starts_with("deserializing the value"), "{message}");
    assert_eq!(driver.dead_lettered_records(), 1);
    assert_eq!(driver.skipped_records(), 0);
}

#[test]
fn the_dead_letter_topic_can_be_named() {
    let config = StreamsConfig::for_tests("app")
        .with_deserialization_error_handler(RecordErrorHandler::DeadLetter)
        .with_dead_letter_topic("bad-numbers");
    let driver = TopologyTestDriver::new(times_ten(), config).unwrap();
    driver
        .input_topic::<String, i64>("numbers")
        .try_pipe_raw(raw("b", b"oops", 20))
        .unwrap();
    assert_eq!(driver.output_topic::<Vec<u8>, Vec<u8>>("bad-numbers").queue_size(), 1);
    assert!(driver.output_topic::<Vec<u8>, Vec<u8>>("app-dlq").is_empty());
}

#[test]
fn a_panicking_closure_under_fail_stops_with_the_panic_message() {
    let driver = driver(times_ten(), RecordErrorHandler::Fail, RecordErrorHandler::Fail);
    let input = driver.input_topic::<String, i64>("numbers");
    let error = input.try_pipe_raw(good("x", 13, 10)).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, Error::Record { offset: 0, .. }), "{text}");
    assert!(text.contains("panicked"), "{text}");
    assert!(text.contains("thirteen is unlucky"), "{text}");
    assert!(text.contains("KSTREAM-MAPVALUES-0000000001"), "{text}");
}

#[test]
fn a_panicking_closure_under_log_and_continue_skips_only_that_record() {
    let driver = driver(
        times_ten(),
        RecordErrorHandler::Fail,
        RecordErrorHandler::LogAndContinue,
    );
    let input = driver.input_topic::<String, i64>("numbers");
    let output = driver.output_topic::<String, i64>("out");
    for (i, value) in [1, 13, 2, 13, 3].into_iter().enumerate() {
        input.pipe_input_at("k".to_string(), value, i as i64);
    }
    // The node that panicked is still in place and keeps working.
    assert_eq!(output.read_values_to_list(), vec![10, 20, 30]);
    assert_eq!(driver.skipped_records(), 2);
}

#[test]
fn a_panicking_closure_under_dead_letter_sends_the_record_with_kind_panic() {
    let driver = driver(times_ten(), RecordErrorHandler::Fail, RecordErrorHandler::DeadLetter);
    let input = driver.input_topic::<String, i64>("numbers");
    let output = driver.output_topic::<String, i64>("out");
    let dlq = driver.output_topic::<Vec<u8>, Vec<u8>>("app-dlq");
    input.pipe_input_at("a".to_string(), 13, 5);
    input.pipe_input_at("b".to_string(), 2, 6);
    assert_eq!(output.read_values_to_list(), vec![20]);
    let dead = dlq.read_records_to_list();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].value, 13i64.to_be_bytes());
    assert_eq!(header(&dead[0], HEADER_KIND), Some("panic"));
    assert_eq!(header(&dead[0], HEADER_PROCESSOR), Some("KSTREAM-MAPVALUES-0000000001"));
    let message = header(&dead[0], HEADER_MESSAGE).unwrap();
    assert!(message.contains("thirteen is unlucky"), "{message}");
}

#[test]
fn a_processor_error_goes_to_the_processing_handler_not_the_deserialization_one() {
    // Deserialization failures dead-letter, processing failures are skipped.
    let driver = driver(
        no_negatives(),
        RecordErrorHandler::DeadLetter,
        RecordErrorHandler::LogAndContinue,
    );
    let input = driver.input_topic::<String, i64>("numbers");
    let output = driver.output_topic::<String, i64>("out");
    let dlq = driver.output_topic::<Vec<u8>, Vec<u8>>("app-dlq");
    input.pipe_input_at("a".to_string(), -1, 1);
    input.try_pipe_raw(raw("b", b"x", 2)).unwrap();
    input.pipe_input_at("c".to_string(), 5, 3);
    assert_eq!(output.read_values_to_list(), vec![5]);
    assert_eq!(driver.skipped_records(), 1);
    let dead = dlq.read_records_to_list();
    assert_eq!(dead.len(), 1);
    assert_eq!(header(&dead[0], HEADER_KIND), Some("deserialization"));

    // And the other way round.
    let driver = driver_with_processing_dead_letter();
    let input = driver.input_topic::<String, i64>("numbers");
    input.pipe_input_at("a".to_string(), -7, 1);
    let dead = driver
        .output_topic::<Vec<u8>, Vec<u8>>("app-dlq")
        .read_records_to_list();
    assert_eq!(header(&dead[0], HEADER_KIND), Some("processing"));
    assert_eq!(header(&dead[0], HEADER_MESSAGE), Some("-7 is negative"));
    let error = input.try_pipe_raw(raw("b", b"x", 2)).unwrap_err();
    assert!(error.to_string().contains("deserializing the value"), "{error}");
}

fn driver_with_processing_dead_letter() -> TopologyTestDriver {
    driver(no_negatives(), RecordErrorHandler::Fail, RecordErrorHandler::DeadLetter)
}

#[test]
fn a_failure_after_a_partial_forward_keeps_what_was_forwarded() {
    // Kafka Streams' semantics: outputs a record produced before it failed are not taken back.
    let builder = StreamsBuilder::new();
    let numbers = builder.stream::<String, i64>("numbers");
    numbers.to("copy");
    numbers
        .map_values(|v| {
            assert!(v >= 0, "negative");
            v
        })
        .to("out");
    let driver = TopologyTestDriver::new(
        builder.build().unwrap(),
        StreamsConfig::for_tests("app").with_processing_error_handler(RecordErrorHandler::LogAndContinue),
    )
    .unwrap();
    driver
        .input_topic::<String, i64>("numbers")
        .pipe_input_at("a".to_string(), -1, 1);
    assert_eq!(
        driver.output_topic::<String, i64>("copy").read_values_to_list(),
        vec![-1]
    );
    assert!(driver.output_topic::<String, i64>("out").is_empty());
    assert_eq!(driver.skipped_records(), 1);
}

//! The scoring operator under the test driver: batching keeps results and order, hot swaps take
//! effect between batches, failed batches are dead-lettered, bad features fail their record.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::Linear;
use streams_core::dsl::StreamsBuilder;
use streams_core::processor::Record;
use streams_core::runtime::error_handling::{HEADER_KIND, HEADER_MESSAGE, HEADER_OFFSET, HEADER_PROCESSOR};
use streams_core::testing::TopologyTestDriver;
use streams_core::{RecordErrorHandler, StreamsConfig};
use streams_ml::model::ModelHandle;
use streams_ml::{ScoreExt, Scored, Scoring};

/// `input` (key → "x0,x1") scored into `scored` as JSON `Scored<String>`.
fn topology(scoring: Scoring) -> streams_core::topology::Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("input")
        .score(scoring.named("score"), |_key, value: &String| {
            let mut parts = value.split(',').map(|p| p.parse::<f32>().unwrap_or(f32::NAN));
            [parts.next().unwrap_or(0.0), parts.next().unwrap_or(0.0)]
        })
        .map_values(|scored| serde_json::to_string(&scored).unwrap())
        .to("scored");
    builder.build().unwrap()
}

fn read(driver: &TopologyTestDriver) -> Vec<(String, Scored<String>)> {
    driver
        .output_topic::<String, String>("scored")
        .read_key_values_to_list()
        .into_iter()
        .map(|(k, v)| (k, serde_json::from_str(&v).unwrap()))
        .collect()
}

/// 1,000 records over 13 keys; the wall clock moves by 1 ms every 10 records.
fn inputs() -> Vec<(String, String, i64)> {
    (0..1000)
        .map(|i| (format!("k{}", i % 13), format!("{i},{}", i % 7), 1_000 + i as i64))
        .collect()
}

#[test]
fn batched_outputs_equal_record_by_record_scoring_in_input_order() {
    let mut reference = None;
    for (batch, wait_ms) in [(1, 0), (7, 5), (7, 1_000_000), (256, 3), (256, 1_000_000)] {
        let handle = ModelHandle::from_arc(Linear::new("1", 3.0).shared());
        let scoring = Scoring::new(handle)
            .max_batch(batch)
            .max_wait(Duration::from_millis(wait_ms));
        let driver = TopologyTestDriver::new(topology(scoring), StreamsConfig::for_tests("score")).unwrap();
        let input = driver.input_topic::<String, String>("input");
        for (i, (key, value, timestamp)) in inputs().into_iter().enumerate() {
            input.pipe_input_at(key, value, timestamp);
            if i % 10 == 9 {
                driver.advance_wall_clock_time(Duration::from_millis(1));
            }
        }
        // Whatever still waits for a fuller batch goes once it has waited long enough.
        driver.advance_wall_clock_time(Duration::from_millis(wait_ms.max(1)));
        let out = read(&driver);
        assert_eq!(out.len(), 1000, "batch {batch}, wait {wait_ms} ms");
        let sizes: Vec<u32> = out.iter().map(|(_, s)| s.batch_size).collect();
        assert!(sizes.iter().all(|&s| s as usize <= batch), "no batch over {batch}");
        if wait_ms == 1_000_000 {
            assert!(
                sizes[..1000 - 1000 % batch].iter().all(|&s| s as usize == batch),
                "without a timeout every batch but the last is full"
            );
        }
        if batch == 7 && wait_ms == 5 {
            assert!(
                sizes.iter().any(|&s| s < 7),
                "the 5 ms timeout starts batches before they are full"
            );
        }
        let results: Vec<(String, String, f32)> = out
            .iter()
            .map(|(k, s)| {
                assert_eq!(
                    s.scores[1], s.batch_size as f32,
                    "scored in a batch of the size it reports"
                );
                assert_eq!((&*s.model, &*s.model_version), ("linear", "1"));
                (k.clone(), s.value.clone(), s.scores[0])
            })
            .collect();
        let expected: Vec<(String, String, f32)> = inputs()
            .into_iter()
            .map(|(k, v, _)| {
                let (i, j) = v.split_once(',').unwrap();
                let score = i.parse::<f32>().unwrap() * 3.0 + j.parse::<f32>().unwrap();
                (k, v, score)
            })
            .collect();
        assert_eq!(results, expected, "batch {batch}: same scores, in input order");
        match &reference {
            None => reference = Some(results),
            Some(reference) => assert_eq!(&results, reference),
        }
    }
}

#[test]
fn outputs_keep_the_input_timestamp_and_headers() {
    let handle = ModelHandle::from_arc(Linear::new("1", 1.0).shared());
    let driver = TopologyTestDriver::new(
        topology(Scoring::new(handle).max_batch(2)),
        StreamsConfig::for_tests("s"),
    )
    .unwrap();
    let input = driver.input_topic::<String, String>("input");
    let mut headers = streams_core::processor::Headers::new();
    headers.add("trace", Some(b"abc".to_vec()));
    input.pipe_record(Record::new("a".to_string(), "1,1".to_string(), 42).with_headers(headers.clone()));
    input.pipe_record(Record::new("b".to_string(), "2,2".to_string(), 43));
    let out = driver.output_topic::<String, String>("scored").read_records_to_list();
    assert_eq!(out.len(), 2);
    assert_eq!((out[0].timestamp, &out[0].headers), (42, &headers));
    assert_eq!(out[1].timestamp, 43);
}

#[test]
fn a_swap_takes_effect_from_the_next_batch_and_every_output_names_its_version() {
    let handle = ModelHandle::from_arc(Linear::new("1", 1.0).shared());
    let scoring = Scoring::new(handle.clone()).max_batch(10);
    let driver = TopologyTestDriver::new(topology(scoring), StreamsConfig::for_tests("swap")).unwrap();
    let input = driver.input_topic::<String, String>("input");
    for i in 0..55 {
        input.pipe_input_at(format!("k{}", i % 3), format!("{i},0"), i);
    }
    // 50 scored by version 1; 5 wait for a fuller batch and will be scored by version 2.
    handle.swap(Linear::new("2", 2.0).shared()).unwrap();
    for i in 55..100 {
        input.pipe_input_at(format!("k{}", i % 3), format!("{i},0"), i);
    }
    let out = read(&driver);
    assert_eq!(out.len(), 100, "none lost, none duplicated");
    for (i, (_, scored)) in out.iter().enumerate() {
        let (version, weight) = if i < 50 { ("1", 1.0) } else { ("2", 2.0) };
        assert_eq!(&*scored.model_version, version, "record {i}");
        assert_eq!(
            scored.scores[0],
            i as f32 * weight,
            "record {i} scored by the version it names"
        );
        assert_eq!(scored.value, format!("{i},0"));
    }
    assert_eq!(handle.swaps(), 1);
    let wrong = Linear {
        info: streams_ml::model::ModelInfo {
            input_width: 3,
            ..Linear::new("3", 1.0).info
        },
        ..Linear::new("3", 1.0)
    };
    let refused = handle.swap(Arc::new(wrong)).unwrap_err().to_string();
    assert!(
        refused.contains("takes 3 features") && refused.contains("takes 2"),
        "{refused}"
    );
    assert_eq!(
        &*handle.current().info().version,
        "2",
        "a refused swap keeps the current model"
    );
}

#[test]
fn records_of_a_batch_the_model_fails_on_are_dead_lettered_with_the_reason() {
    let handle = ModelHandle::from_arc(Linear::new("1", 1.0).shared());
    let driver = TopologyTestDriver::new(
        topology(Scoring::new(handle).max_batch(4)),
        StreamsConfig::for_tests("fails"),
    )
    .unwrap();
    let input = driver.input_topic::<String, String>("input");
    // Records 4..8 form the second batch; record 5 carries a NaN, so that whole batch fails.
    for i in 0..12 {
        let value = if i == 5 { "x,1".to_string() } else { format!("{i},1") };
        input.pipe_input_at(format!("k{i}"), value, i);
    }
    let out = read(&driver);
    let scored: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(scored, ["k0", "k1", "k2", "k3", "k8", "k9", "k10", "k11"]);
    let dead = driver
        .output_topic::<String, String>("fails-dlq")
        .read_records_to_list();
    let keys: Vec<&str> = dead.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["k4", "k5", "k6", "k7"], "the original records, in order");
    assert_eq!(dead[1].value, "x,1");
    let header =
        |r: &Record<String, String>, h: &str| String::from_utf8(r.headers.last(h).unwrap().unwrap().to_vec()).unwrap();
    assert_eq!(header(&dead[2], HEADER_OFFSET), "6");
    assert_eq!(header(&dead[2], HEADER_KIND), "processing");
    assert_eq!(header(&dead[2], HEADER_PROCESSOR), "score");
    let message = header(&dead[2], HEADER_MESSAGE);
    assert!(
        message.contains("model linear (version 1) failed on a batch of 4 records") && message.contains("NaN"),
        "{message}"
    );
    assert_eq!(driver.dead_lettered_records(), 4);
}

#[test]
fn a_failed_batch_follows_the_application_handler_when_told_to() {
    let handle = ModelHandle::from_arc(Linear::new("1", 1.0).shared());
    let scoring = Scoring::new(handle).max_batch(2).on_model_error(None);
    let config = StreamsConfig::for_tests("fatal");
    let driver = TopologyTestDriver::new(topology(scoring.clone()), config).unwrap();
    let input = driver.input_topic::<String, String>("input");
    input.pipe_input_at("a".to_string(), "x,1".to_string(), 1);
    let error = input
        .try_pipe_record(Record::new("b".to_string(), "1,1".to_string(), 2))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("record input/0@0 failed"),
        "names the first record: {error}"
    );

    let config = StreamsConfig::for_tests("skip").with_processing_error_handler(RecordErrorHandler::LogAndContinue);
    let driver = TopologyTestDriver::new(topology(scoring), config).unwrap();
    let input = driver.input_topic::<String, String>("input");
    for (k, v) in [("a", "x,1"), ("b", "1,1"), ("c", "1,1"), ("d", "2,2")] {
        input.pipe_input_at(k.to_string(), v.to_string(), 1);
    }
    assert_eq!(read(&driver).len(), 2);
    assert_eq!(driver.skipped_records(), 2);
}

#[test]
fn features_of_the_wrong_width_fail_their_record() {
    let handle = ModelHandle::from_arc(Linear::new("1", 1.0).shared());
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("input")
        .score(Scoring::new(handle).max_batch(1), |_, v: &String| {
            v.split(',').map(|p| p.parse::<f32>().unwrap()).collect::<Vec<f32>>()
        })
        .map_values(|s| s.scores[0].to_string())
        .to("scored");
    let config = StreamsConfig::for_tests("width").with_processing_error_handler(RecordErrorHandler::DeadLetter);
    let driver = TopologyTestDriver::new(builder.build().unwrap(), config).unwrap();
    let input = driver.input_topic::<String, String>("input");
    input.pipe_input_at("a".to_string(), "1,2,3".to_string(), 1);
    input.pipe_input_at("b".to_string(), "1,2".to_string(), 2);
    assert_eq!(
        driver.output_topic::<String, String>("scored").read_values_to_list(),
        ["3"]
    );
    let dead = driver
        .output_topic::<String, String>("width-dlq")
        .read_records_to_list();
    assert_eq!(dead.len(), 1);
    let message = String::from_utf8(dead[0].headers.last(HEADER_MESSAGE).unwrap().unwrap().to_vec()).unwrap();
    assert!(
        message.contains("gave 3 values") && message.contains("takes 2"),
        "{message}"
    );
}

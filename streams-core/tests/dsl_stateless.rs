//! The stateless DSL operators, each against its contract, with the TopologyTestDriver.

use std::sync::{Arc, Mutex};

use streams_core::dsl::{Branched, Named, Produced, Repartitioned, StreamsBuilder};
use streams_core::processor::{Headers, Record};
use streams_core::serde::{Serde, SerdeError, StringSerde};
use streams_core::testing::TopologyTestDriver;
use streams_core::{Error, StreamsConfig};

fn s(text: &str) -> String {
    text.to_string()
}

fn driver(builder: StreamsBuilder) -> TopologyTestDriver {
    TopologyTestDriver::new(
        builder.build().expect("a valid topology"),
        StreamsConfig::for_tests("dsl-test"),
    )
    .expect("the driver starts")
}

#[test]
fn filter_and_filter_not_keep_and_drop_by_predicate() {
    let builder = StreamsBuilder::new();
    let numbers = builder.stream::<String, i64>("numbers");
    let even = numbers.filter(|_, n| n % 2 == 0);
    even.filter_not(|_, n| *n > 2).to("small-even");
    even.to("even");
    let driver = driver(builder);
    let input = driver.input_topic::<String, i64>("numbers");
    input.pipe_key_value_list((1..=6).map(|n| (s("k"), n)));
    assert_eq!(
        driver.output_topic::<String, i64>("even").read_values_to_list(),
        vec![2, 4, 6]
    );
    assert_eq!(
        driver.output_topic::<String, i64>("small-even").read_values_to_list(),
        vec![2]
    );
}

#[test]
fn map_changes_key_and_value_and_keeps_timestamp_and_headers() {
    let builder = StreamsBuilder::new();
    builder.stream::<String, String>("in").map(|k, v| (v, k)).to("out");
    let driver = driver(builder);
    let mut headers = Headers::new();
    headers.add("trace", Some(b"t-1".to_vec()));
    driver
        .input_topic::<String, String>("in")
        .pipe_record(Record::new(s("key"), s("value"), 42).with_headers(headers.clone()));
    let out = driver.output_topic::<String, String>("out").read_record();
    assert_eq!((out.key, out.value, out.timestamp), (s("value"), s("key"), 42));
    assert_eq!(out.headers, headers);
}

#[test]
fn map_values_select_key_and_flat_maps() {
    let builder = StreamsBuilder::new();
    let lines = builder.stream::<String, String>("lines");
    lines
        .flat_map_values(|line: String| line.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .select_key(|_, word| word.chars().next().unwrap_or(' ').to_string())
        .map_values(|word| word.len() as i64)
        .to("first-letter-lengths");
    lines
        .flat_map(|key, line: String| vec![(key.clone(), line.len() as i64), (key, -1)])
        .to("pairs");
    let driver = driver(builder);
    driver
        .input_topic::<String, String>("lines")
        .pipe_input_at(s("l1"), s("kafka streams rock"), 7);
    let out = driver
        .output_topic::<String, i64>("first-letter-lengths")
        .read_records_to_list();
    let keyed: Vec<(String, i64, i64)> = out.into_iter().map(|r| (r.key, r.value, r.timestamp)).collect();
    assert_eq!(keyed, vec![(s("k"), 5, 7), (s("s"), 7, 7), (s("r"), 4, 7)]);
    assert_eq!(
        driver.output_topic::<String, i64>("pairs").read_key_values_to_list(),
        vec![(s("l1"), 18), (s("l1"), -1)]
    );
}

#[test]
fn map_values_with_key_sees_the_key() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("in")
        .map_values_with_key(|k, v| format!("{k}={v}"))
        .to("out");
    let driver = driver(builder);
    driver.input_topic::<String, i64>("in").pipe_input(s("a"), 1);
    assert_eq!(driver.output_topic::<String, String>("out").read_value(), "a=1");
}

#[test]
fn peek_and_foreach_see_every_record_in_order() {
    let peeked = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let builder = StreamsBuilder::new();
    let (p, f) = (peeked.clone(), seen.clone());
    builder
        .stream::<String, i64>("in")
        .peek(move |k, v| p.lock().unwrap().push((k.clone(), *v)))
        .foreach(move |_, v| f.lock().unwrap().push(*v));
    let driver = driver(builder);
    driver
        .input_topic::<String, i64>("in")
        .pipe_key_value_list([(s("a"), 1), (s("b"), 2)]);
    assert_eq!(*peeked.lock().unwrap(), vec![(s("a"), 1), (s("b"), 2)]);
    assert_eq!(*seen.lock().unwrap(), vec![1, 2]);
}

#[test]
fn split_sends_each_record_to_the_first_matching_branch_only() {
    let builder = StreamsBuilder::new();
    let mut branches = builder
        .stream::<String, i64>("amounts")
        .split_with(Named::as_("size-"))
        .branch(|_, a| *a >= 1000, Branched::as_("large"))
        .branch(|_, a| *a >= 100, Branched::as_("medium"))
        .default_branch();
    let mut names: Vec<&String> = branches.keys().collect();
    names.sort();
    assert_eq!(names, vec!["size-0", "size-large", "size-medium"]);
    branches.remove("size-large").unwrap().to("large");
    branches.remove("size-medium").unwrap().to("medium");
    branches.remove("size-0").unwrap().to("small");
    let driver = driver(builder);
    driver
        .input_topic::<String, i64>("amounts")
        .pipe_key_value_list([5, 5000, 500, 1000, 99].map(|a| (s("c"), a)));
    assert_eq!(
        driver.output_topic::<String, i64>("large").read_values_to_list(),
        vec![5000, 1000]
    );
    assert_eq!(
        driver.output_topic::<String, i64>("medium").read_values_to_list(),
        vec![500]
    );
    assert_eq!(
        driver.output_topic::<String, i64>("small").read_values_to_list(),
        vec![5, 99]
    );
}

#[test]
fn split_without_default_drops_unmatched_records_and_numbers_unnamed_branches() {
    let builder = StreamsBuilder::new();
    let mut branches = builder
        .stream::<String, i64>("in")
        .split()
        .branch(|_, v| *v > 0, Branched::default())
        .no_default_branch();
    assert_eq!(branches.len(), 1);
    let (name, positive) = branches.drain().next().unwrap();
    assert!(name.starts_with("KSTREAM-BRANCH-") && name.ends_with('1'), "{name}");
    positive.to("positive");
    let driver = driver(builder);
    driver
        .input_topic::<String, i64>("in")
        .pipe_key_value_list([(s("a"), -1), (s("b"), 3)]);
    assert_eq!(
        driver.output_topic::<String, i64>("positive").read_values_to_list(),
        vec![3]
    );
}

#[test]
fn merge_interleaves_in_processing_order() {
    let builder = StreamsBuilder::new();
    let left = builder.stream::<String, i64>("left");
    let right = builder.stream::<String, i64>("right");
    left.merge(&right).to("both");
    let driver = driver(builder);
    let (l, r) = (
        driver.input_topic::<String, i64>("left"),
        driver.input_topic::<String, i64>("right"),
    );
    l.pipe_input(s("a"), 1);
    r.pipe_input(s("b"), 2);
    l.pipe_input(s("a"), 3);
    assert_eq!(
        driver.output_topic::<String, i64>("both").read_values_to_list(),
        vec![1, 2, 3]
    );
}

#[test]
fn to_dynamic_chooses_the_topic_per_record() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("in")
        .to_dynamic(|region, _| format!("sales-{region}"));
    let driver = driver(builder);
    driver
        .input_topic::<String, i64>("in")
        .pipe_key_value_list([(s("eu"), 1), (s("us"), 2), (s("eu"), 3)]);
    assert_eq!(driver.produced_topic_names(), vec![s("sales-eu"), s("sales-us")]);
    assert_eq!(
        driver.output_topic::<String, i64>("sales-eu").read_values_to_list(),
        vec![1, 3]
    );
}

#[test]
fn repartition_goes_through_an_internal_topic_followed_in_process() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("in")
        .select_key(|_, v| (v % 2).to_string())
        .repartition_with(Repartitioned::default().with_name("by-parity"))
        .map_values(|v| v * 10)
        .to("out");
    let topology = builder.build().unwrap();
    let description = topology.describe().to_string();
    assert_eq!(topology.describe().subtopology_count(), 2, "{description}");
    assert!(
        description.contains("Sink: by-parity-repartition-sink (topic: by-parity-repartition)"),
        "{description}"
    );
    let driver = TopologyTestDriver::new(topology, StreamsConfig::for_tests("app")).unwrap();
    driver
        .input_topic::<String, i64>("in")
        .pipe_key_value_list([(s("x"), 1), (s("y"), 2)]);
    assert_eq!(
        driver.output_topic::<String, i64>("out").read_key_values_to_list(),
        vec![(s("1"), 10), (s("0"), 20)]
    );
    // The repartition topic is internal: named with the application id, and not an output.
    assert_eq!(driver.produced_topic_names(), vec![s("out")]);
    assert!(
        driver
            .output_topic::<String, i64>("app-by-parity-repartition")
            .is_empty()
    );
}

#[test]
fn a_topic_written_and_read_by_the_topology_is_followed() {
    let builder = StreamsBuilder::new();
    builder.stream::<String, i64>("in").map_values(|v| v + 1).to("middle");
    builder.stream::<String, i64>("middle").map_values(|v| v * 2).to("out");
    let driver = driver(builder);
    driver.input_topic::<String, i64>("in").pipe_input(s("a"), 1);
    assert_eq!(driver.output_topic::<String, i64>("out").read_value(), 4);
    assert_eq!(
        driver.output_topic::<String, i64>("middle").read_value(),
        2,
        "middle is a user topic: it is output too"
    );
}

/// A serde that refuses odd numbers, to see serialization and deserialization failures.
struct EvenOnly;

impl Serde<i64> for EvenOnly {
    fn serialize(&self, _: &str, value: &i64) -> Result<Option<Vec<u8>>, SerdeError> {
        if value % 2 != 0 {
            return Err(SerdeError::new(format!("{value} is odd")));
        }
        Ok(Some(value.to_be_bytes().to_vec()))
    }

    fn deserialize(&self, _: &str, bytes: Option<&[u8]>) -> Result<i64, SerdeError> {
        let bytes: [u8; 8] = bytes
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| SerdeError::new("not 8 bytes"))?;
        Ok(i64::from_be_bytes(bytes))
    }
}

#[test]
fn a_serialization_failure_names_the_input_record() {
    let builder = StreamsBuilder::new();
    builder.stream::<String, i64>("in").to_with(
        "out",
        Produced::with(Arc::new(StringSerde), Arc::new(EvenOnly)).with_name("write-even"),
    );
    let driver = driver(builder);
    let input = driver.input_topic::<String, i64>("in");
    input.pipe_input(s("a"), 2);
    let error = input.try_pipe_record(Record::new(s("b"), 3, 0)).unwrap_err();
    match &error {
        Error::Record {
            topic,
            partition,
            offset,
            reason,
        } => {
            assert_eq!((topic.as_str(), *partition, *offset), ("in", 0, 1));
            assert!(reason.contains("write-even") && reason.contains("3 is odd"), "{reason}");
        }
        other => panic!("expected a record error, got {other:?}"),
    }
}

#[test]
fn a_deserialization_failure_and_a_bad_timestamp_name_the_record() {
    let builder = StreamsBuilder::new();
    builder.stream::<String, i64>("in").to("out");
    let driver = driver(builder);
    let input = driver.input_topic::<String, i64>("in");
    let bad_value = streams_core::runtime::RawRecord {
        key: Some(b"k".to_vec()),
        value: Some(b"abc".to_vec()),
        timestamp: Some(1),
        headers: vec![],
    };
    let error = input.try_pipe_raw(bad_value).unwrap_err().to_string();
    assert!(
        error.starts_with("record in/0@0 failed") && error.contains("deserializing the value"),
        "{error}"
    );
    let no_timestamp = streams_core::runtime::RawRecord {
        key: Some(b"k".to_vec()),
        value: Some(vec![0; 8]),
        timestamp: Some(-5),
        headers: vec![],
    };
    let error = input.try_pipe_raw(no_timestamp).unwrap_err().to_string();
    assert!(
        error.starts_with("record in/0@1 failed") && error.contains("invalid timestamp"),
        "{error}"
    );
}

#[test]
fn piping_into_a_topic_the_topology_does_not_read_is_an_error() {
    let builder = StreamsBuilder::new();
    builder.stream::<String, i64>("in").to("out");
    let driver = driver(builder);
    let error = driver
        .input_topic::<String, i64>("nope")
        .try_pipe_record(Record::new(s("a"), 1, 0))
        .unwrap_err();
    assert!(
        error.to_string().contains("topic nope is not read by the topology"),
        "{error}"
    );
}

#[test]
fn build_reports_the_first_invalid_operator() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("in")
        .filter_with(|_, _| true, Named::as_("twice"))
        .to("out");
    builder
        .stream::<String, i64>("other")
        .filter_with(|_, _| true, Named::as_("twice"))
        .to("out2");
    let error = builder.build().unwrap_err();
    assert!(
        error.to_string().contains("the node name twice is used twice"),
        "{error}"
    );

    let builder = StreamsBuilder::new();
    builder.stream::<String, i64>("in").to("a");
    builder.stream::<String, String>("in").to("b");
    let error = builder.build().unwrap_err();
    assert!(
        error
            .to_string()
            .contains("topic in is read by source KSTREAM-SOURCE-0000000000 already"),
        "{error}"
    );
}

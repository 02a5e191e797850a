//! Asynchronous processors (what model scoring is built on), under the test driver: results
//! forwarded later from the input record they came from, failures handed to the error handlers
//! for that record, `process_values` keeping keys (no repartition).

use streams_core::dsl::{ProcessorOptions, StreamsBuilder};
use streams_core::processor::{AsyncPoll, Origin, Processor, ProcessorContext, Record};
use streams_core::runtime::error_handling::{HEADER_MESSAGE, HEADER_OFFSET};
use streams_core::testing::TopologyTestDriver;
use streams_core::{Error, RecordErrorHandler, Result, StreamsConfig};

/// Holds records until three are pending (or it is told to start everything), then forwards them
/// upper-cased, in order; a value `bad` fails its record, dead-lettered.
#[derive(Default)]
struct InThrees {
    pending: Vec<(Record<String, String>, Origin)>,
}

impl Processor<String, String, String, String> for InThrees {
    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<()> {
        self.pending.push((record, ctx.origin().expect("processing a record")));
        Ok(())
    }

    fn is_asynchronous(&self) -> bool {
        true
    }

    fn poll_async(&mut self, mode: AsyncPoll, ctx: &mut ProcessorContext<'_, String, String>) -> Result<()> {
        if self.pending.len() < 3 && !mode.starts_pending() {
            return Ok(());
        }
        for (record, origin) in std::mem::take(&mut self.pending) {
            if record.value == "bad" {
                let error = Error::Processing("bad value".into());
                ctx.fail_record(&origin, error, Some(RecordErrorHandler::DeadLetter))?;
            } else {
                let upper = record.value.to_uppercase();
                ctx.forward_from(&origin, record.with_value(upper))?;
            }
        }
        Ok(())
    }

    fn in_flight(&self) -> usize {
        self.pending.len()
    }
}

fn driver(config: StreamsConfig) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in")
        .process_values_with(
            InThrees::default,
            ProcessorOptions::new().named("threes").dead_lettering(),
        )
        .map_values(|v: String| {
            assert_ne!(v, "BOOM", "a downstream failure");
            v
        })
        .to("out");
    TopologyTestDriver::new(builder.build().unwrap(), config).unwrap()
}

fn header(record: &Record<String, String>, name: &str) -> String {
    String::from_utf8(record.headers.last(name).unwrap().unwrap().to_vec()).unwrap()
}

#[test]
fn results_come_later_in_order_and_failures_are_handled_for_their_own_record() {
    let driver =
        driver(StreamsConfig::for_tests("async").with_processing_error_handler(RecordErrorHandler::DeadLetter));
    let input = driver.input_topic::<String, String>("in");
    let output = driver.output_topic::<String, String>("out");
    input.pipe_input_at(s("a"), s("one"), 1);
    input.pipe_input_at(s("b"), s("bad"), 2);
    assert!(output.is_empty(), "held until three are pending");
    input.pipe_input_at(s("c"), s("boom"), 3);
    input.pipe_input_at(s("d"), s("two"), 4);
    input.pipe_input_at(s("e"), s("three"), 5);
    input.pipe_input_at(s("f"), s("four"), 6);
    assert_eq!(
        output.read_key_values_to_list(),
        [
            (s("a"), s("ONE")),
            (s("d"), s("TWO")),
            (s("e"), s("THREE")),
            (s("f"), s("FOUR"))
        ]
    );
    let dead = driver
        .output_topic::<String, String>("async-dlq")
        .read_records_to_list();
    assert_eq!(dead.len(), 2);
    // Each failure names the input record it came from, not the one being processed when it
    // surfaced, and dead-letters that record's original bytes.
    assert_eq!((dead[0].key.as_str(), dead[0].value.as_str()), ("b", "bad"));
    assert_eq!(header(&dead[0], HEADER_OFFSET), "1");
    assert!(header(&dead[0], HEADER_MESSAGE).contains("bad value"));
    assert_eq!((dead[1].key.as_str(), dead[1].value.as_str()), ("c", "boom"));
    assert_eq!(header(&dead[1], HEADER_OFFSET), "2");
    assert!(header(&dead[1], HEADER_MESSAGE).contains("a downstream failure"));
    assert_eq!(driver.dead_lettered_records(), 2);
}

#[test]
fn a_downstream_failure_of_a_later_result_stops_the_application_naming_its_input_record() {
    let driver = driver(StreamsConfig::for_tests("async-fail"));
    let input = driver.input_topic::<String, String>("in");
    input.pipe_input_at(s("a"), s("one"), 1);
    input.pipe_input_at(s("b"), s("boom"), 2);
    let error = input
        .try_pipe_record(Record::new(s("c"), s("two"), 3))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("in/0@1"),
        "names the record that failed, not the last one in: {error}"
    );
}

#[test]
fn process_values_keeps_keys_so_a_following_grouping_needs_no_repartition() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in")
        .process_values(InThrees::default)
        .group_by_key()
        .count()
        .to_stream()
        .to("counts");
    let topology = builder.build().unwrap();
    assert!(
        topology
            .internal_topics("app")
            .iter()
            .all(|t| !t.name.contains("repartition"))
    );
    assert!(!topology.requires_dead_letter_topic());
    assert!(topology.describe().to_string().contains("KSTREAM-PROCESSVALUES-"));
}

fn s(text: &str) -> String {
    text.to_string()
}

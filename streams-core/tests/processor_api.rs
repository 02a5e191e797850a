//! The Processor API under the DSL: punctuations by stream time and wall-clock time, record
//! metadata, named forwarding, failures, the hand-built `Topology` and its description.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use streams_core::dsl::{Named, StreamsBuilder};
use streams_core::processor::{Processor, ProcessorContext, PunctuationType, PunctuatorId, Record};
use streams_core::testing::TopologyTestDriver;
use streams_core::topology::Topology;
use streams_core::{Error, Result, StreamsConfig};

fn s(text: &str) -> String {
    text.to_string()
}

/// What a [`Ticker`] saw: (what, time).
type Log = Arc<Mutex<Vec<(String, i64)>>>;

/// Records every punctuation as (kind, time) and forwards it.
struct Ticker {
    interval: Duration,
    kind: PunctuationType,
    log: Log,
    cancel_after: Option<usize>,
    id: Option<PunctuatorId>,
    fired: usize,
}

impl Processor<String, i64, String, i64> for Ticker {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, i64>) -> Result<()> {
        self.id = Some(ctx.schedule(self.interval, self.kind));
        Ok(())
    }

    fn process(&mut self, record: Record<String, i64>, ctx: &mut ProcessorContext<'_, String, i64>) -> Result<()> {
        let metadata = ctx.record_metadata().expect("a record has metadata").clone();
        self.log.lock().unwrap().push((
            format!("record {}@{}", metadata.topic, metadata.offset),
            record.timestamp,
        ));
        ctx.forward(record)
    }

    fn punctuate(&mut self, id: PunctuatorId, time: i64, ctx: &mut ProcessorContext<'_, String, i64>) -> Result<()> {
        assert_eq!(Some(id), self.id);
        assert!(ctx.record_metadata().is_none(), "no record during a punctuation");
        self.log.lock().unwrap().push((format!("{:?}", self.kind), time));
        self.fired += 1;
        if self.cancel_after == Some(self.fired) {
            ctx.cancel(id);
        }
        ctx.forward(Record::new(s("tick"), time, time))
    }
}

fn ticker_driver(kind: PunctuationType, interval: Duration, cancel_after: Option<usize>) -> (TopologyTestDriver, Log) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let builder = StreamsBuilder::new();
    let shared = log.clone();
    builder
        .stream::<String, i64>("in")
        .process(move || Ticker {
            interval,
            kind,
            log: shared.clone(),
            cancel_after,
            id: None,
            fired: 0,
        })
        .to("out");
    let driver = TopologyTestDriver::new(builder.build().unwrap(), StreamsConfig::for_tests("ticks")).unwrap();
    (driver, log)
}

fn taken(log: &Log) -> Vec<(String, i64)> {
    std::mem::take(&mut *log.lock().unwrap())
}

#[test]
fn stream_time_punctuation_is_aligned_to_zero_fires_with_records_and_skips_missed_intervals() {
    let (driver, log) = ticker_driver(PunctuationType::StreamTime, Duration::from_millis(10), None);
    let input = driver.input_topic::<String, i64>("in");
    let st = |t: i64| (s("StreamTime"), t);
    let rec = |offset: i64, t: i64| (format!("record in@{offset}"), t);

    input.pipe_input_at(s("a"), 1, 3);
    // The first record brings stream time to 3 >= 0: the punctuation aligned at 0 fires, with the stream time.
    assert_eq!(taken(&log), vec![rec(0, 3), st(3)]);
    input.pipe_input_at(s("a"), 2, 9);
    assert_eq!(taken(&log), vec![rec(1, 9)], "next is due at 10");
    input.pipe_input_at(s("a"), 3, 10);
    assert_eq!(taken(&log), vec![rec(2, 10), st(10)]);
    input.pipe_input_at(s("a"), 4, 47);
    assert_eq!(
        taken(&log),
        vec![rec(3, 47), st(47)],
        "20, 30, 40 were missed: one punctuation"
    );
    input.pipe_input_at(s("a"), 5, 5);
    assert_eq!(
        taken(&log),
        vec![rec(4, 5)],
        "an out-of-order record does not move stream time back"
    );
    input.pipe_input_at(s("a"), 6, 50);
    assert_eq!(taken(&log), vec![rec(5, 50), st(50)]);

    driver.advance_wall_clock_time(Duration::from_secs(3600));
    assert!(
        taken(&log).is_empty(),
        "wall-clock time does not fire stream-time punctuations"
    );
    driver.advance_stream_time_to(75);
    assert_eq!(taken(&log), vec![st(75)]);
}

#[test]
fn wall_clock_punctuation_fires_every_interval_after_scheduling_and_can_be_cancelled() {
    let (driver, log) = ticker_driver(PunctuationType::WallClockTime, Duration::from_millis(100), Some(3));
    let input = driver.input_topic::<String, i64>("in");
    let wc = |t: i64| (s("WallClockTime"), t);

    input.pipe_input_at(s("a"), 1, 1_000_000);
    assert_eq!(
        taken(&log),
        vec![(s("record in@0"), 1_000_000)],
        "records do not fire wall-clock punctuations"
    );
    driver.advance_wall_clock_time(Duration::from_millis(99));
    assert!(taken(&log).is_empty());
    driver.advance_wall_clock_time(Duration::from_millis(1));
    assert_eq!(taken(&log), vec![wc(100)]);
    driver.advance_wall_clock_time(Duration::from_millis(250));
    assert_eq!(taken(&log), vec![wc(350)], "200 and 300 were missed: one punctuation");
    driver.advance_wall_clock_time(Duration::from_millis(50));
    assert_eq!(taken(&log), vec![wc(400)]);
    driver.advance_wall_clock_time(Duration::from_secs(10));
    assert!(taken(&log).is_empty(), "cancelled after its third punctuation");

    let out = driver.output_topic::<String, i64>("out").read_key_values_to_list();
    assert_eq!(
        out,
        vec![(s("a"), 1), (s("tick"), 100), (s("tick"), 350), (s("tick"), 400)]
    );
}

#[test]
fn punctuations_of_several_processors_fire_earliest_first() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let builder = StreamsBuilder::new();
    let stream = builder.stream::<String, i64>("in");
    for interval in [30, 20] {
        let shared = log.clone();
        stream
            .process(move || Ticker {
                interval: Duration::from_millis(interval),
                kind: PunctuationType::WallClockTime,
                log: shared.clone(),
                cancel_after: None,
                id: None,
                fired: 0,
            })
            .to("out");
    }
    let driver = TopologyTestDriver::new(builder.build().unwrap(), StreamsConfig::for_tests("order")).unwrap();
    driver.advance_wall_clock_time(Duration::from_millis(30));
    let out = driver.output_topic::<String, i64>("out").read_values_to_list();
    assert_eq!(out, vec![30, 30], "both due at 30 fire once each");
    driver.advance_wall_clock_time(Duration::from_millis(15));
    assert_eq!(
        driver.output_topic::<String, i64>("out").read_values_to_list(),
        vec![45],
        "the 20 ms one was due at 40"
    );
}

/// Routes records to a named child.
struct Router;

impl Processor<String, i64> for Router {
    fn process(&mut self, record: Record<String, i64>, ctx: &mut ProcessorContext<'_, String, i64>) -> Result<()> {
        let child = if record.value < 0 { "negatives" } else { "positives" };
        ctx.forward_to(child, record)
    }
}

#[test]
fn forward_to_reaches_only_the_named_child_and_a_missing_child_is_an_error() -> Result<()> {
    let mut topology = Topology::new();
    topology
        .add_source::<String, i64>("source", &["in"])?
        .add_processor("router", || Router, &["source"])?
        .add_sink::<String, i64>("positives", "pos", &["router"])?
        .add_sink::<String, i64>("negatives", "neg", &["router"])?;
    let driver = TopologyTestDriver::new(topology, StreamsConfig::for_tests("route"))?;
    let input = driver.input_topic::<String, i64>("in");
    input.pipe_key_value_list([(s("a"), 1), (s("b"), -2)]);
    assert_eq!(driver.output_topic::<String, i64>("pos").read_values_to_list(), vec![1]);
    assert_eq!(
        driver.output_topic::<String, i64>("neg").read_values_to_list(),
        vec![-2]
    );

    let mut topology = Topology::new();
    topology
        .add_source::<String, i64>("source", &["in"])?
        .add_processor("router", || Router, &["source"])?
        .add_sink::<String, i64>("positives", "pos", &["router"])?;
    let driver = TopologyTestDriver::new(topology, StreamsConfig::for_tests("route"))?;
    let error = driver
        .input_topic::<String, i64>("in")
        .try_pipe_record(Record::new(s("b"), -2, 0))
        .unwrap_err();
    assert!(
        error.to_string().contains("router has no child named negatives"),
        "{error}"
    );
    Ok(())
}

/// Fails on negative values, and in its punctuation.
struct Picky;

impl Processor<String, i64> for Picky {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, i64>) -> Result<()> {
        ctx.schedule(Duration::from_secs(1), PunctuationType::WallClockTime);
        Ok(())
    }

    fn process(&mut self, record: Record<String, i64>, ctx: &mut ProcessorContext<'_, String, i64>) -> Result<()> {
        if record.value < 0 {
            return Err(Error::processing(format!("negative value {}", record.value)));
        }
        ctx.forward(record)
    }

    fn punctuate(&mut self, _: PunctuatorId, _: i64, _: &mut ProcessorContext<'_, String, i64>) -> Result<()> {
        Err(Error::processing("punctuation failed"))
    }
}

#[test]
fn a_processor_error_names_the_record_or_the_task() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("in")
        .process_with(|| Picky, Named::as_("picky"))
        .to("out");
    let driver = TopologyTestDriver::new(builder.build().unwrap(), StreamsConfig::for_tests("picky")).unwrap();
    let input = driver.input_topic::<String, i64>("in");
    input.pipe_input(s("a"), 1);
    let error = input.try_pipe_record(Record::new(s("a"), -7, 0)).unwrap_err();
    assert_eq!(error.to_string(), "record in/0@1 failed: in picky: negative value -7");

    let error = driver.try_advance_wall_clock_time(Duration::from_secs(1)).unwrap_err();
    assert_eq!(error.to_string(), "task 0_0 failed: in picky: punctuation failed");
}

struct Identity;

impl Processor<String, String> for Identity {
    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<()> {
        ctx.forward(record)
    }
}

#[test]
fn the_topology_refuses_mismatched_types_unknown_parents_and_duplicate_sources() {
    let mut topology = Topology::new();
    topology.add_source::<String, i64>("source", &["in"]).unwrap();
    let error = topology
        .add_processor("identity", || Identity, &["source"])
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("identity takes records of <alloc::string::String, alloc::string::String>"),
        "{error}"
    );
    assert!(
        error.contains("its parent source forwards <alloc::string::String, i64>"),
        "{error}"
    );
    let error = topology
        .add_processor("orphan", || Identity, &["nobody"])
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("no node named nobody"), "{error}");
    let error = topology
        .add_source::<String, i64>("again", &["in"])
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("topic in is read by source source already"), "{error}");
}

#[test]
fn describe_matches_kafka_streams_format() {
    let builder = StreamsBuilder::new();
    let words = builder.stream::<String, String>("words");
    words.filter(|_, w| w.len() > 3).to("long-words");
    words.map_values(|w| w.len() as i64).to("lengths");
    builder.stream::<String, String>("other").to("copy");
    let description = builder.build().unwrap().describe();
    let expected = "\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [words])
      --> KSTREAM-FILTER-0000000001, KSTREAM-MAPVALUES-0000000003
    Processor: KSTREAM-FILTER-0000000001 (stores: [])
      --> KSTREAM-SINK-0000000002
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-MAPVALUES-0000000003 (stores: [])
      --> KSTREAM-SINK-0000000004
      <-- KSTREAM-SOURCE-0000000000
    Sink: KSTREAM-SINK-0000000002 (topic: long-words)
      <-- KSTREAM-FILTER-0000000001
    Sink: KSTREAM-SINK-0000000004 (topic: lengths)
      <-- KSTREAM-MAPVALUES-0000000003

   Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000005 (topics: [other])
      --> KSTREAM-SINK-0000000006
    Sink: KSTREAM-SINK-0000000006 (topic: copy)
      <-- KSTREAM-SOURCE-0000000005

";
    assert_eq!(description.to_string(), expected);
    let mermaid = description.to_mermaid();
    assert!(mermaid.starts_with("flowchart TD\n"), "{mermaid}");
    assert!(
        mermaid.contains("topic_words --> KSTREAM_SOURCE_0000000000"),
        "{mermaid}"
    );
    assert!(
        mermaid.contains("KSTREAM_FILTER_0000000001 --> KSTREAM_SINK_0000000002"),
        "{mermaid}"
    );
    assert!(
        mermaid.contains("KSTREAM_SINK_0000000002 --> topic_long_words"),
        "{mermaid}"
    );
}

/// Counts per key in a store of its own.
#[derive(Default)]
struct CountInStore {
    counts: Option<streams_core::processor::KeyValueStoreHandle<String, i64>>,
}

impl Processor<String, i64, String, i64> for CountInStore {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, i64>) -> Result<()> {
        self.counts = Some(ctx.key_value_store_handle("counts")?);
        Ok(())
    }

    fn process(&mut self, record: Record<String, i64>, ctx: &mut ProcessorContext<'_, String, i64>) -> Result<()> {
        let handle = self.counts.as_ref().unwrap();
        let mut store = ctx.key_value_store(handle);
        let count = store.get(&record.key)?.unwrap_or(0) + 1;
        store.put(&record.key, &count)?;
        ctx.forward(record.with_value(count))
    }
}

#[test]
fn a_user_processor_keeps_state_in_a_store_it_is_connected_to() {
    let builder = StreamsBuilder::new();
    builder
        .add_state_store(streams_core::state::StoreBuilder::key_value("counts"))
        .stream::<String, i64>("in")
        .process_with_stores(CountInStore::default, Named::as_("count"), &["counts"])
        .to("out");
    let topology = builder.build().unwrap();
    assert!(
        topology
            .describe()
            .to_string()
            .contains("Processor: count (stores: [counts])")
    );
    let driver = TopologyTestDriver::new(topology, StreamsConfig::for_tests("stores")).unwrap();
    driver
        .input_topic::<String, i64>("in")
        .pipe_key_value_list([(s("a"), 0), (s("b"), 0), (s("a"), 0)]);
    assert_eq!(
        driver.output_topic::<String, i64>("out").read_values_to_list(),
        vec![1, 1, 2]
    );
    assert_eq!(
        driver.key_value_store::<String, i64>("counts").all(),
        vec![(s("a"), 2), (s("b"), 1)]
    );

    // A processor may only open stores it is connected to.
    let builder = StreamsBuilder::new();
    builder
        .add_state_store(streams_core::state::StoreBuilder::key_value("counts"))
        .stream::<String, i64>("in")
        .process(CountInStore::default)
        .to("out");
    let error = TopologyTestDriver::new(builder.build().unwrap(), StreamsConfig::for_tests("stores"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("uses store counts, which is not connected to it"),
        "{error}"
    );
}

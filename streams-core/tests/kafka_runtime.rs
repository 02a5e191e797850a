//! Topologies on the Kafka runtime beyond a single sub-topology: a repartition topic between a
//! re-keying step and a count. Needs `STREAMS_BOOTSTRAP_SERVERS` (scripts/test sets it).

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

//! The runtime's metrics on a Prometheus endpoint, and a correlation-id header carried from input
//! records to output records. Needs `STREAMS_BOOTSTRAP_SERVERS` and the `prometheus` feature
//! (scripts/test enables every feature). One test per binary: the metrics recorder is per process.
#![cfg(feature = "prometheus")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use streams_core::StreamsConfig;
use streams_core::dsl::StreamsBuilder;
use streams_core::runtime::metrics::serve_prometheus;
use streams_core::runtime::{KafkaStreams, RawRecord};
use streams_core::testing::kafka::TestKafka;

fn scrape(endpoint: std::net::SocketAddr) -> String {
    let mut connection = TcpStream::connect(endpoint).unwrap();
    connection
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    connection.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn metrics_are_scraped_and_correlation_ids_reach_the_outputs() {
    let Some(kafka) = TestKafka::from_env() else { return };
    let endpoint = serve_prometheus("127.0.0.1:0").expect("the endpoint starts");
    let input = kafka.create_topic("metrics-in", 2);
    let output = kafka.create_topic("metrics-out", 2);
    let app = kafka.unique_name("metrics");
    kafka.produce_records(
        &input,
        (0..100).map(|i| RawRecord {
            key: Some(format!("k{i}").into_bytes()),
            value: Some(b"hello".to_vec()),
            timestamp: Some(1_700_000_000_000 + i),
            headers: vec![("correlation-id".to_string(), Some(format!("request-{i}").into_bytes()))],
        }),
    );
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>(input.name())
        .map_values(|v: String| v.to_uppercase())
        .to(output.name());
    let state = tempfile::tempdir().unwrap();
    let config = StreamsConfig::new(&app, kafka.bootstrap_servers())
        .with_state_dir(state.path())
        .with_commit_interval(Duration::from_millis(100))
        .with_correlation_id_header("correlation-id")
        .with_consumer_config("statistics.interval.ms", "200");
    let mut streams = KafkaStreams::new(builder.build().unwrap(), config).unwrap();
    streams.start().unwrap();

    let outputs = kafka.read(&output, 100, Duration::from_secs(60));
    assert_eq!(outputs.len(), 100);
    for read in &outputs {
        let key = String::from_utf8(read.record.key.clone().unwrap()).unwrap();
        let expected = format!("request-{}", key.trim_start_matches('k'));
        let header = read.record.headers.iter().find(|(name, _)| name == "correlation-id");
        assert_eq!(
            header.and_then(|(_, v)| v.clone()),
            Some(expected.into_bytes()),
            "{key}"
        );
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = scrape(endpoint.address());
        let has = |line: &str| text.lines().any(|l| l.starts_with(line));
        let done = has("streams_records_processed_total{thread=\"StreamThread-1\"} 100")
            && has("streams_records_consumed_total{thread=\"StreamThread-1\"} 100")
            && has("streams_records_produced_total{thread=\"StreamThread-1\"} 100")
            && has("streams_rebalances_total{thread=\"StreamThread-1\"} 1")
            && has("streams_commit_latency_seconds")
            && has("streams_process_latency_seconds")
            && text.lines().any(|l| {
                l.starts_with(&format!("streams_consumer_lag_records{{topic=\"{}\"", input.name())) && l.ends_with(" 0")
            });
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "metrics incomplete:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    }
    streams.close().unwrap();
    kafka.delete_topics_with_prefix(&app);
}

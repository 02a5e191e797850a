//! The fraud detector end to end on the real broker, with the `transactions` topic in Avro (the
//! one-setting switch): transactions posted to the HTTP API are written in the Confluent wire
//! format, read back by the topology through the schema registry, scored once each (re-posts
//! included), and a card lookup answers from the state stores. Needs `STREAMS_BOOTSTRAP_SERVERS`
//! and `STREAMS_SCHEMA_REGISTRY_URL` (scripts/test sets both); skipped without them.

mod common;

use std::time::{Duration, Instant};

use fraud_detector::app::{App, AppConfig};
use fraud_detector::topology::{TRANSACTIONS, TransactionFormat};
use fraud_detector::{GeneratorConfig, TransactionGenerator};
use rdkafka::Message;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

const PORT: u16 = 18_181;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_transactions_posted_over_http_are_scored_once() {
    let (Ok(bootstrap_servers), Ok(registry_url)) = (
        std::env::var("STREAMS_BOOTSTRAP_SERVERS"),
        std::env::var("STREAMS_SCHEMA_REGISTRY_URL"),
    ) else {
        eprintln!("skipped: set STREAMS_BOOTSTRAP_SERVERS and STREAMS_SCHEMA_REGISTRY_URL (scripts/test does)");
        return;
    };
    common::init_logs();
    let config = AppConfig {
        port: PORT,
        format: TransactionFormat::Avro { registry_url },
        partitions: 2,
        reset: true,
        ..AppConfig::new(bootstrap_servers.clone())
    };
    let app = App::start(&config).await.expect("the app starts");

    // Invalid input is refused with the field named, and nothing is published.
    let http = reqwest::Client::new();
    let response = http
        .post(format!("http://127.0.0.1:{PORT}/transactions"))
        .body(r#"{"txn_id": 1, "card_id": "c", "merchant_id": "m", "merchant_category": "grocery", "amount": -5, "country": "DE", "timestamp_ms": 0}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.text().await.unwrap().contains("amount"));

    let (accepted, duplicates) = common::post_and_score(&bootstrap_servers, PORT, 200, 8, 21, 0.05).await;
    assert!(
        accepted > 1_000 && duplicates > 0,
        "{accepted} accepted, {duplicates} re-posted"
    );
    assert_eq!(app.processed(), accepted + duplicates, "re-posts are read, and dropped");
    let deadline = Instant::now() + Duration::from_secs(60);

    // The input is Avro in the Confluent wire format: magic byte 0, then a schema id.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &config.bootstrap_servers)
        .set("group.id", "fraud-detector-avro-test")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[TRANSACTIONS]).unwrap();
    let first = loop {
        if let Some(message) = consumer.poll(Duration::from_secs(1)) {
            break message.unwrap().payload().unwrap().to_vec();
        }
        assert!(Instant::now() < deadline, "no transaction read back");
    };
    assert_eq!(first[0], 0, "Confluent framing");
    assert!(first.len() > 5 && !first.starts_with(b"{"), "not JSON");

    // A card lookup answers from the state stores.
    // The first card the generator used (its order does not depend on the start time).
    let card = TransactionGenerator::new(GeneratorConfig::with_seed(21))
        .next()
        .unwrap()
        .0
        .card_id;
    let body = common::card_lookup(&http, PORT, &card).await;
    assert_eq!(body["card_id"], card.as_str(), "{body}");
    assert!(body["transactions"].as_u64().unwrap() > 0, "{body}");
    assert!(body["latest"]["features"]["amount_zscore"].is_number(), "{body}");
    app.close().await.expect("the app closes");
}

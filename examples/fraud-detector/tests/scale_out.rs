//! Two fraud detector instances in one consumer group on the real broker: the partitions are split
//! between them, every transaction is scored once, and a card lookup sent to either instance is
//! answered from the stores of the instance that hosts the card (forwarded when it is the other).
//! Needs `STREAMS_BOOTSTRAP_SERVERS` (scripts/test sets it); skipped without it.

mod common;

use std::collections::BTreeSet;

use fraud_detector::app::{App, AppConfig};
use fraud_detector::{GeneratorConfig, TransactionGenerator};

const PORTS: [u16; 2] = [18_191, 18_192];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_lookups_are_answered_by_the_instance_hosting_the_card() {
    let Ok(bootstrap_servers) = std::env::var("STREAMS_BOOTSTRAP_SERVERS") else {
        eprintln!("skipped: set STREAMS_BOOTSTRAP_SERVERS (scripts/test does)");
        return;
    };
    common::init_logs();
    let config = |port: u16, reset: bool| AppConfig {
        port,
        reset,
        ..AppConfig::new(bootstrap_servers.clone())
    };
    let first = App::start(&config(PORTS[0], true))
        .await
        .expect("the first instance starts");
    let second = App::start(&config(PORTS[1], false))
        .await
        .expect("the second instance starts");

    common::post_and_score(&bootstrap_servers, PORTS[0], 200, 6, 31, 0.0).await;
    assert!(
        first.processed() > 0 && second.processed() > 0,
        "both instances have partitions"
    );

    // Ask each instance about cards until both hosts have answered through both instances.
    let http = reqwest::Client::new();
    let cards: BTreeSet<String> = TransactionGenerator::new(GeneratorConfig::with_seed(31))
        .take(40)
        .map(|(txn, _)| txn.card_id)
        .collect();
    let mut seen = BTreeSet::new();
    for card in &cards {
        for port in PORTS {
            let body = common::card_lookup(&http, port, card).await;
            assert_eq!(body["card_id"], card.as_str(), "{body}");
            let host = body["host"].as_str().expect("the answering host").to_string();
            seen.insert((port, host));
        }
    }
    let hosts = PORTS.map(|p| format!("127.0.0.1:{p}"));
    for port in PORTS {
        for host in &hosts {
            assert!(
                seen.contains(&(port, host.clone())),
                "no card asked on {port} was answered by {host}: {seen:?}"
            );
        }
    }
    second.close().await.expect("the second instance closes");
    first.close().await.expect("the first instance closes");
}

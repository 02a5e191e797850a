//! The fraud detector's topology under the test driver, with the shipped model: the scores carry
//! exactly the reference features, re-posted transactions are scored once, alerts are the scores at
//! or above the threshold with their reasons, and unreadable records are dead-lettered.

use std::sync::Arc;
use std::time::Duration;

use fraud_detector::app::DEFAULT_MODEL;
use fraud_detector::explain::Explainer;
use fraud_detector::topology::{
    self, ACTIVITY_24H_STORE, Activity, Alert, CardProfile, DEAD_LETTER_TOPIC, FRAUD_ALERTS, PROFILES_STORE,
    ScoreEvent, TRANSACTION_SCORES, TRANSACTIONS, TopicNames, TopologyConfig, TransactionFormat,
};
use fraud_detector::{FEATURE_NAMES, FeatureExtractor, GeneratorConfig, Transaction, TransactionGenerator};
use streams_core::runtime::RawRecord;
use streams_core::testing::TopologyTestDriver;
use streams_core::{RecordErrorHandler, StreamsConfig};
use streams_ml::model::{Features, ModelHandle, ModelSpec, OnnxModel};

fn driver(threshold: f32) -> TopologyTestDriver {
    let model = ModelHandle::new(
        OnnxModel::from_file(DEFAULT_MODEL, &ModelSpec::new(Features::named(FEATURE_NAMES))).expect("the model loads"),
    );
    let topology = topology::build(&TopologyConfig {
        topics: TopicNames::default(),
        format: TransactionFormat::Json,
        explainer: Arc::new(Explainer::from_generator(model.clone(), 5_000)),
        model,
        threshold,
    })
    .expect("the topology builds");
    let config = StreamsConfig::for_tests("fraud-detector")
        .with_deserialization_error_handler(RecordErrorHandler::DeadLetter)
        .with_dead_letter_topic(DEAD_LETTER_TOPIC);
    TopologyTestDriver::new(topology, config).expect("the driver starts")
}

fn transactions(n: usize) -> Vec<(Transaction, bool)> {
    TransactionGenerator::new(GeneratorConfig {
        cards: 60,
        ..GeneratorConfig::with_seed(11)
    })
    .take(n)
    .collect()
}

#[test]
fn every_transaction_is_scored_once_with_the_reference_features() {
    let driver = driver(0.5);
    let input = driver.input_topic::<String, Transaction>(TRANSACTIONS);
    let txns = transactions(1_500);
    for (i, (txn, _)) in txns.iter().enumerate() {
        input.pipe_input_at(txn.card_id.clone(), txn.clone(), txn.timestamp_ms);
        // A client retrying: every 50th transaction is posted twice.
        if i % 50 == 0 {
            input.pipe_input_at(txn.card_id.clone(), txn.clone(), txn.timestamp_ms);
        }
    }
    driver.advance_wall_clock_time(Duration::from_millis(10));
    let scores = driver
        .output_topic::<String, ScoreEvent>(TRANSACTION_SCORES)
        .read_key_values_to_list();
    assert_eq!(
        scores.len(),
        txns.len(),
        "one score per transaction, duplicates dropped"
    );

    let mut reference = FeatureExtractor::new();
    for ((card, score), (txn, _)) in scores.iter().zip(&txns) {
        assert_eq!(
            (card, score.txn_id),
            (&txn.card_id, txn.txn_id),
            "scores keep the input order"
        );
        assert_eq!(
            score.features.to_array(),
            reference.update(txn),
            "features of transaction {}",
            txn.txn_id
        );
        assert!((0.0..=1.0).contains(&score.fraud_probability));
        assert_eq!(score.model, "fraud-hgb");
    }

    // The stores the card lookup reads.
    let last = &txns.last().unwrap().0;
    let profile = driver
        .key_value_store::<String, CardProfile>(PROFILES_STORE)
        .get(&last.card_id)
        .expect("the card has a profile");
    assert_eq!(profile.latest.map(|(id, _)| id), Some(last.txn_id));
    let count = txns.iter().filter(|(t, _)| t.card_id == last.card_id).count() as u64;
    assert_eq!(profile.state.count(), count);
    let day_start = last.timestamp_ms - last.timestamp_ms.rem_euclid(86_400_000);
    let day = driver
        .window_store::<String, Activity>(ACTIVITY_24H_STORE)
        .fetch(&last.card_id, day_start)
        .expect("the card's current day has a window");
    let in_day = txns
        .iter()
        .filter(|(t, _)| t.card_id == last.card_id)
        .filter(|(t, _)| t.timestamp_ms >= day_start)
        .count() as u64;
    assert_eq!(day.summary().count, in_day);
}

#[test]
fn alerts_are_the_scores_at_the_threshold_with_reasons() {
    let driver = driver(0.5);
    let input = driver.input_topic::<String, Transaction>(TRANSACTIONS);
    let txns = transactions(3_000);
    for (txn, _) in &txns {
        input.pipe_input_at(txn.card_id.clone(), txn.clone(), txn.timestamp_ms);
    }
    driver.advance_wall_clock_time(Duration::from_millis(10));
    let scores = driver
        .output_topic::<String, ScoreEvent>(TRANSACTION_SCORES)
        .read_values_to_list();
    let alerts = driver.output_topic::<String, Alert>(FRAUD_ALERTS).read_values_to_list();
    let expected: Vec<u64> = scores
        .iter()
        .filter(|s| s.fraud_probability >= 0.5)
        .map(|s| s.txn_id)
        .collect();
    assert_eq!(alerts.iter().map(|a| a.txn.txn_id).collect::<Vec<_>>(), expected);
    assert!(!alerts.is_empty(), "3 000 transactions hold some fraud");
    let fraud = txns.iter().filter(|(_, f)| *f).count();
    let caught = alerts
        .iter()
        .filter(|a| txns.iter().any(|(t, f)| *f && t.txn_id == a.txn.txn_id))
        .count();
    assert!(caught * 2 >= fraud, "the model catches most fraud: {caught} of {fraud}");
    for alert in &alerts {
        assert_eq!(alert.threshold, 0.5);
        assert!(!alert.reasons.is_empty(), "alert {} has no reason", alert.txn.txn_id);
        assert!(alert.reasons.windows(2).all(|w| w[0].contribution >= w[1].contribution));
        assert!(
            alert
                .reasons
                .iter()
                .all(|r| FEATURE_NAMES.contains(&r.feature.as_str()))
        );
    }
}

#[test]
fn unreadable_transactions_are_dead_lettered() {
    let driver = driver(0.5);
    let input = driver.input_topic::<String, Transaction>(TRANSACTIONS);
    input
        .try_pipe_raw(RawRecord {
            key: Some(b"card-1".to_vec()),
            value: Some(b"{\"txn_id\": \"oops\"}".to_vec()),
            timestamp: Some(1_000),
            headers: Vec::new(),
        })
        .expect("dead-lettered, not failed");
    let (txn, _) = transactions(1).remove(0);
    input.pipe_input_at(txn.card_id.clone(), txn.clone(), txn.timestamp_ms);
    driver.advance_wall_clock_time(Duration::from_millis(10));
    assert_eq!(driver.dead_lettered_records(), 1);
    let dead = driver
        .output_topic::<Vec<u8>, Vec<u8>>(DEAD_LETTER_TOPIC)
        .read_values_to_list();
    assert_eq!(dead, vec![b"{\"txn_id\": \"oops\"}".to_vec()]);
    assert_eq!(
        driver
            .output_topic::<String, ScoreEvent>(TRANSACTION_SCORES)
            .read_values_to_list()
            .len(),
        1
    );
}

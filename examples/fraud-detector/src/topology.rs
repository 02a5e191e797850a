//! The fraud detector's topology: transactions in, per-card features, a model score, alerts out.
//!
//! ```text
//! transactions ─▶ dedupe_by(txn_id, 24 h) ─┬─▶ group_by_key ─▶ aggregate ─▶ KTable card-profiles ──┐
//!   (card id → Transaction,                ├─▶ 10-min windows, hopping by 5 min ─▶ card-activity-10m │
//!    JSON or Avro)                         ├─▶ 24-hour windows ─▶ card-activity-24h                  │
//!                                          └─▶ join_table(card-profiles) ◀──────────────────────────┘
//!                                                ─▶ score(fraud model) ─┬─▶ transaction-scores
//!                                                                       └─▶ filter(p ≥ threshold)
//!                                                                            ─▶ explain ─▶ fraud-alerts
//! ```
//!
//! - **Idempotent**: a transaction id seen in the last 24 hours of event time is dropped, so a client
//!   that posts the same transaction twice gets one score.
//! - **Features**: the aggregate keeps each card's [`FeatureState`] in the RocksDB store
//!   `card-profiles` (logged to its changelog) and computes the features of each transaction as
//!   `features.rs` defines them, the definition the model was trained on. The stream-table join
//!   then reads the card's profile, updated with this transaction (the aggregate is the join's
//!   sibling that runs first), and takes the transaction's features from it.
//! - **Windows**: count, amount statistics, distinct merchants and countries per card over
//!   10-minute windows hopping by 5 minutes and over 24-hour windows, in event time; they are not
//!   model inputs but context, served by `GET /cards/{id}` through interactive queries.
//! - **Scores and alerts**: every transaction's fraud probability goes to `transaction-scores`;
//!   those at or above the threshold go to `fraud-alerts` with their reasons (see
//!   [`crate::explain`]). Headers (the correlation id, the ingestion time) travel with the records.
//! - Records that cannot be read (bad JSON, unknown Avro schema id) go to the dead-letter topic
//!   `fraud-detector-dlq` with the reason in headers; a model failure dead-letters its batch.
//! - The topic names above are the defaults; [`TopologyConfig::topics`] sets others.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use streams_core::dsl::{Consumed, Deduplicated, Materialized, Produced, StreamsBuilder};
use streams_core::serde::avro::{AvroSerde, SchemaRegistry};
use streams_core::serde::{DefaultSerde, JsonSerde, SharedSerde, StringSerde};
use streams_core::time::TimeWindows;
use streams_core::topology::Topology;
use streams_ml::features::{DistinctCount, Stats};
use streams_ml::model::ModelHandle;
use streams_ml::{ScoreExt, Scoring};

use crate::explain::{Explainer, Reason};
use crate::features::{FeatureState, FraudFeatures};
use crate::generator::Transaction;

/// The input topic: card id → [`Transaction`].
pub const TRANSACTIONS: &str = "transactions";
/// Every transaction's score: card id → [`ScoreEvent`] (JSON).
pub const TRANSACTION_SCORES: &str = "transaction-scores";
/// Transactions scored at or above the threshold: card id → [`Alert`] (JSON).
pub const FRAUD_ALERTS: &str = "fraud-alerts";
/// Where unreadable records go, with the reason in `__streams.errors.*` headers.
pub const DEAD_LETTER_TOPIC: &str = "fraud-detector-dlq";
/// The store of each card's profile (a key-value store: card id → [`CardProfile`]).
pub const PROFILES_STORE: &str = "card-profiles";
/// The store of 10-minute windows hopping by 5 minutes (card id → [`Activity`] per window).
pub const ACTIVITY_10M_STORE: &str = "card-activity-10m";
/// The store of 24-hour windows (card id → [`Activity`] per window).
pub const ACTIVITY_24H_STORE: &str = "card-activity-24h";
/// The header carrying the wall-clock time (ms since the epoch) the API accepted a transaction at.
pub const INGESTED_AT_HEADER: &str = "ingested-at";
/// The header carrying a transaction's correlation id (set by the API, kept on every output).
pub const CORRELATION_ID_HEADER: &str = "correlation-id";

/// How long a transaction id is remembered for deduplication, in event time.
pub const DEDUPE_WINDOW: Duration = Duration::from_secs(24 * 3600);

const MINUTE: Duration = Duration::from_secs(60);

/// The Avro schema of [`Transaction`] (subject `transactions-value`).
pub const TRANSACTION_AVRO_SCHEMA: &str = r#"{
  "type": "record", "name": "Transaction", "namespace": "streams.examples.fraud",
  "fields": [
    {"name": "txn_id", "type": "long"},
    {"name": "card_id", "type": "string"},
    {"name": "merchant_id", "type": "string"},
    {"name": "merchant_category", "type": "string"},
    {"name": "amount", "type": "double"},
    {"name": "country", "type": "string"},
    {"name": "timestamp_ms", "type": "long"}
  ]
}"#;

/// The format of the `transactions` topic: the one setting that switches the example between JSON
/// and Avro (`--format json|avro`). Outputs are JSON either way (the dashboard reads them).
#[derive(Debug, Clone)]
pub enum TransactionFormat {
    /// Plain JSON values, as `serde_json` writes [`Transaction`].
    Json,
    /// Avro in the Confluent wire format, the schema ([`TRANSACTION_AVRO_SCHEMA`]) registered in
    /// the schema registry at this URL on first write.
    Avro {
        /// The registry's Confluent-compatible API, e.g. `http://127.0.0.1:8081/apis/ccompat/v7`.
        registry_url: String,
    },
}

impl TransactionFormat {
    /// The serde of [`Transaction`] values in this format.
    ///
    /// # Errors
    /// An Avro registry URL that cannot be used, or a schema that does not parse.
    pub fn serde(&self) -> Result<SharedSerde<Transaction>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(match self {
            Self::Json => Arc::new(JsonSerde::<Transaction>::new()),
            Self::Avro { registry_url } => {
                let registry = SchemaRegistry::builder(registry_url.as_str()).build()?;
                Arc::new(AvroSerde::<Transaction>::new(registry, TRANSACTION_AVRO_SCHEMA)?)
            }
        })
    }

    /// `json` or `avro`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Avro { .. } => "avro",
        }
    }
}

/// A card's profile: its feature state and the features of its latest transaction. The value of
/// the `card-profiles` store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CardProfile {
    /// What the card's next features are computed from.
    pub state: FeatureState,
    /// The id of the latest transaction and its features.
    pub latest: Option<(u64, FraudFeatures)>,
}

impl CardProfile {
    /// The profile after `txn`, the card's next transaction.
    pub fn apply(mut self, txn: &Transaction) -> Self {
        let features = self.state.update_features(txn);
        self.latest = Some((txn.txn_id, features));
        self
    }

    /// The features of `txn`: those computed when `txn` was applied; for a profile that has not seen
    /// `txn` as its latest transaction, the features `txn` would have after it.
    pub fn features_of(&self, txn: &Transaction) -> FraudFeatures {
        match self.latest {
            Some((id, features)) if id == txn.txn_id => features,
            _ => self.state.clone().update_features(txn),
        }
    }
}

/// A card's activity in one window: counts, amount statistics, distinct merchants and countries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// Statistics of the amounts (count, sum, mean, standard deviation, min, max).
    pub amounts: Stats,
    /// Distinct merchants (exact up to 64, then HyperLogLog).
    pub merchants: DistinctCount,
    /// Distinct countries.
    pub countries: DistinctCount,
}

impl Activity {
    /// This activity with `txn` added.
    pub fn with(mut self, txn: &Transaction) -> Self {
        self.amounts.add(txn.amount);
        self.merchants.add_str(&txn.merchant_id);
        self.countries.add_str(&txn.country);
        self
    }

    /// A flat summary for JSON answers.
    pub fn summary(&self) -> ActivitySummary {
        ActivitySummary {
            count: self.amounts.count(),
            amount_sum: self.amounts.sum(),
            amount_max: self.amounts.max().unwrap_or(0.0),
            distinct_merchants: self.merchants.estimate(),
            distinct_countries: self.countries.estimate(),
        }
    }
}

/// [`Activity`] as the card lookup shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivitySummary {
    /// Transactions in the window.
    pub count: u64,
    /// Their total amount.
    pub amount_sum: f64,
    /// The largest amount.
    pub amount_max: f64,
    /// Distinct merchants.
    pub distinct_merchants: u64,
    /// Distinct countries.
    pub distinct_countries: u64,
}

/// A transaction with its features: what the join produces and the model scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Featured {
    /// The transaction.
    pub txn: Transaction,
    /// Its features, in the model's input order by [`FraudFeatures::to_array`].
    pub features: FraudFeatures,
}

/// One transaction's score: the value of `transaction-scores`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreEvent {
    /// The transaction's id.
    pub txn_id: u64,
    /// The card.
    pub card_id: String,
    /// The amount.
    pub amount: f64,
    /// The model's probability that the transaction is fraud.
    pub fraud_probability: f32,
    /// The features the model scored.
    pub features: FraudFeatures,
    /// The model's name and version.
    pub model: String,
    /// The model version that scored it.
    pub model_version: String,
    /// The transaction's event time, ms since the epoch.
    pub event_time_ms: i64,
}

/// A suspected fraud: the value of `fraud-alerts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The transaction.
    pub txn: Transaction,
    /// The model's probability that it is fraud (≥ `threshold`).
    pub fraud_probability: f32,
    /// The threshold in force.
    pub threshold: f32,
    /// The features that raised the score most, strongest first.
    pub reasons: Vec<Reason>,
    /// The features the model scored.
    pub features: FraudFeatures,
    /// The model's name.
    pub model: String,
    /// The model version that scored it.
    pub model_version: String,
}

streams_core::json_serde!(Transaction, CardProfile, Activity, ScoreEvent, Alert);

/// The topics the topology reads and writes (the dead-letter topic is the application's setting,
/// [`StreamsConfig::with_dead_letter_topic`](streams_core::StreamsConfig::with_dead_letter_topic)).
/// The default is the example's own: [`TRANSACTIONS`], [`TRANSACTION_SCORES`], [`FRAUD_ALERTS`];
/// others let several runs share a broker (the side-by-side benchmark names its topics per run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicNames {
    /// The input topic: card id → [`Transaction`].
    pub transactions: String,
    /// Every transaction's score: card id → [`ScoreEvent`].
    pub scores: String,
    /// Transactions scored at or above the threshold: card id → [`Alert`].
    pub alerts: String,
}

impl Default for TopicNames {
    fn default() -> Self {
        Self {
            transactions: TRANSACTIONS.to_string(),
            scores: TRANSACTION_SCORES.to_string(),
            alerts: FRAUD_ALERTS.to_string(),
        }
    }
}

/// What the topology is built from.
#[derive(Clone)]
pub struct TopologyConfig {
    /// The topics it reads and writes (default: the example's own, [`TopicNames::default`]).
    pub topics: TopicNames,
    /// The format of the transactions topic.
    pub format: TransactionFormat,
    /// The fraud model.
    pub model: ModelHandle,
    /// Alerts are raised for a fraud probability at or above this.
    pub threshold: f32,
    /// Explains alerts (the reasons).
    pub explainer: Arc<Explainer>,
}

/// The fraud detector's topology (see the module documentation).
///
/// # Errors
/// The transaction serde cannot be made (Avro: a bad registry URL), or the topology is invalid.
pub fn build(config: &TopologyConfig) -> Result<Topology, Box<dyn std::error::Error + Send + Sync>> {
    let builder = StreamsBuilder::new();
    let keys: SharedSerde<String> = Arc::new(StringSerde);
    let transactions = builder
        .stream_with(
            &config.topics.transactions,
            Consumed::with(keys.clone(), config.format.serde()?),
        )
        .dedupe_by_with(
            |_card, txn: &Transaction| txn.txn_id as i64,
            DEDUPE_WINDOW,
            Deduplicated::named("txn-dedupe"),
        );

    // First child of the deduplicated stream: each card's profile, updated before the join reads it.
    let profiles = transactions.group_by_key().aggregate(
        CardProfile::default,
        |_card, txn, profile: CardProfile| profile.apply(txn),
        Materialized::named(PROFILES_STORE).without_caching(),
    );
    transactions
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(10 * MINUTE, MINUTE).advance_by(5 * MINUTE))
        .aggregate(
            Activity::default,
            |_card, txn, activity: Activity| activity.with(txn),
            Materialized::named(ACTIVITY_10M_STORE).with_retention(Duration::from_secs(24 * 3600)),
        );
    transactions
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(24 * 60 * MINUTE, 10 * MINUTE))
        .aggregate(
            Activity::default,
            |_card, txn, activity: Activity| activity.with(txn),
            Materialized::named(ACTIVITY_24H_STORE).with_retention(Duration::from_secs(3 * 24 * 3600)),
        );

    let scores = transactions
        .join_table(&profiles, |txn: &Transaction, profile: &CardProfile| Featured {
            txn: txn.clone(),
            features: profile.features_of(txn),
        })
        .score(
            Scoring::new(config.model.clone())
                .max_batch(64)
                .max_wait(Duration::from_millis(5))
                .named("fraud-model"),
            |_card, featured: &Featured| featured.features.to_array(),
        );
    let fraud_probability = |scores: &[f32]| scores.get(1).copied().unwrap_or(0.0);
    scores
        .map_values(move |scored| ScoreEvent {
            txn_id: scored.value.txn.txn_id,
            card_id: scored.value.txn.card_id.clone(),
            amount: scored.value.txn.amount,
            fraud_probability: fraud_probability(&scored.scores),
            features: scored.value.features,
            model: scored.model.to_string(),
            model_version: scored.model_version.to_string(),
            event_time_ms: scored.value.txn.timestamp_ms,
        })
        .to_with(
            &config.topics.scores,
            Produced::with(keys.clone(), ScoreEvent::default_serde()),
        );
    let threshold = config.threshold;
    let explainer = config.explainer.clone();
    scores
        .filter(move |_card, scored| fraud_probability(&scored.scores) >= threshold)
        .map_values(move |scored| {
            let probability = fraud_probability(&scored.scores);
            Alert {
                reasons: explainer.reasons(&scored.value.features, probability),
                txn: scored.value.txn.clone(),
                fraud_probability: probability,
                threshold,
                features: scored.value.features,
                model: scored.model.to_string(),
                model_version: scored.model_version.to_string(),
            }
        })
        .to_with(&config.topics.alerts, Produced::with(keys, Alert::default_serde()));
    let topology = builder.build()?;
    Ok(topology)
}

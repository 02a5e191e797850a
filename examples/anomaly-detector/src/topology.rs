//! The detector's topology: readings in, exact per-sensor features in a table, every reading
//! scored by the model, scores and alerts out, and hopping-window statistics kept queryable.
//!
//! ```text
//!  sensor-readings ─▶ group_by_key ─▶ aggregate: SensorProfile ─▶ to_stream ─▶ latest features
//!  (event time from       │            (RocksDB `sensor-profiles`,             │
//!   the value)            │             no cache: one update per reading)      ▼
//!                         │                                     score (anomaly-iforest.onnx)
//!                         │                                          │                 │
//!                         │                               every score ▼ anomaly score > θ ▼
//!                         │                                              (after a sensor's warm-up)
//!                         │                                    sensor-scores        anomalies
//!                         ▼
//!          windowed_by(60 s hopping by 10 s) ─▶ aggregate: WindowStats (window store
//!                                               `sensor-stats-60s`, interactive queries)
//! ```
//!
//! Readings are keyed by sensor, so grouping by key needs no repartition: each sensor's readings
//! reach its profile in partition order, which is event-time order (the generator sends them so).
//!
//! The anomaly score is the isolation forest's negated decision function (or, with
//! `models/anomaly-mlp.onnx`, the classifier's probability of `anomaly`): see
//! [`ModelKind`].

use std::sync::Arc;
use std::time::Duration;

use streams_core::Result;
use streams_core::dsl::{Materialized, StreamsBuilder};
use streams_core::runtime::{TimestampExtractor, timestamp_from_value};
use streams_core::serde::DefaultSerde;
use streams_core::time::{TimeWindows, seconds};
use streams_core::topology::Topology;
use streams_ml::model::{Features, Model, ModelError, ModelHandle, ModelSpec, OnnxModel};
use streams_ml::{ScoreExt, Scoring};

use crate::features::FEATURE_NAMES;
use crate::generator::SensorReading;
use crate::records::{
    AnomalyAlert, FeaturedReading, ModelKind, ScoreRecord, SensorProfile, WindowStats, anomaly_score,
};

/// The key-value store (and table) of the sensors' profiles.
pub const PROFILE_STORE: &str = "sensor-profiles";

/// The window store of the sensors' hopping-window statistics.
pub const WINDOW_STORE: &str = "sensor-stats-60s";

/// Size of the statistics windows: 60 s.
pub const WINDOW_SIZE: Duration = Duration::from_secs(60);

/// Advance of the statistics windows: 10 s (so each reading is in 6 windows).
pub const WINDOW_ADVANCE: Duration = Duration::from_secs(10);

/// How long (in event time) the statistics windows are kept for queries: 7 days, more than any
/// run of the generator covers.
pub const WINDOW_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// The detector's model, `models/anomaly-iforest.onnx` at the workspace root: an isolation forest,
/// trained without labels (`scripts/train-models`, models/README.md).
pub const MODEL_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/anomaly-iforest.onnx");

/// The supervised alternative, `models/anomaly-mlp.onnx`: an MLP classifier trained on the
/// generator's labelled faults (`--model` takes it).
pub const MLP_MODEL_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/anomaly-mlp.onnx");

/// The topics the topology reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    /// Input: [`SensorReading`] as JSON, keyed by sensor.
    pub readings: String,
    /// Output: a [`ScoreRecord`] for every reading.
    pub scores: String,
    /// Output: an [`AnomalyAlert`] for every reading scored above the threshold.
    pub anomalies: String,
}

/// Loads the anomaly model at `path`, checking that it takes [`FEATURE_NAMES`] and that its
/// output is an isolation forest's or a `normal`/`anomaly` classifier's; returns it with its kind.
///
/// # Errors
/// When the file does not load, or its input or output does not fit.
pub fn load_model(path: &str) -> std::result::Result<(ModelHandle, ModelKind), ModelError> {
    let spec = ModelSpec::new(Features::named(FEATURE_NAMES));
    let model = OnnxModel::from_file(path, &spec)?;
    let kind = ModelKind::of(model.info()).map_err(|reason| ModelError::Signature {
        source_name: path.to_string(),
        reason,
    })?;
    Ok((ModelHandle::new(model), kind))
}

/// The event time of a record of the readings topic: the reading's own `timestamp_ms`.
pub fn event_time() -> Arc<dyn TimestampExtractor> {
    timestamp_from_value(SensorReading::default_serde(), |reading: &SensorReading| {
        reading.timestamp_ms
    })
}

/// The detector's topology: alerts for readings whose anomaly score
/// ([`anomaly_score`]) is above `threshold`.
///
/// # Errors
/// When the topology is invalid (it is not, for any topic names that differ).
pub fn topology(topics: &Topics, scoring: Scoring, threshold: f32) -> Result<Topology> {
    let builder = StreamsBuilder::new();
    let readings = builder.stream::<String, SensorReading>(&topics.readings);

    // Exact features: the whole reference state per sensor in one table row. Without the write
    // cache every update is forwarded, so every reading gets its own features and score.
    let scored = readings
        .group_by_key()
        .aggregate(
            SensorProfile::default,
            |_sensor, reading, profile| profile.update(reading),
            Materialized::named(PROFILE_STORE).without_caching(),
        )
        .to_stream()
        .flat_map_values(|profile: Option<SensorProfile>| profile.and_then(|p| p.latest()))
        .score(scoring, |_sensor, featured: &FeaturedReading| {
            featured.features.to_array()
        });
    scored.map_values(|scored| ScoreRecord::of(&scored)).to(&topics.scores);
    scored
        .filter(move |_sensor, scored| scored.value.warmed_up() && anomaly_score(scored) > threshold)
        .map_values(|scored| AnomalyAlert::of(&scored))
        .to(&topics.anomalies);

    // Hopping-window statistics, for queries (what a sensor looked like around an alert).
    readings
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(WINDOW_SIZE, seconds(5)).advance_by(WINDOW_ADVANCE))
        .aggregate(
            WindowStats::default,
            |_sensor, reading, stats| stats.with_reading(reading),
            Materialized::named(WINDOW_STORE).with_retention(WINDOW_RETENTION),
        );
    builder.build()
}

#[cfg(test)]
mod tests {
    use streams_core::StreamsConfig;
    use streams_core::testing::TopologyTestDriver;

    use super::*;
    use crate::features::FeatureExtractor;
    use crate::generator::{GeneratorConfig, ReadingGenerator};
    use crate::records::{CLASSIFIER_THRESHOLD, ISOLATION_FOREST_THRESHOLD};

    fn topics() -> Topics {
        Topics {
            readings: "readings".into(),
            scores: "scores".into(),
            anomalies: "anomalies".into(),
        }
    }

    #[test]
    fn every_reading_is_scored_on_the_reference_features() {
        let (model, kind) = load_model(MODEL_PATH).unwrap();
        assert_eq!(kind, ModelKind::IsolationForest);
        let threshold = kind.default_threshold();
        let scoring = Scoring::new(model).max_batch(16);
        let topology = topology(&topics(), scoring, threshold).unwrap();
        let driver = TopologyTestDriver::new(topology, StreamsConfig::for_tests("anomaly")).unwrap();
        let input = driver.input_topic::<String, SensorReading>("readings");
        let readings: Vec<SensorReading> = ReadingGenerator::new(GeneratorConfig {
            sensors: 3,
            ..GeneratorConfig::with_seed(11)
        })
        .take(2_000)
        .map(|(r, _)| r)
        .collect();
        for r in &readings {
            input.pipe_input_at(r.sensor_id.clone(), r.clone(), r.timestamp_ms);
        }
        driver.advance_wall_clock_time(Duration::from_millis(10));
        let scores = driver
            .output_topic::<String, ScoreRecord>("scores")
            .read_values_to_list();
        assert_eq!(scores.len(), readings.len(), "one score per reading");

        // Per sensor, scores in reading order; each alert carries the reference's features.
        let mut extractor = FeatureExtractor::new();
        let expected: std::collections::HashMap<(String, i64), [f32; 6]> = readings
            .iter()
            .map(|r| ((r.sensor_id.clone(), r.timestamp_ms), extractor.update(r)))
            .collect();
        let alerts = driver
            .output_topic::<String, AnomalyAlert>("anomalies")
            .read_values_to_list();
        let warm = |s: &&ScoreRecord| {
            readings
                .iter()
                .filter(|r| r.sensor_id == s.sensor_id && r.timestamp_ms < s.timestamp_ms)
                .count()
                >= 60
        };
        assert_eq!(
            alerts.len(),
            scores.iter().filter(|s| s.score > threshold).filter(warm).count()
        );
        assert!(!alerts.is_empty(), "some readings of 2,000 look anomalous");
        for alert in &alerts {
            assert_eq!(
                alert.features.to_array(),
                expected[&(alert.scored.sensor_id.clone(), alert.scored.timestamp_ms)]
            );
            assert!(alert.scored.model_version == scores[0].model_version && !alert.reason.is_empty());
        }

        // The windows: a reading is in 6 hopping windows of 60 s.
        let windows = driver.window_store::<String, WindowStats>(WINDOW_STORE);
        let last = readings.last().unwrap();
        let newest_start = last.timestamp_ms - last.timestamp_ms.rem_euclid(10_000);
        let around: Vec<WindowStats> = (0..6)
            .filter_map(|k| windows.fetch(&last.sensor_id, newest_start - k * 10_000))
            .collect();
        assert_eq!(around.len(), 6, "{around:?}");
        assert!(around.iter().all(|w| (1..=60).contains(&w.stats.count())), "{around:?}");
        let profiles = driver.key_value_store::<String, SensorProfile>(PROFILE_STORE);
        let profile = profiles.get(&last.sensor_id).unwrap();
        assert_eq!(profile.last.as_ref(), Some(last));
    }

    #[test]
    fn the_mlp_loads_as_a_classifier_scored_by_its_probability_of_anomaly() {
        let (mlp, kind) = load_model(MLP_MODEL_PATH).unwrap();
        assert_eq!(kind, ModelKind::Classifier);
        let (forest, _) = load_model(MODEL_PATH).unwrap();
        // A 10σ spike after a quiet minute: both models call it anomalous, each on its own scale.
        let spike = [52.0f32, 10.0, 5.0, 0.5, 47.0, 5.0];
        let probabilities = mlp.current().predict(&spike, 1).unwrap();
        assert_eq!(probabilities.len(), 2);
        let p = kind.anomaly_score(&probabilities);
        assert!(p == probabilities[1] && p > CLASSIFIER_THRESHOLD, "{probabilities:?}");
        let decision = forest.current().predict(&spike, 1).unwrap();
        let score = ModelKind::IsolationForest.anomaly_score(&decision);
        assert!(
            score == -decision[0] && score > ISOLATION_FOREST_THRESHOLD,
            "{decision:?}"
        );
    }
}

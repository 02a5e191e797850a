//! What flows through the detector's topology and its topics, with their JSON serdes.
//!
//! - [`SensorProfile`]: a sensor's row in the `sensor-profiles` table: the incremental
//!   [`FeatureState`] plus the latest reading and its features.
//! - [`FeaturedReading`]: a reading with its features, as scored.
//! - [`ScoreRecord`] (topic `sensor-scores`) and [`AnomalyAlert`] (topic `anomalies`): the outputs,
//!   with the reading's [`anomaly_score`] (higher = more anomalous; see [`ModelKind`]).
//! - [`WindowStats`]: a sensor's statistics over one hopping window (store `sensor-stats-60s`).

use serde::{Deserialize, Serialize};
use streams_ml::Scored;
use streams_ml::features::Stats;
use streams_ml::model::ModelInfo;

use crate::features::{AnomalyFeatures, FeatureState, MIN_STD};
use crate::generator::SensorReading;

/// A sensor's profile: what the topology keeps per sensor to compute each reading's features
/// exactly as the reference ([`crate::features`]) does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SensorProfile {
    /// The last minute of readings, the previous value and the EWMA.
    pub state: FeatureState,
    /// The latest reading taken into the state.
    pub last: Option<SensorReading>,
    /// The features of the reading just taken; `None` when it was refused (see
    /// [`SensorProfile::update`]), so that no score is made for it.
    pub features: Option<AnomalyFeatures>,
    /// Readings taken.
    pub readings: u64,
    /// Readings refused because their event time was not after the latest reading's.
    pub out_of_order: u64,
}

impl SensorProfile {
    /// Takes `reading` (the sensor's next one): computes its features from the history, then adds
    /// it to the history. A reading not later than the latest one (a duplicate or out of order)
    /// would break the reference's event-time order: it is counted and leaves the state as it is.
    pub fn update(mut self, reading: &SensorReading) -> Self {
        if self
            .last
            .as_ref()
            .is_some_and(|last| reading.timestamp_ms <= last.timestamp_ms)
        {
            self.features = None;
            self.out_of_order += 1;
            return self;
        }
        self.features = Some(self.state.update_features(reading));
        self.last = Some(reading.clone());
        self.readings += 1;
        self
    }

    /// The reading just taken with its features, if it was taken.
    pub fn latest(&self) -> Option<FeaturedReading> {
        Some(FeaturedReading {
            reading: self.last.clone()?,
            features: self.features?,
            history: self.readings.saturating_sub(1),
        })
    }
}

/// A reading and its features: the value the model scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeaturedReading {
    /// The reading.
    pub reading: SensorReading,
    /// Its features ([`crate::FEATURE_NAMES`]).
    pub features: AnomalyFeatures,
    /// How many readings of its sensor came before it.
    pub history: u64,
}

/// A sensor's first readings raise no alert: until it has this many, its 60-second window is not
/// full and its features are unlike those of a running sensor (the model flags some of them). The
/// generator starts no anomaly in a sensor's first 2 minutes, so nothing real is missed.
pub const WARM_UP_READINGS: u64 = 60;

impl FeaturedReading {
    /// Whether the reading may raise an alert: its sensor is past its [`WARM_UP_READINGS`].
    pub fn warmed_up(&self) -> bool {
        self.history >= WARM_UP_READINGS
    }
}

/// One scored reading (topic `sensor-scores`, keyed by sensor).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRecord {
    /// The sensor.
    pub sensor_id: String,
    /// The reading's event time, ms since the epoch.
    pub timestamp_ms: i64,
    /// The reading's value.
    pub value: f64,
    /// The reading's anomaly score ([`anomaly_score`]): the higher, the more anomalous.
    pub score: f32,
    /// The model's name.
    pub model: String,
    /// The model's version.
    pub model_version: String,
}

/// An alert: a reading whose anomaly score is above the threshold (topic `anomalies`, keyed by
/// sensor): its [`ScoreRecord`], whose fields are the alert's own in JSON, with the features and a
/// reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyAlert {
    /// The scored reading (flattened: `sensor_id`, `timestamp_ms`, `value`, `score`, `model`,
    /// `model_version` are fields of the alert).
    #[serde(flatten)]
    pub scored: ScoreRecord,
    /// The features the model was given.
    pub features: AnomalyFeatures,
    /// Why, for a human: the features that deviate most (see [`reason`]).
    pub reason: String,
}

/// The kinds of model the detector scores with, told apart by their output ([`ModelKind::of`]).
/// Either way, the detector's **anomaly score** ([`ModelKind::anomaly_score`]) is higher for a more
/// anomalous reading, and a reading is alerted when it is above the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// An isolation forest (`models/anomaly-iforest.onnx`, the default): one score per reading,
    /// scikit-learn's `decision_function` (its `scores` output; negative for an anomaly, and the
    /// model's own `label` is -1 exactly then). The anomaly score is its **negation**: 0 is the
    /// model's own cut (as many training readings above it as the training set had anomalies),
    /// and positive means anomalous. It lies within about −0.3 to 0.15.
    IsolationForest,
    /// A classifier with labels `normal`, `anomaly` (`models/anomaly-mlp.onnx`): two scores per
    /// reading, and the anomaly score is the probability of `anomaly`, from 0 to 1.
    Classifier,
}

impl ModelKind {
    /// The kind of a model, from its output: one score per reading, without labels, is an
    /// isolation forest's; two scores labelled `normal`, `anomaly` are a classifier's.
    ///
    /// # Errors
    /// For any other output, saying what was found.
    pub fn of(info: &ModelInfo) -> Result<Self, String> {
        let labels: Vec<&str> = info.labels.iter().map(|l| &**l).collect();
        match (info.output_width, labels.as_slice()) {
            (1, []) => Ok(ModelKind::IsolationForest),
            (2, ["normal", "anomaly"]) => Ok(ModelKind::Classifier),
            (width, labels) => Err(format!(
                "expected an isolation forest (one score per reading, no labels) or a classifier with labels \
                 [normal, anomaly]; found {width} scores per reading, labels {labels:?}"
            )),
        }
    }

    /// The kind whose output rows have `width` scores, if any.
    pub fn of_width(width: usize) -> Option<Self> {
        match width {
            1 => Some(ModelKind::IsolationForest),
            2 => Some(ModelKind::Classifier),
            _ => None,
        }
    }

    /// The anomaly score of one output row of a model of this kind: the negated decision function
    /// of an isolation forest, the probability of `anomaly` of a classifier; NaN (never above a
    /// threshold) for a row of the wrong width.
    pub fn anomaly_score(self, scores: &[f32]) -> f32 {
        match (self, scores) {
            (ModelKind::IsolationForest, [decision]) => -decision,
            (ModelKind::Classifier, [_normal, anomaly]) => *anomaly,
            _ => f32::NAN,
        }
    }

    /// The detector's default threshold for this kind: chosen with `anomaly-thresholds` on its
    /// readings (docs/anomaly-detector.md).
    pub fn default_threshold(self) -> f32 {
        match self {
            ModelKind::IsolationForest => ISOLATION_FOREST_THRESHOLD,
            ModelKind::Classifier => CLASSIFIER_THRESHOLD,
        }
    }
}

/// The default threshold on an isolation forest's anomaly score ([`ModelKind::IsolationForest`]):
/// 0, the model's own cut, where its `label` output turns to -1. On 200,000 readings of seed 7
/// (`anomaly-thresholds`) it finds 124 of 136 episodes (every stuck-at and noise burst), with
/// precision 0.660 and recall 0.686 per reading, precision 0.252 per episode; 0.01 misses 12 more
/// episodes (spikes) for precision 0.330 per episode, -0.01 finds all 136 at 0.197 (seeds 8 and 9
/// alike: 0 finds 93% and 95% of the episodes at precision 0.200 and 0.297).
pub const ISOLATION_FOREST_THRESHOLD: f32 = 0.0;

/// The default threshold on a classifier's probability of `anomaly`.
pub const CLASSIFIER_THRESHOLD: f32 = 0.5;

/// The anomaly score of a scored reading ([`ModelKind::anomaly_score`], the kind told by how many
/// scores the model gave): the higher, the more anomalous.
pub fn anomaly_score<V>(scored: &Scored<V>) -> f32 {
    ModelKind::of_width(scored.scores.len()).map_or(f32::NAN, |kind| kind.anomaly_score(&scored.scores))
}

impl ScoreRecord {
    /// The record of a scored reading.
    pub fn of(scored: &Scored<FeaturedReading>) -> Self {
        let reading = &scored.value.reading;
        ScoreRecord {
            sensor_id: reading.sensor_id.clone(),
            timestamp_ms: reading.timestamp_ms,
            value: reading.value,
            score: anomaly_score(scored),
            model: scored.model.to_string(),
            model_version: scored.model_version.to_string(),
        }
    }
}

impl AnomalyAlert {
    /// The alert of a scored reading.
    pub fn of(scored: &Scored<FeaturedReading>) -> Self {
        AnomalyAlert {
            scored: ScoreRecord::of(scored),
            features: scored.value.features,
            reason: reason(&scored.value.features),
        }
    }
}

/// A deviation counts as large from this many standard deviations (of the last 60 s) on.
pub const LARGE_DEVIATION: f64 = 3.0;

/// A change from the previous value counts as nearly none below this many standard deviations
/// (of the last 60 s): the isolation forest sees |`delta_prev`| on a log scale, where a value
/// repeated exactly, or almost, stands out.
pub const NEARLY_REPEATED: f64 = 0.05;

/// The features of an alert that deviate most, for a human, e.g.
/// `zscore_60s=8.3 (|z|>3), delta_prev=+6.10 (7.4σ)`.
///
/// Deviations are measured in standard deviations of the last 60 s (`std_60s`, at least 0.001):
/// `zscore_60s` is one already; `delta_prev` and `ewma_gap` are divided by it. Those of at least
/// [`LARGE_DEVIATION`] are listed, largest first; when none is, the largest is, marked small.
/// A value repeated exactly (`delta_prev` = 0, a stuck sensor's sign), or nearly (less than
/// [`NEARLY_REPEATED`] standard deviations from the previous one), is said first.
pub fn reason(features: &AnomalyFeatures) -> String {
    let sigma = f64::from(features.std_60s).max(MIN_STD);
    let z = f64::from(features.zscore_60s);
    let mut deviations = [
        ("zscore_60s", z, z.abs()),
        (
            "delta_prev",
            f64::from(features.delta_prev),
            f64::from(features.delta_prev).abs() / sigma,
        ),
        (
            "ewma_gap",
            f64::from(features.ewma_gap),
            f64::from(features.ewma_gap).abs() / sigma,
        ),
    ];
    deviations.sort_by(|a, b| b.2.total_cmp(&a.2));
    let describe = |(name, value, sigmas): (&str, f64, f64)| {
        if name == "zscore_60s" {
            let sign = if sigmas >= LARGE_DEVIATION { ">" } else { "<" };
            format!("{name}={value:.1} (|z|{sign}{LARGE_DEVIATION})")
        } else {
            format!("{name}={value:+.2} ({sigmas:.1}σ)")
        }
    };
    let mut parts: Vec<String> = Vec::new();
    let change = f64::from(features.delta_prev).abs() / sigma;
    if features.delta_prev == 0.0 && features.std_60s > 0.0 {
        parts.push("delta_prev=0 (value repeated exactly)".to_string());
    } else if change < NEARLY_REPEATED && features.std_60s > 0.0 {
        parts.push(format!(
            "delta_prev={:+.4} ({change:.3}σ, value nearly repeated)",
            features.delta_prev
        ));
    }
    let large: Vec<String> = deviations
        .iter()
        .filter(|d| d.2 >= LARGE_DEVIATION)
        .map(|d| describe(*d))
        .collect();
    if large.is_empty() {
        if parts.is_empty() {
            parts.push(describe(deviations[0]));
        }
    } else {
        parts.extend(large);
    }
    parts.push(format!("std_60s={:.3}", features.std_60s));
    parts.join(", ")
}

/// A sensor's statistics over one hopping window: count, mean, standard deviation, min, max.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowStats {
    /// The statistics of the window's values.
    pub stats: Stats,
}

impl WindowStats {
    /// These statistics with `reading`'s value added.
    pub fn with_reading(mut self, reading: &SensorReading) -> Self {
        self.stats.add(reading.value);
        self
    }

    /// `n=60 mean=41.20 std=0.53 min=40.1 max=42.3`, or `n=0`.
    pub fn summary(&self) -> String {
        match (
            self.stats.mean(),
            self.stats.std_dev(),
            self.stats.min(),
            self.stats.max(),
        ) {
            (Some(mean), std, Some(min), Some(max)) => format!(
                "n={} mean={mean:.2} std={:.3} min={min:.2} max={max:.2}",
                self.stats.count(),
                std.unwrap_or(0.0)
            ),
            _ => format!("n={}", self.stats.count()),
        }
    }
}

streams_core::json_serde!(
    SensorReading,
    SensorProfile,
    FeaturedReading,
    ScoreRecord,
    AnomalyAlert,
    WindowStats
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_is_one_flat_json_object_of_its_score_record_features_and_reason() {
        let alert = AnomalyAlert {
            scored: ScoreRecord {
                sensor_id: "sensor-3".into(),
                timestamp_ms: 42,
                value: 1.5,
                score: 0.25,
                model: "anomaly-iforest".into(),
                model_version: "1".into(),
            },
            features: features(1.5, 4.0, 0.5, 0.1, 0.2),
            reason: "zscore_60s=4.0 (|z|>3)".into(),
        };
        let json: serde_json::Value = serde_json::to_value(&alert).unwrap();
        let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "features",
                "model",
                "model_version",
                "reason",
                "score",
                "sensor_id",
                "timestamp_ms",
                "value"
            ]
        );
        assert_eq!(serde_json::from_value::<AnomalyAlert>(json).unwrap(), alert);
    }

    fn features(value: f32, zscore: f32, delta: f32, std: f32, ewma_gap: f32) -> AnomalyFeatures {
        AnomalyFeatures {
            value,
            zscore_60s: zscore,
            delta_prev: delta,
            std_60s: std,
            mean_60s: value - ewma_gap,
            ewma_gap,
        }
    }

    fn info(output_width: usize, labels: &[&str]) -> ModelInfo {
        ModelInfo {
            name: "m".into(),
            version: "1".into(),
            content_hash: String::new(),
            input_width: 6,
            output_width,
            feature_names: Vec::new(),
            labels: labels.iter().map(|&l| l.into()).collect(),
        }
    }

    #[test]
    fn the_model_kind_follows_the_output_and_the_anomaly_score_rises_with_the_anomaly() {
        assert_eq!(ModelKind::of(&info(1, &[])), Ok(ModelKind::IsolationForest));
        assert_eq!(
            ModelKind::of(&info(2, &["normal", "anomaly"])),
            Ok(ModelKind::Classifier)
        );
        for (width, labels) in [(2, &["legit", "fraud"][..]), (2, &[]), (3, &[]), (1, &["anomaly"])] {
            let error = ModelKind::of(&info(width, labels)).unwrap_err();
            assert!(error.contains(&format!("found {width} scores")), "{error}");
        }
        // An isolation forest's decision function is negative for an anomaly: negated, it rises.
        let forest = ModelKind::IsolationForest;
        assert_eq!(forest.anomaly_score(&[-0.12]), 0.12);
        assert!(forest.anomaly_score(&[-0.12]) > forest.anomaly_score(&[0.05]));
        assert_eq!(ModelKind::Classifier.anomaly_score(&[0.25, 0.75]), 0.75);
        assert!(forest.anomaly_score(&[0.1, 0.9]).is_nan());
        let scored = |scores: Vec<f32>| Scored {
            value: (),
            scores,
            label: None,
            model: "m".into(),
            model_version: "1".into(),
            latency_us: 0,
            batch_size: 1,
        };
        assert_eq!(anomaly_score(&scored(vec![-0.2])), 0.2);
        assert_eq!(anomaly_score(&scored(vec![0.1, 0.9])), 0.9);
        assert!(anomaly_score(&scored(vec![])).is_nan());
    }

    #[test]
    fn reason_lists_the_large_deviations_largest_first() {
        let spike = features(58.0, 8.3, 6.1, 0.8, 5.9);
        assert_eq!(
            reason(&spike),
            "zscore_60s=8.3 (|z|>3), delta_prev=+6.10 (7.6σ), ewma_gap=+5.90 (7.4σ), std_60s=0.800"
        );
        let quiet = features(40.0, 1.2, -0.5, 1.0, 2.0);
        assert_eq!(reason(&quiet), "ewma_gap=+2.00 (2.0σ), std_60s=1.000");
    }

    #[test]
    fn reason_says_when_a_value_repeats() {
        let stuck = features(40.0, 0.4, 0.0, 0.5, 0.1);
        assert_eq!(reason(&stuck), "delta_prev=0 (value repeated exactly), std_60s=0.500");
        let nearly = features(40.0, -1.7, 0.004, 0.9, 0.1);
        assert_eq!(
            reason(&nearly),
            "delta_prev=+0.0040 (0.004σ, value nearly repeated), std_60s=0.900"
        );
    }

    #[test]
    fn profile_reproduces_the_reference_and_refuses_out_of_order_readings() {
        let reading = |t: i64, value: f64| SensorReading {
            sensor_id: "s".into(),
            value,
            timestamp_ms: t,
        };
        let readings = [reading(1_000, 10.0), reading(2_000, 12.0), reading(3_000, 14.0)];
        let mut profile = SensorProfile::default();
        for (i, r) in readings.iter().enumerate() {
            profile = profile.update(r);
            let latest = profile.latest().expect("taken");
            assert_eq!(latest.reading, *r);
            assert_eq!(latest.features, AnomalyFeatures::compute(&readings[..i], r));
        }
        let profile = profile.update(&reading(3_000, 99.0));
        assert_eq!(profile.latest(), None);
        assert_eq!((profile.readings, profile.out_of_order), (3, 1));
    }
}

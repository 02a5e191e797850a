//! What flows through the detector's topology and its topics, with their JSON serdes.
//!
//! - [`SensorProfile`]: a sensor's row in the `sensor-profiles` table: the incremental
//!   [`FeatureState`] plus the latest reading and its features.
//! - [`FeaturedReading`]: a reading with its features, as scored.
//! - [`ScoreRecord`] (topic `sensor-scores`) and [`AnomalyAlert`] (topic `anomalies`): the outputs.
//! - [`WindowStats`]: a sensor's statistics over one hopping window (store `sensor-stats-60s`).

use serde::{Deserialize, Serialize};
use streams_ml::Scored;
use streams_ml::features::Stats;

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
    /// The model's probability of `anomaly`.
    pub score: f32,
    /// The model's name.
    pub model: String,
    /// The model's version.
    pub model_version: String,
}

/// An alert: a reading scored above the threshold (topic `anomalies`, keyed by sensor).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyAlert {
    /// The sensor.
    pub sensor_id: String,
    /// The reading's event time, ms since the epoch.
    pub timestamp_ms: i64,
    /// The reading's value.
    pub value: f64,
    /// The model's probability of `anomaly`.
    pub score: f32,
    /// The model's name.
    pub model: String,
    /// The model's version.
    pub model_version: String,
    /// The features the model was given.
    pub features: AnomalyFeatures,
    /// Why, for a human: the features that deviate most (see [`reason`]).
    pub reason: String,
}

/// Index of the `anomaly` probability in the model's scores (labels `normal`, `anomaly`).
pub const ANOMALY_SCORE: usize = 1;

/// The probability of `anomaly` a model gave a reading.
pub fn anomaly_score<V>(scored: &Scored<V>) -> f32 {
    scored.scores.get(ANOMALY_SCORE).copied().unwrap_or(f32::NAN)
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
        let reading = &scored.value.reading;
        AnomalyAlert {
            sensor_id: reading.sensor_id.clone(),
            timestamp_ms: reading.timestamp_ms,
            value: reading.value,
            score: anomaly_score(scored),
            model: scored.model.to_string(),
            model_version: scored.model_version.to_string(),
            features: scored.value.features,
            reason: reason(&scored.value.features),
        }
    }
}

/// A deviation counts as large from this many standard deviations (of the last 60 s) on.
pub const LARGE_DEVIATION: f64 = 3.0;

/// The features of an alert that deviate most, for a human, e.g.
/// `zscore_60s=8.3 (|z|>3), delta_prev=+6.10 (7.4σ)`.
///
/// Deviations are measured in standard deviations of the last 60 s (`std_60s`, at least 0.001):
/// `zscore_60s` is one already; `delta_prev` and `ewma_gap` are divided by it. Those of at least
/// [`LARGE_DEVIATION`] are listed, largest first; when none is, the largest is, marked small.
/// A value repeated exactly (`delta_prev` = 0, a stuck sensor's sign) is said first.
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
    if features.delta_prev == 0.0 && features.std_60s > 0.0 {
        parts.push("delta_prev=0 (value repeated exactly)".to_string());
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

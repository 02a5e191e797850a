//! The anomaly model's input features: the reference definition.
//!
//! The training data (`anomaly-training-data`), the models (`models/anomaly-iforest.onnx`,
//! `models/anomaly-mlp.onnx`) and the streaming topology that scores live readings must all
//! compute exactly these, in this order
//! ([`FEATURE_NAMES`]). Every feature of a reading `x` of sensor `s` at event time `t` is computed
//! from sensor `s`'s readings only, taken in event-time order (per sensor, timestamps are assumed
//! to increase):
//!
//! - the **60-second window** `W` = `s`'s readings *before* `x` with a timestamp in
//!   `[t − 60 s, t)`: `0 < t − timestamp ≤ 60 000 ms`; `x` itself is **not** in it (at 1 Hz it
//!   holds up to 60 readings);
//! - `mean(W)` and `std(W)` are the mean and the **population** standard deviation (divide by
//!   `n`) of the values in `W`.
//!
//! | # | name | definition |
//! |---|---|---|
//! | 0 | `value` | `x.value` |
//! | 1 | `zscore_60s` | `(x.value − mean(W)) / max(std(W), 0.001)`, clamped to `[−50, 50]`; `0` if `W` has fewer than 2 readings |
//! | 2 | `delta_prev` | `x.value − ` the value of `s`'s previous reading (whenever it was); `0` if none |
//! | 3 | `std_60s` | `std(W)`; `0` if `W` is empty |
//! | 4 | `mean_60s` | `mean(W)`; `x.value` if `W` is empty |
//! | 5 | `ewma_gap` | `x.value − e`, where `e` is the exponentially weighted moving average of all `s`'s previous values with α = 0.1: `e₁ = v₁`, `eₖ = 0.1·vₖ + 0.9·eₖ₋₁`; `0` if there is no previous reading |
//!
//! Everything is computed in `f64` and rounded to `f32` once, at the end.
//!
//! [`AnomalyFeatures::compute`] is the definition written out directly over a history;
//! [`FeatureState`] computes the same incrementally (the last minute of readings plus two
//! numbers per sensor), which is what a streaming topology keeps per sensor.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::generator::SensorReading;

/// Number of features.
pub const N_FEATURES: usize = 6;

/// The feature names, in the model's input order.
pub const FEATURE_NAMES: [&str; N_FEATURES] = ["value", "zscore_60s", "delta_prev", "std_60s", "mean_60s", "ewma_gap"];

/// Length of the window of `zscore_60s`, `std_60s` and `mean_60s`: 60 seconds.
pub const WINDOW_MS: i64 = 60_000;

/// `zscore_60s` divides by at least this standard deviation.
pub const MIN_STD: f64 = 1e-3;

/// `zscore_60s` is clamped to `[−MAX_ZSCORE, MAX_ZSCORE]`.
pub const MAX_ZSCORE: f64 = 50.0;

/// Smoothing factor of the EWMA of `ewma_gap`.
pub const EWMA_ALPHA: f64 = 0.1;

/// The features of one reading, by name; [`AnomalyFeatures::to_array`] gives the model's input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnomalyFeatures {
    /// 0: the value.
    pub value: f32,
    /// 1: z-score against the previous 60 s, std floored at 0.001, clamped to ±50; 0 with fewer
    /// than 2 readings in the window.
    pub zscore_60s: f32,
    /// 2: change since the sensor's previous reading; 0 if none.
    pub delta_prev: f32,
    /// 3: population std of the previous 60 s; 0 if none.
    pub std_60s: f32,
    /// 4: mean of the previous 60 s; the value itself if none.
    pub mean_60s: f32,
    /// 5: the value minus the EWMA (α = 0.1) of the previous values; 0 if none.
    pub ewma_gap: f32,
}

impl AnomalyFeatures {
    /// The features of `current`, computed directly from the definition.
    ///
    /// `history` holds readings that came before `current`, in event-time order; only those of
    /// `current.sensor_id` are used, so a whole stream's prefix can be passed.
    pub fn compute(history: &[SensorReading], current: &SensorReading) -> Self {
        let previous: Vec<f64> = history
            .iter()
            .filter(|r| r.sensor_id == current.sensor_id)
            .map(|r| r.value)
            .collect();
        let t = current.timestamp_ms;
        let window: Vec<f64> = history
            .iter()
            .filter(|r| r.sensor_id == current.sensor_id && r.timestamp_ms < t && t - r.timestamp_ms <= WINDOW_MS)
            .map(|r| r.value)
            .collect();
        let ewma = previous
            .split_first()
            .map(|(first, rest)| rest.iter().fold(*first, |e, v| EWMA_ALPHA * v + (1.0 - EWMA_ALPHA) * e));
        Self::from_parts(current.value, &window, previous.last().copied(), ewma)
    }

    /// The features of `value` given the window's values, the previous value and the EWMA of
    /// the previous values.
    fn from_parts(value: f64, window: &[f64], prev: Option<f64>, ewma: Option<f64>) -> Self {
        let n = window.len() as f64;
        let (mean, std) = if window.is_empty() {
            (value, 0.0)
        } else {
            let mean = window.iter().sum::<f64>() / n;
            (
                mean,
                (window.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt(),
            )
        };
        let zscore = if window.len() < 2 {
            0.0
        } else {
            ((value - mean) / std.max(MIN_STD)).clamp(-MAX_ZSCORE, MAX_ZSCORE)
        };
        Self {
            value: value as f32,
            zscore_60s: zscore as f32,
            delta_prev: prev.map_or(0.0, |p| value - p) as f32,
            std_60s: std as f32,
            mean_60s: mean as f32,
            ewma_gap: ewma.map_or(0.0, |e| value - e) as f32,
        }
    }

    /// The model's input row, in [`FEATURE_NAMES`] order.
    pub fn to_array(&self) -> [f32; N_FEATURES] {
        [
            self.value,
            self.zscore_60s,
            self.delta_prev,
            self.std_60s,
            self.mean_60s,
            self.ewma_gap,
        ]
    }
}

/// One sensor's state for computing its features incrementally: what a streaming topology keeps
/// per sensor. Feed it the sensor's readings in event-time order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeatureState {
    /// `(timestamp_ms, value)` of the readings of the last 60 s, oldest first.
    window: VecDeque<(i64, f64)>,
    /// The latest value.
    prev: Option<f64>,
    /// EWMA of all values so far.
    ewma: Option<f64>,
}

impl FeatureState {
    /// The state of a sensor with no reading yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The features of `reading` (the sensor's next reading), as the model's input row; then
    /// `reading` becomes part of the sensor's history.
    pub fn update(&mut self, reading: &SensorReading) -> [f32; N_FEATURES] {
        self.update_features(reading).to_array()
    }

    /// Like [`FeatureState::update`], by name.
    pub fn update_features(&mut self, reading: &SensorReading) -> AnomalyFeatures {
        let t = reading.timestamp_ms;
        while self.window.front().is_some_and(|(ts, _)| t - ts > WINDOW_MS) {
            self.window.pop_front();
        }
        let window: Vec<f64> = self.window.iter().filter(|(ts, _)| *ts < t).map(|(_, v)| *v).collect();
        let features = AnomalyFeatures::from_parts(reading.value, &window, self.prev, self.ewma);
        self.window.push_back((t, reading.value));
        self.prev = Some(reading.value);
        self.ewma = Some(
            self.ewma
                .map_or(reading.value, |e| EWMA_ALPHA * reading.value + (1.0 - EWMA_ALPHA) * e),
        );
        features
    }
}

/// Feature states of all sensors: feed it a stream of readings in event-time order.
#[derive(Debug, Clone, Default)]
pub struct FeatureExtractor {
    sensors: HashMap<String, FeatureState>,
}

impl FeatureExtractor {
    /// An extractor that has seen no sensor.
    pub fn new() -> Self {
        Self::default()
    }

    /// The features of `reading`, from its sensor's history; then `reading` joins that history.
    pub fn update(&mut self, reading: &SensorReading) -> [f32; N_FEATURES] {
        self.sensors
            .entry(reading.sensor_id.clone())
            .or_default()
            .update(reading)
    }

    /// Number of sensors seen.
    pub fn sensors(&self) -> usize {
        self.sensors.len()
    }
}

#[cfg(test)]
mod tests {
    use example_data::check::{assert_features, assert_incremental_equals_direct, close};

    use super::*;
    use crate::generator::{GeneratorConfig, ReadingGenerator};

    fn reading(sensor: &str, second: i64, value: f64) -> SensorReading {
        SensorReading {
            sensor_id: sensor.to_string(),
            value,
            timestamp_ms: 1_000_000_000_000 + second * 1000,
        }
    }

    #[test]
    fn hand_computed_sequence() {
        let seq = [
            reading("a", 0, 10.0),
            reading("b", 0, 500.0), // another sensor: ignored
            reading("a", 1, 12.0),
            reading("a", 2, 14.0),
            reading("a", 60, 20.0), // 60 s after the first: it is still in the window
            reading("a", 61, 10.0), // the first has left the window
        ];
        // EWMA after 10: 10; after 12: 10.2; after 14: 10.58; after 20: 11.522.
        let expected: [[f64; N_FEATURES]; 6] = [
            [10.0, 0.0, 0.0, 0.0, 10.0, 0.0],
            [500.0, 0.0, 0.0, 0.0, 500.0, 0.0],
            // Window {10}: one reading, no z-score.
            [12.0, 0.0, 2.0, 0.0, 10.0, 2.0],
            // Window {10, 12}: mean 11, std 1.
            [14.0, 3.0, 2.0, 1.0, 11.0, 14.0 - 10.2],
            // Window {10, 12, 14}: mean 12, std sqrt(8/3).
            [
                20.0,
                8.0 / (8f64 / 3.0).sqrt(),
                6.0,
                (8f64 / 3.0).sqrt(),
                12.0,
                20.0 - 10.58,
            ],
            // Window {12, 14, 20}: mean 46/3, std sqrt(((12-m)^2+(14-m)^2+(20-m)^2)/3).
            {
                let m = 46.0 / 3.0;
                let std =
                    (((12.0 - m) * (12.0 - m) + (14.0 - m) * (14.0 - m) + (20.0 - m) * (20.0 - m)) / 3.0f64).sqrt();
                [10.0, (10.0 - m) / std, -10.0, std, m, 10.0 - 11.522]
            },
        ];
        let mut extractor = FeatureExtractor::new();
        for (i, current) in seq.iter().enumerate() {
            assert_features(
                &FEATURE_NAMES,
                AnomalyFeatures::compute(&seq[..i], current).to_array(),
                expected[i],
            );
            assert_features(&FEATURE_NAMES, extractor.update(current), expected[i]);
        }
        assert_eq!(extractor.sensors(), 2);
    }

    #[test]
    fn constant_window_floors_std_and_clamps_the_zscore() {
        let mut state = FeatureState::new();
        for s in 0..10 {
            state.update(&reading("a", s, 5.0));
        }
        let same = state.update(&reading("a", 10, 5.0));
        assert_eq!((same[1], same[3]), (0.0, 0.0));
        let small = state.update(&reading("a", 11, 5.01));
        // 0.01 / 0.001 = 10 (the window's std is 0, floored).
        assert!(close(small[1], 10.0), "{}", small[1]);
        let big = state.update(&reading("a", 12, 6.0));
        assert_eq!(big[1], 50.0);
    }

    #[test]
    fn incremental_equals_direct_on_generated_data() {
        let readings: Vec<SensorReading> = ReadingGenerator::new(GeneratorConfig {
            sensors: 3,
            ..GeneratorConfig::with_seed(5)
        })
        .take(3_000)
        .map(|(r, _)| r)
        .collect();
        let mut extractor = FeatureExtractor::new();
        assert_incremental_equals_direct(
            &FEATURE_NAMES,
            &readings,
            |before, current| AnomalyFeatures::compute(before, current).to_array(),
            |current| extractor.update(current),
        );
    }
}

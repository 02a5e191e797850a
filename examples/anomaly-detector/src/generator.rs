//! A deterministic generator of sensor readings with labelled anomalies.
//!
//! Several sensors report once a second (sensor `i` of `n` at `i · 1000 / n` ms past each second,
//! so readings come in strictly increasing event time). Each sensor's normal signal is a base level,
//! a slow "daily-ish" cycle (period 0.8–1.2 days), a faster cycle (period 20–90 minutes) and
//! Gaussian noise, with an occasional benign 2.5× noisier reading; about 0.2% of readings are
//! dropped (never sent).
//!
//! About 1.4% of the readings are anomalous, in episodes of four kinds ([`AnomalyKind`]): spikes
//! (1–3 readings 6–15 σ off), level shifts (±4–10 σ for 20–60 s), stuck-at values (the last
//! normal value repeated for 20–60 s) and noise bursts (5–10× the noise for 10–40 s). Every
//! reading of an episode is labelled anomalous.
//!
//! [`ReadingGenerator`] yields `(SensorReading, bool)`, `true` for an anomalous reading; the label
//! is kept beside the record, never in it. The same [`GeneratorConfig`] always yields the same
//! sequence.

use example_data::Rng;
use serde::{Deserialize, Serialize};

/// One measurement of one sensor (the Kafka value of the `sensor-readings` topic, keyed by
/// `sensor_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorReading {
    /// The sensor, e.g. `sensor-03`.
    pub sensor_id: String,
    /// The measured value.
    pub value: f64,
    /// Event time: when it was measured, in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
}

/// The kinds of injected anomalies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnomalyKind {
    /// 1–3 readings 6–15 noise standard deviations away from the signal.
    Spike,
    /// The signal offset by ±4–10 standard deviations for 20–60 s.
    LevelShift,
    /// The last normal value repeated exactly for 20–60 s.
    StuckAt,
    /// Noise 5–10 times stronger for 10–40 s.
    NoiseBurst,
}

/// 2026-01-01T00:00:00Z in milliseconds since the Unix epoch.
pub const DEFAULT_START_MS: i64 = 1_767_225_600_000;

/// What the generator makes; [`GeneratorConfig::default`] is what the training data uses.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    /// Seed of every random choice: the same config yields the same readings.
    pub seed: u64,
    /// Number of sensors.
    pub sensors: usize,
    /// Event time of the first second, ms since the Unix epoch.
    pub start_ms: i64,
    /// Probability that a normal reading starts an anomaly episode (none within 5 minutes after
    /// the end of the previous one on the same sensor, nor in a sensor's first 2 minutes).
    /// 0.00085 gives about 1.4% anomalous readings.
    pub anomaly_probability: f64,
    /// Probability that a reading is dropped (not sent at all).
    pub drop_probability: f64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            sensors: 8,
            start_ms: DEFAULT_START_MS,
            anomaly_probability: 0.00085,
            drop_probability: 0.002,
        }
    }
}

impl GeneratorConfig {
    /// The default config with another seed.
    pub fn with_seed(seed: u64) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }
}

/// An anomaly episode in progress.
#[derive(Debug, Clone, Copy)]
struct Episode {
    kind: AnomalyKind,
    /// Readings (seconds) left, this one included.
    remaining: u64,
    /// Offset in σ (spike, level shift), noise factor (burst) or the stuck value.
    param: f64,
}

/// One sensor's fixed traits and current state.
#[derive(Debug)]
struct Sensor {
    id: String,
    /// Milliseconds past each second at which this sensor reports.
    offset_ms: i64,
    base: f64,
    /// (amplitude, period in seconds, phase) of the slow and the fast cycle.
    slow: (f64, f64, f64),
    fast: (f64, f64, f64),
    /// Standard deviation of the noise.
    sigma: f64,
    episode: Option<Episode>,
    /// No new episode starts before this second.
    quiet_until: u64,
    /// The last value sent (what a stuck sensor repeats).
    last_value: f64,
}

impl Sensor {
    fn signal(&self, second: u64) -> f64 {
        let cycle = |(amplitude, period, phase): (f64, f64, f64)| {
            amplitude * (std::f64::consts::TAU * second as f64 / period + phase).sin()
        };
        self.base + cycle(self.slow) + cycle(self.fast)
    }
}

/// An endless, event-time ordered stream of `(reading, is_anomalous)`; take as many as needed.
#[derive(Debug)]
pub struct ReadingGenerator {
    config: GeneratorConfig,
    rng: Rng,
    sensors: Vec<Sensor>,
    /// The current second (from 0) and the next sensor to report in it.
    second: u64,
    next_sensor: usize,
}

impl ReadingGenerator {
    /// A generator of the sensors described by `config`.
    ///
    /// # Panics
    /// If `config.sensors` is 0 or more than 1000.
    pub fn new(config: GeneratorConfig) -> Self {
        assert!((1..=1000).contains(&config.sensors), "1 to 1000 sensors");
        let mut rng = Rng::new(config.seed);
        let n = config.sensors;
        let sensors = (0..n)
            .map(|i| {
                let sigma = rng.uniform(0.2, 1.0);
                Sensor {
                    id: format!("sensor-{i:02}"),
                    offset_ms: (i * 1000 / n) as i64,
                    base: rng.uniform(20.0, 80.0),
                    slow: (
                        rng.uniform(3.0, 10.0),
                        rng.uniform(0.8, 1.2) * 86_400.0,
                        rng.uniform(0.0, 6.3),
                    ),
                    fast: (
                        rng.uniform(0.5, 2.0) * sigma,
                        rng.uniform(1_200.0, 5_400.0),
                        rng.uniform(0.0, 6.3),
                    ),
                    sigma,
                    episode: None,
                    quiet_until: 120,
                    last_value: 0.0,
                }
            })
            .collect();
        Self {
            config,
            rng,
            sensors,
            second: 0,
            next_sensor: 0,
        }
    }

    /// The config this generator was made with.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// A new episode for a sensor whose last value was `last_value`.
    fn new_episode(&mut self, last_value: f64) -> Episode {
        let r = self.rng.next_f64();
        if r < 0.4 {
            let offset = self.rng.sign() * self.rng.uniform(6.0, 15.0);
            self.episode(AnomalyKind::Spike, offset, 1, 3)
        } else if r < 0.6 {
            let offset = self.rng.sign() * self.rng.uniform(4.0, 10.0);
            self.episode(AnomalyKind::LevelShift, offset, 20, 60)
        } else if r < 0.8 {
            self.episode(AnomalyKind::StuckAt, last_value, 20, 60)
        } else {
            let factor = self.rng.uniform(5.0, 10.0);
            self.episode(AnomalyKind::NoiseBurst, factor, 10, 40)
        }
    }

    /// An episode of `kind` with `param` (see [`Episode::param`]), lasting `min` to `max` readings
    /// (drawn after `param`).
    fn episode(&mut self, kind: AnomalyKind, param: f64, min: i64, max: i64) -> Episode {
        Episode {
            kind,
            remaining: self.rng.int_in(min, max) as u64,
            param,
        }
    }

    /// The value of sensor `i` at the current second, and the kind of its anomaly if it is anomalous.
    fn measure(&mut self, i: usize) -> (f64, Option<AnomalyKind>) {
        let second = self.second;
        let (sigma, last_value) = (self.sensors[i].sigma, self.sensors[i].last_value);
        // Mostly Gaussian noise, with an occasional benign wider reading.
        let noise_factor = if self.rng.chance(0.02) { 2.5 } else { 1.0 };
        let clean = self.sensors[i].signal(second) + noise_factor * sigma * self.rng.normal();
        if self.sensors[i].episode.is_none()
            && second >= self.sensors[i].quiet_until
            && self.rng.chance(self.config.anomaly_probability)
        {
            self.sensors[i].episode = Some(self.new_episode(last_value));
        }
        let Some(mut episode) = self.sensors[i].episode else {
            return (clean, None);
        };
        let value = match episode.kind {
            AnomalyKind::Spike | AnomalyKind::LevelShift => clean + episode.param * sigma,
            AnomalyKind::StuckAt => episode.param,
            AnomalyKind::NoiseBurst => clean + episode.param * sigma * self.rng.normal(),
        };
        episode.remaining -= 1;
        let sensor = &mut self.sensors[i];
        if episode.remaining == 0 {
            sensor.episode = None;
            sensor.quiet_until = second + 300;
        } else {
            sensor.episode = Some(episode);
        }
        (value, Some(episode.kind))
    }

    /// The next reading with its ground truth: `Some(kind)` for a reading of an anomaly episode of
    /// that kind, `None` for a normal one. The iterator yields the same readings, with
    /// `kind.is_some()` as the label.
    pub fn next_with_kind(&mut self) -> (SensorReading, Option<AnomalyKind>) {
        loop {
            let i = self.next_sensor;
            let second = self.second;
            self.next_sensor += 1;
            if self.next_sensor == self.sensors.len() {
                self.next_sensor = 0;
                self.second += 1;
            }
            let (value, kind) = self.measure(i);
            // A dropped reading still happened (a stuck sensor goes on repeating it).
            self.sensors[i].last_value = value;
            if self.rng.chance(self.config.drop_probability) {
                continue;
            }
            let sensor = &self.sensors[i];
            let reading = SensorReading {
                sensor_id: sensor.id.clone(),
                value,
                timestamp_ms: self.config.start_ms + second as i64 * 1000 + sensor.offset_ms,
            };
            return (reading, kind);
        }
    }
}

impl Iterator for ReadingGenerator {
    type Item = (SensorReading, bool);

    fn next(&mut self) -> Option<Self::Item> {
        let (reading, kind) = self.next_with_kind();
        Some((reading, kind.is_some()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(seed: u64, n: usize) -> Vec<(SensorReading, bool)> {
        ReadingGenerator::new(GeneratorConfig::with_seed(seed))
            .take(n)
            .collect()
    }

    #[test]
    fn same_seed_same_readings() {
        assert_eq!(take(7, 5_000), take(7, 5_000));
        assert_ne!(take(7, 1_000), take(8, 1_000));
    }

    #[test]
    fn readings_in_strictly_increasing_event_time_about_1_hz() {
        let readings = take(1, 80_000);
        for pair in readings.windows(2) {
            assert!(pair[0].0.timestamp_ms < pair[1].0.timestamp_ms);
        }
        let sensor_0: Vec<i64> = readings
            .iter()
            .filter(|(r, _)| r.sensor_id == "sensor-00")
            .map(|(r, _)| r.timestamp_ms)
            .collect();
        assert!(sensor_0.len() > 9_900 && sensor_0.len() <= 10_000, "{}", sensor_0.len());
        assert!(sensor_0.windows(2).all(|p| (p[1] - p[0]) % 1000 == 0));
    }

    #[test]
    fn anomaly_rate_is_between_1_and_2_percent() {
        for seed in [1, 2] {
            let readings = take(seed, 300_000);
            let rate = readings.iter().filter(|(_, a)| *a).count() as f64 / readings.len() as f64;
            assert!((0.01..=0.02).contains(&rate), "seed {seed}: anomaly rate {rate}");
        }
    }

    #[test]
    fn kinds_label_the_same_readings() {
        let mut with_kinds = ReadingGenerator::new(GeneratorConfig::with_seed(4));
        let kinds: Vec<(SensorReading, Option<AnomalyKind>)> =
            (0..50_000).map(|_| with_kinds.next_with_kind()).collect();
        let labelled = take(4, 50_000);
        assert!(
            kinds
                .iter()
                .zip(&labelled)
                .all(|((r, k), (l, a))| r == l && k.is_some() == *a)
        );
        for kind in [
            AnomalyKind::Spike,
            AnomalyKind::LevelShift,
            AnomalyKind::StuckAt,
            AnomalyKind::NoiseBurst,
        ] {
            assert!(kinds.iter().any(|(_, k)| *k == Some(kind)), "{kind:?} occurs");
        }
    }

    #[test]
    fn stuck_values_repeat_exactly() {
        // Some anomalous reading repeats its predecessor exactly; normal ones never do.
        let mut prev: std::collections::HashMap<String, f64> = std::collections::HashMap::new();
        let (mut stuck, mut normal_repeats) = (0, 0);
        for (r, anomalous) in take(3, 200_000) {
            if prev.insert(r.sensor_id.clone(), r.value) == Some(r.value) {
                if anomalous {
                    stuck += 1;
                } else {
                    normal_repeats += 1;
                }
            }
        }
        assert!(stuck > 100, "{stuck}");
        assert_eq!(normal_repeats, 0);
    }
}

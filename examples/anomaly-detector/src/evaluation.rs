//! How good the alerts are: the generator's ground truth against what was alerted.
//!
//! - **Per reading**: precision = alerted anomalous readings / alerted readings; recall = alerted
//!   anomalous readings / anomalous readings.
//! - **Per episode**: an *episode* is a run of consecutive anomalous readings of one sensor (the
//!   readings it sent, in order); it is *detected* when any of its readings is alerted. Recall =
//!   detected episodes / episodes. For precision, alerts are grouped the same way: an *alert run*
//!   is a run of consecutive alerted readings of one sensor, and it is *true* when any of its
//!   readings is anomalous. Precision = true alert runs / alert runs (an alert on the reading right
//!   after an episode ends is a false alarm: it is its own run).
//! - **Detection delay**: for a detected episode, the event time from its first reading to its
//!   first alerted reading (0 when the first reading is alerted).
//!
//! While a run is in progress only the readings already scored count (per sensor, up to the
//! latest scored event time): [`Observed::horizon`].

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use crate::generator::AnomalyKind;

/// The kinds of anomaly, in the order [`Metrics::by_kind`] counts them.
pub const KINDS: [AnomalyKind; 4] = [
    AnomalyKind::Spike,
    AnomalyKind::LevelShift,
    AnomalyKind::StuckAt,
    AnomalyKind::NoiseBurst,
];

/// A short human name of `kind`.
pub fn kind_name(kind: AnomalyKind) -> &'static str {
    match kind {
        AnomalyKind::Spike => "spike",
        AnomalyKind::LevelShift => "level shift",
        AnomalyKind::StuckAt => "stuck-at",
        AnomalyKind::NoiseBurst => "noise burst",
    }
}

fn kind_index(kind: AnomalyKind) -> usize {
    KINDS.iter().position(|k| *k == kind).unwrap_or(0)
}

/// The ground truth of one sent reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TruthReading {
    /// Its event time.
    pub timestamp_ms: i64,
    /// The kind of its anomaly episode; `None` for a normal reading.
    pub kind: Option<AnomalyKind>,
    /// When it was handed to the producer (wall clock).
    pub produced_at: Instant,
}

/// The ground truth of every reading sent, per sensor, in the order sent (event-time order).
#[derive(Debug, Default)]
pub struct GroundTruth {
    sensors: HashMap<String, Vec<TruthReading>>,
    readings: u64,
    anomalous: u64,
}

impl GroundTruth {
    /// No readings yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes that `sensor`'s reading at `timestamp_ms` was sent, with its label.
    pub fn record(&mut self, sensor: &str, timestamp_ms: i64, kind: Option<AnomalyKind>, produced_at: Instant) {
        let readings = match self.sensors.get_mut(sensor) {
            Some(readings) => readings,
            None => self.sensors.entry(sensor.to_string()).or_default(),
        };
        readings.push(TruthReading {
            timestamp_ms,
            kind,
            produced_at,
        });
        self.readings += 1;
        self.anomalous += u64::from(kind.is_some());
    }

    /// The truth of `sensor`'s reading at `timestamp_ms`, if it was sent.
    pub fn find(&self, sensor: &str, timestamp_ms: i64) -> Option<&TruthReading> {
        let readings = self.sensors.get(sensor)?;
        let i = readings.binary_search_by_key(&timestamp_ms, |r| r.timestamp_ms).ok()?;
        readings.get(i)
    }

    /// Readings sent.
    pub fn readings(&self) -> u64 {
        self.readings
    }

    /// Anomalous readings sent.
    pub fn anomalous(&self) -> u64 {
        self.anomalous
    }
}

/// What the evaluating consumer has read so far.
#[derive(Debug, Default)]
pub struct Observed {
    /// Per sensor, the event times of the alerted readings.
    alerted: HashMap<String, HashSet<i64>>,
    /// Per sensor, the latest event time scored: readings up to it have been processed.
    horizon: HashMap<String, i64>,
    /// Scores read.
    pub scores: u64,
    /// Alerts read (a reading alerted twice counts twice: with exactly-once it never is).
    pub alerts: u64,
    /// Alerts of a reading already alerted.
    pub duplicate_alerts: u64,
    /// Alerts of no reading the generator sent.
    pub unknown_alerts: u64,
    /// Per alert, milliseconds from producing its reading to reading the alert.
    pub latencies_ms: Vec<f64>,
}

impl Observed {
    /// Nothing read yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes a score of `sensor`'s reading at `timestamp_ms`.
    pub fn on_score(&mut self, sensor: &str, timestamp_ms: i64) {
        self.scores += 1;
        match self.horizon.get_mut(sensor) {
            Some(latest) => *latest = (*latest).max(timestamp_ms),
            None => {
                self.horizon.insert(sensor.to_string(), timestamp_ms);
            }
        }
    }

    /// Notes an alert of `sensor`'s reading at `timestamp_ms`, read at `read_at`.
    pub fn on_alert(&mut self, truth: &GroundTruth, sensor: &str, timestamp_ms: i64, read_at: Instant) {
        self.alerts += 1;
        let Some(reading) = truth.find(sensor, timestamp_ms) else {
            self.unknown_alerts += 1;
            return;
        };
        if !self.alerted.entry(sensor.to_string()).or_default().insert(timestamp_ms) {
            self.duplicate_alerts += 1;
            return;
        }
        self.latencies_ms
            .push(read_at.saturating_duration_since(reading.produced_at).as_secs_f64() * 1e3);
    }

    /// The latest event time scored of `sensor`.
    pub fn horizon(&self, sensor: &str) -> Option<i64> {
        self.horizon.get(sensor).copied()
    }

    /// The metrics of the readings scored so far.
    pub fn evaluate(&self, truth: &GroundTruth) -> Metrics {
        let mut metrics = Metrics::default();
        let empty = HashSet::new();
        let mut sensors: Vec<&String> = truth.sensors.keys().collect();
        sensors.sort();
        for sensor in sensors {
            let Some(horizon) = self.horizon(sensor) else { continue };
            let alerted = self.alerted.get(sensor).unwrap_or(&empty);
            let labelled: Vec<Labelled> = truth.sensors[sensor]
                .iter()
                .take_while(|r| r.timestamp_ms <= horizon)
                .map(|r| Labelled {
                    timestamp_ms: r.timestamp_ms,
                    kind: r.kind,
                    alerted: alerted.contains(&r.timestamp_ms),
                })
                .collect();
            metrics.tally(sensor, &labelled);
        }
        metrics
    }
}

/// One reading of a sensor, labelled and alerted or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Labelled {
    /// Its event time.
    pub timestamp_ms: i64,
    /// Its anomaly kind; `None` if normal.
    pub kind: Option<AnomalyKind>,
    /// Whether an alert named it.
    pub alerted: bool,
}

/// A detected episode, as an example to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedEpisode {
    /// The sensor.
    pub sensor: String,
    /// The episode's kind.
    pub kind: AnomalyKind,
    /// Event time of its first reading.
    pub start_ms: i64,
    /// Event time of its first alerted reading.
    pub first_alert_ms: i64,
    /// Number of readings.
    pub readings: usize,
}

/// Counts of readings, episodes and alert runs; ratios by method.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// Readings evaluated.
    pub readings: u64,
    /// Of them, anomalous.
    pub anomalous: u64,
    /// Of them, alerted.
    pub alerted: u64,
    /// Alerted and anomalous.
    pub true_positives: u64,
    /// Episodes.
    pub episodes: u64,
    /// Episodes with an alerted reading.
    pub detected: u64,
    /// Per kind ([`KINDS`] order): (episodes, detected).
    pub by_kind: [(u64, u64); 4],
    /// Runs of consecutive alerted readings.
    pub alert_runs: u64,
    /// Alert runs with an anomalous reading.
    pub true_alert_runs: u64,
    /// Detection delay of each detected episode, ms of event time.
    pub delays_ms: Vec<f64>,
    /// The first detected episode of each kind.
    pub examples: Vec<DetectedEpisode>,
}

impl Metrics {
    /// Adds one sensor's readings, in event-time order.
    pub fn tally(&mut self, sensor: &str, readings: &[Labelled]) {
        for r in readings {
            self.readings += 1;
            self.anomalous += u64::from(r.kind.is_some());
            self.alerted += u64::from(r.alerted);
            self.true_positives += u64::from(r.alerted && r.kind.is_some());
        }
        for run in runs(readings, |r| r.kind.is_some()) {
            let kind = run[0].kind.unwrap_or(AnomalyKind::Spike);
            self.episodes += 1;
            self.by_kind[kind_index(kind)].0 += 1;
            if let Some(first_alert) = run.iter().find(|r| r.alerted) {
                self.detected += 1;
                self.by_kind[kind_index(kind)].1 += 1;
                self.delays_ms
                    .push((first_alert.timestamp_ms - run[0].timestamp_ms) as f64);
                if !self.examples.iter().any(|e| e.kind == kind) {
                    self.examples.push(DetectedEpisode {
                        sensor: sensor.to_string(),
                        kind,
                        start_ms: run[0].timestamp_ms,
                        first_alert_ms: first_alert.timestamp_ms,
                        readings: run.len(),
                    });
                }
            }
        }
        for run in runs(readings, |r| r.alerted) {
            self.alert_runs += 1;
            self.true_alert_runs += u64::from(run.iter().any(|r| r.kind.is_some()));
        }
    }

    /// Per reading: alerted anomalous / alerted.
    pub fn precision(&self) -> Option<f64> {
        ratio(self.true_positives, self.alerted)
    }

    /// Per reading: alerted anomalous / anomalous.
    pub fn recall(&self) -> Option<f64> {
        ratio(self.true_positives, self.anomalous)
    }

    /// Per episode: true alert runs / alert runs.
    pub fn episode_precision(&self) -> Option<f64> {
        ratio(self.true_alert_runs, self.alert_runs)
    }

    /// Per episode: detected episodes / episodes.
    pub fn episode_recall(&self) -> Option<f64> {
        ratio(self.detected, self.episodes)
    }

    /// The `p`-th percentile (0–100) of the detection delays, ms.
    pub fn delay_percentile(&self, p: f64) -> Option<f64> {
        percentile(&self.delays_ms, p)
    }
}

/// `numerator / denominator`, or `None` when the denominator is 0.
pub fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

pub use example_data::stats::percentile;

/// The maximal runs of consecutive readings for which `member` holds.
fn runs(readings: &[Labelled], member: impl Fn(&Labelled) -> bool) -> impl Iterator<Item = &[Labelled]> {
    readings.split(move |r| !member(r)).filter(|run| !run.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sensor's readings one second apart from a pattern: `.` normal, `s`/`l`/`k`/`n` anomalous
    /// (spike, level shift, stuck-at, noise burst), upper case when alerted (`!` alerted normal).
    fn readings(pattern: &str) -> Vec<Labelled> {
        pattern
            .chars()
            .enumerate()
            .map(|(i, c)| {
                let kind = match c.to_ascii_lowercase() {
                    's' => Some(AnomalyKind::Spike),
                    'l' => Some(AnomalyKind::LevelShift),
                    'k' => Some(AnomalyKind::StuckAt),
                    'n' => Some(AnomalyKind::NoiseBurst),
                    _ => None,
                };
                Labelled {
                    timestamp_ms: i as i64 * 1000,
                    kind,
                    alerted: c.is_ascii_uppercase() || c == '!',
                }
            })
            .collect()
    }

    #[test]
    fn episodes_alert_runs_and_delays() {
        let mut metrics = Metrics::default();
        // A spike alerted at once, a level shift alerted from its 3rd reading with a false alarm
        // right after it ends, a stuck-at never alerted, and a lone false alarm.
        metrics.tally("a", &readings("..S...llLLl!...kkkk..!.."));
        assert_eq!(
            (
                metrics.readings,
                metrics.anomalous,
                metrics.alerted,
                metrics.true_positives
            ),
            (24, 10, 5, 3)
        );
        assert_eq!((metrics.episodes, metrics.detected), (3, 2));
        assert_eq!(metrics.by_kind, [(1, 1), (1, 1), (1, 0), (0, 0)]);
        assert_eq!(
            (metrics.alert_runs, metrics.true_alert_runs),
            (4, 2),
            "S, LL, ! and !: the false alarm after the shift is its own run"
        );
        assert_eq!(metrics.delays_ms, vec![0.0, 2000.0]);
        assert_eq!(metrics.precision(), Some(3.0 / 5.0));
        assert_eq!(metrics.recall(), Some(3.0 / 10.0));
        assert_eq!(metrics.episode_precision(), Some(0.5));
        assert_eq!(metrics.episode_recall(), Some(2.0 / 3.0));
        assert_eq!(metrics.examples.len(), 2);
        assert_eq!(metrics.examples[1].first_alert_ms - metrics.examples[1].start_ms, 2000);
    }

    #[test]
    fn an_alert_run_spanning_an_episode_end_is_true() {
        let mut metrics = Metrics::default();
        metrics.tally("a", &readings("..nNN!!.."));
        assert_eq!((metrics.alert_runs, metrics.true_alert_runs), (1, 1));
        assert_eq!(metrics.episode_precision(), Some(1.0));
        assert_eq!(metrics.delays_ms, vec![1000.0]);
    }

    #[test]
    fn only_scored_readings_count_and_alerts_are_matched_to_the_truth() {
        let start = Instant::now();
        let mut truth = GroundTruth::new();
        for (i, kind) in [None, Some(AnomalyKind::Spike), None, Some(AnomalyKind::Spike)]
            .into_iter()
            .enumerate()
        {
            truth.record("a", i as i64 * 1000, kind, start);
        }
        let mut observed = Observed::new();
        for t in [0, 1000, 2000] {
            observed.on_score("a", t);
        }
        observed.on_alert(&truth, "a", 1000, start + std::time::Duration::from_millis(40));
        observed.on_alert(&truth, "a", 1000, start);
        observed.on_alert(&truth, "a", 1500, start);
        let metrics = observed.evaluate(&truth);
        assert_eq!((metrics.readings, metrics.anomalous, metrics.true_positives), (3, 1, 1));
        assert_eq!(
            (observed.alerts, observed.duplicate_alerts, observed.unknown_alerts),
            (3, 1, 1)
        );
        assert_eq!(observed.latencies_ms, vec![40.0]);
        assert_eq!((truth.readings(), truth.anomalous()), (4, 2));
    }
}

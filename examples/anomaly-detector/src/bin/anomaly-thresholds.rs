//! Precision and recall of the anomaly model at several thresholds, offline: the readings of the
//! generator, their reference features, the model's anomaly scores, and the detector's alert rule
//! (anomaly score above the threshold, after a sensor's warm-up), measured as the detector
//! measures its alerts (`anomaly_detector::evaluation`). The topology computes exactly these
//! features, so a run of `anomaly-detector --threshold T` on the same readings raises the same
//! alerts.
//!
//! ```text
//! anomaly-thresholds [--seed S] [--sensors K] [--readings N] [--model PATH]
//! ```
//!
//! The model is the detector's isolation forest unless `--model` names another (e.g.
//! `models/anomaly-mlp.onnx`); the thresholds tried suit its kind: the isolation forest's anomaly
//! score (its negated decision function) lies within about −0.3 to 0.15, a classifier's is a
//! probability.
//!
//! Prints a Markdown table (docs/anomaly-detector.md has one).

use std::collections::BTreeMap;
use std::process::ExitCode;

use anomaly_detector::evaluation::{Labelled, Metrics};
use anomaly_detector::records::{ModelKind, WARM_UP_READINGS};
use anomaly_detector::topology::{MODEL_PATH, load_model};
use anomaly_detector::{AnomalyKind, FeatureExtractor, GeneratorConfig, N_FEATURES, ReadingGenerator, SensorReading};

/// The thresholds tried on an isolation forest's anomaly score (0 is the model's own cut: its
/// `label` output is -1 above it).
const FOREST_THRESHOLDS: [f32; 10] = [-0.02, -0.01, 0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08];

/// The thresholds tried on a classifier's probability of `anomaly`.
const CLASSIFIER_THRESHOLDS: [f32; 6] = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95];

const USAGE: &str = "usage: anomaly-thresholds [--seed S] [--sensors K] [--readings N] [--model PATH]";

fn main() -> ExitCode {
    let mut config = GeneratorConfig {
        sensors: 16,
        ..GeneratorConfig::with_seed(7)
    };
    let mut readings = 200_000usize;
    let mut model_path = MODEL_PATH.to_string();
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let number = pair.get(1).and_then(|v| v.parse::<u64>().ok());
        match (pair[0].as_str(), number, pair.get(1)) {
            ("--seed", Some(v), _) => config.seed = v,
            ("--sensors", Some(v), _) => config.sensors = (v as usize).clamp(1, 1000),
            ("--readings", Some(v), _) => readings = v as usize,
            ("--model", _, Some(path)) => model_path = path.clone(),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let (model, kind) = match load_model(&model_path) {
        Ok((handle, kind)) => (handle.current(), kind),
        Err(error) => {
            eprintln!("anomaly-thresholds: {error}");
            return ExitCode::FAILURE;
        }
    };
    let thresholds: &[f32] = match kind {
        ModelKind::IsolationForest => &FOREST_THRESHOLDS,
        ModelKind::Classifier => &CLASSIFIER_THRESHOLDS,
    };

    let mut generator = ReadingGenerator::new(config.clone());
    let mut extractor = FeatureExtractor::new();
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    let mut rows: Vec<(SensorReading, Option<AnomalyKind>, u64)> = Vec::with_capacity(readings);
    let mut features: Vec<f32> = Vec::with_capacity(readings * N_FEATURES);
    for _ in 0..readings {
        let (reading, kind) = generator.next_with_kind();
        features.extend(extractor.update(&reading));
        let history = seen.entry(reading.sensor_id.clone()).or_default();
        rows.push((reading, kind, *history));
        *history += 1;
    }
    let scores = match model.predict(&features, rows.len()) {
        Ok(scores) => scores,
        Err(error) => {
            eprintln!("anomaly-thresholds: {error}");
            return ExitCode::FAILURE;
        }
    };
    let width = model.info().output_width;
    let anomaly_scores: Vec<f32> = scores.chunks(width).map(|row| kind.anomaly_score(row)).collect();

    println!(
        "{} readings of {} sensors, seed {}; model {} version {} ({kind:?}, default threshold {}); alerts after \
         {WARM_UP_READINGS} readings of a sensor\n",
        rows.len(),
        config.sensors,
        config.seed,
        model.info().name,
        model.info().version,
        kind.default_threshold(),
    );
    println!(
        "| threshold | precision / reading | recall / reading | precision / episode | recall / episode | spike | level shift | stuck-at | noise burst | delay p50 | delay p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for &threshold in thresholds {
        let mut per_sensor: BTreeMap<&str, Vec<Labelled>> = BTreeMap::new();
        for (i, (reading, kind, history)) in rows.iter().enumerate() {
            per_sensor.entry(&reading.sensor_id).or_default().push(Labelled {
                timestamp_ms: reading.timestamp_ms,
                kind: *kind,
                alerted: *history >= WARM_UP_READINGS && anomaly_scores[i] > threshold,
            });
        }
        let mut metrics = Metrics::default();
        for (sensor, labelled) in &per_sensor {
            metrics.tally(sensor, labelled);
        }
        let ratio = |r: Option<f64>| r.map_or("n/a".to_string(), |v| format!("{v:.3}"));
        let seconds = |ms: Option<f64>| ms.map_or("n/a".to_string(), |v| format!("{:.0} s", v / 1e3));
        let kinds: Vec<String> = metrics.by_kind.iter().map(|(n, d)| format!("{d}/{n}")).collect();
        println!(
            "| {threshold} | {} | {} | {} ({}/{}) | {} ({}/{}) | {} | {} | {} |",
            ratio(metrics.precision()),
            ratio(metrics.recall()),
            ratio(metrics.episode_precision()),
            metrics.true_alert_runs,
            metrics.alert_runs,
            ratio(metrics.episode_recall()),
            metrics.detected,
            metrics.episodes,
            kinds.join(" | "),
            seconds(metrics.delay_percentile(50.0)),
            seconds(metrics.delay_percentile(99.0)),
        );
    }
    ExitCode::SUCCESS
}

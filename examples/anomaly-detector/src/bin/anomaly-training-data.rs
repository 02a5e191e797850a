//! Writes anomaly training data as CSV to stdout: one row per generated reading, the features of
//! `anomaly_detector::FEATURE_NAMES` in order, then `label` (1 = anomalous, 0 = normal).
//!
//! ```text
//! anomaly-training-data --rows N --seed S [--sensors K]
//! ```
//!
//! The same arguments always give the same bytes. A summary (rows, anomaly rate) goes to stderr.
//! The command line and the CSV are `example_data::cli`'s.

use std::process::ExitCode;

use anomaly_detector::{FEATURE_NAMES, FeatureExtractor, GeneratorConfig, ReadingGenerator};
use example_data::cli::Cli;

const CLI: Cli = Cli::new("anomaly-training-data", "--sensors", "K", "anomalous");

fn main() -> ExitCode {
    CLI.run(&FEATURE_NAMES, |args| {
        let mut config = GeneratorConfig::with_seed(args.seed);
        if let Some(sensors) = args.count {
            config.sensors = sensors.clamp(1, 1000);
        }
        let mut extractor = FeatureExtractor::new();
        ReadingGenerator::new(config).map(move |(reading, anomalous)| (extractor.update(&reading), anomalous))
    })
}

//! Writes fraud training data as CSV to stdout: one row per generated transaction, the features of
//! `fraud_detector::FEATURE_NAMES` in order, then `label` (1 = fraud, 0 = legitimate).
//!
//! ```text
//! fraud-training-data --rows N --seed S [--cards C]
//! ```
//!
//! The same arguments always give the same bytes. A summary (rows, fraud rate) goes to stderr.
//! The command line and the CSV are `example_data::cli`'s.

use std::process::ExitCode;

use example_data::cli::Cli;
use fraud_detector::{FEATURE_NAMES, FeatureExtractor, GeneratorConfig, TransactionGenerator};

const CLI: Cli = Cli::new("fraud-training-data", "--cards", "C", "fraud");

fn main() -> ExitCode {
    CLI.run(&FEATURE_NAMES, |args| {
        let mut config = GeneratorConfig::with_seed(args.seed);
        if let Some(cards) = args.count {
            config.cards = cards.max(1);
        }
        let mut extractor = FeatureExtractor::new();
        TransactionGenerator::new(config).map(move |(txn, fraud)| (extractor.update(&txn), fraud))
    })
}

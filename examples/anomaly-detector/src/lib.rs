//! The anomaly detector's data and topology: synthetic sensor readings with labelled anomalies
//! ([`generator`]), the per-sensor features the anomaly model scores ([`features`]), the records
//! of its topics ([`records`]), the streaming topology that computes the same features and scores
//! every reading ([`topology`]), and the measure of its alerts against the ground truth
//! ([`evaluation`]).
//!
//! The `anomaly-training-data` binary writes the features and labels as CSV for
//! `scripts/train-models`; the `anomaly-detector` binary runs the topology on Kafka.

pub mod evaluation;
pub mod features;
pub mod generator;
pub mod records;
pub mod topology;

pub use features::{AnomalyFeatures, FEATURE_NAMES, FeatureExtractor, FeatureState, N_FEATURES};
pub use generator::{AnomalyKind, GeneratorConfig, ReadingGenerator, SensorReading};

//! The anomaly detector's data: synthetic sensor readings with labelled anomalies
//! ([`generator`]) and the per-sensor features the anomaly model scores ([`features`]).
//!
//! The `anomaly-training-data` binary writes the features and labels as CSV for
//! `scripts/train-models`; the `anomaly-detector` binary (the streaming application) will compute
//! the same features in a topology.

pub mod features;
pub mod generator;

pub use features::{AnomalyFeatures, FEATURE_NAMES, FeatureExtractor, FeatureState, N_FEATURES};
pub use generator::{AnomalyKind, GeneratorConfig, ReadingGenerator, SensorReading};

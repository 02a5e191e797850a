//! The fraud detector's data: synthetic card transactions with a ground-truth fraud label
//! ([`generator`]) and the per-card features the fraud model scores ([`features`]).
//!
//! The `fraud-training-data` binary writes the features and labels as CSV for
//! `scripts/train-models`; the `fraud-detector` binary (the streaming application) will compute
//! the same features in a topology.

pub mod features;
pub mod generator;

pub use features::{FEATURE_NAMES, FeatureExtractor, FeatureState, FraudFeatures, N_FEATURES};
pub use generator::{GeneratorConfig, Transaction, TransactionGenerator};

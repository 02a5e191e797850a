//! A real-time fraud detector on streams-core and streams-ml.
//!
//! - [`generator`]: synthetic card transactions with ground-truth fraud labels.
//! - [`features`]: the per-card features the fraud model scores (the reference definition).
//! - [`topology`]: transactions → per-card features and windows → model score → scores and alerts.
//! - [`explain`]: the reasons of an alert (the features that raised its score most).
//! - [`validate`]: checks of the ingestion API's input.
//! - [`server`]: the HTTP API (ingestion, live dashboard over Server-Sent Events, card lookups by
//!   interactive queries).
//! - [`app`]: topics, the streams application, the alert feed and the server as one app.
//! - [`demo`]: the generator as an HTTP client, and detection against ground truth.
//!
//! The `fraud-detector` binary runs the demo (`scripts/demo`), the app alone (`serve`) or the
//! generator alone (`generate`); `fraud-training-data` writes the model's training data.

pub mod app;
pub mod demo;
pub mod explain;
pub mod features;
pub mod generator;
pub mod server;
pub mod topology;
pub mod validate;

pub use features::{FEATURE_NAMES, FeatureExtractor, FeatureState, FraudFeatures, N_FEATURES};
pub use generator::{GeneratorConfig, Transaction, TransactionGenerator};

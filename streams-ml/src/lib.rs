//! # streams-ml
//!
//! In-stream machine-learning scoring for `streams-core`: ONNX models run in-process with
//! `tract-onnx`, batched, off the consumer's polling path, with the model version on every score.
//!
//! - [`model`]: load a model ([`OnnxModel`](model::OnnxModel), or your own [`Model`](model::Model)),
//!   checked against the features it is fed; a [`ModelHandle`](model::ModelHandle) swaps it while
//!   the application runs (from a watched file or a models topic). Tree ensembles (random forests,
//!   gradient boosting, isolation forests) run on streams-ml's own `TreeEnsembleClassifier`,
//!   `TreeEnsembleRegressor` and `LabelEncoder` operators inside tract, at onnxruntime's speed and
//!   with its outputs ([`onnx_loader`](model::onnx_loader)).
//! - [`score`]: `stream.score(Scoring::new(handle), |key, value| features)` — see [`ScoreExt`].
//! - [`features`]: streaming statistics (Welford mean/variance, EWMA, z-scores, distinct counts) to
//!   keep in state stores and turn into feature vectors.
//!
//! The guide is `docs/ml-scoring.md`.
#![deny(missing_docs)]

pub mod features;
pub mod model;
pub mod score;

pub use score::{ScoreExt, Scored, Scoring};

/// The guide in `docs/`, compiled and run as a doctest so its example stays true.
#[cfg(doctest)]
#[doc = include_str!("../../docs/ml-scoring.md")]
struct Guide;

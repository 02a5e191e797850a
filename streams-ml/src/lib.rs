//! # streams-ml
//!
//! In-stream machine-learning scoring for `streams-core`: ONNX models run in-process with
//! `tract-onnx`, batched, off the consumer's polling path, with the model version on every score.
//!
//! Nothing is implemented yet: this crate exists so the workspace, its pinned dependencies and CI
//! are in place. The scoring operator, model loading and the tree-ensemble operators are the subject
//! of the streams-ml issues; see `../shared/DESIGN.md`.
#![deny(missing_docs)]

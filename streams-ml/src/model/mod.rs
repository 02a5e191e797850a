//! Models: what the scoring operator runs.
//!
//! A [`Model`] turns a batch of `f32` feature vectors into a batch of `f32` score vectors
//! (probabilities for a classifier, predictions for a regressor). [`OnnxModel`] runs an ONNX file
//! in-process with tract; any other implementation (a rules engine, a test double, a model that
//! calls native code) plugs in the same way. A [`ModelHandle`] holds the model a scoring operator
//! uses and swaps it without a restart.
//!
//! ```text
//!  ModelSpec (name, features, version?, labels?) ──▶ OnnxModel::from_file ──▶ ModelHandle
//!                                                    checks the input            │ swap / watch_file / follow_topic
//!                                                    signature, optimises once   ▼
//!                                                                             stream.score(..)
//! ```

mod handle;
mod onnx;
mod trees;

use std::fmt;
use std::sync::Arc;

pub use handle::{ModelHandle, ModelTopic, Watcher};
pub use onnx::OnnxModel;

/// tract's ONNX loader ([`tract_onnx::onnx`]) with streams-ml's own `TreeEnsembleClassifier`,
/// `TreeEnsembleRegressor` and `LabelEncoder` (of `ai.onnx.ml`) registered in place of tract's: what
/// [`OnnxModel`] loads with. Use it to run a model with tract directly, e.g. to read every output
/// of a graph rather than the one a [`Model`] scores with.
///
/// The tree ensembles are evaluated root to leaf (O(depth) per tree and record), a batch tree by
/// tree, and their scores and labels follow onnxruntime's. A malformed node makes loading fail with
/// a message naming the node and the attribute.
pub fn onnx_loader() -> tract_onnx::Onnx {
    trees::onnx()
}

/// A model: scores batches of feature vectors. Implementations must be usable from several
/// threads at once (the scoring operator's workers share one model).
pub trait Model: Send + Sync + 'static {
    /// What the model is: name, version, content hash, input and output widths, labels.
    fn info(&self) -> &ModelInfo;

    /// Scores `rows` feature vectors laid out one after the other in `features`
    /// (`rows × info().input_width` values); returns `rows × info().output_width` scores, row by
    /// row, in the same order.
    ///
    /// # Errors
    /// [`ModelError::Inference`] when the model cannot score the batch; the scoring operator then
    /// hands every record of the batch to its error handler.
    fn predict(&self, features: &[f32], rows: usize) -> Result<Vec<f32>, ModelError>;

    /// A hint that batches of `rows` records will be scored often, so the model may prepare for
    /// that size (an ONNX model compiles a plan specialised to it). Default: nothing.
    fn prepare(&self, rows: usize) {
        let _ = rows;
    }
}

impl fmt::Debug for dyn Model {
    /// The model's [`ModelInfo`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Model").field(self.info()).finish()
    }
}

/// What a [`Model`] is, as every score it produces reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// The model's name (from the [`ModelSpec`], the file's metadata, or its file name).
    pub name: Arc<str>,
    /// Its version (from the spec, the file's `version` metadata or `model_version`, or else the
    /// first 12 hex digits of its content hash).
    pub version: Arc<str>,
    /// `sha256:<hex>` of the model's bytes (for an ONNX model); identifies the exact model.
    pub content_hash: String,
    /// How many features one input row has.
    pub input_width: usize,
    /// How many scores one output row has.
    pub output_width: usize,
    /// Feature names in input order, when known (given in the spec or in the file's metadata).
    pub feature_names: Vec<String>,
    /// For a classifier, the label of each score (`labels[i]` for `scores[i]`); empty otherwise.
    pub labels: Vec<Arc<str>>,
}

impl ModelInfo {
    /// The label of the highest score, for a classifier with labels (the first on a tie).
    pub fn label_of(&self, scores: &[f32]) -> Option<&Arc<str>> {
        let best = scores
            .iter()
            .enumerate()
            .fold(None, |best: Option<(usize, f32)>, (i, &s)| match best {
                Some((_, b)) if b >= s || s.is_nan() => best,
                _ => Some((i, s)),
            })?;
        self.labels.get(best.0)
    }
}

/// What the user says a model's input is: its feature names, in order (or just how many there
/// are). A model whose declared input does not match fails to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Features {
    width: usize,
    names: Vec<String>,
}

impl Features {
    /// Features with these names, in this order.
    pub fn named<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Self {
        let names: Vec<String> = names.into_iter().map(|n| n.as_ref().to_string()).collect();
        Features {
            width: names.len(),
            names,
        }
    }

    /// `width` unnamed features.
    pub fn width(width: usize) -> Self {
        Features {
            width,
            names: Vec::new(),
        }
    }

    /// How many features a row has.
    pub fn len(&self) -> usize {
        self.width
    }

    /// Whether there are none (a model cannot have such an input).
    pub fn is_empty(&self) -> bool {
        self.width == 0
    }

    /// Their names, in order (empty when only the width was given).
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// How to load a model: its name, the features it is fed, and what to take from the user rather
/// than from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    pub(crate) name: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) features: Features,
    pub(crate) labels: Option<Vec<String>>,
    pub(crate) output: Option<String>,
}

impl ModelSpec {
    /// A model fed `features`; name, version and labels come from the file's metadata.
    pub fn new(features: Features) -> Self {
        ModelSpec {
            name: None,
            version: None,
            features,
            labels: None,
            output: None,
        }
    }

    /// The model's name (instead of the file's `name` metadata or file name).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The model's version (instead of the file's metadata). A watched file or a models topic
    /// gives every new model its own version from its metadata or hash, whatever is set here.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// The classifier's labels, one per score (instead of the file's `labels` metadata).
    pub fn labels<S: AsRef<str>>(mut self, labels: impl IntoIterator<Item = S>) -> Self {
        self.labels = Some(labels.into_iter().map(|l| l.as_ref().to_string()).collect());
        self
    }

    /// The graph output to use as scores (default: `probabilities` if the graph has it, else its
    /// first `float` output).
    pub fn output(mut self, name: impl Into<String>) -> Self {
        self.output = Some(name.into());
        self
    }

    /// The features.
    pub fn features(&self) -> &Features {
        &self.features
    }
}

/// Why a model could not be loaded or could not score.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The model's bytes could not be read, parsed or compiled.
    #[error("cannot load model {source_name}: {reason}")]
    Load {
        /// The file path or `<bytes>`/topic the model came from.
        source_name: String,
        /// Why.
        reason: String,
    },
    /// The model's declared input or output does not match what it is fed or must produce.
    #[error("model {source_name} does not fit: {reason}")]
    Signature {
        /// The file path or `<bytes>`/topic the model came from.
        source_name: String,
        /// What does not match, naming both sides.
        reason: String,
    },
    /// Scoring a batch failed.
    #[error("inference failed: {0}")]
    Inference(String),
}

/// A model's identity in messages: `name version`.
pub(crate) struct Named<'a>(pub(crate) &'a ModelInfo);

impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (version {})", self.0.name, self.0.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(labels: &[&str]) -> ModelInfo {
        ModelInfo {
            name: "m".into(),
            version: "1".into(),
            content_hash: String::new(),
            input_width: 1,
            output_width: labels.len(),
            feature_names: Vec::new(),
            labels: labels.iter().map(|&l| Arc::from(l)).collect(),
        }
    }

    #[test]
    fn the_label_is_the_highest_score_first_on_a_tie() {
        let m = info(&["legit", "fraud"]);
        assert_eq!(m.label_of(&[0.2, 0.8]).map(|l| &**l), Some("fraud"));
        assert_eq!(m.label_of(&[0.5, 0.5]).map(|l| &**l), Some("legit"));
        assert_eq!(m.label_of(&[f32::NAN, 0.1]).map(|l| &**l), Some("fraud"));
        assert_eq!(info(&[]).label_of(&[1.0]), None);
    }

    #[test]
    fn features_know_their_width() {
        assert_eq!(Features::named(["a", "b"]).len(), 2);
        assert_eq!(Features::width(16).len(), 16);
        assert!(Features::width(16).names().is_empty());
    }
}

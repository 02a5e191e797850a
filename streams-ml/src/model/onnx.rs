//! [`OnnxModel`]: an ONNX model run in-process by tract.
//!
//! Loading reads the graph's declared input and checks it against the [`Features`] the model will
//! be fed (one `float` input shaped `[batch, features]`, with a dynamic batch dimension), picks the
//! output to score with, optimises a plan with a symbolic batch size once, and scores one row of
//! zeros to prove the graph runs. Batch sizes announced with [`Model::prepare`] get plans of their
//! own, specialised to that size (about 1.5× faster than the symbolic plan for an MLP).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};
use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
use tract_onnx::pb::type_proto::Value as TypeValue;
use tract_onnx::pb::{ModelProto, ValueInfoProto};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::dims;

use super::{Features, Model, ModelError, ModelInfo, ModelSpec};

/// At most this many batch sizes get a specialised plan; others use the symbolic one.
const MAX_FIXED_PLANS: usize = 8;

type Plan = Arc<TypedRunnableModel>;

/// An ONNX model run with tract, checked against its features at load.
///
/// ```no_run
/// use streams_ml::model::{Features, Model, ModelSpec, OnnxModel};
///
/// let spec = ModelSpec::new(Features::named(["amount", "count_1h"])).named("fraud");
/// let model = OnnxModel::from_file("models/fraud.onnx", &spec)?;
/// let scores = model.predict(&[120.0, 3.0, 15.5, 1.0], 2)?; // two rows
/// assert_eq!(scores.len(), 2 * model.info().output_width);
/// # Ok::<(), streams_ml::model::ModelError>(())
/// ```
pub struct OnnxModel {
    info: ModelInfo,
    /// The parsed graph with the chosen output, its input fact still open: plans are made from it.
    graph: InferenceModel,
    symbolic: Plan,
    fixed: RwLock<HashMap<usize, Plan>>,
    source: String,
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel")
            .field("info", &self.info)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl OnnxModel {
    /// Loads the model in the file at `path`.
    ///
    /// # Errors
    /// [`ModelError::Load`] when the file cannot be read or tract cannot run the graph;
    /// [`ModelError::Signature`] when its input does not fit `spec`'s features (the message names
    /// both shapes) or its output does not fit the labels.
    pub fn from_file(path: impl AsRef<Path>, spec: &ModelSpec) -> Result<Self, ModelError> {
        let path = path.as_ref();
        let source = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| ModelError::Load {
            source_name: source.clone(),
            reason: e.to_string(),
        })?;
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        Self::load(&bytes, spec, source, stem)
    }

    /// Loads a model from its bytes (a models topic's record, an embedded file); `source` names it
    /// in messages.
    ///
    /// # Errors
    /// As [`from_file`](Self::from_file).
    pub fn from_bytes(bytes: &[u8], spec: &ModelSpec, source: impl Into<String>) -> Result<Self, ModelError> {
        Self::load(bytes, spec, source.into(), None)
    }

    fn load(bytes: &[u8], spec: &ModelSpec, source: String, stem: Option<String>) -> Result<Self, ModelError> {
        let load_error = |reason: String| ModelError::Load {
            source_name: source.clone(),
            reason,
        };
        let signature_error = |reason: String| ModelError::Signature {
            source_name: source.clone(),
            reason,
        };
        let onnx = super::trees::onnx();
        let proto = onnx
            .proto_model_for_read(&mut &bytes[..])
            .map_err(|e| load_error(format!("not an ONNX model: {e}")))?;
        let metadata = |key: &str| {
            proto
                .metadata_props
                .iter()
                .find(|entry| entry.key == key)
                .map(|entry| entry.value.clone())
        };
        check_input(&proto, &spec.features).map_err(signature_error)?;
        let output = choose_output(&proto, spec.output.as_deref()).map_err(signature_error)?;
        if let Some(declared) = metadata("features") {
            let declared: Vec<String> = declared.split(',').map(|s| s.trim().to_string()).collect();
            let given = spec.features.names();
            if !given.is_empty() && declared != given {
                return Err(signature_error(format!(
                    "the model was trained on features [{}] but is fed [{}]",
                    declared.join(", "),
                    given.join(", ")
                )));
            }
        }

        let graph = onnx
            .model_for_proto_model(&proto)
            .and_then(|g| g.with_outputs_by_name([output.as_str()]))
            .map_err(|e| load_error(format!("{e:#}")))?;
        let width = spec.features.len();
        let symbolic = compile(&graph, width, None).map_err(|e| load_error(format!("{e:#}")))?;

        let hash = format!("{:x}", Sha256::digest(bytes));
        let name = spec
            .name
            .clone()
            .or_else(|| metadata("name"))
            .or(stem)
            .unwrap_or_else(|| "model".to_string());
        let version = spec
            .version
            .clone()
            .or_else(|| metadata("version"))
            .or_else(|| (proto.model_version != 0).then(|| proto.model_version.to_string()))
            .unwrap_or_else(|| hash[..12].to_string());
        let feature_names = if spec.features.names().is_empty() {
            metadata("features")
                .map(|f| f.split(',').map(|s| s.trim().to_string()).collect())
                .unwrap_or_default()
        } else {
            spec.features.names().to_vec()
        };
        let labels: Vec<Arc<str>> = spec
            .labels
            .clone()
            .or_else(|| metadata("labels").map(|l| l.split(',').map(|s| s.trim().to_string()).collect()))
            .unwrap_or_default()
            .into_iter()
            .map(Arc::from)
            .collect();

        let mut model = OnnxModel {
            info: ModelInfo {
                name: name.into(),
                version: version.into(),
                content_hash: format!("sha256:{hash}"),
                input_width: width,
                output_width: 0,
                feature_names,
                labels,
            },
            graph,
            symbolic,
            fixed: RwLock::new(HashMap::new()),
            source: source.clone(),
        };
        // One row of zeros: proves the plan runs and tells the output width.
        let scores = model
            .run(&model.symbolic, &vec![0.0; width], 1)
            .map_err(|e| load_error(format!("scoring a row of zeros failed: {e}")))?;
        model.info.output_width = scores.len();
        if scores.is_empty() {
            return Err(signature_error(format!("output {output} has no values for a row")));
        }
        if !model.info.labels.is_empty() && model.info.labels.len() != scores.len() {
            return Err(signature_error(format!(
                "output {output} has {} scores per row but {} labels were given ({})",
                scores.len(),
                model.info.labels.len(),
                model.info.labels.join(", ")
            )));
        }
        Ok(model)
    }

    /// Where the model came from (a path, or what `from_bytes` was told).
    pub fn source(&self) -> &str {
        &self.source
    }

    fn plan_for(&self, rows: usize) -> Plan {
        let fixed = self.fixed.read().unwrap_or_else(|p| p.into_inner());
        fixed.get(&rows).cloned().unwrap_or_else(|| self.symbolic.clone())
    }

    fn run(&self, plan: &Plan, features: &[f32], rows: usize) -> Result<Vec<f32>, ModelError> {
        let width = self.info.input_width;
        if features.len() != rows * width {
            return Err(ModelError::Inference(format!(
                "{} values for {rows} rows of {width} features",
                features.len()
            )));
        }
        let input = Tensor::from_shape(&[rows, width], features).map_err(|e| ModelError::Inference(e.to_string()))?;
        let outputs = plan
            .run(tvec!(input.into_tvalue()))
            .map_err(|e| ModelError::Inference(format!("{e:#}")))?;
        let output = outputs[0]
            .cast_to::<f32>()
            .map_err(|e| ModelError::Inference(format!("reading the scores: {e:#}")))?;
        let view = output
            .try_as_plain_ram()
            .map_err(|e| ModelError::Inference(format!("reading the scores: {e:#}")))?;
        let scores = view
            .as_slice::<f32>()
            .map_err(|e| ModelError::Inference(format!("reading the scores: {e:#}")))?;
        if scores.len() % rows.max(1) != 0
            || (self.info.output_width != 0 && scores.len() != rows * self.info.output_width)
        {
            return Err(ModelError::Inference(format!(
                "{} scores for {rows} rows (expected {} per row)",
                scores.len(),
                self.info.output_width
            )));
        }
        Ok(scores.to_vec())
    }
}

impl Model for OnnxModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn predict(&self, features: &[f32], rows: usize) -> Result<Vec<f32>, ModelError> {
        if rows == 0 {
            return Ok(Vec::new());
        }
        self.run(&self.plan_for(rows), features, rows)
    }

    fn prepare(&self, rows: usize) {
        if rows == 0 {
            return;
        }
        {
            let fixed = self.fixed.read().unwrap_or_else(|p| p.into_inner());
            if fixed.contains_key(&rows) || fixed.len() >= MAX_FIXED_PLANS {
                return;
            }
        }
        // Compiled outside the lock; a plan that fails to compile leaves the symbolic one in use.
        if let Ok(plan) = compile(&self.graph, self.info.input_width, Some(rows)) {
            let mut fixed = self.fixed.write().unwrap_or_else(|p| p.into_inner());
            if fixed.len() < MAX_FIXED_PLANS {
                fixed.entry(rows).or_insert(plan);
            }
        }
    }
}

/// An optimised plan for `[rows, width]` inputs (`rows` symbolic when `None`).
fn compile(graph: &InferenceModel, width: usize, rows: Option<usize>) -> TractResult<Plan> {
    let graph = graph.clone();
    let fact: InferenceFact = match rows {
        Some(rows) => f32::fact([rows, width]).into(),
        None => {
            let n = graph.symbols.sym("N");
            f32::fact(dims!(n, width)).into()
        }
    };
    graph.with_input_fact(0, fact)?.into_optimized()?.into_runnable()
}

/// The graph's inputs that are not initializers (older exporters list weights as inputs too).
fn real_inputs(proto: &ModelProto) -> Vec<&ValueInfoProto> {
    let Some(graph) = &proto.graph else { return Vec::new() };
    graph
        .input
        .iter()
        .filter(|input| !graph.initializer.iter().any(|init| init.name == input.name))
        .collect()
}

/// Checks that the graph has one `float` input `[batch, features.len()]`.
fn check_input(proto: &ModelProto, features: &Features) -> Result<(), String> {
    let wanted = format!("float32[N, {}]", features.len());
    let inputs = real_inputs(proto);
    let [input] = inputs.as_slice() else {
        let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        return Err(format!(
            "it has {} inputs ({}); a scoring model takes one input {wanted}",
            names.len(),
            names.join(", ")
        ));
    };
    let (elem_type, dims) = describe(input);
    let shape = format!("{}[{}]", type_name(elem_type), dims.join(", "));
    let fits =
        elem_type == 1 && dims.len() == 2 && dims[1] == features.len().to_string() && dims[0].parse::<i64>().is_err();
    if !fits {
        let names = if features.names().is_empty() {
            String::new()
        } else {
            format!(" ({})", features.names().join(", "))
        };
        let hint = if dims.len() == 2 && dims[0].parse::<i64>().is_ok() {
            "; export it with a dynamic batch dimension (None)"
        } else {
            ""
        };
        return Err(format!(
            "its input {:?} is {shape}, but the features are {wanted}: {} features{names}{hint}",
            input.name,
            features.len()
        ));
    }
    Ok(())
}

/// The output to score with: `wanted`, or `probabilities`, or the first `float` output.
fn choose_output(proto: &ModelProto, wanted: Option<&str>) -> Result<String, String> {
    let outputs: Vec<&ValueInfoProto> = proto
        .graph
        .as_ref()
        .map(|g| g.output.iter().collect())
        .unwrap_or_default();
    let names = || outputs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>().join(", ");
    if let Some(wanted) = wanted {
        return outputs
            .iter()
            .find(|o| o.name == wanted)
            .map(|o| o.name.clone())
            .ok_or_else(|| format!("it has no output {wanted:?} (its outputs: {})", names()));
    }
    outputs
        .iter()
        .find(|o| o.name == "probabilities")
        .or_else(|| outputs.iter().find(|o| describe(o).0 == 1))
        .map(|o| o.name.clone())
        .ok_or_else(|| format!("it has no float output to score with (its outputs: {})", names()))
}

/// A value's element type and dimensions (`N`-like names for symbolic ones, `?` when unknown).
fn describe(value: &ValueInfoProto) -> (i32, Vec<String>) {
    let Some(TypeValue::TensorType(tensor)) = value.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        return (0, Vec::new());
    };
    let dims = tensor
        .shape
        .as_ref()
        .map(|shape| {
            shape
                .dim
                .iter()
                .map(|d| match &d.value {
                    Some(Dim::DimValue(v)) => v.to_string(),
                    Some(Dim::DimParam(p)) if !p.is_empty() => p.clone(),
                    _ => "?".to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    (tensor.elem_type, dims)
}

/// ONNX's name of an element type.
fn type_name(elem_type: i32) -> &'static str {
    match elem_type {
        1 => "float32",
        2 => "uint8",
        3 => "int8",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "float64",
        _ => "unknown",
    }
}

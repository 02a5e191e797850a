//! Our own implementations of the `ai.onnx.ml` operators tract-onnx lacks or gets wrong, registered
//! into tract's ONNX op registry so that a whole graph still loads and runs through tract:
//!
//! | operator | why ours |
//! |---|---|
//! | `TreeEnsembleClassifier` | tract's walks every preceding leaf for each tree (100–1000× slower than onnxruntime), refuses binary models with one base value, and gets some labels wrong |
//! | `TreeEnsembleRegressor` | not in tract (gradient-boosted regressors, isolation forests) |
//! | `LabelEncoder` | not in tract (isolation forests map leaf ids to path lengths with it) |
//!
//! Scores and labels follow onnxruntime's CPU kernels; `streams-ml/tests/tree_models.rs` checks
//! them against onnxruntime's recorded outputs. A malformed node fails when the model loads, with a
//! message naming the node and the attribute.

mod attributes;
mod ensemble;
mod label_encoder;

use std::sync::Arc;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::expandable::inference_wrap;

use attributes::Attributes;
use ensemble::{ClassLabels, Label, TreeEnsemble};
use label_encoder::{LabelEncoder, Values};

/// tract's ONNX loader with our `TreeEnsembleClassifier`, `TreeEnsembleRegressor` and
/// `LabelEncoder` in place of (or in addition to) its own.
pub(crate) fn onnx() -> tract_onnx::Onnx {
    let mut onnx = tract_onnx::onnx();
    onnx.op_register.insert("TreeEnsembleClassifier", parse_classifier);
    onnx.op_register.insert("TreeEnsembleRegressor", parse_regressor);
    onnx.op_register.insert("LabelEncoder", parse_label_encoder);
    onnx
}

type Parsed = TractResult<(Box<dyn InferenceOp>, Vec<String>)>;

fn parse_classifier(_ctx: &ParsingContext, node: &NodeProto) -> Parsed {
    parse_ensemble(node, true)
}

fn parse_regressor(_ctx: &ParsingContext, node: &NodeProto) -> Parsed {
    parse_ensemble(node, false)
}

fn parse_ensemble(node: &NodeProto, classifier: bool) -> Parsed {
    let ensemble = TreeEnsemble::parse(&Attributes::new(node), classifier).map_err(|e| format_err!("{e}"))?;
    let outputs = if classifier { 2 } else { 1 };
    let op = TreeEnsembleOp {
        ensemble: Arc::new(ensemble),
    };
    Ok((inference_wrap(op, outputs, ensemble_rules), vec![]))
}

fn ensemble_rules<'p>(
    op: &dyn Op,
    s: &mut Solver,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
) -> InferenceResult {
    let op = op.downcast_ref::<TreeEnsembleOp>().expect("a TreeEnsembleOp");
    check_input_arity(inputs, 1)?;
    s.equals(&inputs[0].rank, 2)?;
    let width = op.ensemble.n_targets().to_dim();
    let scores = match op.ensemble.class_labels() {
        Some(labels) => {
            let label = outputs.first().expect("a label output");
            s.equals(&label.datum_type, label_type(labels))?;
            s.equals(&label.rank, 1)?;
            s.equals(&label.shape[0], &inputs[0].shape[0])?;
            outputs.get(1)
        }
        None => outputs.first(),
    };
    if let Some(scores) = scores {
        s.equals(&scores.datum_type, DatumType::F32)?;
        s.equals(&scores.rank, 2)?;
        s.equals(&scores.shape[0], &inputs[0].shape[0])?;
        s.equals(&scores.shape[1], width)?;
    }
    Ok(())
}

fn label_type(labels: &ClassLabels) -> DatumType {
    match labels {
        ClassLabels::Int64(_) => DatumType::I64,
        ClassLabels::String(_) => DatumType::String,
    }
}

/// A tree ensemble in a tract graph: input `[N, features]` (any number type, read as f32);
/// outputs, for a classifier, `label` `[N]` and `probabilities` `[N, classes]`, for a regressor,
/// `variable` `[N, targets]`.
#[derive(Debug, Clone)]
struct TreeEnsembleOp {
    ensemble: Arc<TreeEnsemble>,
}

impl PartialEq for TreeEnsembleOp {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.ensemble, &other.ensemble) || self.ensemble == other.ensemble
    }
}

impl Eq for TreeEnsembleOp {}

impl Op for TreeEnsembleOp {
    fn name(&self) -> StaticName {
        if self.ensemble.class_labels().is_some() {
            "streams_ml.TreeEnsembleClassifier".into()
        } else {
            "streams_ml.TreeEnsembleRegressor".into()
        }
    }

    op_as_typed_op!();
}

impl EvalOp for TreeEnsembleOp {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let input = input.cast_to::<f32>()?;
        let &[rows, width] = input.shape() else {
            bail!(
                "{}: input of shape {:?}, [N, features] expected",
                self.ensemble.what,
                input.shape()
            );
        };
        self.check_width(width)?;
        let plain = input.try_as_plain_ram()?;
        let x = plain.as_slice::<f32>()?;
        let n = self.ensemble.n_targets();
        let mut scores = Tensor::zero::<f32>(&[rows, n])?;
        let labels = {
            let mut view = scores.try_as_plain_ram_mut()?;
            let out = view.as_slice_mut::<f32>()?;
            let mut labels = vec![
                Label::Class(0);
                if self.ensemble.class_labels().is_some() {
                    rows
                } else {
                    0
                }
            ];
            self.ensemble.eval(x, width, out, &mut labels);
            labels
        };
        let Some(classes) = self.ensemble.class_labels() else {
            return Ok(tvec!(scores.into_tvalue()));
        };
        let label = match classes {
            ClassLabels::Int64(classes) => {
                let values: Vec<i64> = labels
                    .iter()
                    .map(|l| match *l {
                        Label::Class(i) => classes[i],
                        Label::Literal(v) => v,
                    })
                    .collect();
                Tensor::from_shape(&[rows], &values)?
            }
            ClassLabels::String(classes) => {
                let values: Vec<String> = labels
                    .iter()
                    .map(|l| match *l {
                        Label::Class(i) => classes[i].clone(),
                        Label::Literal(v) => classes[v as usize].clone(),
                    })
                    .collect();
                tract_ndarray::Array1::from_vec(values).into_tensor()
            }
        };
        Ok(tvec!(label.into_tvalue(), scores.into_tvalue()))
    }
}

impl TreeEnsembleOp {
    fn check_width(&self, width: usize) -> TractResult<()> {
        let max = self.ensemble.max_feature;
        if max >= width {
            bail!(
                "{}: attribute nodes_featureids: a node reads feature {max}, but the input has {width} features",
                self.ensemble.what
            );
        }
        Ok(())
    }
}

impl TypedOp for TreeEnsembleOp {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = &inputs[0].shape;
        if shape.len() != 2 {
            bail!(
                "{}: input of rank {}, [N, features] expected",
                self.ensemble.what,
                shape.len()
            );
        }
        if let Ok(width) = shape[1].to_usize() {
            self.check_width(width)?;
        }
        let rows = shape[0].clone();
        let scores = f32::fact(&[rows.clone(), self.ensemble.n_targets().to_dim()]);
        Ok(match self.ensemble.class_labels() {
            Some(labels) => tvec!(TypedFact::dt_shape(label_type(labels), &[rows]), scores),
            None => tvec!(scores),
        })
    }

    as_op!();
}

fn parse_label_encoder(_ctx: &ParsingContext, node: &NodeProto) -> Parsed {
    let attributes = Attributes::new(node);
    let encoder = LabelEncoder::parse(&attributes).map_err(|e| format_err!("{e}"))?;
    let op = LabelEncoderOp {
        encoder: Arc::new(encoder),
        what: attributes.what(),
    };
    Ok((inference_wrap(op, 1, label_encoder_rules), vec![]))
}

fn label_encoder_rules<'p>(
    op: &dyn Op,
    s: &mut Solver,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
) -> InferenceResult {
    let op = op.downcast_ref::<LabelEncoderOp>().expect("a LabelEncoderOp");
    check_input_arity(inputs, 1)?;
    check_output_arity(outputs, 1)?;
    s.equals(&outputs[0].datum_type, op.value_type())?;
    s.equals(&outputs[0].shape, &inputs[0].shape)?;
    Ok(())
}

/// A `LabelEncoder` in a tract graph: output of the input's shape, in the values' type.
#[derive(Debug, Clone)]
struct LabelEncoderOp {
    encoder: Arc<LabelEncoder>,
    what: String,
}

impl PartialEq for LabelEncoderOp {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.encoder, &other.encoder) || self.encoder == other.encoder
    }
}

impl Eq for LabelEncoderOp {}

impl LabelEncoderOp {
    fn value_type(&self) -> DatumType {
        match &self.encoder.values {
            Values::Int64(..) => DatumType::I64,
            Values::Float(..) => DatumType::F32,
            Values::String(..) => DatumType::String,
        }
    }

    /// The index of each input value's value (`None`: the default).
    fn indices(&self, input: &Tensor) -> TractResult<Vec<Option<usize>>> {
        let e = &self.encoder;
        let plain = input.try_as_plain_ram()?;
        Ok(match input.datum_type() {
            DatumType::I64 => plain.as_slice::<i64>()?.iter().map(|&k| e.index_of_int(k)).collect(),
            // tract may carry int64 values as TDim (symbolic-capable integers).
            DatumType::I32
            | DatumType::TDim
            | DatumType::I16
            | DatumType::I8
            | DatumType::U8
            | DatumType::U16
            | DatumType::U32 => {
                let ints = input.cast_to::<i64>()?;
                let plain = ints.try_as_plain_ram()?;
                plain.as_slice::<i64>()?.iter().map(|&k| e.index_of_int(k)).collect()
            }
            DatumType::F32 => plain.as_slice::<f32>()?.iter().map(|&k| e.index_of_float(k)).collect(),
            DatumType::String => plain
                .as_slice::<String>()?
                .iter()
                .map(|k| e.index_of_string(k))
                .collect(),
            other => bail!(
                "{}: input of type {other:?} (int64, float or string expected)",
                self.what
            ),
        })
    }
}

impl Op for LabelEncoderOp {
    fn name(&self) -> StaticName {
        "streams_ml.LabelEncoder".into()
    }

    op_as_typed_op!();
}

impl EvalOp for LabelEncoderOp {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let shape = input.shape().to_vec();
        let indices = self.indices(&input)?;
        let output = match &self.encoder.values {
            Values::Int64(values, default) => {
                let out: Vec<i64> = indices.iter().map(|i| i.map_or(*default, |i| values[i])).collect();
                Tensor::from_shape(&shape, &out)?
            }
            Values::Float(values, default) => {
                let out: Vec<f32> = indices.iter().map(|i| i.map_or(*default, |i| values[i])).collect();
                Tensor::from_shape(&shape, &out)?
            }
            Values::String(values, default) => {
                let out: Vec<String> = indices
                    .iter()
                    .map(|i| i.map_or(default, |i| &values[i]).clone())
                    .collect();
                tract_ndarray::ArrayD::from_shape_vec(shape, out)?.into_tensor()
            }
        };
        Ok(tvec!(output.into_tvalue()))
    }
}

impl TypedOp for LabelEncoderOp {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(TypedFact::dt_shape(self.value_type(), inputs[0].shape.clone())))
    }

    as_op!();
}

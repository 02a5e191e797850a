//! Tree ensembles under tract with streams-ml's own `TreeEnsembleClassifier`,
//! `TreeEnsembleRegressor` and `LabelEncoder`: every output of every fixture model agrees with
//! onnxruntime's (recorded by `scripts/train-models --only trees` in
//! `tests/models/trees/reference.json`): scores within 1e-5, labels identical, NaN rows included,
//! in one batch and row by row. Malformed models fail at load with a message naming the node and
//! the attribute.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use streams_ml::model::{Features, Model, ModelSpec, OnnxModel, onnx_loader};
use tract_onnx::prelude::*;

const TOLERANCE: f32 = 1e-5;

#[derive(Deserialize)]
struct Reference {
    models: Vec<Fixture>,
}

#[derive(Deserialize)]
struct Fixture {
    file: String,
    kind: String,
    #[serde(default)]
    n_features: usize,
    inputs: Value,
    outputs: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
struct Malformed {
    file: String,
    node: String,
    attribute: String,
    what: String,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/models/trees")
}

fn reference() -> Reference {
    let text = std::fs::read_to_string(dir().join("reference.json")).expect("tests/models/trees/reference.json");
    serde_json::from_str(&text).expect("reference.json parses")
}

/// A float from the reference: `null` is NaN.
fn real(v: &Value) -> f32 {
    match v {
        Value::Null => f32::NAN,
        v => v.as_f64().unwrap_or_else(|| panic!("a number: {v}")) as f32,
    }
}

/// The rows of a fixture's float inputs.
fn rows(fixture: &Fixture) -> Vec<Vec<f32>> {
    fixture
        .inputs
        .as_array()
        .expect("inputs: a list of rows")
        .iter()
        .map(|row| row.as_array().expect("a row").iter().map(real).collect())
        .collect()
}

/// A plan for the model in `file`, its input fact made by `input` (which may use the graph's
/// symbols).
fn plan(file: &str, input: impl FnOnce(&InferenceModel) -> InferenceFact) -> Arc<TypedRunnableModel> {
    let graph = onnx_loader()
        .model_for_path(dir().join(file))
        .unwrap_or_else(|e| panic!("{file}: {e:#}"));
    let fact = input(&graph);
    graph
        .with_input_fact(0, fact)
        .and_then(|g| g.into_optimized())
        .and_then(|g| g.into_runnable())
        .unwrap_or_else(|e| panic!("{file}: {e:#}"))
}

/// A plan for a fixture taking float `[N, n_features]`, `N` symbolic.
fn matrix_plan(fixture: &Fixture) -> Arc<TypedRunnableModel> {
    plan(&fixture.file, |graph| {
        let n = graph.symbols.sym("N");
        f32::fact(tract_onnx::tract_core::dims!(n, fixture.n_features)).into()
    })
}

/// Compares one output tensor with onnxruntime's, for the rows `from..from + count`.
fn check_output(context: &str, got: &Tensor, want: &Value, from: usize, count: usize) {
    let want_rows = &want.as_array().expect("an output is a list")[from..from + count];
    match got.datum_type() {
        DatumType::String => {
            let plain = got.try_as_plain_ram().unwrap();
            let got = plain.as_slice::<String>().unwrap();
            let want: Vec<&str> = want_rows.iter().map(|v| v.as_str().expect("a string label")).collect();
            assert_eq!(got, want.as_slice(), "{context}: labels");
        }
        DatumType::I64 | DatumType::I32 => {
            let got = got.cast_to::<i64>().unwrap();
            let plain = got.try_as_plain_ram().unwrap();
            let got = plain.as_slice::<i64>().unwrap();
            let want: Vec<i64> = want_rows.iter().map(|v| v.as_i64().expect("an integer")).collect();
            assert_eq!(got, want.as_slice(), "{context}: labels");
        }
        _ => {
            let got = got.cast_to::<f32>().unwrap();
            let plain = got.try_as_plain_ram().unwrap();
            let got = plain.as_slice::<f32>().unwrap();
            let want: Vec<f32> = want_rows
                .iter()
                .flat_map(|row| match row {
                    Value::Array(values) => values.iter().map(real).collect::<Vec<_>>(),
                    v => vec![real(v)],
                })
                .collect();
            assert_eq!(
                got.len(),
                want.len(),
                "{context}: {} values, onnxruntime has {}",
                got.len(),
                want.len()
            );
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                let same = (g.is_nan() && w.is_nan()) || (g - w).abs() <= TOLERANCE;
                assert!(
                    same,
                    "{context}: value {i}: tract {g} vs onnxruntime {w}\n got {got:?}\nwant {want:?}"
                );
            }
        }
    }
}

fn output_names(file: &str) -> Vec<String> {
    let proto = onnx_loader().proto_model_for_path(dir().join(file)).unwrap();
    proto.graph.unwrap().output.iter().map(|o| o.name.clone()).collect()
}

#[test]
fn every_tree_model_matches_onnxruntime_in_a_batch_and_row_by_row() {
    let reference = reference();
    let kinds = |k: &str| reference.models.iter().filter(|m| m.kind == k).count();
    assert!(kinds("classifier") >= 5, "the classifiers");
    assert!(kinds("regressor") >= 2, "the regressors");
    assert!(kinds("isolation_forest") >= 1, "the isolation forest");
    let mut checked = 0;
    for fixture in reference.models.iter().filter(|m| m.kind != "label_encoder") {
        let rows = rows(fixture);
        let plan = matrix_plan(fixture);
        let names = output_names(&fixture.file);
        let flat: Vec<f32> = rows.concat();
        let input = Tensor::from_shape(&[rows.len(), fixture.n_features], &flat).unwrap();
        let outputs = plan
            .run(tvec!(input.into_tvalue()))
            .unwrap_or_else(|e| panic!("{}: {e:#}", fixture.file));
        assert_eq!(outputs.len(), names.len(), "{}: outputs", fixture.file);
        for (name, got) in names.iter().zip(&outputs) {
            let want = &fixture.outputs[name];
            check_output(
                &format!("{} {name} (batch of {})", fixture.file, rows.len()),
                got,
                want,
                0,
                rows.len(),
            );
        }
        for (r, row) in rows.iter().enumerate() {
            let input = Tensor::from_shape(&[1, fixture.n_features], row).unwrap();
            let outputs = plan.run(tvec!(input.into_tvalue())).unwrap();
            for (name, got) in names.iter().zip(&outputs) {
                check_output(
                    &format!("{} {name} row {r} {row:?}", fixture.file),
                    got,
                    &fixture.outputs[name],
                    r,
                    1,
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 10, "{checked} models checked");
}

#[test]
fn the_model_api_scores_tree_models_as_onnxruntime_does() {
    for fixture in reference().models.iter().filter(|m| m.kind != "label_encoder") {
        let model = OnnxModel::from_file(
            dir().join(&fixture.file),
            &ModelSpec::new(Features::width(fixture.n_features)),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", fixture.file));
        // What OnnxModel scores with: `probabilities`, else the first float output.
        let name = ["probabilities", "scores", "variable"]
            .into_iter()
            .find(|n| fixture.outputs.contains_key(*n))
            .unwrap_or_else(|| panic!("{}: a scores output", fixture.file));
        let rows = rows(fixture);
        model.prepare(rows.len());
        let scores = model.predict(&rows.concat(), rows.len()).unwrap();
        let got = Tensor::from_shape(&[scores.len()], &scores).unwrap();
        check_output(
            &format!("{} via Model", fixture.file),
            &got,
            &fixture.outputs[name],
            0,
            rows.len(),
        );
    }
}

#[test]
fn label_encoders_map_as_onnxruntime_does() {
    let reference = reference();
    let encoders: Vec<&Fixture> = reference.models.iter().filter(|m| m.kind == "label_encoder").collect();
    assert!(encoders.len() >= 2, "int64 → float and string → int64 at least");
    for fixture in encoders {
        let values = fixture.inputs.as_array().expect("a flat list of inputs");
        let input: Tensor = if values.iter().all(Value::is_string) {
            let strings: Vec<String> = values.iter().map(|v| v.as_str().unwrap().to_string()).collect();
            tract_ndarray::Array1::from_vec(strings).into_tensor()
        } else if values.iter().all(|v| v.is_i64()) {
            let ints: Vec<i64> = values.iter().map(|v| v.as_i64().unwrap()).collect();
            Tensor::from_shape(&[ints.len()], &ints).unwrap()
        } else {
            let floats: Vec<f32> = values.iter().map(real).collect();
            Tensor::from_shape(&[floats.len()], &floats).unwrap()
        };
        let fact = InferenceFact::dt_shape(input.datum_type(), input.shape());
        let plan = plan(&fixture.file, |_| fact);
        let names = output_names(&fixture.file);
        let outputs = plan.run(tvec!(input.into_tvalue())).unwrap();
        check_output(&fixture.file, &outputs[0], &fixture.outputs[&names[0]], 0, values.len());
    }
}

#[test]
fn malformed_models_fail_at_load_naming_the_node_and_the_attribute() {
    let dir = dir().join("malformed");
    let text = std::fs::read_to_string(dir.join("manifest.json")).expect("malformed/manifest.json");
    let cases: Vec<Malformed> = serde_json::from_str(&text).unwrap();
    assert!(cases.len() >= 8, "{} cases", cases.len());
    for case in &cases {
        let path = dir.join(&case.file);
        let proto = onnx_loader().proto_model_for_path(&path).unwrap();
        let graph = proto.graph.as_ref().unwrap();
        let input = graph.input.first().unwrap();
        // Tree models take float [N, width]: load them as a Model does, so the width is checked.
        let error = match width_of(input) {
            Some(width) => OnnxModel::from_file(&path, &ModelSpec::new(Features::width(width)))
                .err()
                .map(|e| e.to_string()),
            None => onnx_loader()
                .model_for_path(&path)
                .and_then(|g| g.into_optimized())
                .err()
                .map(|e| format!("{e:#}")),
        };
        let error = error.unwrap_or_else(|| panic!("{} ({}) loaded", case.file, case.what));
        assert!(
            error.contains(&format!("{:?}", case.node)) && error.contains(&format!("attribute {}", case.attribute)),
            "{} ({}): the error names node {:?} and attribute {}: {error}",
            case.file,
            case.what,
            case.node,
            case.attribute
        );
    }
}

/// The width of a float `[N, width]` input; `None` for any other input.
fn width_of(input: &tract_onnx::pb::ValueInfoProto) -> Option<usize> {
    use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
    use tract_onnx::pb::type_proto::Value as TypeValue;
    let Some(TypeValue::TensorType(tensor)) = input.r#type.as_ref()?.value.as_ref() else {
        return None;
    };
    let dims = &tensor.shape.as_ref()?.dim;
    match (tensor.elem_type, dims.as_slice()) {
        (1, [_, width]) => match width.value {
            Some(Dim::DimValue(w)) => Some(w as usize),
            _ => None,
        },
        _ => None,
    }
}

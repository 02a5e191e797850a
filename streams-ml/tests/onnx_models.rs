//! The shipped ONNX models under tract: every output agrees with onnxruntime's (recorded by
//! `scripts/train-models` in `models/reference.json`) within 1e-5 (the classifiers' probabilities
//! and labels, the isolation forest's scores); a model is checked against its features at load; a
//! watched file is swapped in while scoring goes on.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;
use streams_core::StreamsConfig;
use streams_core::dsl::StreamsBuilder;
use streams_core::testing::TopologyTestDriver;
use streams_ml::model::{Features, Model, ModelError, ModelHandle, ModelSpec, OnnxModel};
use streams_ml::{ScoreExt, Scored, Scoring};

const TOLERANCE: f32 = 1e-5;

#[derive(Deserialize)]
struct Reference {
    models: Vec<ReferenceModel>,
}

#[derive(Deserialize)]
struct ReferenceModel {
    file: String,
    /// `classifier` (scored by `probabilities`) or `isolation_forest` (scored by `scores`).
    kind: String,
    name: String,
    n_features: usize,
    feature_names: Vec<String>,
    labels: Vec<String>,
    inputs: Vec<Vec<f32>>,
    #[serde(default)]
    probabilities: Vec<Vec<f32>>,
    #[serde(default)]
    scores: Vec<Vec<f32>>,
    label_ids: Vec<usize>,
}

impl ReferenceModel {
    fn is_classifier(&self) -> bool {
        self.kind == "classifier"
    }

    /// onnxruntime's output the model scores with, row by row.
    fn expected(&self) -> &[Vec<f32>] {
        if self.is_classifier() {
            &self.probabilities
        } else {
            &self.scores
        }
    }
}

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn reference() -> Reference {
    let text = std::fs::read_to_string(models_dir().join("reference.json")).expect("models/reference.json");
    serde_json::from_str(&text).unwrap()
}

fn load(model: &ReferenceModel) -> OnnxModel {
    let spec = ModelSpec::new(Features::named(&model.feature_names));
    OnnxModel::from_file(models_dir().join(&model.file), &spec).unwrap_or_else(|e| panic!("{}: {e}", model.file))
}

fn assert_close(file: &str, row: usize, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{file} row {row}: width");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= TOLERANCE,
            "{file} row {row}: tract {got:?} vs onnxruntime {want:?}"
        );
    }
}

#[test]
fn every_shipped_model_agrees_with_onnxruntime() {
    let reference = reference();
    assert!(reference.models.len() >= 6, "the fraud and anomaly models at least");
    assert!(reference.models.iter().any(|m| m.kind == "isolation_forest"));
    for expected in &reference.models {
        let model = load(expected);
        let info = model.info();
        assert_eq!(&*info.name, expected.name, "name from the file's metadata");
        assert!(info.content_hash.starts_with("sha256:") && info.content_hash.len() == 71);
        assert_eq!(info.input_width, expected.n_features);
        if expected.is_classifier() {
            assert_eq!(
                info.labels.iter().map(|l| l.to_string()).collect::<Vec<_>>(),
                expected.labels
            );
        }
        let rows = expected.inputs.len();
        let flat: Vec<f32> = expected.inputs.concat();
        // All rows in one batch (symbolic plan), one by one, and in a batch size with its own plan.
        let batched = model.predict(&flat, rows).unwrap();
        model.prepare(rows);
        let prepared = model.predict(&flat, rows).unwrap();
        assert_eq!(
            expected.expected().len(),
            rows,
            "{}: an expected output per row",
            expected.file
        );
        for (row, want) in expected.expected().iter().enumerate() {
            let width = want.len();
            let single = model.predict(&expected.inputs[row], 1).unwrap();
            assert_close(&expected.file, row, &single, want);
            assert_close(&expected.file, row, &batched[row * width..(row + 1) * width], want);
            assert_close(&expected.file, row, &prepared[row * width..(row + 1) * width], want);
            if !expected.is_classifier() {
                continue;
            }
            let label = info.label_of(&single).unwrap();
            assert_eq!(
                &**label, expected.labels[expected.label_ids[row]],
                "{} row {row}: label",
                expected.file
            );
        }
    }
}

#[test]
fn a_model_whose_input_does_not_fit_the_features_fails_at_load_naming_both_shapes() {
    let path = models_dir().join("fraud-mlp.onnx");
    let error = OnnxModel::from_file(&path, &ModelSpec::new(Features::width(5))).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, ModelError::Signature { .. }), "{message}");
    assert!(message.contains("fraud-mlp.onnx"), "names the file: {message}");
    assert!(
        message.contains(", 8]") && message.contains("float32[N, 5]"),
        "both shapes: {message}"
    );

    let reference = reference();
    let mut names = reference.models[0].feature_names.clone();
    names.swap(0, 1);
    let message = OnnxModel::from_file(
        models_dir().join(&reference.models[0].file),
        &ModelSpec::new(Features::named(&names)),
    )
    .unwrap_err()
    .to_string();
    assert!(message.contains("trained on features [amount, log_amount"), "{message}");
    assert!(message.contains("fed [log_amount, amount"), "{message}");

    let message = OnnxModel::from_bytes(b"not a model", &ModelSpec::new(Features::width(8)), "<bytes>")
        .unwrap_err()
        .to_string();
    assert!(message.contains("cannot load model <bytes>"), "{message}");
    let message = OnnxModel::from_file(&path, &ModelSpec::new(Features::width(8)).labels(["a", "b", "c"]))
        .unwrap_err()
        .to_string();
    assert!(message.contains("2 scores per row but 3 labels"), "{message}");
}

#[test]
fn the_spec_overrides_the_files_metadata() {
    let spec = ModelSpec::new(Features::width(8))
        .named("fraud")
        .version("7")
        .labels(["ok", "bad"]);
    let model = OnnxModel::from_file(models_dir().join("fraud-mlp.onnx"), &spec).unwrap();
    let info = model.info();
    assert_eq!((&*info.name, &*info.version), ("fraud", "7"));
    assert_eq!(info.labels.len(), 2);
    assert_eq!(info.feature_names.len(), 8, "names still come from the file");
}

/// Scoring a stream with the shipped MLP, in batches of 1, 7 and 256: each output equals the model's
/// score of that record alone.
#[test]
fn the_mlp_scores_a_stream_as_it_scores_each_record() {
    let reference = reference();
    let expected = reference.models.iter().find(|m| m.file == "fraud-mlp.onnx").unwrap();
    let handle = ModelHandle::new(load(expected));
    for batch in [1, 7, 256] {
        let builder = StreamsBuilder::new();
        builder
            .stream::<String, String>("features")
            .score(Scoring::new(handle.clone()).max_batch(batch), |_, v: &String| {
                serde_json::from_str::<Vec<f32>>(v).unwrap()
            })
            .map_values(|s| serde_json::to_string(&s).unwrap())
            .to("scored");
        let driver = TopologyTestDriver::new(builder.build().unwrap(), StreamsConfig::for_tests("mlp")).unwrap();
        let input = driver.input_topic::<String, String>("features");
        for (i, row) in expected.inputs.iter().enumerate() {
            input.pipe_input_at(format!("card-{}", i % 5), serde_json::to_string(row).unwrap(), i as i64);
        }
        driver.advance_wall_clock_time(Duration::from_millis(10));
        let out = driver.output_topic::<String, String>("scored").read_values_to_list();
        assert_eq!(out.len(), expected.inputs.len());
        for (row, json) in out.iter().enumerate() {
            let scored: Scored<String> = serde_json::from_str(json).unwrap();
            let alone = handle.current().predict(&expected.inputs[row], 1).unwrap();
            assert_close("fraud-mlp.onnx (stream)", row, &scored.scores, &alone);
            assert_eq!(
                scored.label.as_deref(),
                handle.current().info().label_of(&alone).map(|l| &**l)
            );
        }
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_watched_file_is_swapped_in_when_replaced_and_a_broken_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fraud.onnx");
    let replace = |source: &str| {
        let staging = dir.path().join("staging.onnx");
        std::fs::copy(models_dir().join(source), &staging).unwrap();
        std::fs::rename(&staging, &path).unwrap();
    };
    replace("fraud-mlp.onnx");
    let spec = ModelSpec::new(Features::width(8));
    let handle = ModelHandle::new(OnnxModel::from_file(&path, &spec).unwrap());
    assert_eq!(&*handle.current().info().name, "fraud-mlp");
    let watcher = handle.watch_file(&path, spec, Duration::from_millis(20));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(handle.swaps(), 0, "the same file is not reloaded");

    replace("fraud-forest.onnx");
    wait_for("the forest swapped in", || {
        &*handle.current().info().name == "fraud-forest"
    });
    assert_eq!(handle.swaps(), 1);

    // Half a file: refused, the forest stays.
    let bytes = std::fs::read(models_dir().join("fraud-mlp.onnx")).unwrap();
    std::fs::write(dir.path().join("staging.onnx"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::rename(dir.path().join("staging.onnx"), &path).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(&*handle.current().info().name, "fraud-forest");

    // A model taking other features: refused too.
    replace("anomaly-mlp.onnx");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(&*handle.current().info().name, "fraud-forest");

    replace("fraud-mlp.onnx");
    wait_for("the MLP back", || &*handle.current().info().name == "fraud-mlp");
    assert_eq!(handle.swaps(), 2);
    watcher.stop();
}

//! Model scoring throughput on this machine, one thread: the shipped fraud models (an MLP and a
//! random forest, `models/`) run by tract through `OnnxModel::predict` on batches of 1, 64 and 256
//! records, on the inputs `scripts/bench_onnxruntime.py` gives onnxruntime (the reference rows of
//! `models/reference.json`, repeated). Plus the scoring operator end to end under the test driver
//! (features, batching, the worker hand-off, forwarding), with the MLP in batches of 64.
//!
//! Tree ensembles too: the random forest, gradient boosting and isolation forest fixtures of
//! `streams-ml/tests/models/trees` (our own `TreeEnsembleClassifier`/`TreeEnsembleRegressor`/
//! `LabelEncoder` in tract) at batches of 1, 64 and 1024, on their reference rows without NaN.
//!
//! `cargo bench -p streams-benches --bench ml_scoring`; `scripts/bench-ml` runs it and onnxruntime
//! one after the other and prints the ratios (docs/benchmarks.md).

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use streams_core::StreamsConfig;
use streams_core::dsl::StreamsBuilder;
use streams_core::processor::Record;
use streams_core::testing::TopologyTestDriver;
use streams_ml::model::{Features, Model, ModelHandle, ModelSpec, OnnxModel};
use streams_ml::{ScoreExt, Scoring};

const BATCHES: [usize; 3] = [1, 64, 256];

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

/// The entry of model `file` in the `reference.json` of `dir`.
fn reference_entry(dir: &Path, file: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("reference.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["file"] == file)
        .unwrap_or_else(|| panic!("{file} not in {}/reference.json", dir.display()))
        .clone()
}

/// The model's reference input rows, from models/reference.json.
fn reference_rows(file: &str) -> Vec<Vec<f32>> {
    serde_json::from_value(reference_entry(&models_dir(), file)["inputs"].clone()).unwrap()
}

fn load(file: &str) -> OnnxModel {
    let width = reference_rows(file)[0].len();
    OnnxModel::from_file(models_dir().join(file), &ModelSpec::new(Features::width(width))).unwrap()
}

/// `rows` rows: the reference rows repeated, flattened (the onnxruntime script tiles them the same way).
fn tiled(reference: &[Vec<f32>], rows: usize) -> Vec<f32> {
    reference.iter().cycle().take(rows).flatten().copied().collect()
}

fn models(c: &mut Criterion) {
    for file in ["fraud-mlp.onnx", "fraud-forest.onnx"] {
        let model = load(file);
        let reference = reference_rows(file);
        let name = file.trim_end_matches(".onnx");
        bench_batches(c, &format!("tract/{name}"), &model, &reference, &BATCHES);
    }
}

/// Criterion group `group`: `model.predict` on each batch size of `batches`, the batch filled with
/// `reference` rows, repeated.
fn bench_batches(c: &mut Criterion, group: &str, model: &OnnxModel, reference: &[Vec<f32>], batches: &[usize]) {
    let mut group = c.benchmark_group(group);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for &batch in batches {
        // As the scoring operator does for its batch size: a plan specialised to it.
        model.prepare(batch);
        let input = tiled(reference, batch);
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("batch_{batch}"), |b| {
            b.iter(|| model.predict(&input, batch).unwrap())
        });
    }
    group.finish();
}

const TREE_BATCHES: [usize; 3] = [1, 64, 1024];

/// The tree fixtures benchmarked, by the name `scripts/bench_onnxruntime.py --trees` reports them under.
const TREE_MODELS: [(&str, &str); 3] = [
    ("rf", "rf.onnx"),
    ("gb-binary", "gb-binary.onnx"),
    ("iforest", "iforest.onnx"),
];

fn trees_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../streams-ml/tests/models/trees")
}

/// A tree fixture's reference rows without NaN (as the onnxruntime script tiles them).
fn tree_rows(file: &str) -> Vec<Vec<f32>> {
    reference_entry(&trees_dir(), file)["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().map(|v| v as f32))
                .collect::<Option<Vec<f32>>>()
        })
        .collect()
}

fn tree_models(c: &mut Criterion) {
    for (name, file) in TREE_MODELS {
        let reference = tree_rows(file);
        let spec = ModelSpec::new(Features::width(reference[0].len()));
        let model = OnnxModel::from_file(trees_dir().join(file), &spec).unwrap();
        bench_batches(c, &format!("tract/trees/{name}"), &model, &reference, &TREE_BATCHES);
    }
}

const RECORDS: u64 = 20_000;

fn operator(c: &mut Criterion) {
    let handle = ModelHandle::new(load("fraud-mlp.onnx"));
    let reference = reference_rows("fraud-mlp.onnx");
    let rows: Vec<[f32; 8]> = reference.iter().map(|r| r.as_slice().try_into().unwrap()).collect();
    let driver = || {
        let rows = rows.clone();
        let builder = StreamsBuilder::new();
        builder
            .stream::<String, i64>("in")
            .score(Scoring::new(handle.clone()).max_batch(64), move |_, v: &i64| {
                rows[*v as usize % rows.len()]
            })
            .map_values(|scored| i64::from(scored.scores[1] > 0.5))
            .to("out");
        TopologyTestDriver::new(builder.build().unwrap(), StreamsConfig::for_tests("bench")).unwrap()
    };
    let records: Vec<Record<String, i64>> = (0..RECORDS)
        .map(|i| Record::new(format!("card-{}", i % 1000), i as i64, i as i64))
        .collect();
    let mut group = c.benchmark_group("score_operator_20k");
    group.throughput(Throughput::Elements(RECORDS));
    group.sample_size(10);
    group.bench_function("fraud_mlp_batch_64", |b| {
        b.iter_batched(
            || (driver(), records.clone()),
            |(driver, records)| {
                let input = driver.input_topic::<String, i64>("in");
                for record in records {
                    input.pipe_record(record);
                }
                driver.advance_wall_clock_time(Duration::from_millis(10));
                assert_eq!(driver.output_topic::<String, i64>("out").queue_size(), RECORDS as usize);
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, models, tree_models, operator);
criterion_main!(benches);

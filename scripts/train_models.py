#!/usr/bin/env python3
"""Trains the example models and writes them, with reference outputs and a README, to models/;
writes the tree-ensemble test fixtures of streams-ml to streams-ml/tests/models/trees/.

Run it through `scripts/train-models` (any Python 3.11+ works: it creates or reuses the virtualenv
of scripts/ml_venv.py and re-runs itself there). `--only trees`: the test fixtures only (no cargo,
about 15 s; see `tree_fixtures`); `--only examples`: the example models only. Without `--only`,
both. The example models' steps:

1. Generates data with the examples' generators (`cargo run -p fraud-detector --bin
   fraud-training-data -- --rows N --seed S`, likewise anomaly-training-data): a training set from
   one seed, a held-out set from another seed (other cards or sensors, other fraud and anomalies).
2. Trains
   - fraud-mlp.onnx: MLPClassifier on standardised fraud features, the scaling folded into the
     first layer (no ai.onnx.ml Scaler node, which tract-onnx lacks);
   - fraud-forest.onnx: RandomForestClassifier, 20 trees of depth <= 6 (no scaling);
   - anomaly-mlp.onnx: MLPClassifier on the anomaly features, scaling folded likewise;
   - fraud-gbt.onnx, fraud-hgb.onnx: GradientBoosting / HistGradientBoosting classifiers, other
     candidates for the fraud example;
   - anomaly-iforest.onnx: IsolationForest on features derived from the anomaly features inside the
     graph (unsupervised; the variant picked by the training set's average precision, see
     `IFOREST_VARIANTS`).
   Exported with skl2onnx: input `input` float32 [None, n_features], outputs `label` (int64) and
   `probabilities` (float32 [N, 2]), no ZipMap (the IsolationForest: `label` and `scores`, both
   [N, 1]), opsets {"": 17, "ai.onnx.ml": 3}, with metadata.
3. Scores the held-out sets with onnxruntime: precision / recall at 0.5 and at the F1-best
   threshold, ROC-AUC, average precision (the IsolationForest: of -scores, and precision / recall
   of its label); writes models/README.md.
4. Writes models/reference.json: fixed inputs and onnxruntime's outputs on them, for the Rust side.

Everything is seeded: rerunning gives the same files.
"""

import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, str(Path(__file__).resolve().parent))
import ml_venv  # noqa: E402

ml_venv.ensure_venv(__file__)

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnx.helper  # noqa: E402
import onnx.numpy_helper  # noqa: E402
import onnxruntime as ort  # noqa: E402
import sklearn  # noqa: E402
import skl2onnx  # noqa: E402
from skl2onnx import convert_sklearn, update_registered_converter  # noqa: E402
from skl2onnx.common.data_types import FloatTensorType  # noqa: E402
from sklearn.base import BaseEstimator, TransformerMixin  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    IsolationForest,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.metrics import (  # noqa: E402
    average_precision_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
MODEL_VERSION = 1

# ai.onnx.ml operators the models may use. streams-ml implements the tree ensembles and LabelEncoder
# itself (registered in tract's op register, replacing tract's own TreeEnsembleClassifier); tract-onnx
# 0.23.9 provides the other ones (shared/notes/onnx-models.md), and all the standard domain's
# ordinary operators.
STREAMS_ML_OPS = {"TreeEnsembleClassifier", "TreeEnsembleRegressor", "LabelEncoder"}
TRACT_ML_OPS = {"LinearClassifier", "LinearRegressor", "Normalizer", "CategoryMapper", "ArrayFeatureExtractor"}
SUPPORTED_ML_OPS = STREAMS_ML_OPS | TRACT_ML_OPS


def dataset(example: str, train_rows: int, labels: list[str]) -> dict:
    """The data of one example: its `<example>-training-data` binary in package `<example>-detector`,
    a training set of `train_rows` rows from seed 1 and a held-out set of 100,000 rows from seed 2."""
    return {
        "package": f"{example}-detector",
        "bin": f"{example}-training-data",
        "train": {"rows": train_rows, "seed": 1},
        "held_out": {"rows": 100_000, "seed": 2},
        "labels": labels,
    }


DATASETS = {
    "fraud": dataset("fraud", 300_000, ["legit", "fraud"]),
    "anomaly": dataset("anomaly", 400_000, ["normal", "anomaly"]),
}

# Reference rows: this many held-out rows (of which POSITIVES are positives), then edge rows.
REFERENCE_ROWS = 64
REFERENCE_POSITIVES = 16


def log(message: str) -> None:
    print(f"train-models: {message}", file=sys.stderr, flush=True)


def generator_command(dataset: dict, split: str) -> list[str]:
    spec = dataset[split]
    return [
        "cargo", "run", "--locked", "-q",
        "-p", dataset["package"], "--bin", dataset["bin"],
        "--", "--rows", str(spec["rows"]), "--seed", str(spec["seed"]),
    ]  # fmt: skip


def generate(dataset: dict, split: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Runs the generator; returns (feature names, X float32, y int)."""
    command = generator_command(dataset, split)
    log("$ " + " ".join(command))
    out = subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.PIPE).stdout.decode()
    header = out.split("\n", 1)[0].split(",")
    assert header[-1] == "label", header
    data = np.loadtxt(io.StringIO(out), delimiter=",", skiprows=1, dtype=np.float64)
    # The generator prints each float32 as its shortest round-trip text: float32 again, exactly.
    return header[:-1], data[:, :-1].astype(np.float32), data[:, -1].astype(np.int64)


def folded_mlp(X: np.ndarray, y: np.ndarray, hidden: tuple[int, ...]) -> MLPClassifier:
    """An MLP trained on standardised X, with the standardisation folded into its first layer, so
    it takes raw features: x' = (x - mean) / scale, x'W + b = x (W / scale) + (b - (mean / scale) W)."""
    x64 = X.astype(np.float64)
    mean = x64.mean(axis=0)
    scale = x64.std(axis=0)
    scale[scale == 0] = 1.0
    mlp = MLPClassifier(
        hidden_layer_sizes=hidden,
        activation="relu",
        alpha=1e-4,
        batch_size=256,
        learning_rate_init=1e-3,
        max_iter=80,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=8,
        random_state=0,
    )
    mlp.fit((x64 - mean) / scale, y)
    w, b = mlp.coefs_[0], mlp.intercepts_[0]
    scaled = mlp.predict_proba((x64[:2000] - mean) / scale)
    mlp.coefs_[0] = w / scale[:, None]
    mlp.intercepts_[0] = b - (mean / scale) @ w
    folded = mlp.predict_proba(x64[:2000])
    assert np.abs(scaled - folded).max() < 1e-6, np.abs(scaled - folded).max()
    log(f"MLP {hidden}: {mlp.n_iter_} epochs, best validation score {mlp.best_validation_score_:.5f}")
    return mlp


def forest(X: np.ndarray, y: np.ndarray) -> RandomForestClassifier:
    rf = RandomForestClassifier(n_estimators=20, max_depth=6, min_samples_leaf=5, random_state=0, n_jobs=1)
    rf.fit(X, y)
    return rf


def gbt(X: np.ndarray, y: np.ndarray) -> GradientBoostingClassifier:
    gb = GradientBoostingClassifier(n_estimators=100, max_depth=3, learning_rate=0.1, random_state=0)
    gb.fit(X, y)
    return gb


def hgb(X: np.ndarray, y: np.ndarray) -> HistGradientBoostingClassifier:
    # Early stopping on a seeded 10% validation split (scikit-learn's default above 10,000 rows).
    h = HistGradientBoostingClassifier(max_iter=200, max_leaf_nodes=31, learning_rate=0.1, random_state=0)
    h.fit(X, y)
    log(f"HistGradientBoosting: {h.n_iter_} iterations")
    return h


class DerivedFeatures(TransformerMixin, BaseEstimator):
    """Columns derived from the model's input, for an IsolationForest: `columns` is a list of
    (input column, transform), the transform one of
    - "identity": the column as it is;
    - "log_std": log(max(x, 1e-3)) (a standard deviation, floored like zscore_60s's divisor);
    - "log_abs": log(|x| + 1e-6): an exact 0 (a value repeated exactly) lies far below any real
      change, where the forest's random splits isolate it at once.
    Computed in float32 with the same operations as its ONNX conversion (`derived_features_onnx`),
    so that the forest is trained on what the graph computes. Fits nothing."""

    def __init__(self, columns=()):
        self.columns = columns

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        X = np.asarray(X, dtype=np.float32)
        out = []
        for i, how in self.columns:
            c = X[:, i]
            if how == "log_std":
                c = np.log(np.maximum(c, np.float32(1e-3)))
            elif how == "log_abs":
                c = np.log(np.abs(c) + np.float32(1e-6))
            else:
                assert how == "identity", how
            out.append(c)
        return np.stack(out, axis=1).astype(np.float32)


def derived_features_shape(operator) -> None:
    rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = FloatTensorType([rows, len(operator.raw_operator.columns)])


def derived_features_onnx(scope, operator, container) -> None:
    """DerivedFeatures in standard ONNX operators (Gather, Max, Abs, Add, Log, Concat), which tract runs."""
    x = operator.inputs[0].full_name

    def constant(name: str, dtype: int, values: list) -> str:
        tensor = scope.get_unique_variable_name(name)
        container.add_initializer(tensor, dtype, [len(values)], values)
        return tensor

    def node(op_type: str, inputs: list[str], name: str, **attrs) -> str:
        out = scope.get_unique_variable_name(name)
        container.add_node(op_type, inputs, [out], name=scope.get_unique_operator_name(op_type), **attrs)
        return out

    columns = []
    for i, how in operator.raw_operator.columns:
        c = node("Gather", [x, constant(f"column{i}", onnx.TensorProto.INT64, [i])], f"column{i}", axis=1)
        if how == "log_std":
            floor = constant("min_std", onnx.TensorProto.FLOAT, [1e-3])
            c = node("Log", [node("Max", [c, floor], "floored")], "log_std")
        elif how == "log_abs":
            epsilon = constant("epsilon", onnx.TensorProto.FLOAT, [1e-6])
            c = node("Log", [node("Add", [node("Abs", [c], "abs"), epsilon], "abs_eps")], "log_abs")
        columns.append(c)
    container.add_node("Concat", columns, [operator.outputs[0].full_name],
                       name=scope.get_unique_operator_name("Concat"), axis=1)  # fmt: skip


update_registered_converter(DerivedFeatures, "StreamsDerivedFeatures", derived_features_shape, derived_features_onnx)

# The anomaly features' input columns (examples/anomaly-detector/src/features.rs).
VALUE, ZSCORE, DELTA, STD, MEAN, EWMA = range(6)
LOGS = [(ZSCORE, "identity"), (STD, "log_std"), (DELTA, "log_abs")]
LOGS_FED = "`zscore_60s`, log(max(`std_60s`, 1e-3)), log(\\|`delta_prev`\\| + 1e-6)"

# The IsolationForest variants tried, all with 100 trees (random_state 0): (name, what it is fed,
# the DerivedFeatures columns or None for the raw input, IsolationForest parameters). value and
# mean_60s are levels that differ by sensor, not deviations: they let the forest isolate sensors
# rather than faults. max_samples 512 would double the file, past 1 MB. The contamination only
# sets the `label` output's cut (the offset of `scores`), not the ranking: it is the training
# set's anomaly rate throughout.
IFOREST_VARIANTS = [
    ("all-6", "the six features as they are", None, {}),
    ("no-levels", "`zscore_60s`, `delta_prev`, `std_60s`, `ewma_gap` (columns selected: no `value`, `mean_60s`)",
     [(ZSCORE, "identity"), (DELTA, "identity"), (STD, "identity"), (EWMA, "identity")], {}),
    ("logs", LOGS_FED, LOGS, {}),
    ("logs+ewma", LOGS_FED + ", `ewma_gap`", LOGS + [(EWMA, "identity")], {}),
    ("logs-128", LOGS_FED, LOGS, {"max_samples": 128}),
    ("logs-2-features", LOGS_FED, LOGS, {"max_features": 2}),
]  # fmt: skip


def iforest(X: np.ndarray, y: np.ndarray) -> IsolationForest | Pipeline:
    """Fits every variant of IFOREST_VARIANTS on X without its labels, and returns the one whose
    anomaly score (-decision_function) has the highest average precision on the training set: the
    labels only choose among the few variants (the held-out set plays no part). The returned model
    has `variants_`: per variant, (name, what it is fed, its parameters, the fitted model, training
    ROC-AUC, average precision), and `variant_`, the chosen one's name."""
    contamination = round(float(y.mean()), 4)
    variants = []
    for name, fed, columns, params in IFOREST_VARIANTS:
        forest = IsolationForest(
            n_estimators=100, contamination=contamination, random_state=0, **{"max_samples": 256, **params}
        )
        model = forest if columns is None else Pipeline([("features", DerivedFeatures(columns)), ("iforest", forest)])
        model.fit(X)
        anomaly = -model.decision_function(X)
        auc, ap = float(roc_auc_score(y, anomaly)), float(average_precision_score(y, anomaly))
        log(f"IsolationForest {name}: training ROC-AUC {auc:.4f}, average precision {ap:.4f}")
        variants.append((name, fed, params, model, auc, ap))
    best = max(variants, key=lambda v: v[5])
    log(f"IsolationForest: {best[0]} has the best training average precision")
    model = best[3]
    model.variants_ = variants
    model.variant_ = best[0]
    return model


def export(est, n_features: int, meta: dict[str, str], path: Path, kind: str = "classifier") -> onnx.ModelProto:
    """kind "classifier": outputs label and probabilities (no ZipMap); "isolation_forest": label and scores."""
    model = convert_sklearn(
        est,
        initial_types=[("input", FloatTensorType([None, n_features]))],
        options={id(est): {"zipmap": False}} if kind == "classifier" else None,
        target_opset=TARGET_OPSET,
    )
    model.model_version = MODEL_VERSION
    model.graph.name = meta["name"]  # skl2onnx names it with a random UUID: not reproducible
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    if meta["name"] not in SKL2ONNX_ORDER:
        # skl2onnx lists the opsets of some converters (GradientBoosting, IsolationForest) in set order,
        # which varies with Python's string hashing: sort them. (The first models' converters list
        # theirs in a fixed order, kept as it is so that their files stay the same.)
        opsets = sorted(model.opset_import, key=lambda o: o.domain)
        del model.opset_import[:]
        model.opset_import.extend(opsets)
    onnx.checker.check_model(model)
    assert [i.name for i in model.graph.input] == ["input"]
    outputs = ["label", "probabilities"] if kind == "classifier" else ["label", "scores"]
    assert [o.name for o in model.graph.output] == outputs, model.graph.output
    ml_ops = {n.op_type for n in model.graph.node if n.domain == "ai.onnx.ml"}
    assert ml_ops <= SUPPORTED_ML_OPS, f"{path.name}: streams-ml lacks {ml_ops - SUPPORTED_ML_OPS}"
    ops = sorted({(n.domain or "ai.onnx") + ":" + n.op_type for n in model.graph.node})
    path.write_bytes(model.SerializeToString())
    log(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes): {', '.join(ops)}")
    return model


# Models whose files predate the opset sorting of export().
SKL2ONNX_ORDER = {"fraud-mlp", "fraud-forest", "anomaly-mlp"}


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def metrics(y: np.ndarray, p: np.ndarray) -> dict:
    precision, recall, thresholds = precision_recall_curve(y, p)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.argmax(f1[:-1]))  # the last point has no threshold
    threshold = float(thresholds[best])

    def at(t: float) -> dict:
        predicted = (p >= t).astype(np.int64)
        pr = precision_score(y, predicted, zero_division=0)
        rc = recall_score(y, predicted, zero_division=0)
        return {
            "threshold": t,
            "precision": float(pr),
            "recall": float(rc),
            "f1": float(2 * pr * rc / (pr + rc)) if pr + rc > 0 else 0.0,
        }

    return {
        "rows": int(len(y)),
        "positives": int(y.sum()),
        "roc_auc": float(roc_auc_score(y, p)),
        "average_precision": float(average_precision_score(y, p)),
        "at_0.5": at(0.5),
        "at_best_f1": at(threshold),
    }


def anomaly_metrics(y: np.ndarray, scores: np.ndarray, label: np.ndarray) -> dict:
    """An IsolationForest's: ROC-AUC, average precision and the F1-best threshold of -scores (the
    higher, the more anomalous), and precision / recall of its `label` output (-1 = anomaly) as "at_label"."""
    m = metrics(y, -scores)
    predicted = (label == -1).astype(np.int64)
    pr = precision_score(y, predicted, zero_division=0)
    rc = recall_score(y, predicted, zero_division=0)
    m["at_label"] = {
        "threshold": 0.0,  # label -1 when scores < 0
        "flagged": int(predicted.sum()),
        "precision": float(pr),
        "recall": float(rc),
        "f1": float(2 * pr * rc / (pr + rc)) if pr + rc > 0 else 0.0,
    }
    del m["at_0.5"]  # a threshold of probabilities: meaningless for scores
    return m


def reference_inputs(X: np.ndarray, y: np.ndarray, n_features: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    positives = rng.choice(np.flatnonzero(y == 1), REFERENCE_POSITIVES, replace=False)
    negatives = rng.choice(np.flatnonzero(y == 0), REFERENCE_ROWS - REFERENCE_POSITIVES, replace=False)
    rows = X[np.sort(np.concatenate([positives, negatives]))]
    edges = np.array(
        [
            np.zeros(n_features),
            np.full(n_features, 1e4),
            np.full(n_features, 1e6),
            np.full(n_features, -1e3),
        ],
        dtype=np.float32,
    )
    return np.concatenate([rows, edges]).astype(np.float32)


def fmt(x: float) -> str:
    return f"{x:.4f}"


def dump_json(value, indent: int = 0) -> str:
    """JSON with each list of plain values on one line (readable diffs; floats at full precision)."""
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {dump_json(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and any(isinstance(v, (list, dict)) for v in value):
        return "[\n" + ",\n".join(inner + dump_json(v, indent + 1) for v in value) + "\n" + pad + "]"
    return json.dumps(value)


def readme(models: list[dict], datasets: dict) -> str:
    lines = [
        "# Models",
        "",
        "ONNX models for the examples, trained on the examples' own synthetic data by",
        "`scripts/train-models` (generated by it: edit `scripts/train_models.py`, not this page).",
        "",
        "Every model takes one input `input`, float32 `[N, n_features]`, the features in the order below.",
        "The classifiers have two outputs: `label` (int64 `[N]`) and `probabilities` (float32 `[N, 2]`: the",
        "negative class, then the positive class); no ZipMap. The IsolationForest has `label` (int64 `[N, 1]`:",
        "1 normal, -1 anomaly) and `scores` (float32 `[N, 1]`, scikit-learn's `decision_function`: negative",
        "for anomalies; -scores is the anomaly score). Exported with `target_opset` {\"\": 17, \"ai.onnx.ml\": 3}:",
        "skl2onnx declares the lowest opset versions the nodes need (column `opsets`). Metadata:",
        "`model_version` 1, and `metadata_props` `name`, `version`, `features` (comma-separated),",
        "`labels` (the classifiers': one per column of `probabilities`; the IsolationForest has none, its",
        "`scores` being one column), `trained_on` (the generator command of the training set).",
        "",
        "The feature definitions are in `examples/fraud-detector/src/features.rs` and",
        "`examples/anomaly-detector/src/features.rs` (the reference a streaming topology must reproduce).",
        "",
        "| file | model | features (input order) | labels | opsets | size |",
        "|---|---|---|---|---|---|",
    ]
    for m in models:
        lines.append(
            f"| `{m['file']}` | {m['description']} | {', '.join(f'`{f}`' for f in m['feature_names'])} "
            f"| {', '.join(m['labels']) if m['kind'] == 'classifier' else '(none; `label` 1 normal, -1 anomaly)'} "
            f"| {m['opsets']} | {m['size']:,} bytes |"
        )
    lines += [
        "",
        "Use `probabilities` and compute the label yourself (argmax, or a threshold on the positive",
        "class). streams-ml runs the ai.onnx.ml operators TreeEnsembleClassifier, TreeEnsembleRegressor and",
        "LabelEncoder with its own implementations, and everything else with tract-onnx 0.23.9; the script",
        "checks that the files' ai.onnx.ml operators are among those.",
        "",
        "## Held-out metrics",
        "",
        "Trained on one seed of the generator, measured on another (different cards / sensors), with",
        "onnxruntime on the exported ONNX files. The F1-best threshold is chosen on the held-out set",
        "itself, so its figures are optimistic.",
        "",
        "| model | held-out rows (positives) | ROC-AUC | avg. precision | precision @ 0.5 | recall @ 0.5 "
        "| F1-best threshold | precision @ it | recall @ it |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in models:
        s = m["metrics"]
        a, b = s.get("at_0.5", s.get("at_label")), s["at_best_f1"]
        lines.append(
            f"| {m['name']} | {s['rows']:,} ({s['positives']:,}) | {fmt(s['roc_auc'])} | {fmt(s['average_precision'])} "
            f"| {fmt(a['precision'])} | {fmt(a['recall'])} | {b['threshold']:.4g} | {fmt(b['precision'])} "
            f"| {fmt(b['recall'])} |"
        )
    if any("at_label" in m["metrics"] for m in models):
        lines += [
            "",
            "For the IsolationForest (anomaly-iforest), ROC-AUC, average precision and the F1-best threshold",
            "are those of the anomaly score -scores (an anomaly when -scores >= the threshold), and the",
            "columns \"@ 0.5\" give the precision and recall of its `label` output (-1 = anomaly, i.e. scores < 0).",
        ]
    for m in models:
        if "variants" not in m:
            continue
        lines += [
            "",
            f"### {m['name']}: the variants tried",
            "",
            "An IsolationForest is unsupervised: each variant is fitted on the training set without its labels.",
            "The training set's labels then pick the variant, by the average precision of its anomaly score",
            "(-scores) on the training set; the held-out set plays no part in the choice. All have 100 trees,",
            "random_state 0 and max_samples 256 unless said. On the raw features the forest mostly isolates",
            "sensors (`value`, `mean_60s` are levels that differ by sensor) and misses stuck sensors, whose",
            "`delta_prev` of exactly 0 sits in the middle of its range; on log(|`delta_prev`| + 1e-6) it lies",
            "far below every real change. The derived columns are computed in the graph (Gather, Max, Abs,",
            "Add, Log, Concat before the forest), so the model still takes the six features. Each variant is",
            "fitted with one random_state: between close ones (logs, logs-128) another random_state can",
            "change the order by a few hundredths of average precision.",
            "",
            "| variant | fed | parameters | training ROC-AUC | training avg. precision | held-out ROC-AUC "
            "| held-out avg. precision |",
            "|---|---|---|---|---|---|---|",
        ]
        for v in m["variants"]:
            chosen = " (chosen)" if v["chosen"] else ""
            lines.append(
                f"| {v['name']}{chosen} | {v['fed']} | {v['params']} | {fmt(v['train_roc_auc'])} "
                f"| {fmt(v['train_average_precision'])} "
                f"| {fmt(v['roc_auc'])} | {fmt(v['average_precision'])} |"
            )
    lines += ["", "Data:", ""]
    for name, d in datasets.items():
        lines.append(f"- {name}: training `{' '.join(generator_command(d, 'train'))}`;")
        lines.append(f"  held-out `{' '.join(generator_command(d, 'held_out'))}`.")
    lines += [
        "",
        "## Reference outputs",
        "",
        f"`reference.json` has, for each model, {REFERENCE_ROWS} held-out rows ({REFERENCE_POSITIVES} of them positives)",
        "and 4 edge rows (all 0, all 1e4, all 1e6, all -1e3), float32-exact, with onnxruntime",
        f"{ort.__version__}'s `probabilities` on them and `label_ids` = their argmax: what an ONNX",
        "runtime in Rust must reproduce (to about 1e-6). Each model has a `kind`: `classifier`, or",
        "`isolation_forest` for anomaly-iforest, which has `scores` and `label` (onnxruntime's outputs, both",
        "`[N, 1]`) instead of `probabilities`, `label_ids` = 1 where `label` is -1 (anomaly), and",
        "`threshold_best_f1` on -scores.",
        "",
        "## Retraining and benchmarking",
        "",
        "```sh",
        "scripts/train-models                  # these models and the tree-ensemble test fixtures",
        "scripts/train-models --only examples  # these models only",
        "~/.cache/streams-ml-venv/bin/python scripts/bench_onnxruntime.py   # onnxruntime records/s, 1 thread",
        "```",
        "",
        "`scripts/train-models` needs Python 3.11+ and Rust; it keeps a virtualenv at",
        "`${STREAMS_ML_VENV:-~/.cache/streams-ml-venv}` (outside the repository) with pinned versions:",
        f"{', '.join(ml_venv.PINNED)}. Everything is seeded, so a rerun rewrites the same files.",
        "`bench_onnxruntime.py` prints `{model: {batch size: records/s}}` as JSON on stdout and a table on",
        "stderr (1 intra-op and 1 inter-op thread, sequential execution; batch sizes 1, 64, 256; median of",
        "5 runs of about 0.4 s each after a warm-up); with `--trees`, the same for the tree-ensemble test",
        "fixtures rf, gb-binary and iforest (`streams-ml/tests/models/trees/`) at batch sizes 1, 64, 1024.",
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Tree-ensemble test fixtures: streams-ml/tests/models/trees/ (`scripts/train-models --only trees`).
# scikit-learn models exported with skl2onnx, randomized ensembles, hand-built ("synthetic") models
# covering attribute forms scikit-learn never emits, LabelEncoders, and malformed models; with
# onnxruntime's outputs on chosen rows in reference.json. No cargo needed.

TREES = ROOT / "streams-ml" / "tests" / "models" / "trees"
TREES_COMMAND = "scripts/train-models --only trees"
FIXTURE_LIMIT = 1_000_000  # bytes, per file
FIXTURE_HELD_OUT = 64  # held-out rows per scikit-learn model
SYNTHETIC_FEATURES = 4
ML = "ai.onnx.ml"


def tree_session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def plain(value):
    """An input or output as JSON: nested lists in the array's shape; floats as their exact value
    (the float32 values exactly), NaN as null; integers as integers; strings as strings."""
    a = np.asarray(value)
    if a.ndim > 0:
        return [plain(v) for v in a]
    if a.dtype.kind == "f":
        x = float(a)
        if math.isnan(x):
            return None
        assert math.isfinite(x), f"{x}: JSON has no infinities"
        return x
    if a.dtype.kind in "iu":
        return int(a)
    if a.dtype.kind == "b":
        return bool(a)
    return str(a.item())


def nan_rows(base: np.ndarray) -> np.ndarray:
    """Edge rows: all 0, all 1e4, all -1e3; `base` with NaN in one feature, in three, all NaN."""
    n = len(base)
    one, three = base.copy(), base.copy()
    one[0] = np.nan
    three[[1, n // 2, n - 1]] = np.nan
    return np.array(
        [np.zeros(n), np.full(n, 1e4), np.full(n, -1e3), one, three, np.full(n, np.nan)], dtype=np.float32
    )


def save_fixture(model: onnx.ModelProto, path: Path) -> int:
    data = model.SerializeToString()
    assert len(data) < FIXTURE_LIMIT, f"{path.name}: {len(data):,} bytes"
    path.write_bytes(data)
    return len(data)


def record(entries: list, name: str, model: onnx.ModelProto, kind: str, description: str, inputs: np.ndarray) -> None:
    """Writes trees/<name>.onnx, runs onnxruntime on all `inputs` at once, appends the reference entry."""
    path = TREES / f"{name}.onnx"
    size = save_fixture(model, path)
    sess = tree_session(model)
    feed_name = sess.get_inputs()[0].name
    outputs = sess.run(None, {feed_name: inputs})
    entry = {"file": path.name, "kind": kind, "description": description}
    if kind != "label_encoder":
        entry["n_features"] = int(inputs.shape[1])
    entry["input_type"] = {"f": "float", "i": "int64", "O": "string", "U": "string"}[inputs.dtype.kind]
    entry["inputs"] = plain(inputs)
    entry["outputs"] = {o.name: plain(v) for o, v in zip(sess.get_outputs(), outputs)}
    entry["size"] = size
    entries.append(entry)
    shapes = ", ".join(f"{o.name} {list(np.shape(v))}" for o, v in zip(sess.get_outputs(), outputs))
    log(f"trees/{path.name}: {size:,} bytes, {len(inputs)} rows -> {shapes}")


# ---- scikit-learn models


def sk_export(est, n_features: int, name: str, classifier: bool) -> onnx.ModelProto:
    model = convert_sklearn(
        est,
        initial_types=[("input", FloatTensorType([None, n_features]))],
        options={id(est): {"zipmap": False}} if classifier else None,
        target_opset=TARGET_OPSET,
    )
    model.graph.name = name  # skl2onnx names it with a random UUID: not reproducible
    del model.metadata_props[:]
    # skl2onnx lists the opsets in set order, which varies with Python's string hashing: sort them.
    opsets = sorted(model.opset_import, key=lambda o: o.domain)
    del model.opset_import[:]
    model.opset_import.extend(opsets)
    onnx.checker.check_model(model)
    ml_ops = {n.op_type for n in model.graph.node if n.domain == ML}
    assert ml_ops <= SUPPORTED_ML_OPS, f"{name}: unsupported {ml_ops - SUPPORTED_ML_OPS}"
    return model


def sk_classification(n_features: int, n_classes: int, seed: int, rows: int = 2000, nan_features: int = 0):
    """(X, y, X held-out): make_classification, float32; with `nan_features`, ~10% NaN in that many
    features (spread over the columns), in the training and held-out rows alike."""
    X, y = make_classification(
        n_samples=rows + FIXTURE_HELD_OUT,
        n_features=n_features,
        n_informative=n_features // 2,
        n_redundant=2,
        n_classes=n_classes,
        class_sep=0.8,
        random_state=seed,
    )
    X = X.astype(np.float32)
    if nan_features:
        rng = np.random.default_rng(seed)
        columns = np.linspace(0, n_features - 1, nan_features).astype(int)
        for c in columns:
            X[rng.random(len(X)) < 0.1, c] = np.nan
    return X[:rows], y[:rows], X[rows:]


def sk_regression(n_features: int, seed: int, n_targets: int = 1, rows: int = 2000):
    X, y = make_regression(
        n_samples=rows + FIXTURE_HELD_OUT, n_features=n_features, n_informative=n_features // 2,
        n_targets=n_targets, noise=5.0, random_state=seed,
    )  # fmt: skip
    return X[:rows].astype(np.float32), y[:rows], X[rows:].astype(np.float32)


def sk_inputs(held_out: np.ndarray) -> np.ndarray:
    return np.concatenate([held_out, nan_rows(held_out[0])]).astype(np.float32)


def tree_stats(model: onnx.ModelProto) -> str:
    """'<trees> trees, <leaves> leaves, aggregate ..., post_transform ...' of the model's tree nodes."""
    trees = leaves = 0
    extra = []
    for node in model.graph.node:
        if node.op_type.startswith("TreeEnsemble"):
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            trees += len(set(attrs["nodes_treeids"]))
            leaves += sum(m == b"LEAF" for m in attrs["nodes_modes"])
            for key in ("aggregate_function", "post_transform"):
                if key in attrs and f"{key} {attrs[key].decode()}" not in extra:
                    extra.append(f"{key} {attrs[key].decode()}")
    return ", ".join([f"{trees} trees, {leaves} leaves"] + extra)


def sklearn_fixtures(entries: list) -> None:
    def add(name, est, X, y, Xh, kind, description):
        classifier = kind == "classifier"
        if kind == "isolation_forest":
            est.fit(X)
        else:
            est.fit(X, y)
        model = sk_export(est, X.shape[1], name, classifier)
        record(entries, name, model, kind, f"{description} ({tree_stats(model)})", sk_inputs(Xh))

    X, y, Xh = sk_classification(16, 2, seed=11, rows=4000)
    add("rf", RandomForestClassifier(n_estimators=100, max_depth=10, max_leaf_nodes=64, random_state=0, n_jobs=1),
        X, y, Xh, "classifier", "RandomForestClassifier, 100 trees, max_depth 10, max_leaf_nodes 64, binary, 16 features")
    add("gb-binary", GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0),
        X, y, Xh, "classifier", "GradientBoostingClassifier, 100 trees of depth 3, binary, 16 features")
    X, y, Xh = sk_classification(12, 3, seed=12)
    add("gb-3class", GradientBoostingClassifier(n_estimators=40, max_depth=3, random_state=0),
        X, y, Xh, "classifier", "GradientBoostingClassifier, 40 rounds of depth 3, 3 classes, 12 features")
    X, y, Xh = sk_classification(16, 2, seed=13, rows=4000, nan_features=5)
    add("hgb-nan", HistGradientBoostingClassifier(max_iter=100, max_leaf_nodes=15, random_state=0),
        X, y, Xh, "classifier",
        "HistGradientBoostingClassifier, 100 iterations, max_leaf_nodes 15, binary, 16 features, "
        "~10% NaN in features 0, 3, 7, 11, 15 (training and held-out)")
    X, y, Xh = sk_classification(10, 3, seed=14, rows=3000, nan_features=4)
    add("hgb-nan-3class", HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=15, random_state=0),
        X, y, Xh, "classifier",
        "HistGradientBoostingClassifier, 30 iterations, max_leaf_nodes 15, 3 classes, 10 features, "
        "~10% NaN in features 0, 3, 6, 9 (training and held-out)")
    X, y, Xh = sk_regression(10, seed=15)
    add("gbr", GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=0),
        X, y, Xh, "regressor", "GradientBoostingRegressor, 100 trees of depth 3, 10 features")
    X, y, Xh = sk_classification(16, 2, seed=16, rows=4000)
    add("iforest", IsolationForest(n_estimators=100, max_samples=256, random_state=0),
        X, y, Xh, "isolation_forest",
        "IsolationForest, 100 trees, max_samples 256, contamination auto, 16 features; outputs label "
        "(1 inlier, -1 outlier) and scores (decision_function: negative = outlier)")


def random_fixtures(entries: list) -> None:
    """random-<k>.onnx: scikit-learn ensembles with parameters drawn by a seeded RNG."""
    rng = np.random.default_rng(20261127)
    kinds = [
        "RandomForestClassifier", "ExtraTreesClassifier", "GradientBoostingClassifier",
        "DecisionTreeClassifier", "RandomForestRegressor", "DecisionTreeRegressor",
        "ExtraTreesClassifier", "GradientBoostingClassifier",
    ]  # fmt: skip
    string_labels = ["low", "mid", "high", "extreme", "none"]
    for k, kind in enumerate(kinds):
        depth = int(rng.integers(2, 13))
        n_trees = 1 if kind.startswith("DecisionTree") else int(rng.integers(1, 61))
        n_classes = int(rng.integers(2, 6))
        n_features = int(rng.integers(8, 17))
        n_targets = int(rng.integers(2, 5)) if kind == "DecisionTreeRegressor" else int(rng.integers(1, 4))
        strings = k >= 6
        seed = 100 + k
        classifier = kind.endswith("Classifier")
        if classifier:
            X, y, Xh = sk_classification(n_features, n_classes, seed, rows=1500)
            if strings:
                y = np.array(string_labels[:n_classes], dtype=object)[y]
        else:
            X, y, Xh = sk_regression(n_features, seed, n_targets=n_targets, rows=1500)

        def make(depth, n_trees):
            common = {"max_depth": depth, "random_state": seed}
            if kind == "RandomForestClassifier":
                return RandomForestClassifier(n_estimators=n_trees, min_samples_leaf=2, n_jobs=1, **common)
            if kind == "ExtraTreesClassifier":
                return ExtraTreesClassifier(n_estimators=n_trees, min_samples_leaf=2, n_jobs=1, **common)
            if kind == "GradientBoostingClassifier":
                return GradientBoostingClassifier(n_estimators=n_trees, min_samples_leaf=3, **common)
            if kind == "DecisionTreeClassifier":
                return DecisionTreeClassifier(**common)
            if kind == "RandomForestRegressor":
                return RandomForestRegressor(n_estimators=n_trees, min_samples_leaf=2, n_jobs=1, **common)
            return DecisionTreeRegressor(**common)

        while True:
            est = make(depth, n_trees).fit(X, y)
            model = sk_export(est, n_features, f"random-{k}", classifier)
            size = len(model.SerializeToString())
            if size < FIXTURE_LIMIT:
                break
            log(f"random-{k}: {kind} depth {depth}, {n_trees} trees is {size:,} bytes: fewer trees / less depth")
            if n_trees > 1:
                n_trees = n_trees // 2
            else:
                depth -= 1
        parts = [kind, f"max_depth {depth}"]
        if not kind.startswith("DecisionTree"):
            parts.append(f"{n_trees} estimators")
        if classifier:
            labelled = f" labelled {', '.join(sorted(string_labels[:n_classes]))} (strings)" if strings else ""
            parts.append(f"{n_classes} classes{labelled}")
        else:
            parts.append(f"{y.shape[1] if y.ndim > 1 else 1} targets")
        parts.append(f"{n_features} features")
        description = ", ".join(parts) + f" ({tree_stats(model)})"
        record(entries, f"random-{k}", model, "classifier" if classifier else "regressor", description, sk_inputs(Xh))


# ---- hand-built ("synthetic") ensembles


def L(weights: dict[int, float]) -> tuple:
    """A leaf: {class or target id: weight}."""
    return ("leaf", weights)


def S(mode: str, feature: int, value: float, yes: tuple, no: tuple, missing: bool = False) -> tuple:
    """A split node: `yes` when `x[feature] <mode> value` holds (or x is NaN and `missing`)."""
    return ("split", mode, feature, value, yes, no, missing)


COMPARISONS = {
    "BRANCH_LEQ": lambda x, t: x <= t,
    "BRANCH_LT": lambda x, t: x < t,
    "BRANCH_GTE": lambda x, t: x >= t,
    "BRANCH_GT": lambda x, t: x > t,
    "BRANCH_EQ": lambda x, t: x == t,
    "BRANCH_NEQ": lambda x, t: x != t,
}


def flatten(tree: tuple, tree_id: int, shuffle: np.random.Generator | None = None) -> list[dict]:
    """The nodes of one tree in preorder, ids 0, 1, ...; with `shuffle`, the ids are a permutation
    (the root's too) and the nodes after the root are listed in random order (the root stays first:
    onnxruntime and the ONNX reference implementation both take a tree's first listed node as its root)."""
    nodes: list[dict] = []

    def visit(t: tuple) -> int:
        i = len(nodes)
        nodes.append({})
        if t[0] == "leaf":
            nodes[i] = {"mode": "LEAF", "feature": 0, "value": 0.0, "true": 0, "false": 0, "missing": 0, "weights": t[1]}
        else:
            _, mode, feature, value, yes, no, missing = t
            y, n = visit(yes), visit(no)
            nodes[i] = {"mode": mode, "feature": feature, "value": value, "true": y, "false": n,
                        "missing": int(missing), "weights": {}}  # fmt: skip
        return i

    visit(tree)
    ids = list(range(len(nodes)))
    order = list(range(len(nodes)))
    if shuffle is not None:
        ids = [int(i) + 2 for i in shuffle.permutation(len(nodes))]
        order = [0] + [int(i) + 1 for i in shuffle.permutation(len(nodes) - 1)]
    out = []
    for k in order:
        n = dict(nodes[k], tree=tree_id, id=ids[k])
        if n["mode"] != "LEAF":
            n["true"], n["false"] = ids[n["true"]], ids[n["false"]]
        out.append(n)
    return out



def synthetic_model(graph: onnx.GraphProto) -> onnx.ModelProto:
    """A hand-built fixture model around `graph`: opsets {"": 17, "ai.onnx.ml": 3}, IR version 8."""
    model = onnx.helper.make_model(
        graph,
        opset_imports=[onnx.helper.make_opsetid("", 17), onnx.helper.make_opsetid(ML, 3)],
        producer_name="streams-ml scripts/train_models.py",
    )
    model.ir_version = 8
    return model

def tree_ensemble(
    name: str,
    kind: str,
    trees: list[tuple],
    *,
    n_outputs: int,
    post_transform: str = "NONE",
    base_values: list[float] | None = None,
    aggregate: str = "SUM",
    class_labels: list | None = None,
    shuffle_seed: int | None = None,
    tensors: str | None = None,
    n_features: int = SYNTHETIC_FEATURES,
) -> onnx.ModelProto:
    """A model with one TreeEnsembleClassifier or TreeEnsembleRegressor node named `trees`.
    kind "classifier": outputs label [N] and probabilities [N, n_outputs]; "regressor": variable
    [N, n_outputs]. tensors "double": nodes_values / *_weights / base_values as double tensor
    attributes (onnxruntime takes those with a double input only: the graph casts its float input);
    "float": as float tensor attributes."""
    shuffle = np.random.default_rng(shuffle_seed) if shuffle_seed is not None else None
    nodes = [n for i, t in enumerate(trees) for n in flatten(t, i, shuffle)]
    prefix = "class" if kind == "classifier" else "target"
    weights = [(n["tree"], n["id"], k, w) for n in nodes for k, w in n["weights"].items()]
    attrs = {
        "nodes_treeids": [n["tree"] for n in nodes],
        "nodes_nodeids": [n["id"] for n in nodes],
        "nodes_featureids": [n["feature"] for n in nodes],
        "nodes_modes": [n["mode"] for n in nodes],
        "nodes_truenodeids": [n["true"] for n in nodes],
        "nodes_falsenodeids": [n["false"] for n in nodes],
        f"{prefix}_treeids": [w[0] for w in weights],
        f"{prefix}_nodeids": [w[1] for w in weights],
        f"{prefix}_ids": [w[2] for w in weights],
        "post_transform": post_transform,
    }
    if any(n["missing"] for n in nodes):
        attrs["nodes_missing_value_tracks_true"] = [n["missing"] for n in nodes]
    reals = {"nodes_values": [float(n["value"]) for n in nodes], f"{prefix}_weights": [float(w[3]) for w in weights]}
    if base_values is not None:
        reals["base_values"] = [float(b) for b in base_values]
    for key, values in reals.items():
        if tensors is None:
            attrs[key] = values
        else:
            dtype = np.float64 if tensors == "double" else np.float32
            attrs[f"{key}_as_tensor"] = onnx.numpy_helper.from_array(np.array(values, dtype=dtype), key)
    graph_input = onnx.helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [None, n_features])
    nodes_out = []
    tree_input = "input"
    if tensors == "double":
        nodes_out.append(
            onnx.helper.make_node("Cast", ["input"], ["input_f64"], name="to_double", to=onnx.TensorProto.DOUBLE)
        )
        tree_input = "input_f64"
    if kind == "classifier":
        labels = class_labels if class_labels is not None else list(range(n_outputs))
        if isinstance(labels[0], str):
            attrs["classlabels_strings"] = labels
            label_type = onnx.TensorProto.STRING
        else:
            attrs["classlabels_int64s"] = labels
            label_type = onnx.TensorProto.INT64
        op, outputs = "TreeEnsembleClassifier", [
            onnx.helper.make_tensor_value_info("label", label_type, [None]),
            onnx.helper.make_tensor_value_info("probabilities", onnx.TensorProto.FLOAT, [None, n_outputs]),
        ]
    else:
        attrs["n_targets"] = n_outputs
        attrs["aggregate_function"] = aggregate
        op, outputs = "TreeEnsembleRegressor", [
            onnx.helper.make_tensor_value_info("variable", onnx.TensorProto.FLOAT, [None, n_outputs])
        ]
    nodes_out.append(
        onnx.helper.make_node(op, [tree_input], [o.name for o in outputs], name="trees", domain=ML, **attrs)
    )
    graph = onnx.helper.make_graph(nodes_out, name, [graph_input], outputs)
    return synthetic_model(graph)


def tree_nodes(trees: list[tuple]) -> list[tuple]:
    """(tree index, path, node) of every split node, for coverage."""
    out = []

    def visit(t, i, path):
        if t[0] == "split":
            out.append((i, path, t))
            visit(t[4], i, path + "T")
            visit(t[5], i, path + "F")

    for i, t in enumerate(trees):
        visit(t, i, "")
    return out


def coverage(trees: list[tuple], row: np.ndarray) -> set:
    """What a row exercises: (tree, path, "T"/"F") for every branch it takes, (tree, path, "=") where
    its value equals the threshold, (tree, path, "nan") where it is NaN at a node with missing tracks true."""
    seen = set()
    for i, t in enumerate(trees):
        path = ""
        while t[0] == "split":
            _, mode, feature, value, yes, no, missing = t
            x = float(row[feature])
            if x == value:
                seen.add((i, path, "="))
            if math.isnan(x) and missing:
                seen.add((i, path, "nan"))
            go = (math.isnan(x) and missing) or COMPARISONS[mode](x, value)
            path += "T" if go else "F"
            seen.add((i, path[:-1], path[-1]))
            t = yes if go else no
    return seen


def synthetic_rows(trees: list[tuple], seed: int, n_features: int = SYNTHETIC_FEATURES, extra: int = 12) -> np.ndarray:
    """Rows that take both branches of every split node, hit every threshold exactly and go through
    every missing-tracks-true node with NaN (greedy, from a seeded pool of rows of small integers,
    halves and NaN), then `extra` more rows of the pool, then the edge and NaN rows."""
    rng = np.random.default_rng(seed)
    values = np.array([-1, 0, 1, 2, 3, 0.5, 1.5, 2.5, np.nan], dtype=np.float32)
    p = np.array([1, 3, 3, 3, 3, 1, 1, 1, 1], dtype=float)
    pool = rng.choice(values, size=(3000, n_features), p=p / p.sum())
    wanted = set()
    for i, path, t in tree_nodes(trees):
        wanted |= {(i, path, "T"), (i, path, "F"), (i, path, "=")}
        if t[6]:
            wanted.add((i, path, "nan"))
    covers = [coverage(trees, row) for row in pool]
    chosen = []
    while wanted:
        best = max(range(len(pool)), key=lambda r: len(covers[r] & wanted))
        if not covers[best] & wanted:
            raise AssertionError(f"synthetic rows: cannot cover {sorted(wanted)}")
        chosen.append(best)
        wanted -= covers[best]
    rest = [r for r in range(len(pool)) if r not in chosen][:extra]
    rows = pool[chosen + rest]
    base = np.array([1, 2, 0, 3][:n_features] + [1] * max(0, n_features - 4), dtype=np.float32)
    return np.concatenate([rows, nan_rows(base)]).astype(np.float32)


def mixed_trees(leaf) -> list[tuple]:
    """Three trees over 4 features: every split mode, thresholds at integers (and 1.5) that rows hit
    exactly, missing-tracks-true on some nodes. `leaf()` gives each leaf's weights."""
    return [
        S("BRANCH_LEQ", 0, 1.0,
          S("BRANCH_LT", 1, 2.0,
            S("BRANCH_EQ", 2, 1.0, L(leaf()), L(leaf())),
            S("BRANCH_NEQ", 3, 2.0, L(leaf()), L(leaf()), missing=True)),
          S("BRANCH_GTE", 2, 2.0,
            S("BRANCH_GT", 1, 1.0, L(leaf()), L(leaf()), missing=True),
            S("BRANCH_EQ", 3, 0.0, L(leaf()), L(leaf()), missing=True))),
        S("BRANCH_GT", 3, 1.5,
          S("BRANCH_NEQ", 0, 2.0, L(leaf()), S("BRANCH_LEQ", 1, 0.0, L(leaf()), L(leaf()), missing=True)),
          S("BRANCH_LT", 2, 3.0, L(leaf()), L(leaf()), missing=True)),
        S("BRANCH_GTE", 1, 3.0, L(leaf()), S("BRANCH_LEQ", 0, -1.0, L(leaf()), L(leaf()))),
    ]  # fmt: skip


def leaf_maker(rng: np.random.Generator, n_outputs: int, low: float, high: float, all_outputs: bool = False):
    """Leaf weights for 1..n_outputs of the outputs (all with `all_outputs`), uniform in [low, high),
    rounded to 3 decimals."""

    def leaf() -> dict[int, float]:
        if all_outputs or n_outputs == 1:
            ids = list(range(n_outputs))
        else:
            ids = sorted(int(i) for i in rng.choice(n_outputs, size=int(rng.integers(1, n_outputs + 1)), replace=False))
        return {i: round(float(rng.uniform(low, high)), 3) for i in ids}

    return leaf


def synthetic_fixtures(entries: list) -> None:
    seed = iter(range(1000, 2000))

    def add(name, kind, trees, description, **kw):
        s = next(seed)
        model = tree_ensemble(f"synthetic-{name}", kind, trees, **kw)
        try:
            onnx.checker.check_model(model)
        except onnx.checker.ValidationError as e:
            log(f"synthetic-{name}: the onnx checker objects ({str(e).splitlines()[0]}); kept, onnxruntime runs it")
        try:
            tree_session(model)
        except Exception as e:  # noqa: BLE001 - report and drop
            log(f"synthetic-{name}: DROPPED, onnxruntime refuses it: {str(e).splitlines()[0]}")
            return
        n = kw.get("n_features", SYNTHETIC_FEATURES)
        record(entries, f"synthetic-{name}", model, kind, description, synthetic_rows(trees, s, n))

    def leaves(n_outputs, low=-1.0, high=1.0, all_outputs=False):
        return leaf_maker(np.random.default_rng(next(seed)), n_outputs, low, high, all_outputs)

    modes = "every split mode (LEQ, LT, GTE, GT, EQ, NEQ), missing tracks true on some nodes"
    add("modes-classifier", "classifier", mixed_trees(leaves(3)), f"3 trees, {modes}; 3 classes, leaves voting "
        "for one to three classes, post_transform NONE", n_outputs=3)

    # Regressor aggregates, 1 and 3 targets, with and without base values.
    for aggregate in ["AVERAGE", "MIN", "MAX", "SUM"]:
        for n_targets in [1, 3]:
            for with_base in [False, True]:
                rng = np.random.default_rng(next(seed))
                base = [round(float(b), 3) for b in rng.uniform(-2, 2, n_targets)] if with_base else None
                add(f"regressor-{aggregate.lower()}-{n_targets}t{'-base' if with_base else ''}", "regressor",
                    mixed_trees(leaves(n_targets, -5.0, 5.0)),
                    f"TreeEnsembleRegressor, aggregate_function {aggregate}, {n_targets} target(s), "
                    + (f"base_values {base}" if base else "no base_values")
                    + f", 3 trees, {modes}; leaves carry weights for some targets only",
                    n_outputs=n_targets, aggregate=aggregate, base_values=base)

    # Regressor post transforms.
    posts = [("LOGISTIC", 1), ("LOGISTIC", 3), ("SOFTMAX", 3), ("SOFTMAX_ZERO", 3), ("PROBIT", 1), ("PROBIT", 3)]
    for post, n_targets in posts:
        probit = post == "PROBIT"
        add(f"regressor-{post.lower().replace('_', '-')}-{n_targets}t", "regressor",
            mixed_trees(leaves(n_targets, 0.05, 0.95, all_outputs=True) if probit else leaves(n_targets, -3.0, 3.0)),
            f"TreeEnsembleRegressor, post_transform {post}, {n_targets} target(s), "
            + ("aggregate AVERAGE, every leaf weights every target in (0.05, 0.95)" if probit
               else "aggregate SUM, leaves carry weights for some targets only (others score 0)")
            + f"; 3 trees, {modes}",
            n_outputs=n_targets, post_transform=post, aggregate="AVERAGE" if probit else "SUM")

    # Classifier post transforms, 3 classes.
    for post in ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"]:
        probit = post == "PROBIT"
        base = [0.1, -0.2, 0.3] if post in ("LOGISTIC", "SOFTMAX") else None
        trees = mixed_trees(leaves(3, 0.02, 0.3, all_outputs=True) if probit else leaves(3, -2.0, 2.0))
        add(f"classifier-{post.lower().replace('_', '-')}", "classifier", trees,
            f"TreeEnsembleClassifier, 3 classes, post_transform {post}, "
            + (f"base_values {base}" if base else "no base_values")
            + (", every leaf weights every class in (0.02, 0.3) (sums in (0.06, 0.9))" if probit
               else ", leaves voting for one to three classes")
            + f"; 3 trees, {modes}",
            n_outputs=3, post_transform=post, base_values=base)

    # Binary classifiers whose leaves carry weights for one class only.
    for sign, (low, high) in [("positive", (0.02, 0.33)), ("mixed", (-1.0, 1.0))]:
        for bases in [None, [0.15], [0.25, -0.1]]:
            for post in ["NONE", "LOGISTIC"]:
                trees = mixed_trees(leaf_maker(np.random.default_rng(next(seed)), 1, low, high))
                add(f"binary-{sign}-base{0 if bases is None else len(bases)}-{post.lower()}", "classifier", trees,
                    f"TreeEnsembleClassifier, classlabels_int64s [0, 1], every leaf weights class 0 only, "
                    f"weights {'all positive' if sign == 'positive' else 'of mixed signs'} in [{low}, {high}), "
                    + (f"base_values {bases}" if bases else "no base_values")
                    + f", post_transform {post}; 3 trees, {modes}",
                    n_outputs=2, post_transform=post, base_values=bases)
        trees = mixed_trees(lambda g=leaf_maker(np.random.default_rng(next(seed)), 1, low, high): {1: g()[0]})
        add(f"binary-{sign}-class1", "classifier", trees,
            f"TreeEnsembleClassifier, classlabels_int64s [0, 1], every leaf weights class 1 only, weights "
            f"{'all positive' if sign == 'positive' else 'of mixed signs'} in [{low}, {high}), no base_values, "
            f"post_transform NONE; 3 trees, {modes}",
            n_outputs=2)

    add("classifier-strings", "classifier", mixed_trees(leaves(3)),
        "TreeEnsembleClassifier, classlabels_strings [\"cat\", \"dog\", \"fish\"], post_transform SOFTMAX; "
        f"3 trees, {modes}", n_outputs=3, class_labels=["cat", "dog", "fish"], post_transform="SOFTMAX")

    add("double-tensors-classifier", "classifier", mixed_trees(leaves(3)),
        "TreeEnsembleClassifier with nodes_values_as_tensor, class_weights_as_tensor, base_values_as_tensor "
        "(double tensors), behind a Cast of the float input to double (onnxruntime refuses double tensor "
        "attributes on a float input); 3 classes, base_values [0.5, -0.25, 0.125], post_transform SOFTMAX; "
        f"3 trees, {modes}",
        n_outputs=3, tensors="double", base_values=[0.5, -0.25, 0.125], post_transform="SOFTMAX")
    add("double-tensors-regressor", "regressor", mixed_trees(leaves(2, -5.0, 5.0)),
        "TreeEnsembleRegressor with nodes_values_as_tensor, target_weights_as_tensor, base_values_as_tensor "
        "(double tensors), behind a Cast of the float input to double; 2 targets, base_values [1.5, -0.75], "
        f"aggregate SUM; 3 trees, {modes}",
        n_outputs=2, tensors="double", base_values=[1.5, -0.75])
    add("float-tensors-regressor", "regressor", mixed_trees(leaves(2, -5.0, 5.0)),
        "TreeEnsembleRegressor with nodes_values_as_tensor, target_weights_as_tensor, base_values_as_tensor "
        f"as float tensors on the float input; 2 targets, base_values [1.5, -0.75], aggregate AVERAGE; 3 trees, {modes}",
        n_outputs=2, tensors="float", base_values=[1.5, -0.75], aggregate="AVERAGE")

    add("single-leaf-regressor", "regressor", [L({0: 1.25, 1: -0.5})],
        "TreeEnsembleRegressor, one tree that is a single leaf (weights 1.25, -0.5), 2 targets, base_values [0.25, 0.25]",
        n_outputs=2, base_values=[0.25, 0.25])
    add("single-leaf-classifier", "classifier", [L({0: 0.25, 2: 0.5})] + mixed_trees(leaves(3))[:1],
        "TreeEnsembleClassifier, 3 classes, post_transform SOFTMAX: tree 0 a single leaf voting for classes 0 "
        f"and 2, tree 1 of {modes}", n_outputs=3, post_transform="SOFTMAX")
    add("unordered-ids-classifier", "classifier", mixed_trees(leaves(3)),
        "TreeEnsembleClassifier, 3 classes, post_transform NONE; node ids permuted (not 0..n, the root's "
        f"neither) and every tree's nodes listed in random order after its root; 3 trees, {modes}",
        n_outputs=3, shuffle_seed=7)
    add("unordered-ids-regressor", "regressor", mixed_trees(leaves(2, -5.0, 5.0)),
        "TreeEnsembleRegressor, 2 targets, aggregate SUM; node ids permuted and nodes listed in random "
        f"order after each root; 3 trees, {modes}", n_outputs=2, shuffle_seed=8)


def label_encoder(name: str, in_type: int, out_type: int, **attrs) -> onnx.ModelProto:
    node = onnx.helper.make_node("LabelEncoder", ["input"], ["output"], name="encoder", domain=ML, **attrs)
    graph = onnx.helper.make_graph(
        [node], name,
        [onnx.helper.make_tensor_value_info("input", in_type, [None])],
        [onnx.helper.make_tensor_value_info("output", out_type, [None])],
    )  # fmt: skip
    return synthetic_model(graph)


def label_encoder_fixtures(entries: list) -> None:
    cases = [
        ("synthetic-labelencoder-int-float",
         label_encoder("int-float", onnx.TensorProto.INT64, onnx.TensorProto.FLOAT,
                       keys_int64s=[-1, 0, 3, 7, 1000000], values_floats=[0.5, -1.25, 3.0, 1e6, -0.0], default_float=-7.5),
         "LabelEncoder int64 keys [-1, 0, 3, 7, 1000000] -> float values [0.5, -1.25, 3.0, 1e6, -0.0], default_float -7.5",
         np.array([0, 3, -1, 7, 1000000, 5, -2, 3, 0, 123456789, 7, 2], dtype=np.int64)),
        ("synthetic-labelencoder-string-int",
         label_encoder("string-int", onnx.TensorProto.STRING, onnx.TensorProto.INT64,
                       keys_strings=["low", "mid", "high", ""], values_int64s=[1, 2, 3, 99], default_int64=-1),
         "LabelEncoder string keys [low, mid, high, \"\"] -> int64 values [1, 2, 3, 99], default_int64 -1",
         np.array(["mid", "high", "low", "", "LOW", "medium", "high", "x", "low ", "mid"], dtype=object)),
        ("synthetic-labelencoder-float-string",
         label_encoder("float-string", onnx.TensorProto.FLOAT, onnx.TensorProto.STRING,
                       keys_floats=[-1.5, 0.0, 0.25, 1e4], values_strings=["neg", "zero", "quarter", "big"],
                       default_string="other"),
         "LabelEncoder float keys [-1.5, 0.0, 0.25, 1e4] -> string values [neg, zero, quarter, big], "
         "default_string other; inputs include -0.0 and NaN",
         np.array([0.25, -1.5, 0.0, -0.0, 1e4, 0.5, np.nan, 1e4, 3.0], dtype=np.float32)),
    ]  # fmt: skip
    for name, model, description, inputs in cases:
        onnx.checker.check_model(model)
        try:
            tree_session(model)
        except Exception as e:  # noqa: BLE001 - report and drop
            log(f"{name}: DROPPED, onnxruntime refuses it: {str(e).splitlines()[0]}")
            continue
        record(entries, name, model, "label_encoder", description, inputs)


def malformed_fixtures() -> list[dict]:
    """malformed/*.onnx: small valid models with one attribute broken; the manifest names the node
    and the attribute an error must name."""
    directory = TREES / "malformed"
    directory.mkdir(exist_ok=True)
    tree = [S("BRANCH_LEQ", 0, 1.0, L({0: 0.25, 1: 0.75}), S("BRANCH_GT", 2, 0.5, L({1: 1.0}), L({0: 1.0})))]
    manifest = []

    def attribute(node, name):
        return next(a for a in node.attribute if a.name == name)

    def case(file, kind, attr, what, edit, **kw):
        model = tree_ensemble(file, kind, tree, n_outputs=2, **kw) if kind != "label_encoder" else label_encoder(
            file, onnx.TensorProto.INT64, onnx.TensorProto.FLOAT, keys_int64s=[1, 2, 3], values_floats=[0.5, 1.5, 2.5])
        node = model.graph.node[-1]
        edit(node, attribute(node, attr))
        save_fixture(model, directory / f"{file}.onnx")
        manifest.append({"file": f"{file}.onnx", "node": node.name, "attribute": attr, "what": what})

    def set_strings(i, value):
        def edit(node, a):
            a.strings[i] = value
        return edit

    def set_int(i, value):
        def edit(node, a):
            a.ints[i] = value
        return edit

    def drop_last(kind):
        def edit(node, a):
            del getattr(a, kind)[-1]
        return edit

    def set_s(value):
        def edit(node, a):
            a.s = value
        return edit

    case("unknown-mode", "classifier", "nodes_modes", "nodes_modes[0] is BRANCH_FOO", set_strings(0, b"BRANCH_FOO"))
    case("short-nodes-values", "classifier", "nodes_values",
         "nodes_values has 4 entries, nodes_featureids 5", drop_last("floats"))
    case("short-class-weights", "classifier", "class_weights",
         "class_weights has 3 entries, class_ids 4", drop_last("floats"))
    case("feature-out-of-range", "classifier", "nodes_featureids",
         "nodes_featureids[0] is 40, the input has 4 features", set_int(0, 40))
    case("dangling-true-node", "classifier", "nodes_truenodeids",
         "nodes_truenodeids[0] is 99, tree 0 has nodes 0..4", set_int(0, 99))
    case("class-id-out-of-range", "classifier", "class_ids",
         "class_ids[1] is 5, there are 2 class labels", set_int(1, 5))
    case("unknown-post-transform", "classifier", "post_transform", "post_transform is SQUASH", set_s(b"SQUASH"))
    case("unknown-aggregate", "regressor", "aggregate_function", "aggregate_function is MEDIAN", set_s(b"MEDIAN"))
    case("target-id-out-of-range", "regressor", "target_ids",
         "target_ids[1] is 2, n_targets is 2", set_int(1, 2))
    case("labelencoder-lengths", "label_encoder", "values_floats",
         "keys_int64s has 3 entries, values_floats 2", drop_last("floats"))
    (directory / "manifest.json").write_text(dump_json(manifest) + "\n")
    log(f"wrote {len(manifest)} malformed models and trees/malformed/manifest.json")
    return manifest


def trees_readme(entries: list, manifest: list) -> str:
    lines = [
        "# Tree-ensemble test fixtures",
        "",
        f"Generated by `{TREES_COMMAND}` (`scripts/train_models.py`, function `tree_fixtures`; no cargo",
        "needed, about 15 s; everything seeded, a rerun rewrites the same files). Do not edit by hand.",
        "",
        "ONNX models with the ai.onnx.ml operators streams-ml implements itself (TreeEnsembleClassifier,",
        "TreeEnsembleRegressor, LabelEncoder), opsets {\"\": 17, \"ai.onnx.ml\": 3}, each under 1 MB, and",
        f"`reference.json`: for each model its inputs and every output of onnxruntime {ort.__version__} on them",
        "(1 thread, all rows in one run), in the output's shape; floats exact (float32 values), NaN as null.",
        "",
        "- tree models take `input`, float32 `[N, n_features]`; classifiers output `label` (int64 or string `[N]`)",
        "  and `probabilities` (float32 `[N, classes]`), regressors `variable` (float32 `[N, targets]`), the",
        "  isolation forest `label` (int64 `[N, 1]`, 1 / -1) and `scores` (float32 `[N, 1]`);",
        "- scikit-learn models (exported with skl2onnx, `zipmap` off): 64 held-out rows, then all 0, all 1e4,",
        "  all -1e3, the first held-out row with NaN in one feature, in three, and an all-NaN row;",
        "- `synthetic-*`: built with onnx.helper, 4 features; their rows take both branches of every split, hit",
        "  every threshold exactly and reach every missing-tracks-true node with NaN, then the same edge and NaN",
        "  rows (base row [1, 2, 0, 3]). A tree's root is its first listed node (onnxruntime and the ONNX",
        "  reference implementation alike);",
        "- LabelEncoders (`kind` label_encoder) take a 1-D tensor; `inputs` is that flat list, `output` the result.",
        "",
        "| file | kind | description | size |",
        "|---|---|---|---|",
    ]
    for e in entries:
        lines.append(f"| `{e['file']}` | {e['kind']} | {e['description'].replace('|', '/')} | {e['size']:,} bytes |")
    lines += [
        "",
        "## malformed/",
        "",
        "Small models with one attribute broken (not checked by onnx's checker; onnxruntime need not accept",
        "them); `malformed/manifest.json` names, for each, the node and the attribute an error must name.",
        "",
        "| file | node | attribute | what |",
        "|---|---|---|---|",
    ]
    for m in manifest:
        lines.append(f"| `{m['file']}` | `{m['node']}` | `{m['attribute']}` | {m['what']} |")
    lines += [
        "",
        "## onnxruntime's behaviour, as the reference outputs show it",
        "",
        "Checked against a plain evaluation of the trees (per output: the sum, average, min or max of the",
        "reached leaves' weights, plus base_values):",
        "",
        "- a tree's root is its first listed node; NaN goes to the true branch where",
        "  `nodes_missing_value_tracks_true` is 1, else where the comparison says (false for all modes but",
        "  BRANCH_NEQ, which is true);",
        "- a regressor target that no reached leaf weights is 0: its base value is not added (with any",
        "  aggregate_function; the 3-target `-base` models, `double-tensors-regressor`); MIN / MAX only",
        "  take the trees that weight that target, AVERAGE divides the sum by the number of all trees;",
        "- a regressor with 1 target ignores post_transform LOGISTIC (the raw value comes out), while PROBIT",
        "  applies;",
        "- a classifier adds base_values to every class; its `label` is the argmax over the classes some",
        "  reached leaf weights (an unweighted class's 0 can exceed it: `synthetic-classifier-none`);",
        "- binary classifiers whose leaves weight one class only (like skl2onnx's binary exports), s = sum of",
        "  those weights + base_values[0]: all weights positive, no or one base value: probabilities",
        "  [1 - s, s] (NONE) or [1 - sigmoid(s), sigmoid(s)] (LOGISTIC), label 1 iff s > 0.5; mixed signs:",
        "  [-s, s] or [1 - sigmoid(s), sigmoid(s)], label 1 iff s > 0; two base values: [s, 0] (NONE) or",
        "  [sigmoid(s), 0.5] (LOGISTIC); weights on class 1 only: [0, s].",
        "",
        "Regenerate:", "", "```sh", TREES_COMMAND, "```", "",
        "onnxruntime's speed on rf, gb-binary and iforest (1 thread, batch 1, 64, 1024):",
        "`~/.cache/streams-ml-venv/bin/python scripts/bench_onnxruntime.py --trees`.",
        "",
    ]
    return "\n".join(lines)


def tree_fixtures() -> None:
    """Writes the tree-ensemble test fixtures (models, reference.json, malformed/, README.md)."""
    started = time.monotonic()
    TREES.mkdir(parents=True, exist_ok=True)
    for old in list(TREES.glob("*.onnx")) + list((TREES / "malformed").glob("*.onnx")):
        old.unlink()  # a fixture dropped from the script leaves no stale file
    entries: list[dict] = []
    sklearn_fixtures(entries)
    random_fixtures(entries)
    synthetic_fixtures(entries)
    label_encoder_fixtures(entries)
    manifest = malformed_fixtures()
    reference = {"generated_by": TREES_COMMAND, "onnxruntime": ort.__version__,
                 "models": [{k: v for k, v in e.items() if k != "size"} for e in entries]}  # fmt: skip
    text = dump_json(reference) + "\n"
    json.loads(text)
    (TREES / "reference.json").write_text(text)
    (TREES / "README.md").write_text(trees_readme(entries, manifest))
    total = sum(e["size"] for e in entries)
    log(f"wrote {len(entries)} tree fixtures ({total:,} bytes), trees/reference.json ({len(text):,} bytes) "
        f"and trees/README.md in {time.monotonic() - started:.0f} s")


def examples() -> None:
    started = time.monotonic()
    os.environ.setdefault("CARGO_TARGET_DIR", str(Path.home() / ".cache" / "streams-target"))
    MODELS.mkdir(exist_ok=True)
    log(f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, skl2onnx {skl2onnx.__version__}, "
        f"onnx {onnx.__version__}, onnxruntime {ort.__version__}")
    log("building the generators")
    subprocess.run(
        ["cargo", "build", "--locked", "-q", "-p", "fraud-detector", "-p", "anomaly-detector", "--bins"],
        cwd=ROOT,
        check=True,
    )
    data = {}
    for name, d in DATASETS.items():
        features, X, y = generate(d, "train")
        _, Xh, yh = generate(d, "held_out")
        data[name] = (features, X, y, Xh, yh)
        log(f"{name}: {len(y):,} training rows ({y.mean():.2%} positive), {len(yh):,} held-out ({yh.mean():.2%})")

    specs = [
        ("fraud-mlp", "fraud", "MLPClassifier (32, 16), ReLU; standardisation folded into the first layer",
         lambda X, y: folded_mlp(X, y, (32, 16)), "classifier"),
        ("fraud-forest", "fraud", "RandomForestClassifier, 20 trees, depth <= 6 (TreeEnsembleClassifier)", forest,
         "classifier"),
        ("anomaly-mlp", "anomaly", "MLPClassifier (32, 16), ReLU; standardisation folded into the first layer",
         lambda X, y: folded_mlp(X, y, (32, 16)), "classifier"),
        ("fraud-gbt", "fraud", "GradientBoostingClassifier, 100 trees of depth 3 (TreeEnsembleClassifier)", gbt,
         "classifier"),
        ("fraud-hgb", "fraud", "HistGradientBoostingClassifier, {est.n_iter_} iterations (early stopping), "
         "max_leaf_nodes 31 (TreeEnsembleClassifier)", hgb, "classifier"),
        ("anomaly-iforest", "anomaly", "IsolationForest (variant {est.variant_}: {iforest_params}) on {iforest_fed}, "
         "computed in the graph from the six inputs; trained without labels; outputs `label` (int64 [N, 1]: "
         "1 normal, -1 anomaly) and `scores` (float32 [N, 1]: negative = anomaly) (TreeEnsembleRegressor, "
         "LabelEncoder)", iforest, "isolation_forest"),
    ]  # fmt: skip
    models = []
    reference = {
        "generated_by": "scripts/train-models",
        "onnxruntime_version": ort.__version__,
        "models": [],
    }
    for name, dataset, description, train, kind in specs:
        features, X, y, Xh, yh = data[dataset]
        d = DATASETS[dataset]
        log(f"training {name}")
        t0 = time.monotonic()
        est = train(X, y)
        log(f"{name}: trained in {time.monotonic() - t0:.0f} s")
        if kind == "isolation_forest":
            fitted = est[-1] if isinstance(est, Pipeline) else est
            params = (f"100 trees, max_samples {fitted.max_samples}, max_features {fitted.max_features}, "
                      f"contamination {fitted.contamination} (the training set's anomaly rate)")  # fmt: skip
            fed = next(v[1] for v in IFOREST_VARIANTS if v[0] == est.variant_)
            description = description.format(est=est, iforest_params=params, iforest_fed=fed)
        else:
            description = description.format(est=est)
        path = MODELS / f"{name}.onnx"
        meta = {
            "name": name,
            "version": str(MODEL_VERSION),
            "features": ",".join(features),
            "labels": ",".join(d["labels"]),
            # The generator and its arguments, not the build flags: the same data, whatever the build.
            "trained_on": f"{d['bin']} --rows {d['train']['rows']} --seed {d['train']['seed']}",
        }
        if kind == "isolation_forest":
            # Its scores are one value per row, not one per label: no `labels` (streams-ml would
            # take them as the scores' labels and refuse the model).
            del meta["labels"]
        exported = export(est, len(features), meta, path, kind)
        opsets = {o.domain or "ai.onnx": o.version for o in exported.opset_import}
        sess = session(path)
        inputs = reference_inputs(Xh, yh, len(features))
        entry = {
            "file": path.name,
            "name": name,
            "kind": kind,
            "n_features": len(features),
            "feature_names": features,
            "labels": d["labels"],
        }
        if kind == "classifier":
            label, proba = sess.run(["label", "probabilities"], {"input": Xh})
            sk = est.predict_proba(Xh)[:, 1]
            log(f"{name}: max |onnxruntime - scikit-learn| = {np.abs(proba[:, 1] - sk).max():.2e}")
            m = metrics(yh, proba[:, 1])
            ref_label, ref_proba = sess.run(["label", "probabilities"], {"input": inputs})
            disagree = int((ref_label != np.argmax(ref_proba, axis=1)).sum())
            if disagree:
                log(f"{name}: onnxruntime's label differs from argmax(probabilities) on {disagree} reference rows")
            entry["threshold_best_f1"] = m["at_best_f1"]["threshold"]
            entry["inputs"] = [[float(v) for v in row] for row in inputs]
            entry["probabilities"] = [[float(v) for v in row] for row in ref_proba]
            entry["label_ids"] = [int(i) for i in np.argmax(ref_proba, axis=1)]
        else:
            label, scores = sess.run(["label", "scores"], {"input": Xh})
            sk = est.decision_function(Xh)
            log(f"{name}: max |onnxruntime - scikit-learn| = {np.abs(scores[:, 0] - sk).max():.2e}")
            m = anomaly_metrics(yh, scores[:, 0], label[:, 0])
            ref_label, ref_scores = sess.run(["label", "scores"], {"input": inputs})
            # An anomaly score: -scores; anomaly at the F1-best threshold when -scores >= it.
            entry["threshold_best_f1"] = m["at_best_f1"]["threshold"]
            entry["inputs"] = [[float(v) for v in row] for row in inputs]
            entry["scores"] = [[float(v) for v in row] for row in ref_scores]
            entry["label"] = [[int(v) for v in row] for row in ref_label]
            entry["label_ids"] = [int(v == -1) for v in ref_label[:, 0]]
            # Every variant tried, on the held-out set (scikit-learn's scores), for the README.
            variants = []
            for variant, fed, params, model, train_auc, train_ap in est.variants_:
                anomaly = -model.decision_function(Xh)
                variants.append({
                    "name": variant,
                    "fed": fed,
                    "params": ", ".join(f"{key} {value}" for key, value in params.items()) or "max_samples 256",
                    "train_roc_auc": train_auc,
                    "train_average_precision": train_ap,
                    "roc_auc": float(roc_auc_score(yh, anomaly)),
                    "average_precision": float(average_precision_score(yh, anomaly)),
                    "chosen": variant == est.variant_,
                })
                log(f"{name} variant {variant}: held-out ROC-AUC {variants[-1]['roc_auc']:.4f}, "
                    f"average precision {variants[-1]['average_precision']:.4f}")
        log(f"{name}: {json.dumps(m)}")
        models.append({
            "file": path.name,
            "name": name,
            "kind": kind,
            "dataset": dataset,
            "description": description,
            "feature_names": features,
            "labels": d["labels"],
            "size": path.stat().st_size,
            "opsets": ", ".join(f"{domain} {version}" for domain, version in sorted(opsets.items())),
            "metrics": m,
            **({"variants": variants} if kind == "isolation_forest" else {}),
        })
        reference["models"].append(entry)
    fraud = [m for m in models if m["dataset"] == "fraud"]
    for m in fraud:
        s, a, b = m["metrics"], m["metrics"]["at_0.5"], m["metrics"]["at_best_f1"]
        log(f"fraud candidate {m['name']}: average precision {s['average_precision']:.4f}, ROC-AUC {s['roc_auc']:.4f}; "
            f"at 0.5 precision {a['precision']:.4f} recall {a['recall']:.4f}; at the F1-best threshold "
            f"{b['threshold']:.4g} precision {b['precision']:.4f} recall {b['recall']:.4f}")
    best = max(fraud, key=lambda m: m["metrics"]["average_precision"])
    log(f"best fraud model by average precision: {best['name']} ({best['metrics']['average_precision']:.4f})")
    (MODELS / "reference.json").write_text(dump_json(reference) + "\n")
    (MODELS / "README.md").write_text(readme(models, DATASETS))
    log(f"wrote models/reference.json and models/README.md in {time.monotonic() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        choices=["examples", "trees"],
        help="examples: the example models in models/ (needs cargo); trees: the tree-ensemble test "
        "fixtures in streams-ml/tests/models/trees/ (no cargo). Default: both",
    )
    args = parser.parse_args()
    if args.only in (None, "trees"):
        tree_fixtures()
    if args.only in (None, "examples"):
        examples()


if __name__ == "__main__":
    main()

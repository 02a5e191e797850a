#!/usr/bin/env python3
"""Trains the example models and writes them, with reference outputs and a README, to models/.

Run it through `scripts/train-models` (any Python 3.11+ works: it creates or reuses the virtualenv
of scripts/ml_venv.py and re-runs itself there). Steps:

1. Generates data with the examples' generators (`cargo run -p fraud-detector --bin
   fraud-training-data -- --rows N --seed S`, likewise anomaly-training-data): a training set from
   one seed, a held-out set from another seed (other cards or sensors, other fraud and anomalies).
2. Trains
   - fraud-mlp.onnx: MLPClassifier on standardised fraud features, the scaling folded into the
     first layer (no ai.onnx.ml Scaler node, which tract-onnx lacks);
   - fraud-forest.onnx: RandomForestClassifier, 20 trees of depth <= 6 (no scaling);
   - anomaly-mlp.onnx: MLPClassifier on the anomaly features, scaling folded likewise.
   Exported with skl2onnx: input `input` float32 [None, n_features], outputs `label` (int64) and
   `probabilities` (float32 [N, 2]), no ZipMap, opsets {"": 17, "ai.onnx.ml": 3}, with metadata.
3. Scores the held-out sets with onnxruntime: precision / recall at 0.5 and at the F1-best
   threshold, ROC-AUC, average precision; writes models/README.md.
4. Writes models/reference.json: fixed inputs and onnxruntime's outputs on them, for the Rust side.

Everything is seeded: rerunning gives the same files.
"""

import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, str(Path(__file__).resolve().parent))
import ml_venv  # noqa: E402

ml_venv.ensure_venv(__file__)

import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import sklearn  # noqa: E402
import skl2onnx  # noqa: E402
from skl2onnx import convert_sklearn  # noqa: E402
from skl2onnx.common.data_types import FloatTensorType  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    average_precision_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.neural_network import MLPClassifier  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
MODEL_VERSION = 1

# ai.onnx.ml operators tract-onnx 0.23.9 implements (shared/notes/onnx-models.md); the standard
# domain's ordinary operators are all there.
TRACT_ML_OPS = {
    "TreeEnsembleClassifier",
    "LinearClassifier",
    "LinearRegressor",
    "Normalizer",
    "CategoryMapper",
    "ArrayFeatureExtractor",
}


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


def export(est, n_features: int, meta: dict[str, str], path: Path) -> onnx.ModelProto:
    model = convert_sklearn(
        est,
        initial_types=[("input", FloatTensorType([None, n_features]))],
        options={id(est): {"zipmap": False}},
        target_opset=TARGET_OPSET,
    )
    model.model_version = MODEL_VERSION
    model.graph.name = meta["name"]  # skl2onnx names it with a random UUID: not reproducible
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(model)
    assert [i.name for i in model.graph.input] == ["input"]
    assert [o.name for o in model.graph.output] == ["label", "probabilities"], model.graph.output
    ml_ops = {n.op_type for n in model.graph.node if n.domain == "ai.onnx.ml"}
    assert ml_ops <= TRACT_ML_OPS, f"{path.name}: tract-onnx lacks {ml_ops - TRACT_ML_OPS}"
    ops = sorted({(n.domain or "ai.onnx") + ":" + n.op_type for n in model.graph.node})
    path.write_bytes(model.SerializeToString())
    log(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes): {', '.join(ops)}")
    return model


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
        "Every model takes one input `input`, float32 `[N, n_features]`, the features in the order below,",
        "and has two outputs: `label` (int64 `[N]`) and `probabilities` (float32 `[N, 2]`: the",
        "negative class, then the positive class); no ZipMap. Exported with `target_opset` {\"\": 17, \"ai.onnx.ml\": 3}:",
        "skl2onnx declares the lowest opset versions the nodes need (column `opsets`). Metadata:",
        "`model_version` 1, and `metadata_props` `name`, `version`, `features` (comma-separated),",
        "`labels`, `trained_on` (the generator command of the training set).",
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
            f"| {', '.join(m['labels'])} | {m['opsets']} | {m['size']:,} bytes |"
        )
    lines += [
        "",
        "Use `probabilities` and compute the label yourself (argmax, or a threshold on the positive",
        "class): tract-onnx gets the `label` output of tree ensembles wrong for some rows. The files use",
        "only operators tract-onnx 0.23.9 implements (the script checks the ai.onnx.ml ones against its",
        "list); the forest is slow in tract, which walks every leaf of every tree for each record.",
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
        a, b = s["at_0.5"], s["at_best_f1"]
        lines.append(
            f"| {m['name']} | {s['rows']:,} ({s['positives']:,}) | {fmt(s['roc_auc'])} | {fmt(s['average_precision'])} "
            f"| {fmt(a['precision'])} | {fmt(a['recall'])} | {b['threshold']:.4g} | {fmt(b['precision'])} "
            f"| {fmt(b['recall'])} |"
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
        "runtime in Rust must reproduce (to about 1e-6).",
        "",
        "## Retraining and benchmarking",
        "",
        "```sh",
        "scripts/train-models",
        "~/.cache/streams-ml-venv/bin/python scripts/bench_onnxruntime.py   # onnxruntime records/s, 1 thread",
        "```",
        "",
        "`scripts/train-models` needs Python 3.11+ and Rust; it keeps a virtualenv at",
        "`${STREAMS_ML_VENV:-~/.cache/streams-ml-venv}` (outside the repository) with pinned versions:",
        f"{', '.join(ml_venv.PINNED)}. Everything is seeded, so a rerun rewrites the same files.",
        "`bench_onnxruntime.py` prints `{model: {batch size: records/s}}` as JSON on stdout and a table on",
        "stderr (1 intra-op and 1 inter-op thread, sequential execution; batch sizes 1, 64, 256; median of",
        "5 runs of about 0.4 s each after a warm-up).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
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
         lambda X, y: folded_mlp(X, y, (32, 16))),
        ("fraud-forest", "fraud", "RandomForestClassifier, 20 trees, depth <= 6 (TreeEnsembleClassifier)", forest),
        ("anomaly-mlp", "anomaly", "MLPClassifier (32, 16), ReLU; standardisation folded into the first layer",
         lambda X, y: folded_mlp(X, y, (32, 16))),
    ]  # fmt: skip
    models = []
    reference = {
        "generated_by": "scripts/train-models",
        "onnxruntime_version": ort.__version__,
        "models": [],
    }
    for name, dataset, description, train in specs:
        features, X, y, Xh, yh = data[dataset]
        d = DATASETS[dataset]
        log(f"training {name}")
        est = train(X, y)
        path = MODELS / f"{name}.onnx"
        meta = {
            "name": name,
            "version": str(MODEL_VERSION),
            "features": ",".join(features),
            "labels": ",".join(d["labels"]),
            # The generator and its arguments, not the build flags: the same data, whatever the build.
            "trained_on": f"{d['bin']} --rows {d['train']['rows']} --seed {d['train']['seed']}",
        }
        exported = export(est, len(features), meta, path)
        opsets = {o.domain or "ai.onnx": o.version for o in exported.opset_import}
        sess = session(path)
        label, proba = sess.run(["label", "probabilities"], {"input": Xh})
        sk = est.predict_proba(Xh)[:, 1]
        log(f"{name}: max |onnxruntime - scikit-learn| = {np.abs(proba[:, 1] - sk).max():.2e}")
        m = metrics(yh, proba[:, 1])
        log(f"{name}: {json.dumps(m)}")
        inputs = reference_inputs(Xh, yh, len(features))
        ref_label, ref_proba = sess.run(["label", "probabilities"], {"input": inputs})
        disagree = int((ref_label != np.argmax(ref_proba, axis=1)).sum())
        if disagree:
            log(f"{name}: onnxruntime's label differs from argmax(probabilities) on {disagree} reference rows")
        models.append({
            "file": path.name,
            "name": name,
            "description": description,
            "feature_names": features,
            "labels": d["labels"],
            "size": path.stat().st_size,
            "opsets": ", ".join(f"{domain} {version}" for domain, version in sorted(opsets.items())),
            "metrics": m,
        })
        reference["models"].append({
            "file": path.name,
            "name": name,
            "n_features": len(features),
            "feature_names": features,
            "labels": d["labels"],
            "threshold_best_f1": m["at_best_f1"]["threshold"],
            "inputs": [[float(v) for v in row] for row in inputs],
            "probabilities": [[float(v) for v in row] for row in ref_proba],
            "label_ids": [int(i) for i in np.argmax(ref_proba, axis=1)],
        })
    (MODELS / "reference.json").write_text(dump_json(reference) + "\n")
    (MODELS / "README.md").write_text(readme(models, DATASETS))
    log(f"wrote models/reference.json and models/README.md in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()

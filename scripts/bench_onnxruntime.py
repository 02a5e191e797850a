#!/usr/bin/env python3
"""onnxruntime throughput of the models in models/reference.json, for comparison with tract.

    ~/.cache/streams-ml-venv/bin/python scripts/bench_onnxruntime.py [--seconds 2] [--runs 5] [--trees]

(any Python 3.11+ works too: it re-runs itself in the virtualenv of scripts/ml_venv.py). For each
model and batch size (1, 64, 256) it builds the batch by tiling the model's reference `inputs` rows,
runs a warm-up, then `--runs` timed runs of about `--seconds / --runs` each, and reports the median
records/s. onnxruntime runs with 1 intra-op and 1 inter-op thread, sequential execution, all graph
optimisations, and computes the `probabilities` output only: what streams-ml asks tract for (labels
are taken from the probabilities); for an isolation forest (`kind` isolation_forest), `scores`.

Prints `{"<model>": {"1": rps, "64": rps, "256": rps}, ...}` on stdout, a table on stderr.

With `--trees`, instead: the tree-ensemble test fixtures rf, gb-binary and iforest of
streams-ml/tests/models/trees/ (their reference.json), at batch sizes 1, 64 and 1024, each batch
tiled from the model's reference rows that have no NaN; output `probabilities` for the classifiers,
`scores` for the isolation forest. Same JSON shape: `{"rf": {"1": rps, "64": rps, "1024": rps}, ...}`.
"""

import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, str(Path(__file__).resolve().parent))
import ml_venv  # noqa: E402

ml_venv.ensure_venv(__file__)

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BATCH_SIZES = [1, 64, 256]
OUTPUTS = ["probabilities"]
TREES_REFERENCE = ROOT / "streams-ml" / "tests" / "models" / "trees" / "reference.json"
TREES_MODELS = ["rf", "gb-binary", "iforest"]
TREES_BATCH_SIZES = [1, 64, 1024]


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def timed_run(sess: ort.InferenceSession, feed: dict, batch: int, seconds: float, outputs: list[str] = OUTPUTS) -> float:
    """Runs the batch repeatedly for about `seconds`; returns records/s."""
    run = sess.run
    calls = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        # Check the clock every few calls only: at batch 1 a call is a few microseconds.
        for _ in range(16):
            run(outputs, feed)
        calls += 16
        now = time.perf_counter()
        if now >= deadline:
            return calls * batch / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, default=ROOT / "models" / "reference.json")
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per model and batch size")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per cell (the median is reported)")
    parser.add_argument(
        "--trees",
        action="store_true",
        help=f"benchmark the tree fixtures {', '.join(TREES_MODELS)} of {TREES_REFERENCE.relative_to(ROOT)} instead",
    )
    args = parser.parse_args()

    # (name, model file, rows, output) of each model to run.
    cases: list[tuple[str, Path, np.ndarray, list[str]]] = []
    if args.trees:
        batch_sizes = TREES_BATCH_SIZES
        reference = json.loads(TREES_REFERENCE.read_text())
        by_file = {m["file"]: m for m in reference["models"]}
        for name in TREES_MODELS:
            model = by_file[f"{name}.onnx"]
            rows = np.array([row for row in model["inputs"] if None not in row], dtype=np.float32)
            output = "scores" if model["kind"] == "isolation_forest" else "probabilities"
            cases.append((name, TREES_REFERENCE.parent / model["file"], rows, [output]))
    else:
        batch_sizes = BATCH_SIZES
        reference = json.loads(args.reference.read_text())
        for model in reference["models"]:
            rows = np.asarray(model["inputs"], dtype=np.float32)
            outputs = ["scores"] if model.get("kind") == "isolation_forest" else OUTPUTS
            cases.append((model["name"], args.reference.parent / model["file"], rows, outputs))
    results: dict[str, dict[str, float]] = {}
    for name, path, rows, outputs in cases:
        sess = session(path)
        results[name] = {}
        for batch in batch_sizes:
            tiled = np.tile(rows, (batch // len(rows) + 1, 1))[:batch]
            feed = {"input": np.ascontiguousarray(tiled)}
            timed_run(sess, feed, batch, min(0.5, args.seconds / 4), outputs)  # warm-up
            rates = [timed_run(sess, feed, batch, args.seconds / args.runs, outputs) for _ in range(args.runs)]
            results[name][str(batch)] = round(statistics.median(rates))
            print(
                f"bench: {name} batch {batch}: {statistics.median(rates):,.0f} records/s "
                f"(runs {min(rates):,.0f}..{max(rates):,.0f})",
                file=sys.stderr,
                flush=True,
            )

    width = max(len(name) for name in results)
    header = f"{'model':<{width}}" + "".join(f"{f'batch {b}':>14}" for b in batch_sizes)
    lines = [
        f"onnxruntime {ort.__version__}, records/s, 1 thread (median of {args.runs} runs):",
        header,
        "-" * len(header),
    ]
    for name, by_batch in results.items():
        lines.append(f"{name:<{width}}" + "".join(f"{by_batch[str(b)]:>14,}" for b in batch_sizes))
    print("\n".join(lines), file=sys.stderr)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

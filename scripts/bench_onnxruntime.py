#!/usr/bin/env python3
"""onnxruntime throughput of the models in models/reference.json, for comparison with tract.

    ~/.cache/streams-ml-venv/bin/python scripts/bench_onnxruntime.py [--seconds 2] [--runs 5]

(any Python 3.11+ works too: it re-runs itself in the virtualenv of scripts/ml_venv.py). For each
model and batch size (1, 64, 256) it builds the batch by tiling the model's reference `inputs` rows,
runs a warm-up, then `--runs` timed runs of about `--seconds / --runs` each, and reports the median
records/s. onnxruntime runs with 1 intra-op and 1 inter-op thread, sequential execution, all graph
optimisations, and computes the `probabilities` output only: what streams-ml asks tract for (labels
are taken from the probabilities).

Prints `{"<model>": {"1": rps, "64": rps, "256": rps}, ...}` on stdout, a table on stderr.
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


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def timed_run(sess: ort.InferenceSession, feed: dict, batch: int, seconds: float) -> float:
    """Runs the batch repeatedly for about `seconds`; returns records/s."""
    run = sess.run
    calls = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        # Check the clock every few calls only: at batch 1 a call is a few microseconds.
        for _ in range(16):
            run(OUTPUTS, feed)
        calls += 16
        now = time.perf_counter()
        if now >= deadline:
            return calls * batch / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, default=ROOT / "models" / "reference.json")
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per model and batch size")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per cell (the median is reported)")
    args = parser.parse_args()

    reference = json.loads(args.reference.read_text())
    results: dict[str, dict[str, float]] = {}
    for model in reference["models"]:
        sess = session(args.reference.parent / model["file"])
        rows = np.asarray(model["inputs"], dtype=np.float32)
        results[model["name"]] = {}
        for batch in BATCH_SIZES:
            tiled = np.tile(rows, (batch // len(rows) + 1, 1))[:batch]
            feed = {"input": np.ascontiguousarray(tiled)}
            timed_run(sess, feed, batch, min(0.5, args.seconds / 4))  # warm-up
            rates = [timed_run(sess, feed, batch, args.seconds / args.runs) for _ in range(args.runs)]
            results[model["name"]][str(batch)] = round(statistics.median(rates))
            print(
                f"bench: {model['name']} batch {batch}: {statistics.median(rates):,.0f} records/s "
                f"(runs {min(rates):,.0f}..{max(rates):,.0f})",
                file=sys.stderr,
                flush=True,
            )

    width = max(len(name) for name in results)
    header = f"{'model':<{width}}" + "".join(f"{f'batch {b}':>14}" for b in BATCH_SIZES)
    lines = [
        f"onnxruntime {ort.__version__}, records/s, 1 thread (median of {args.runs} runs):",
        header,
        "-" * len(header),
    ]
    for name, by_batch in results.items():
        lines.append(f"{name:<{width}}" + "".join(f"{by_batch[str(b)]:>14,}" for b in BATCH_SIZES))
    print("\n".join(lines), file=sys.stderr)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Tables of scripts/bench-ml: tract (criterion medians) against onnxruntime, and, with docs=1, the
tree-ensemble section of docs/benchmarks.md and its chart docs/img/tree-ensembles.svg.

    python3 scripts/bench_ml_report.py <criterion dir> <onnxruntime json> <onnxruntime trees json> <docs 0|1>

Standard library only (run by the system Python).
"""

import datetime
import json
import os
import sys
from pathlib import Path

sys.dont_write_bytecode = True

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
CHART = ROOT / "docs" / "img" / "tree-ensembles.svg"


TREES = [
    ("rf", "random forest, 100 trees, depth ≤ 10 (`rf.onnx`)"),
    ("gb-binary", "gradient boosting, binary, 100 trees (`gb-binary.onnx`)"),
    ("iforest", "isolation forest, 100 trees (`iforest.onnx`)"),
]
TREE_BATCHES = [1, 64, 1024]
MODELS = [
    ("fraud-mlp", "fraud-mlp (8 → 32 → 16 → 2, ReLU)"),
    ("fraud-forest", "fraud-forest (20 trees, depth ≤ 6)"),
]


def rewrite_section(text: str, name: str, lines: list[str]) -> str:
    """`text` with what lies between `<!-- bench-ml:<name>:begin -->` and its end marker replaced."""
    begin, end = f"<!-- bench-ml:{name}:begin -->", f"<!-- bench-ml:{name}:end -->"
    if begin not in text or end not in text:
        sys.exit(f"bench-ml: {DOCS} has no {begin} … {end} section to rewrite")
    before, rest = text.split(begin, 1)
    _, after = rest.split(end, 1)
    return before + "\n".join([begin, *lines, end]) + after


def tract_rps(criterion: Path, group: str, batch: int) -> float:
    estimates = criterion / group / f"batch_{batch}" / "new" / "estimates.json"
    median_ns = json.loads(estimates.read_text())["median"]["point_estimate"]
    return batch / (median_ns * 1e-9)


def ratio_text(ratio: float) -> str:
    return f"{ratio:.2f}×" if ratio >= 0.1 else f"{ratio:.4f}×"


def chart(rows: list[tuple[str, int, float]]) -> str:
    """A bar chart (SVG) of tract / onnxruntime per model and batch, with the 1× line."""
    width, height, left, top, bottom = 640, 300, 60, 30, 60
    plot_h = height - top - bottom
    top_ratio = max(2.0, max(r for _, _, r in rows) * 1.1)
    bar_w = 36
    group_gap = 40
    colors = {1: "#4e79a7", 64: "#f28e2b", 1024: "#59a14f"}
    y = lambda r: top + plot_h * (1 - r / top_ratio)  # noqa: E731
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="14">tract (streams-ml) / onnxruntime, records/s, 1 thread</text>',
    ]
    for tick in range(0, int(top_ratio) + 1):
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick}×</text>')
    parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y(1):.1f}" y2="{y(1):.1f}" stroke="#c00" stroke-dasharray="4 3"/>')
    x = left + 20
    for model, _ in TREES:
        start = x
        for batch in TREE_BATCHES:
            r = next(r for m, b, r in rows if m == model and b == batch)
            parts.append(
                f'<rect x="{x}" y="{y(r):.1f}" width="{bar_w}" height="{y(0) - y(r):.1f}" fill="{colors[batch]}"/>'
            )
            parts.append(f'<text x="{x + bar_w / 2}" y="{y(r) - 4:.1f}" text-anchor="middle">{r:.2f}</text>')
            x += bar_w + 4
        parts.append(f'<text x="{(start + x - 4) / 2}" y="{height - bottom + 18}" text-anchor="middle">{model}</text>')
        x += group_gap
    lx = left + 20
    for batch, color in colors.items():
        parts.append(f'<rect x="{lx}" y="{height - 22}" width="12" height="12" fill="{color}"/>')
        parts.append(f'<text x="{lx + 16}" y="{height - 12}">batch {batch}</text>')
        lx += 100
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> None:
    criterion, ort_path, trees_path, docs = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4] == "1"
    ort = json.loads(ort_path.read_text())
    print("\nrecords/s, 1 thread, same inputs (criterion median / onnxruntime median of 5 runs)")
    print(f"{'model':<14}{'batch':>6}{'tract':>14}{'onnxruntime':>14}{'tract/ort':>11}")
    models_table = [
        "| model | batch | tract | onnxruntime | tract / onnxruntime |",
        "|---|---|---|---|---|",
    ]
    for model, description in MODELS:
        for i, batch in enumerate((1, 64, 256)):
            tract = tract_rps(criterion, f"tract_{model}", batch)
            other = ort[model][str(batch)]
            print(f"{model:<14}{batch:>6}{tract:>14,.0f}{other:>14,.0f}{ratio_text(tract / other):>11}")
            models_table.append(
                f"| {description if i == 0 else ''} | {batch} | {tract:,.0f} | {other:,.0f} | {ratio_text(tract / other)} |"
            )
    operator = criterion / "score_operator_20k" / "fraud_mlp_batch_64" / "new" / "estimates.json"
    if operator.exists():
        median_ns = json.loads(operator.read_text())["median"]["point_estimate"]
        rps = 20_000 / (median_ns * 1e-9)
        print(f"\nscoring operator under the test driver, fraud-mlp, batches of 64: {rps:,.0f} records/s")
        models_table += [
            "",
            "The scoring operator end to end under the test driver (`score_operator_20k`, same run), the MLP in "
            f"batches of 64: **{rps:,.0f} records/s**.",
        ]

    trees = json.loads(trees_path.read_text())
    rows = []
    table = [
        "| model | batch | tract (streams-ml) | onnxruntime | tract / onnxruntime |",
        "|---|---|---|---|---|",
    ]
    print("\ntree ensembles, records/s, 1 thread, same inputs")
    print(f"{'model':<14}{'batch':>6}{'tract':>14}{'onnxruntime':>14}{'tract/ort':>11}")
    for model, description in TREES:
        for i, batch in enumerate(TREE_BATCHES):
            tract = tract_rps(criterion, f"tract_trees_{model}", batch)
            other = trees[model][str(batch)]
            ratio = tract / other
            rows.append((model, batch, ratio))
            print(f"{model:<14}{batch:>6}{tract:>14,.0f}{other:>14,.0f}{ratio_text(ratio):>11}")
            table.append(
                f"| {description if i == 0 else ''} | {batch} | {tract:,.0f} | {other:,.0f} | {ratio_text(ratio)} |"
            )
    if not docs:
        return
    host = os.uname()
    cores = os.cpu_count()
    run = (
        f"Run of {datetime.date.today().isoformat()} on {host.sysname} {host.machine}, {cores} cores "
        "(`scripts/bench-ml --docs`, which wrote this table), records/s:"
    )
    text = DOCS.read_text()
    text = rewrite_section(text, "models", [run, "", *models_table])
    text = rewrite_section(
        text,
        "trees",
        [run, "", *table, "", "![tract / onnxruntime per model and batch size](img/tree-ensembles.svg)"],
    )
    DOCS.write_text(text)
    CHART.write_text(chart(rows))
    print(f"\nwrote {DOCS.relative_to(ROOT)} and {CHART.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

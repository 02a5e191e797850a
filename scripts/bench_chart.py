#!/usr/bin/env python3
"""Draws the results of scripts/bench, ours beside Kafka Streams, as a PNG bar chart for the docs.

    python3 scripts/bench_chart.py RESULTS.json OUT.png

Three panels share the cases (in the order of the file): throughput with the ratio ours ÷ Kafka
Streams beside each pair that has both, p99 latency with p50 as a lighter inner bar, and peak RSS.
A metric that is null shows as "n/a"; a case without `kafka_streams` shows our bar alone.

Any Python 3.11+ runs it: it re-runs itself in its own virtualenv, at
${STREAMS_BENCH_VENV:-$HOME/.cache/streams-bench-venv}, made by scripts/ml_venv.py with the pins
below (matplotlib and what `pip freeze` gave with it). The output is the same bytes for the same
input and pins: Agg backend, matplotlib's bundled DejaVu fonts only, no version or date in the PNG.
"""

import argparse
import json
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, str(Path(__file__).resolve().parent))
import ml_venv  # noqa: E402

PINNED = [
    "matplotlib==3.11.2",
    "contourpy==1.3.3",
    "cycler==0.12.1",
    "fonttools==4.68.0",
    "kiwisolver==1.5.1",
    "numpy==2.4.6",
    "packaging==26.4",
    "pillow==13.0.0",
    "pyparsing==3.3.3",
    "python-dateutil==4.0.0",
    "tzdata==2026.6",
]

OURS, THEIRS = "#0072B2", "#E69F00"  # Okabe-Ito blue and orange: told apart by colour-blind readers
WIDTH_IN, DPI = 14, 100  # 1400 px wide; the height grows with the number of cases


def compact(value: float) -> str:
    """650000 → "650k", 1234567 → "1.23M", 0.3 → "0.3"."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale * 0.9995:  # 999.6 is "1k", not "1e+03"
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def metric(side: dict | None, name: str) -> float | None:
    return None if side is None else side.get(name)


def lighter(colour: str) -> tuple[float, float, float]:
    """`colour` mixed half and half with white."""
    rgb = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    return tuple(0.5 + c / 2 for c in rgb)


def panel(ax, cases: list[dict], name: str, title: str, inner: str | None = None, ratio: bool = False):
    """Horizontal bars of `name` for each case, ours above Kafka Streams; `inner`: a second metric
    drawn as a thinner, lighter bar inside the first; `ratio`: ours ÷ theirs at the right edge."""
    import matplotlib.transforms as transforms

    values = [v for c in cases for side in (c.get("ours"), c.get("kafka_streams")) if (v := metric(side, name))]
    top = max(values, default=1.0)
    beside = transforms.blended_transform_factory(ax.transAxes, ax.transData)
    ratios = 0
    for y, case in enumerate(cases):
        sides = [(case.get("ours"), OURS)]
        if case.get("kafka_streams") is not None:
            sides.append((case["kafka_streams"], THEIRS))
        offsets = [0.0] if len(sides) == 1 else [-0.2, 0.2]
        for (side, colour), dy in zip(sides, offsets):
            value = metric(side, name)
            if value is None:
                ax.text(top * 0.01, y + dy, "n/a", va="center", fontsize=8, color="0.45")
                continue
            ax.barh(y + dy, value, height=0.38, color=colour)
            if inner and (low := metric(side, inner)) is not None:
                ax.barh(y + dy, low, height=0.18, color=lighter(colour))
            ax.text(value + top * 0.01, y + dy, compact(value), va="center", fontsize=8)
        ours, theirs = metric(case.get("ours"), name), metric(case.get("kafka_streams"), name)
        if ratio and ours and theirs:
            r, ratios = ours / theirs, ratios + 1
            label = f"{r:.1f}×" if r < 10 else f"{r:.0f}×"
            ax.text(0.98, y, label, transform=beside, ha="right", va="center", fontsize=10, weight="bold")
    if ratios:
        ax.text(0.98, 1.0, "speed-up", transform=ax.transAxes, ha="right", va="bottom", fontsize=8, color="0.45")
    ax.set_xlim(0, top * (1.45 if ratio else 1.18))
    ax.set_title(title, fontsize=10, loc="left")
    ax.xaxis.set_major_formatter(lambda x, _pos: compact(x))
    ax.tick_params(labelsize=8)
    ax.grid(axis="x", color="0.9")
    ax.set_axisbelow(True)
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)


def subtitle(results: dict) -> str:
    w = results.get("workload") or {}
    parts = []
    for key, text in (("records", "{:,} records"), ("keys", "{:,} keys"), ("value_bytes", "{}-byte values"),
                      ("partitions", "{} partitions")):
        if w.get(key) is not None:
            parts.append(text.format(w[key]))
    if results.get("command"):
        parts.append(results["command"])
    return " · ".join(parts)


def draw(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.font_manager as font_manager
    import matplotlib.pyplot as plt
    from matplotlib.legend_handler import HandlerTuple
    from matplotlib.patches import Patch

    # Only the fonts that come with matplotlib, so that the system's fonts cannot change the pixels.
    bundled = str(Path(matplotlib.get_data_path()).resolve())
    font_manager.fontManager.ttflist = [f for f in font_manager.fontManager.ttflist if f.fname.startswith(bundled)]
    plt.style.use("default")
    plt.rcParams.update({"font.family": "DejaVu Sans", "text.parse_math": False})

    cases = results["cases"]
    unit = cases[0].get("unit") or "records/s"
    fig, axes = plt.subplots(1, 3, sharey=True, figsize=(WIDTH_IN, 1.9 + 0.62 * len(cases)), dpi=DPI)
    panel(axes[0], cases, "throughput", f"Throughput, {unit} (higher is better)", ratio=True)
    panel(axes[1], cases, "p99_ms", "Latency p99, ms; p50 inner bar (lower is better)", inner="p50_ms")
    panel(axes[2], cases, "rss_mb", "Peak RSS, MB (lower is better)")
    axes[0].set_yticks(range(len(cases)), [c["case"] for c in cases], fontsize=9)
    axes[0].set_ylim(len(cases) - 0.5, -0.5)  # the first case at the top
    title = ": ".join(filter(None, [results.get("date"), results.get("machine")]))
    fig.suptitle("streams vs Kafka Streams" + (f", {title}" if title else ""), x=0.01, ha="left", fontsize=12,
                 weight="bold")
    fig.text(0.01, 1 - 0.42 / fig.get_figheight(), subtitle(results), fontsize=9, color="0.3")
    p50 = (Patch(color=lighter(OURS)), Patch(color=lighter(THEIRS)))
    fig.legend([Patch(color=OURS), Patch(color=THEIRS), p50], ["streams (ours)", "Kafka Streams", "p50"],
               handler_map={tuple: HandlerTuple(ndivide=None)}, loc="upper right", ncol=3, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.2 / fig.get_figheight()))
    fig.savefig(out, dpi=DPI, metadata={"Software": None})
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="The virtualenv is made (about 10 s, once) on the first run.")
    parser.add_argument("results", type=Path, help="the JSON that scripts/bench writes")
    parser.add_argument("out", type=Path, help="the PNG to write")
    args = parser.parse_args()  # before the venv, so that --help needs none
    ml_venv.ensure_venv(__file__, PINNED, ml_venv.venv_dir("STREAMS_BENCH_VENV", "streams-bench-venv"))
    try:
        results = json.loads(args.results.read_text())
    except (OSError, ValueError) as e:
        sys.exit(f"bench-chart: cannot read {args.results}: {e}")
    if not results.get("cases"):
        sys.exit(f"bench-chart: {args.results} has no cases")
    draw(results, args.out)


if __name__ == "__main__":
    main()

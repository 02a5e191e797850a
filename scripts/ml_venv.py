"""The Python environment of the model scripts (train_models.py, bench_onnxruntime.py).

A virtualenv outside the repository, at ${STREAMS_ML_VENV:-$HOME/.cache/streams-ml-venv}, with
the pinned versions below: the ones whose ONNX exports tract-onnx 0.23.9 was checked against
(protobuf must stay below 7: with 7, skl2onnx's exports of some models fail). Standard library
only: it runs before the venv exists.

`ensure_venv` also takes other pins and another venv: bench_chart.py keeps its own small one
(matplotlib only), so that the chart does not depend on the model pins nor they on it.
"""

import os
import subprocess
import sys
from pathlib import Path

PINNED = [
    "numpy==2.4.6",
    "scikit-learn==1.9.1",
    "skl2onnx==1.20.0",
    "onnx==1.23.2",
    "onnxruntime==1.32.0",
    "protobuf==6.33.6",
]

# Written into the venv once the pins are installed, so later runs skip pip.
STAMP = ".streams-ml-pins"


def venv_dir(env_var: str = "STREAMS_ML_VENV", name: str = "streams-ml-venv") -> Path:
    """$`env_var` if set, else ~/.cache/`name`."""
    return Path(os.environ.get(env_var) or Path.home() / ".cache" / name)


def _log(message: str) -> None:
    print(f"ml-venv: {message}", file=sys.stderr, flush=True)


def ensure_venv(script: str, pins: "list[str]" = PINNED, venv: "Path | None" = None) -> None:
    """Makes sure the venv (`venv_dir()` unless given) exists with `pins` installed, then re-runs
    `script` (with the same arguments) under its Python unless this process already is that Python."""
    venv = venv or venv_dir()
    python = venv / "bin" / "python"
    if not python.exists():
        if sys.version_info < (3, 11):
            sys.exit(f"ml-venv: Python 3.11 or newer is needed to create {venv} (this is {sys.version.split()[0]})")
        _log(f"creating {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    stamp = venv / STAMP
    wanted = "\n".join(pins) + "\n"
    if not stamp.exists() or stamp.read_text() != wanted:
        _log(f"installing {' '.join(pins)}")
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *pins], check=True)
        stamp.write_text(wanted)
    if Path(sys.prefix).resolve() != venv.resolve():
        os.execv(str(python), [str(python), script, *sys.argv[1:]])

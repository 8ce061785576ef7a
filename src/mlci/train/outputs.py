"""The output contract: what the training command leaves in its output directory.

- `metrics.json` (required): a JSON object of metric name -> finite number;
- `params.json` (optional): a JSON object of parameter name -> value (scalars as text,
  anything else as compact JSON);
- `predictions.csv` (optional): per-example predictions, for the gate;
- `model/` (optional): an MLflow model, or any files;
- anything else is kept too and logged under `outputs/`.

mlci logs all of it into the MLflow run it created, so the image needs no MLflow.
A missing or malformed `metrics.json` fails the run: nothing is logged as if it succeeded.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.errors import CheckFailed

METRICS_FILE = "metrics.json"
PARAMS_FILE = "params.json"
PREDICTIONS_FILE = "predictions.csv"
MODEL_DIR = "model"
_NAME = re.compile(r"^[A-Za-z0-9_\-. /:]{1,250}$")
MAX_PARAM_VALUE = 6000


class OutputError(CheckFailed):
    """The training command ran but its outputs break the contract (the run is FAILED)."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


@dataclass
class Outputs:
    directory: Path
    metrics: dict[str, float]
    params: dict[str, str]
    # artifact path (POSIX, as logged in the run) -> sha256:<hex>, for every output file
    digests: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """What the lineage record says of the outputs."""
        return {"metrics": self.metrics, "params": self.params, "model": self.has_model,
                "predictions": self.has_predictions}

    @property
    def has_model(self) -> bool:
        return (self.directory / MODEL_DIR).is_dir()

    @property
    def has_predictions(self) -> bool:
        return (self.directory / PREDICTIONS_FILE).is_file()


def artifact_path(relative: str) -> str:
    """Where an output file is logged in the run: contract files as themselves, the rest
    under `outputs/`."""
    top = relative.split("/", 1)[0]
    if top in (MODEL_DIR, METRICS_FILE, PARAMS_FILE, PREDICTIONS_FILE):
        return relative
    return "outputs/" + relative


def _load_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise OutputError("not UTF-8 text", file=path.name) from None
    except OSError as error:
        raise OutputError(f"cannot read: {error.strerror}", file=path.name) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise OutputError(f"not valid JSON: {error.msg}", file=path.name,
                          line=error.lineno) from None


def read_metrics(directory: Path) -> dict[str, float]:
    path = directory / METRICS_FILE
    if not path.is_file():
        raise OutputError(f"the training command wrote no {METRICS_FILE} to its output directory "
                          "(MLCI_OUTPUT_DIR, /outputs in the container); the contract requires "
                          '{"metric name": number, ...}', file=METRICS_FILE)
    data = _load_json(path)
    if not isinstance(data, dict):
        raise OutputError(f"expected a JSON object of metric name -> number, got "
                          f"{type(data).__name__}", file=METRICS_FILE)
    if not data:
        raise OutputError("no metrics: expected at least one metric name -> number",
                          file=METRICS_FILE)
    metrics: dict[str, float] = {}
    for name, value in data.items():
        if not _NAME.match(name):
            raise OutputError("metric names may hold letters, digits, _ - . / : and spaces "
                              "(at most 250)", file=METRICS_FILE, key=repr(name))
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise OutputError(f"expected a number, got {json.dumps(value)[:80]}",
                              file=METRICS_FILE, key=name)
        if not math.isfinite(value):
            raise OutputError(f"expected a finite number, got {value}", file=METRICS_FILE,
                              key=name)
        metrics[name] = float(value)
    return metrics


def read_params(directory: Path) -> dict[str, str]:
    path = directory / PARAMS_FILE
    if not path.is_file():
        return {}
    data = _load_json(path)
    if not isinstance(data, dict):
        raise OutputError(f"expected a JSON object of parameter name -> value, got "
                          f"{type(data).__name__}", file=PARAMS_FILE)
    params: dict[str, str] = {}
    for name, value in data.items():
        if not _NAME.match(name):
            raise OutputError("parameter names may hold letters, digits, _ - . / : and spaces",
                              file=PARAMS_FILE, key=repr(name))
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        if len(text) > MAX_PARAM_VALUE:
            raise OutputError(f"value longer than {MAX_PARAM_VALUE} characters",
                              file=PARAMS_FILE, key=name)
        params[name] = text
    return params


def digest_tree(directory: Path) -> dict[str, str]:
    """Artifact path -> sha256 for every regular file under `directory` (links followed
    only inside it; anything else is an error)."""
    digests: dict[str, str] = {}
    root = directory.resolve()
    for current, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(current) / name
            relative = path.relative_to(root).as_posix()
            real = path.resolve()
            if not real.is_relative_to(root):
                raise OutputError("a symbolic link that points outside the output directory",
                                  file=relative)
            if not real.is_file():
                raise OutputError("not a regular file", file=relative)
            digests[artifact_path(relative)] = sha256_file(real)
        for name in list(dirs):
            if (Path(current) / name).is_symlink():
                raise OutputError("a symbolic link to a directory in the outputs",
                                  file=(Path(current) / name).relative_to(root).as_posix())
    return dict(sorted(digests.items()))


def read_outputs(directory: Path) -> Outputs:
    """Read and check the outputs; raises OutputError (exit 1) when the contract is broken."""
    metrics = read_metrics(directory)
    params = read_params(directory)
    model = directory / MODEL_DIR
    if model.exists() and not model.is_dir():
        raise OutputError("expected a directory (an MLflow model, or any files)", file=MODEL_DIR)
    return Outputs(directory, metrics, params, digest_tree(directory))


def uploads(directory: Path) -> list[tuple[Path, str | None]]:
    """(local path, artifact dir) for every entry of the output directory."""
    out: list[tuple[Path, str | None]] = []
    for entry in sorted(directory.iterdir()):
        if entry.is_dir():
            out.append((entry, artifact_path(entry.name)))
        elif entry.is_file():
            out.append((entry, artifact_path(entry.name).rpartition("/")[0] or None))
    return out

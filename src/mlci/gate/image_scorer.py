"""The scorer `mlci evaluate` runs inside a training image (standard library only).

Mounted read-only into the container and run as `python3 /mlci/bin/image_scorer.py`; it
must not import mlci, MLflow or pandas, which the image need not have. It reads
/mlci/in/job.json (written by `mlci.gate.inimage`): the model's `python_function` flavor
(loader_module, code, data), whether scores are wanted. It loads the model the way MLflow's
pyfunc loader does (the code directory on sys.path, `loader_module._load_pyfunc(data)`),
calls `predict` on the features (/mlci/in/features.csv: a pandas DataFrame when the image
has pandas, else a list of rows, dicts of column -> float, str or None), optionally
`predict_proba`, and writes /mlci/out/result.json. A failure writes /mlci/out/error.txt
(the user reads it) and exits 3.
"""

from __future__ import annotations

import csv
import importlib
import json
import os
import sys
import traceback
from typing import Any

IN, OUT, MODEL = "/mlci/in", "/mlci/out", "/mlci/model"


def _cell(text: str) -> Any:
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return text


def _features() -> Any:
    path = os.path.join(IN, "features.csv")
    try:
        import pandas  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        with open(path, newline="", encoding="utf-8") as handle:
            return [{k: _cell(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    return pandas.read_csv(path)


def _plain(values: Any) -> Any:
    if hasattr(values, "tolist"):
        return values.tolist()
    if hasattr(values, "to_dict") and hasattr(values, "columns"):
        return [list(row) for row in values.itertuples(index=False)]
    return [v.tolist() if hasattr(v, "tolist") else v for v in values]


def main() -> int:
    with open(os.path.join(IN, "job.json"), encoding="utf-8") as handle:
        job = json.load(handle)
    if job.get("code"):
        sys.path.insert(0, os.path.join(MODEL, job["code"]))
    try:
        module = importlib.import_module(job["loader_module"])
    except ImportError as error:
        return _fail(f"the image cannot import the model's loader_module "
                     f"{job['loader_module']!r}: {error}")
    data = os.path.join(MODEL, job["data"]) if job.get("data") else MODEL
    model = module._load_pyfunc(data)  # MLflow pyfunc loader contract
    features = _features()
    result = {"prediction": _plain(model.predict(features)), "proba": None, "classes": None}
    if job.get("score"):
        if not hasattr(model, "predict_proba"):
            return _fail("--score needs predict_proba: the model loaded by "
                         f"{job['loader_module']}._load_pyfunc has none")
        result["proba"] = _plain(model.predict_proba(features))
        classes = getattr(model, "classes_", None)
        result["classes"] = None if classes is None else [str(c) for c in _plain(classes)]
    with open(os.path.join(OUT, "result.json"), "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


def _fail(message: str) -> int:
    with open(os.path.join(OUT, "error.txt"), "w", encoding="utf-8") as handle:
        handle.write(message)
    return 3


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # noqa: BLE001 - the user's model failed: report it
        detail = " ".join(str(error).split())[:500]
        traceback.print_exc()
        sys.exit(_fail(f"{type(error).__name__}: {detail}"))

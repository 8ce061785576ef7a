"""`mlci evaluate`: score a registered model on a dataset and write a predictions file for the gate.

    mlci evaluate --model models:/churn@champion --data holdout.csv --out baseline-preds.csv \\
                  [--id-column id] [--label-column label] [--score] [--keep region gender]

This is how the production model is scored on *today's* holdout, so that the gate compares
candidate and baseline on exactly the same examples (paired intervals, slices, fairness).

The model (``models:/<name>@<alias>``, ``models:/<name>/<version>``, ``runs:/<id>/<path>``,
or a local model directory) is loaded with ``mlflow.pyfunc``; this needs the full ``mlflow``
package with pandas (``pip install mlflow``), not just mlci's ``mlflow-skinny``.

Input columns given to the model: the model signature's input names when it has a signature,
else every column except the id, the label and ``--exclude`` columns.

The output file (CSV, or Parquet when ``--out`` ends in ``.parquet``/``.pq``) has, in order:

- the id column and the label column, under their names in the data;
- ``prediction`` (``--prediction-column``): the pyfunc ``predict`` output, one value a row;
- ``score`` (``--score-column``) with ``--score``: the probability of the positive class,
  from the underlying model's ``predict_proba`` (the sklearn flavor's raw model, or a custom
  ``PythonModel`` that defines ``predict_proba``). The positive class is ``--positive-label``,
  else the second of the model's two ``classes_`` (sklearn's convention: 1 for 0/1 labels).
  A model without ``predict_proba`` or with more than two classes is an input error: a score
  is never guessed;
- the ``--keep`` columns, copied from the data (slice and fairness columns for the gate).

With ``--spec gate.yml``, the four column names default to the spec's ``predictions:``
block, so the file always matches what the gate will read. Exit 0 on success, 2 on bad input
or an unreachable registry.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from mlci.errors import InputError, ServiceError

INSTALL_HINT = ("mlci evaluate loads models with mlflow.pyfunc, which needs the full MLflow "
                "package and pandas: pip install mlflow (mlci itself ships only mlflow-skinny)")
PARQUET_SUFFIXES = (".parquet", ".pq")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="URI",
                        help="models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/PATH or a "
                        "local model directory")
    parser.add_argument("--data", required=True, metavar="FILE",
                        help="dataset to score: CSV, or Parquet (.parquet/.pq)")
    parser.add_argument("--out", required=True, metavar="FILE",
                        help="predictions file to write: CSV, or Parquet (.parquet/.pq)")
    parser.add_argument("--spec", metavar="FILE", default=None,
                        help="gate spec whose predictions: block names the columns")
    parser.add_argument("--id-column", metavar="NAME", default=None,
                        help="example id column (default: the spec's, else 'id')")
    parser.add_argument("--label-column", metavar="NAME", default=None,
                        help="true label column (default: the spec's, else 'label')")
    parser.add_argument("--prediction-column", metavar="NAME", default=None,
                        help="output column of predictions (default: the spec's, else "
                        "'prediction')")
    parser.add_argument("--score-column", metavar="NAME", default=None,
                        help="output column of scores (default: the spec's, else 'score')")
    parser.add_argument("--score", action="store_true",
                        help="also write the positive-class probability (predict_proba)")
    parser.add_argument("--positive-label", metavar="VALUE", default=None,
                        help="class whose probability is the score (default: the second of "
                        "the model's two classes)")
    parser.add_argument("--keep", nargs="+", metavar="COLUMN", default=[],
                        help="columns copied to the output (e.g. slice and fairness columns)")
    parser.add_argument("--exclude", nargs="+", metavar="COLUMN", default=[],
                        help="columns never given to the model (when it has no signature)")


def _columns(args: argparse.Namespace) -> dict[str, str]:
    names = {"id": "id", "label": "label", "prediction": "prediction", "score": "score"}
    if args.spec:
        from mlci.gate.spec import load_gate_spec

        spec = load_gate_spec(args.spec)
        names.update(id=spec.predictions.id, label=spec.predictions.label,
                     prediction=spec.predictions.prediction)
        if spec.predictions.score:
            names["score"] = spec.predictions.score
    for key in names:
        value = getattr(args, f"{key}_column")
        if value:
            names[key] = value
    return names


def _imports() -> tuple[Any, Any]:
    try:
        import mlflow.pyfunc
        import pandas as pd
    except ImportError as error:
        raise InputError(f"{INSTALL_HINT} ({error})", key="evaluate") from None
    return pd, mlflow


def read_table(pd: Any, path: str) -> Any:
    file = Path(path)
    if not file.is_file():
        raise InputError("dataset not found", file=path)
    try:
        if file.suffix.lower() in PARQUET_SUFFIXES:
            return pd.read_parquet(file)
        return pd.read_csv(file)
    except ImportError as error:
        raise InputError(f"reading Parquet needs pyarrow: pip install pyarrow ({error})",
                         file=path) from None
    except Exception as error:  # noqa: BLE001 - pandas raises many kinds
        raise InputError(f"cannot read dataset: {error}", file=path) from None


def write_table(frame: Any, path: str) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        if out.suffix.lower() in PARQUET_SUFFIXES:
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
        os.replace(tmp, out)
    except ImportError as error:
        raise InputError(f"writing Parquet needs pyarrow: pip install pyarrow ({error})",
                         file=path) from None
    except OSError as error:
        raise InputError(f"cannot write predictions: {error.strerror or error}",
                         file=path) from None
    finally:
        tmp.unlink(missing_ok=True)


def load_model(mlflow: Any, uri: str, tracking_uri: str | None) -> Any:
    from mlci.gate.sources import bounded_retries
    from mlci.tracking import strip_credentials

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    local = Path(uri)
    if not uri.startswith(("models:/", "runs:/")) and not local.exists():
        raise InputError("expected models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/PATH "
                         f"or a model directory, got {uri!r}", key="model")
    from mlflow.exceptions import MlflowException, RestException

    with bounded_retries():
        try:
            return mlflow.pyfunc.load_model(uri)
        except ImportError as error:
            raise InputError(f"cannot load {uri}: the model needs a package that is not "
                             f"installed ({error})", key="model") from None
        except MlflowException as error:
            remote = (tracking_uri or "").startswith(("http://", "https://"))
            definite = isinstance(error, RestException) or not remote
            text = " ".join(str(error.message).split())[:500]
            if definite and error.error_code in ("RESOURCE_DOES_NOT_EXIST",
                                                 "INVALID_PARAMETER_VALUE"):
                raise InputError(f"cannot load {uri}: {text}", key="model") from None
            raise ServiceError(f"cannot load {uri} from the MLflow registry at "
                               f"{strip_credentials(tracking_uri)}: {text}", key="model") from None
        except OSError as error:
            raise ServiceError(f"cannot load {uri}: {error}", key="model") from None


def _features(model: Any, frame: Any, names: dict[str, str], exclude: list[str]) -> Any:
    schema = None
    try:
        schema = model.metadata.get_input_schema()
    except Exception:  # noqa: BLE001 - no signature
        schema = None
    if schema is not None and getattr(schema, "has_input_names", lambda: False)():
        wanted = schema.input_names()
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise InputError(f"the model's signature needs column(s) {', '.join(missing)} that "
                             "the dataset does not have", key="data")
        return frame[wanted]
    drop = {names["id"], names["label"], *exclude}
    return frame[[c for c in frame.columns if c not in drop]]


def _one_column(pd: Any, output: Any, rows: int) -> Any:
    if isinstance(output, pd.DataFrame):
        if output.shape[1] == 1:
            output = output.iloc[:, 0]
        else:
            for name in ("prediction", "predictions"):
                if name in output.columns:
                    output = output[name]
                    break
            else:
                raise InputError(f"the model's predict returns {output.shape[1]} columns; "
                                 "mlci evaluate expects one prediction per row", key="model")
    values = pd.Series(list(output) if not hasattr(output, "shape") else
                       (output if getattr(output, "ndim", 1) == 1 else _squeeze(output)))
    if len(values) != rows:
        raise InputError(f"the model returned {len(values)} predictions for {rows} rows",
                         key="model")
    return values.reset_index(drop=True)


def _squeeze(array: Any) -> Any:
    if array.ndim == 2 and array.shape[1] == 1:
        return array[:, 0]
    raise InputError(f"the model's predict returns an array of shape {array.shape}; mlci "
                     "evaluate expects one prediction per row", key="model")


def _proba_model(model: Any) -> Any:
    for unwrap in ("get_raw_model", "unwrap_python_model"):
        try:
            raw = getattr(model, unwrap)()
        except Exception:  # noqa: BLE001, S112 - not that kind of model
            continue
        if hasattr(raw, "predict_proba"):
            return raw
    raise InputError("--score needs a model with predict_proba (an sklearn classifier, or a "
                     "PythonModel defining predict_proba); this model has none", key="model")


def _scores(model: Any, features: Any, positive: str | None, rows: int) -> Any:
    import numpy as np

    raw = _proba_model(model)
    try:
        proba = raw.predict_proba(features)
    except Exception as error:  # noqa: BLE001 - the user's model failed
        raise InputError(f"predict_proba failed: {error}", key="model") from None
    proba = np.asarray(proba, dtype=float)
    classes = list(getattr(raw, "classes_", [])) or list(range(proba.shape[1]))
    if proba.ndim != 2 or proba.shape[0] != rows or proba.shape[1] != len(classes):
        raise InputError(f"predict_proba returned shape {proba.shape} for {rows} rows",
                         key="model")
    if positive is not None:
        matches = [i for i, c in enumerate(classes) if str(c) == positive]
        if not matches:
            raise InputError(f"--positive-label {positive!r} is not one of the model's classes "
                             f"{[str(c) for c in classes]}", key="positive-label")
        return proba[:, matches[0]]
    if len(classes) != 2:
        raise InputError(f"--score is the probability of the positive class of a binary "
                         f"classifier; this model has {len(classes)} classes (give "
                         "--positive-label to pick one)", key="model")
    return proba[:, 1]


def run(args: argparse.Namespace) -> int:
    from mlci import ci
    from mlci.config import load_config

    names = _columns(args)
    config = load_config(args)
    pd, mlflow = _imports()
    frame = read_table(pd, args.data)
    for role in ("id", "label"):
        if names[role] not in frame.columns:
            raise InputError(f"no {role} column {names[role]!r} in the dataset (columns: "
                             f"{', '.join(map(str, frame.columns[:20]))}); see "
                             f"--{role}-column", file=args.data)
    missing = [c for c in args.keep if c not in frame.columns]
    if missing:
        raise InputError(f"--keep column(s) not in the dataset: {', '.join(missing)}",
                         file=args.data)
    duplicated = frame[names["id"]].duplicated()
    if duplicated.any():
        some = ", ".join(map(repr, frame[names["id"]][duplicated].head(5).tolist()))
        raise InputError(f"duplicate ids in column {names['id']!r}: {some} (the gate joins "
                         "candidate and baseline rows on it)", file=args.data)
    produced = [names["prediction"]] + ([names["score"]] if args.score else [])
    clash = sorted(set(produced) & {names["id"], names["label"], *args.keep})
    if clash or len(set(produced)) != len(produced):
        raise InputError(f"output column(s) {', '.join(clash or produced)} would overwrite "
                         "another column; choose another --prediction-column/--score-column",
                         key="evaluate")
    if len(frame) == 0:
        raise InputError("the dataset has no rows", file=args.data)

    model = load_model(mlflow, args.model, config.registry.tracking_uri)
    features = _features(model, frame, names, args.exclude)
    try:
        output = model.predict(features)
    except Exception as error:  # noqa: BLE001 - the user's model or its input failed
        raise InputError(f"the model's predict failed on {args.data}: "
                         f"{' '.join(str(error).split())[:500]}", key="model") from None
    result = pd.DataFrame({names["id"]: frame[names["id"]].reset_index(drop=True),
                           names["label"]: frame[names["label"]].reset_index(drop=True)})
    result[names["prediction"]] = _one_column(pd, output, len(frame)).values
    if args.score:
        result[names["score"]] = _scores(model, features, args.positive_label, len(frame))
    for column in args.keep:
        result[column] = frame[column].reset_index(drop=True).values
    write_table(result, args.out)

    platform = ci.current()
    outputs = {"predictions": str(args.out), "rows": str(len(result))}
    platform.set_outputs(outputs)
    if args.json:
        print(json.dumps({"model": args.model, "data": args.data, "out": str(args.out),
                          "rows": len(result), "columns": list(result.columns)}, indent=2))
    else:
        print(f"mlci evaluate: {len(result)} predictions of {args.model} -> {args.out}")
    return 0

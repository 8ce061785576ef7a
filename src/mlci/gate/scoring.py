"""Scoring a model on a dataset: the predictions file the gate reads (`mlci evaluate`).

The model (``models:/<name>@<alias>``, ``models:/<name>/<version>``, ``runs:/<id>/<path>``,
or a local model directory) is loaded with ``mlflow.pyfunc`` through the registry layer
(`mlci.registry.client`: one retry policy and timeout, credentials stripped); this needs the
full ``mlflow`` package with pandas, not just mlci's ``mlflow-skinny``. The command line and
the output format are described in `mlci.commands.evaluate` and docs/gate.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.errors import InputError

INSTALL_HINT = ("mlci evaluate loads models with mlflow.pyfunc, which needs the full MLflow "
                "package and pandas: pip install mlflow (mlci itself ships only mlflow-skinny)")
PARQUET_SUFFIXES = (".parquet", ".pq")


def column_names(spec: str | None, overrides: dict[str, str | None]) -> dict[str, str]:
    """id/label/prediction/score column names: flags, else the gate spec's, else defaults."""
    names = {"id": "id", "label": "label", "prediction": "prediction", "score": "score"}
    if spec:
        from mlci.gate.spec import load_gate_spec

        loaded = load_gate_spec(spec)
        names.update(id=loaded.predictions.id, label=loaded.predictions.label,
                     prediction=loaded.predictions.prediction)
        if loaded.predictions.score:
            names["score"] = loaded.predictions.score
    for key in names:
        value = overrides.get(key)
        if value:
            names[key] = value
    return names


@dataclass
class Scoring:
    """What to score and how to write it."""

    model: str
    data: str
    out: str
    names: dict[str, str]
    keep: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    score: bool = False
    positive_label: str | None = None
    tracking_uri: str | None = None
    # auto: in the training run's image when the run recorded one (else on this host);
    # docker/podman: in that image with this engine; local: with this host's libraries.
    engine: str = "auto"


def evaluate(job: Scoring) -> Any:
    """Score `job.model` on `job.data` and write `job.out`; returns the written frame."""
    names = job.names
    pd, mlflow = _imports()
    frame = read_table(pd, job.data)
    for role in ("id", "label"):
        if names[role] not in frame.columns:
            raise InputError(f"no {role} column {names[role]!r} in the dataset (columns: "
                             f"{', '.join(map(str, frame.columns[:20]))}); see "
                             f"--{role}-column", file=job.data)
    missing = [c for c in job.keep if c not in frame.columns]
    if missing:
        raise InputError(f"--keep column(s) not in the dataset: {', '.join(missing)}",
                         file=job.data)
    duplicated = frame[names["id"]].duplicated()
    if duplicated.any():
        some = ", ".join(map(repr, frame[names["id"]][duplicated].head(5).tolist()))
        raise InputError(f"duplicate ids in column {names['id']!r}: {some} (the gate joins "
                         "candidate and baseline rows on it)", file=job.data)
    produced = [names["prediction"]] + ([names["score"]] if job.score else [])
    clash = sorted(set(produced) & {names["id"], names["label"], *job.keep})
    if clash or len(set(produced)) != len(produced):
        raise InputError(f"output column(s) {', '.join(clash or produced)} would overwrite "
                         "another column; choose another --prediction-column/--score-column",
                         key="evaluate")
    if len(frame) == 0:
        raise InputError("the dataset has no rows", file=job.data)

    from mlci.gate import inimage

    target = inimage.plan(job.model, job.tracking_uri, job.engine)
    result = pd.DataFrame({names["id"]: frame[names["id"]].reset_index(drop=True),
                           names["label"]: frame[names["label"]].reset_index(drop=True)})
    if target is not None:
        drop = {names["id"], names["label"], *job.exclude}
        scored = inimage.score(target, job.model,
                               lambda uri, dst: _download(uri, dst, job.tracking_uri),
                               frame[[c for c in frame.columns if c not in drop]], job.score)
        result[names["prediction"]] = _one_column(pd, scored["prediction"], len(frame)).values
        if job.score:
            result[names["score"]] = _pick(scored["proba"], scored["classes"] or [],
                                           job.positive_label, len(frame))
    else:
        model = load_model(mlflow, job.model, job.tracking_uri)
        features = _features(model, frame, names, job.exclude)
        try:
            output = model.predict(features)
        except Exception as error:  # noqa: BLE001 - the user's model or its input failed
            raise InputError(f"the model's predict failed on {job.data}: "
                             f"{' '.join(str(error).split())[:500]}", key="model") from None
        result[names["prediction"]] = _one_column(pd, output, len(frame)).values
        if job.score:
            result[names["score"]] = _scores(model, features, job.positive_label, len(frame))
    for column in job.keep:
        result[column] = frame[column].reset_index(drop=True).values
    write_table(result, job.out)
    return result


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
    """Load a pyfunc model; registry calls go through the registry layer's retry policy."""
    local = Path(uri)
    if not uri.startswith(("models:/", "runs:/")):
        if not local.exists():
            raise InputError("expected models:/NAME@ALIAS, models:/NAME/VERSION, "
                             f"runs:/RUN_ID/PATH or a model directory, got {uri!r}", key="model")
        return _load(mlflow, uri)
    from mlci.registry.client import NotFound, Refused, Registry

    registry = Registry(tracking_uri)
    try:
        with registry.fluent_uris():
            return registry.run(lambda: _load(mlflow, uri), what=f"loading {uri}")
    except (NotFound, Refused) as error:
        raise InputError(f"cannot load {uri} from {registry.where}: {error.message}",
                         key="model") from None


def _download(uri: str, dst: str, tracking_uri: str | None) -> str:
    """The model directory at `uri`, downloaded through the registry layer."""
    from mlci.registry.client import NotFound, Refused, Registry

    registry = Registry(tracking_uri)
    try:
        return registry.download(uri, dst)
    except (NotFound, Refused) as error:
        raise InputError(f"cannot download {uri} from {registry.where}: {error.message}",
                         key="model") from None


def _load(mlflow: Any, uri: str) -> Any:
    try:
        return mlflow.pyfunc.load_model(uri)
    except ImportError as error:
        raise InputError(f"cannot load {uri}: the model needs a package that is not "
                         f"installed ({error})", key="model") from None


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
    # A `loader_module` model (docs/promote.md): the object its _load_pyfunc returned.
    impl = getattr(model, "_model_impl", None)
    if hasattr(impl, "predict_proba"):
        return impl
    raise InputError("--score needs a model with predict_proba (an sklearn classifier, or a "
                     "PythonModel defining predict_proba); this model has none", key="model")


def _scores(model: Any, features: Any, positive: str | None, rows: int) -> Any:
    raw = _proba_model(model)
    try:
        proba = raw.predict_proba(features)
    except Exception as error:  # noqa: BLE001 - the user's model failed
        raise InputError(f"predict_proba failed: {error}", key="model") from None
    return _pick(proba, list(getattr(raw, "classes_", [])), positive, rows)


def _pick(proba: Any, classes: list[Any], positive: str | None, rows: int) -> Any:
    """The positive class's column of predict_proba; a 1-D result is that column already."""
    import numpy as np

    proba = np.asarray(proba, dtype=float)
    if proba.ndim == 1 and proba.shape[0] == rows:
        if positive is not None:
            raise InputError("--positive-label needs a predict_proba with one column per "
                             "class; this model returns one probability per row",
                             key="positive-label")
        return proba
    classes = classes or (list(range(proba.shape[1])) if proba.ndim == 2 else [])
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



"""Where the gate's candidate and baseline metrics come from.

A metric reference (REF on the command line) is one of:

- a JSON file holding one object, ``{"metric": number, ...}``;
- ``runs:/<run-id>`` (or ``runs:/<run-id>/<artifact-path>``): the run's latest metric values;
- ``models:/<name>@<alias>``: alias -> model version -> the metrics of the run that produced it
  (and, for MLflow 3 logged models, the model's own metrics, which win on a name clash);
- ``models:/<name>/<version>``: the same for a pinned version.

Raw values are passed through unchanged (a string, ``None`` or NaN included): the engine
validates them and fails closed. This module only decides *where* they come from and
whether the registry answered.

Fail-closed rules:

- A baseline ``models:/<name>@<alias>`` whose registered model or alias does not exist
  raises `NoBaseline` (the first-model path, `on_missing_baseline`). That is decided only on
  a positive answer of the registry: the model lookup says RESOURCE_DOES_NOT_EXIST, or the
  model is returned and its aliases lack this one. An unreachable registry, a timeout, a
  5xx, an authentication failure, or a 404 that is not an MLflow error body (a wrong URL, a
  proxy) is a `ServiceError` (exit 2); an invalid name or alias is an `InputError`; never
  "no baseline".
- A candidate reference that does not exist, a missing run, or a pinned version that does
  not exist is an `InputError` (exit 2).
- Registry calls go through `mlci.registry.client.Registry`: connection errors, timeouts and
  5xx are retried within ``$MLCI_REGISTRY_TIMEOUT`` (default 60 s), then `Unreachable`.

MLflow (``mlflow-skinny`` is enough) is imported only when a ``runs:/`` or ``models:/``
reference is resolved.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.errors import InputError, MlciError, ServiceError

__all__ = ["MetricSource", "NoBaseline", "load_metrics", "parse_ref"]

_MODEL_ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)/?$")
_MODEL_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)/?$")
_RUN = re.compile(r"^runs:/(?P<run_id>[^/]+)(?:/.*)?$")
REF_HELP = ("expected a JSON file of {\"metric\": number}, runs:/<run-id>, "
            "models:/<name>@<alias> or models:/<name>/<version>")


class NoBaseline(InputError):
    """The baseline's registered model or alias does not exist yet (the first model)."""


@dataclass
class MetricSource:
    """Metrics of one side of the comparison, with where they came from."""

    ref: str
    metrics: dict[str, object]
    model_version: str | None
    run_id: str | None


@dataclass(frozen=True)
class ParsedRef:
    kind: str  # "file" | "run" | "alias" | "version"
    ref: str
    name: str | None = None
    alias: str | None = None
    version: str | None = None
    run_id: str | None = None


def parse_ref(ref: str, *, role: str = "candidate") -> ParsedRef:
    """Classify a reference without touching the file system or the registry."""
    if not isinstance(ref, str) or not ref.strip():
        raise InputError(f"empty {role} reference; {REF_HELP}", key=role)
    ref = ref.strip()
    if ref.startswith("models:/"):
        if match := _MODEL_ALIAS.match(ref):
            return ParsedRef("alias", ref, name=match["name"], alias=match["alias"])
        if match := _MODEL_VERSION.match(ref):
            return ParsedRef("version", ref, name=match["name"], version=match["version"])
        raise InputError(f"{role} reference {ref!r} is not models:/<name>@<alias> or "
                         "models:/<name>/<version>", key=role)
    if ref.startswith("runs:/"):
        if match := _RUN.match(ref):
            return ParsedRef("run", ref, run_id=match["run_id"])
        raise InputError(f"{role} reference {ref!r} is not runs:/<run-id>", key=role)
    if re.match(r"^[a-z][a-z0-9+.-]*:/", ref) and not re.match(r"^[A-Za-z]:[\\/]", ref):
        raise InputError(f"{role} reference {ref!r}: unsupported scheme; {REF_HELP}", key=role)
    return ParsedRef("file", ref)


def load_metrics(ref: str, *, tracking_uri: str | None, role: str) -> MetricSource:
    """Resolve REF to its metrics. `role` ("candidate" or "baseline") shapes the errors.

    Raises `NoBaseline` (baseline models:/ reference with no such model or alias),
    `InputError` (bad file or reference), `ServiceError` (registry unreachable or failing).
    """
    parsed = parse_ref(ref, role=role)
    if parsed.kind == "file":
        return _load_json(parsed.ref, role=role)
    return _Registry(tracking_uri, role=role).resolve(parsed)


# -- JSON files ------------------------------------------------------------------------------------

def _load_json(ref: str, *, role: str) -> MetricSource:
    path = Path(ref)
    if not path.exists():
        raise InputError(f"{role} metrics file not found ({REF_HELP})", file=ref)
    if not path.is_file():  # a FIFO or device would block the read forever
        raise InputError(f"cannot read {role} metrics file: not a regular file", file=ref)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InputError(f"cannot read {role} metrics file: {reason}", file=ref) from None
    try:
        data = json.loads(text)  # NaN/Infinity literals load as floats: the engine rejects them
    except json.JSONDecodeError as error:
        raise InputError(f"not valid JSON: {error.msg}", file=ref, line=error.lineno) from None
    if not isinstance(data, dict):
        raise InputError(f"expected a JSON object of {{\"metric\": number}}, got "
                         f"{_json_type(data)}", file=ref)
    return MetricSource(ref=ref, metrics=dict(data), model_version=None, run_id=None)


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


# -- the MLflow registry ---------------------------------------------------------------------------

class _Registry:
    def __init__(self, tracking_uri: str | None, *, role: str) -> None:
        from mlci.registry.client import Registry

        self.role = role
        self.registry = Registry(tracking_uri)
        self.where = self.registry.where

    def _get(self, what: str, method: str, *args: Any) -> Any:
        """One registry call. NotFound is re-raised for the caller to judge; every other
        failure is a ServiceError naming what was being read."""
        from mlci.registry.client import Conflict, NotFound, Refused

        try:
            return self.registry.call(method, *args)
        except NotFound:
            raise
        except Refused as error:
            if getattr(error.__cause__, "error_code", "") == "INVALID_PARAMETER_VALUE":
                # the registry's own answer that a name or alias is invalid: bad input
                raise InputError(f"{what}: rejected by the registry: {error.message}",
                                 key=self.role) from None
            raise self._failed(what, error) from None
        except (ServiceError, Conflict) as error:
            raise self._failed(what, error) from None

    def _failed(self, what: str, error: MlciError) -> ServiceError:
        return ServiceError(
            f"MLflow registry at {self.where} failed while reading {what}: {error.message} "
            f"(no verdict without the {self.role}'s metrics; check the tracking URI, the "
            "server and its credentials)", key=self.role)

    # -- resolution -------------------------------------------------------------------------
    def resolve(self, parsed: ParsedRef) -> MetricSource:
        if parsed.kind == "run":
            assert parsed.run_id is not None
            metrics = self._run_metrics(parsed.run_id, parsed.ref)
            return MetricSource(ref=parsed.ref, metrics=metrics, model_version=None,
                                run_id=parsed.run_id)
        version = self._model_version(parsed)
        run_id = getattr(version, "run_id", None) or None
        model_id = getattr(version, "model_id", None) or None
        metrics = {}
        if run_id:
            metrics.update(self._run_metrics(run_id, parsed.ref))
        if model_id:
            metrics.update(self._logged_model_metrics(model_id, parsed.ref))
        if not run_id and not model_id:
            raise InputError(
                f"{self.role} {parsed.ref} resolves to version {version.version}, which has no "
                "run (nor logged model) to read metrics from", key=self.role)
        return MetricSource(ref=parsed.ref, metrics=metrics, model_version=str(version.version),
                            run_id=run_id)

    def _model_version(self, parsed: ParsedRef) -> Any:
        from mlci.registry.client import NotFound

        assert parsed.name is not None
        if parsed.kind == "alias":
            try:
                return self._get(f"alias {parsed.alias!r} of model {parsed.name!r}",
                                 "get_model_version_by_alias", parsed.name, parsed.alias)
            except NotFound as error:
                first = error
            # "No baseline" is decided only on a positive answer: the model does not exist,
            # or it exists without that alias.
            missing = self._alias_missing(parsed.name, str(parsed.alias))
            if not missing:
                raise InputError(f"{parsed.ref}: rejected by the registry: {first.message}",
                                 key=self.role)
            message = f"{parsed.ref}: {missing} in {self.where}"
            if self.role == "baseline":
                raise NoBaseline(message, key=self.role)
            raise InputError(message, key=self.role)
        try:
            return self._get(f"version {parsed.version} of model {parsed.name!r}",
                             "get_model_version", parsed.name, parsed.version)
        except NotFound as error:
            raise InputError(f"{parsed.ref}: no such model version in {self.where} "
                             f"({error.message})", key=self.role) from None

    def _alias_missing(self, name: str, alias: str) -> str | None:
        """Why the alias cannot resolve, if the registry confirms it does not exist; else None."""
        from mlci.registry.client import NotFound

        try:
            model = self._get(f"registered model {name!r}", "get_registered_model", name)
        except NotFound:
            return f"no registered model {name!r}"
        aliases = getattr(model, "aliases", None)
        if not isinstance(aliases, dict):
            return None  # cannot confirm: not a "first model"
        if alias in aliases:
            raise ServiceError(f"MLflow registry at {self.where} answered inconsistently: alias "
                               f"{alias!r} of {name!r} exists but could not be read; retry",
                               key=self.role)
        return f"registered model {name!r} has no alias {alias!r} yet"

    def _run_metrics(self, run_id: str, ref: str) -> dict[str, object]:
        from mlci.registry.client import NotFound

        try:
            run = self._get(f"run {run_id}", "get_run", run_id)
        except NotFound as error:
            raise InputError(f"{self.role} {ref}: run {run_id!r} not found in {self.where} "
                             f"({error.message})", key=self.role) from None
        return dict(run.data.metrics)  # the latest value of each metric

    def _logged_model_metrics(self, model_id: str, ref: str) -> dict[str, object]:
        from mlci.registry.client import NotFound

        if getattr(self.registry.client, "get_logged_model", None) is None:
            return {}  # pragma: no cover - MLflow < 3 has no logged models
        try:
            model = self._get(f"logged model {model_id}", "get_logged_model", model_id)
        except NotFound as error:
            raise InputError(f"{self.role} {ref}: logged model {model_id!r} not found in "
                             f"{self.where} ({error.message})", key=self.role) from None
        latest: dict[str, tuple[int, int, object]] = {}
        for metric in getattr(model, "metrics", None) or []:
            order = (int(metric.step or 0), int(metric.timestamp or 0))
            if metric.key not in latest or order >= latest[metric.key][:2]:
                latest[metric.key] = (*order, metric.value)
        return {key: value for key, (_, _, value) in latest.items()}

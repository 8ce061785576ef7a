"""The gate report: one typed object, written by `mlci gate` and read by `mlci promote`.

Its JSON form (``report.json``, schema ``mlci.gate.report/v1``) is the contract between the
two stages, and it stays backward compatible: a report holding only ``verdict``,
``candidate`` and ``baseline`` (an older mlci, or a hand-written one) still reads. What
promote relies on:

``verdict``                 ``promote`` | ``review`` | ``reject``
``candidate.run_id``        the MLflow run that was judged (promote checks it is the one it
                            registers)
``baseline``                ``null``: judged without a baseline (a first model); else an object
                            whose ``model_version`` is the version the gate compared against
                            (promote expects the alias still to point there)

A report that breaks this (not an object, an unknown verdict, a baseline that is neither null
nor an object with a version) is an input error, exit 2 -- never a verdict.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict, cast

from mlci.errors import InputError

Verdict = Literal["promote", "review", "reject"]
VERDICTS: tuple[Verdict, ...] = ("promote", "review", "reject")
SCHEMA = "mlci.gate.report/v1"


class Rule(TypedDict, total=False):
    """One rule's outcome (`mlci.gate.decide.Outcome.as_dict`)."""

    id: str
    section: str
    metric: str
    check: str
    severity: str
    outcome: str
    message: str
    threshold: float | str | None
    candidate: float | None
    baseline: float | None
    change: float | None
    interval: list[float] | None
    slice: str | None
    n: int | None


class MetricRow(TypedDict, total=False):
    """One metric of the comparison table."""

    name: str
    greater_is_better: bool
    candidate: float | None
    candidate_problem: str | None
    baseline: float | None
    baseline_problem: str | None
    change: float | None
    relative_change: float | None


@dataclass(frozen=True)
class ReportSide:
    """Where one side's evidence came from."""

    ref: str | None = None
    model_version: str | None = None
    run_id: str | None = None
    predictions: str | None = None
    examples: int | None = None


@dataclass(frozen=True)
class GateReport:
    """The verdict, why, and the evidence; `to_dict` is the JSON form, unchanged."""

    verdict: Verdict
    candidate: ReportSide
    baseline: ReportSide | None          # None: judged without a baseline (a first model)
    baseline_stated: bool                # False: the report does not say which version
    reasons: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    metrics: tuple[MetricRow, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def exit_code(self) -> int:
        from mlci.gate import VERDICT_EXIT_CODES

        return VERDICT_EXIT_CODES[self.verdict]

    @property
    def baseline_version(self) -> str | None:
        return self.baseline.model_version if self.baseline else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, exactly as the gate produced it (key order included)."""
        return dict(self.raw)

    def to_json(self) -> str:
        from mlci.gate.report import to_json

        return to_json(self)

    @classmethod
    def from_dict(cls, data: Any, *, origin: str = "gate report") -> GateReport:
        """Validate and type a report; a malformed one is an InputError (exit 2)."""
        if not isinstance(data, dict):
            raise InputError(f"expected a JSON object, got {_kind(data)}", file=origin)
        verdict = data.get("verdict")
        if verdict not in VERDICTS:
            raise InputError(f"expected 'promote', 'review' or 'reject', got {verdict!r}",
                             file=origin, key="verdict")
        candidate = _side(data.get("candidate"), origin, "candidate") or ReportSide()
        baseline = _side(data.get("baseline"), origin, "baseline")
        # Which version the gate compared against is stated by `baseline: null` (none: a
        # first model) or a `model_version` (null for a baseline that was not a version).
        stated = "baseline" in data and (baseline is None or "model_version" in data["baseline"])
        reasons = data.get("reasons", [])
        if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
            raise InputError("expected a list of strings", file=origin, key="reasons")
        rules, metrics = data.get("rules", []), data.get("metrics", [])
        for key, value in (("rules", rules), ("metrics", metrics)):
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise InputError("expected a list of objects", file=origin, key=key)
        return cls(verdict=cast(Verdict, verdict), candidate=candidate, baseline=baseline,
                   baseline_stated=stated, reasons=tuple(reasons),
                   rules=tuple(cast(list[Rule], rules)),
                   metrics=tuple(cast(list[MetricRow], metrics)), raw=data)

    @classmethod
    def loads(cls, text: str, *, origin: str) -> GateReport:
        try:
            data = json.loads(text)
        except ValueError as error:
            raise InputError(f"the gate report is not valid JSON: {error}", file=origin) \
                from None
        return cls.from_dict(data, origin=origin)

    @classmethod
    def read(cls, path: str) -> GateReport:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise InputError(f"cannot read the gate report: {reason}", file=path) from None
        return cls.loads(text, origin=path)


def _side(value: Any, origin: str, key: str) -> ReportSide | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InputError(f"expected an object (or null), got {_kind(value)}", file=origin,
                         key=key)
    fields: dict[str, Any] = {}
    for name in ("ref", "model_version", "run_id", "predictions"):
        raw = value.get(name)
        if raw in (None, ""):
            fields[name] = None
        elif isinstance(raw, str) or (isinstance(raw, int) and not isinstance(raw, bool)):
            fields[name] = str(raw)
        else:
            raise InputError(f"expected a string, got {_kind(raw)}", file=origin,
                             key=f"{key}.{name}")
    examples = value.get("examples")
    if examples is not None and (isinstance(examples, bool) or not isinstance(examples, int)):
        raise InputError(f"expected a number of examples, got {_kind(examples)}", file=origin,
                         key=f"{key}.examples")
    return ReportSide(examples=examples, **fields)


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number", dict: "an object"}.get(type(value),
                                                                      type(value).__name__)

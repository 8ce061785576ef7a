"""Checks of the gate's evidence before any rule is evaluated: each failure is an input error
(exit 2), because each would otherwise let a verdict rest on something other than what the
spec asked for.

- a spec with no rule that can say no would promote anything;
- a metric or slice name that is not valid Unicode cannot be reported;
- a metric the prediction files can compute always comes from them: when they cannot
  (accuracy on a regression task, ROC AUC without a score column), that is an error, never a
  silent fall-back to a logged value measured on who knows what;
- without a metric reference (`--candidate`), every metric the spec names must come from
  the prediction files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlci.errors import InputError
from mlci.gate.spec import COMPUTABLE, GateSpec
from mlci.gate.spec_errors import check_unicode

if TYPE_CHECKING:
    from mlci.gate.engine import Side
    from mlci.gate.predictions import Predictions

_REGRESSION = ("mae", "rmse")
_WITH_SCORE = ("roc_auc", "log_loss")


def named_metrics(spec: GateSpec) -> dict[str, str]:
    """Every metric the spec names -> the first key naming it (for messages)."""
    out: dict[str, str] = {}
    if spec.primary:
        out.setdefault(spec.primary.metric, "primary.metric")
    for name in spec.metrics:
        out.setdefault(name, f"metrics.{name}")
    for name, key in _per_example(spec).items():
        out.setdefault(name, key)
    return out


def _per_example(spec: GateSpec) -> dict[str, str]:
    """Metrics computed per slice or group: only predictions can give them."""
    out: dict[str, str] = {}
    if spec.slices:
        for name in spec.slices.metrics:
            out.setdefault(name, f"slices.metrics.{name}")
        if spec.slices.worst:
            out.setdefault(spec.slices.worst.metric, "slices.worst.metric")
    if spec.fairness:
        out.setdefault(spec.fairness.metric, "fairness.metric")
    return out


def check_inputs(spec: GateSpec, candidate: Side, baseline: Side | None) -> None:
    """Before reading predictions: the spec gates something, names are text, refs suffice."""
    if not spec.checks_something():
        raise InputError("the gate spec checks nothing (no primary, no metric with min, max "
                         "or max_regression, no slice or fairness rule): it would promote "
                         "anything", key="spec")
    for side in (candidate, baseline):
        if side is not None:
            check_unicode(side.metrics, file=side.ref)
    if baseline is not None and baseline.predictions and not candidate.predictions:
        raise InputError("--baseline-predictions needs --candidate-predictions",
                         key="candidate-predictions")
    if (spec.slices or spec.fairness) and not candidate.predictions:
        what = "slices" if spec.slices else "fairness"
        raise InputError(f"the spec has {what}, which need per-example predictions: "
                         "give --candidate-predictions", key=what)
    for name, key in _per_example(spec).items():
        if name not in COMPUTABLE:
            raise InputError(f"{name!r} is not computed from predictions, so it has no value "
                             f"per slice or group (computed: {', '.join(COMPUTABLE)})", key=key)
    if candidate.ref is None and not candidate.predictions:
        raise InputError("give --candidate REF (metrics) or --candidate-predictions FILE",
                         key="candidate")
    regression_checked = {n for n, r in spec.metrics.items() if r.max_regression is not None}
    if spec.primary:
        regression_checked.add(spec.primary.metric)
    for side, role, needed in ((candidate, "candidate", named_metrics(spec)),
                               (baseline, "baseline", regression_checked)):
        if side is None or side.ref is not None:
            continue
        missing = [n for n in needed if n not in COMPUTABLE]
        if missing:
            raise InputError(f"{', '.join(map(repr, missing))} not computed from prediction "
                             f"files: give --{role} REF (a JSON file or an MLflow reference) "
                             "for it", key=role)


def check_computable(spec: GateSpec, pred: Predictions, applicable: tuple[str, ...]) -> None:
    """Every computable metric the spec names can be computed from these predictions."""
    for name, key in named_metrics(spec).items():
        if name not in COMPUTABLE or name in applicable:
            continue
        if name in _REGRESSION:
            why = (f"{name} needs regression predictions, but these are classification "
                   "(predictions.task)")
        elif pred.task == "regression":
            why = (f"{name} needs classification predictions, but these are regression: set "
                   "predictions.task: classification (labels 0/1 or predictions.positive_label)")
        else:
            assert name in _WITH_SCORE
            why = (f"{name} needs the positive-class probability: set predictions.score to "
                   "its column")
        raise InputError(f"{why}; a metric the prediction files can compute never comes from "
                         f"elsewhere ({key})", file=pred.path, key=name)

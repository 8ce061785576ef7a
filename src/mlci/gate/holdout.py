"""`mlci gate --holdout FILE`: the gate scores the models on the holdout itself.

One flag replaces the shell logic a pipeline would otherwise need around `mlci evaluate`
(score the candidate; score the baseline when one exists; hand both files to the gate). The
scoring is `mlci evaluate`'s (`mlci.gate.scoring.evaluate`, engine auto: in the training
run's image when the run recorded one). The column names come from the spec's
`predictions:` block, the columns kept are the spec's slice and fairness columns, so the
files always match what the gate reads. `mlci pipeline run` scores its champion with
`score_model` too: one implementation.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mlci.errors import InputError, MlciError, ServiceError

if TYPE_CHECKING:
    from mlci.gate.engine import Side
    from mlci.gate.spec import GateSpec

CANDIDATE_FILE = "candidate-predictions.csv"
BASELINE_FILE = "baseline-predictions.csv"


def check_flags(args: argparse.Namespace) -> None:
    """The argument rules of --holdout, checked before anything is read or scored."""
    if not args.holdout:
        return
    for flag in ("candidate_predictions", "baseline_predictions"):
        if getattr(args, flag, None):
            raise InputError(f"--holdout scores the models itself: give either --holdout or "
                             f"--{flag.replace('_', '-')}, not both", key="holdout")
    if not args.candidate:
        raise InputError("--holdout needs --candidate runs:/<run-id> or models:/<name>@<alias> "
                         "(the model to score)", key="candidate")
    model_uri(args.candidate, role="candidate")
    if not Path(args.holdout).is_file():
        raise InputError("holdout file not found (--holdout)", file=args.holdout)
    if args.baseline:
        model_uri(args.baseline, role="baseline")


def model_uri(ref: str, *, role: str) -> str:
    """The model a metrics reference names: runs:/<id> -> runs:/<id>/model (where
    `mlci train` logs it); runs:/<id>/<path> and models:/... as they are."""
    from mlci.gate.sources import parse_ref
    from mlci.names import MODEL_ARTIFACT

    parsed = parse_ref(ref, role=role)
    if parsed.kind == "file":
        raise InputError(f"--holdout scores the {role} model, but {ref!r} is a metrics file "
                         "(no model to score): give runs:/<run-id> or models:/<name>@<alias>, "
                         f"or --{role}-predictions instead of --holdout", key=role)
    if parsed.kind == "run" and ref.strip().rstrip("/") == f"runs:/{parsed.run_id}":
        return f"runs:/{parsed.run_id}/{MODEL_ARTIFACT}"
    return parsed.ref


def columns(spec: GateSpec) -> tuple[dict[str, str], list[str], bool]:
    """(column names, columns kept, whether to write scores) from the spec."""
    names = {"id": spec.predictions.id, "label": spec.predictions.label,
             "prediction": spec.predictions.prediction,
             "score": spec.predictions.score or "score"}
    keep = [c for c in ((spec.slices.column if spec.slices else None),
                        (spec.fairness.column if spec.fairness else None)) if c]
    return names, list(dict.fromkeys(keep)), spec.predictions.score is not None


def score_model(model: str, holdout: str, out: Path, spec: GateSpec, *,
                tracking_uri: str | None, role: str) -> str:
    """Score `model` on `holdout` into `out` (the columns the spec names); returns `out`.
    Any failure is exit 2 naming the model and the file: never a verdict."""
    from mlci.gate.scoring import Scoring, evaluate

    names, keep, score = columns(spec)
    try:
        evaluate(Scoring(model=model, data=holdout, out=str(out), names=names, keep=keep,
                         score=score, positive_label=spec.predictions.positive_label,
                         tracking_uri=tracking_uri, engine="auto"))
    except ServiceError as error:
        raise ServiceError(f"scoring the {role} model {model} on {holdout} failed: {error}",
                           key="holdout") from None
    except MlciError as error:
        raise InputError(f"scoring the {role} model {model} on {holdout} failed: {error}",
                         key="holdout") from None
    return str(out)


def baseline_model(ref: str, version: str | None) -> str:
    """The baseline model to score: an alias pinned to the version whose metrics the gate
    read (the alias may move while we score), else as `model_uri` says."""
    from mlci.gate.sources import parse_ref

    parsed = parse_ref(ref, role="baseline")
    if parsed.kind == "alias" and version:
        return f"models:/{parsed.name}/{version}"
    return model_uri(ref, role="baseline")


@contextlib.contextmanager
def scored(holdout: str | None, report_dir: str | None, spec: GateSpec, candidate: Side,
           baseline: Side | None, *, candidate_ref: str, tracking_uri: str | None
           ) -> Iterator[None]:
    """Score the candidate and (when it exists) the baseline on `holdout` and point both
    sides at their files (nothing to do without a holdout). The files go to `report_dir`
    (kept as evidence), else to a temporary directory removed when the block ends."""
    if not holdout:
        yield
        return
    with contextlib.ExitStack() as stack:
        if report_dir:
            where = Path(report_dir)
        else:
            where = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mlci-gate-")))
        try:
            where.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"cannot create the report directory: {error.strerror or error}",
                             file=str(where)) from None
        candidate.predictions = score_model(
            model_uri(candidate_ref, role="candidate"), holdout, where / CANDIDATE_FILE, spec,
            tracking_uri=tracking_uri, role="candidate")
        if baseline is not None and baseline.ref:
            baseline.predictions = score_model(
                baseline_model(baseline.ref, baseline.model_version), holdout,
                where / BASELINE_FILE, spec, tracking_uri=tracking_uri, role="baseline")
        yield

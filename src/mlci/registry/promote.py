"""Promotion: move a registry alias to a candidate version, with an audit record, safely.

The move itself -- intent, claim, decide, move, confirm, with crash repair and the undoing of
delayed alias writes -- is `mlci.registry.moves.transition`, shared with rollback and the
canary; its names are re-exported here so older imports keep working. This module is the
promotion policy, the candidate and its lineage.

Policy (`promote`): a gate verdict of ``review`` needs ``--approved`` (exit 3, as the gate's own
"review" exit); a ``reject`` is refused (exit 1) unless ``--override --reason TEXT``, which is
recorded; no gate report at all is a manual promotion: it needs ``--approved`` (or
``--override --reason``), and without either it is a usage error (exit 2) -- there is no
verdict to review, only a missing flag.

The model name is checked before anything is created (`mlci.registry.audit.check_model_name`):
a name MLflow would accept but mlci could not search for or reference (a quote, ``@``) is an
input error (exit 2), not a registered model with a broken trail.

What goes on the model version (tags): the ``mlci.*`` tags of the candidate's run, copied
(the train stage's ``mlci.git_commit``, ``mlci.data_fingerprint``, ``mlci.image_digest``,
``mlci.seed``, ``mlci.ci_run_url``, ...), ``mlci.source_run_id``, ``mlci.gate.verdict``,
``mlci.gate.report`` (``$MLCI_GATE_REPORT_URL``, else the CI run's page, else the report's
path), ``mlci.approved_by`` (``gate``, or the approver: ``$MLCI_APPROVER``; on GitHub the
reviewers who approved the run's deployment, else ``GITHUB_TRIGGERING_ACTOR`` /
``GITHUB_ACTOR``; GitLab ``GITLAB_USER_LOGIN`` -- see mlci.registry.approvers; for an
override the actor with ``(override)``) and ``mlci.gate.override_reason``. A ``runs:/``
candidate is registered with all of them in one request. The move itself (who, when, from
which version, CI run, reason) is the audit event's, not a version tag.

Cost: a promotion makes a fixed number of registry requests, none of which lists or
searches model versions (the trail is read by page). MLflow's server itself makes
``set_registered_model_alias`` and ``set_model_version_tag`` slower as a model gains
versions (its handlers call ``get_registered_model``, which loads every version, to check
for prompts -- MLflow 3.x), so mlci writes at most one alias move and, for a ``runs:/``
candidate, no separate tag write per promotion. ``scripts/bench/promote_bench.py`` measures it.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci import names
from mlci.ci import Platform
from mlci.errors import CheckFailed, InputError
from mlci.registry import faults
from mlci.registry.approvers import approver_of
from mlci.registry.audit import AuditLog, check_model_name, upsert, version_tag
from mlci.registry.client import Conflict, NotFound, Registry
from mlci.registry.moves import (
    DEFAULT_LEASE,
    LEASE_ENV,
    UNSET,
    MoveResult,
    actor_of,
    common_fields,
    fmt,
    lease_from_env,
    me_of,
    settle,
    transition,
)

# The move protocol's names are re-exported: callers imported them from here before `moves`.
__all__ = [
    "DEFAULT_LEASE",
    "LEASE_ENV",
    "UNSET",
    "ApprovalRequired",
    "GateReport",
    "MoveResult",
    "actor_of",
    "common_fields",
    "fmt",
    "lease_from_env",
    "lineage_of",
    "me_of",
    "parse_expect",
    "promote",
    "read_gate_report",
    "settle",
    "transition",
]

_RUNS_URI = re.compile(r"^runs:/([0-9A-Za-z_-]+)/(.+)$")


class ApprovalRequired(CheckFailed):
    """The gate said `review` and no human approved: exit 3, as the gate itself does."""

    exit_code = 3


def parse_expect(value: str | None) -> Any:
    """`--expect-current`: a version number, or `none` for "the alias is not set yet"."""
    if value is None:
        return UNSET
    text = value.strip()
    if text.lower() in ("none", "null", ""):
        return None
    if not text.isdigit():
        raise InputError(f"expected a version number or 'none', got {value!r}",
                         key="--expect-current")
    return str(int(text))


# -- promote: policy, candidate, lineage --------------------------------------------------
@dataclass
class GateReport:
    path: str
    verdict: str
    baseline_known: bool          # the report says which version the gate compared against
    baseline_version: str | None
    candidate_run_id: str | None
    link: str | None


def read_gate_report(path: str) -> GateReport:
    """The policy's view of the gate's typed report (`mlci.gate.result`); a malformed report
    is an input error (exit 2)."""
    from mlci.gate.result import GateReport as Report

    return policy_view(Report.read(path), path)


def find_gate_report(registry: Registry, model: str, candidate: str) -> GateReport | None:
    """The latest gate report recorded on the candidate's run (`mlci.gate.record`), or None.

    The candidate is ``runs:/<id>/<path>`` (its run) or a version number of `model` (the run
    that produced it); a version without a run has no recorded report."""
    from mlci.gate.record import latest

    match = _RUNS_URI.match(candidate.strip())
    if match:
        run_id: str | None = match.group(1)
    else:
        version = registry.model_version(model, candidate.strip()) \
            if candidate.strip().isdigit() else None
        run_id = getattr(version, "run_id", None) or None
    if not run_id:
        return None
    found = latest(registry, run_id)
    return policy_view(found[0], found[1]) if found else None


def policy_view(report: Any, where: str) -> GateReport:
    """What the promotion policy needs of a `mlci.gate.result.GateReport`."""
    link = os.environ.get("MLCI_GATE_REPORT_URL") or None
    return GateReport(path=where, verdict=report.verdict,
                      baseline_known=report.baseline_stated,
                      baseline_version=report.baseline_version,
                      candidate_run_id=report.candidate.run_id, link=link)


def _policy(report: GateReport | None, *, approved: bool, override: bool, reason: str | None,
            actor: str, approver: str) -> tuple[str, str]:
    """(verdict, approved_by) or raise: the rules of who may promote what. `actor` runs the
    promotion (and owns an override); `approver` is who approved it (mlci.registry.approvers)."""
    if override and not (reason and reason.strip()):
        raise InputError("--override needs --reason TEXT: an override is recorded with why",
                         key="--reason")
    verdict = report.verdict if report else "none"
    if verdict == "reject":
        if not override:
            raise CheckFailed("the gate said reject: promotion refused. To promote anyway, a "
                              "person must pass --override --reason \"...\" (recorded in the "
                              "audit trail and on the model version).")
        return verdict, f"{actor} (override)"
    if verdict == "review":
        if override:
            return verdict, f"{actor} (override)"
        if not approved:
            raise ApprovalRequired(
                "the gate said review: a human must approve this promotion. Run promote with "
                "--approved from a job that requires approval (a GitHub environment with "
                "required reviewers, or a GitLab `when: manual` job in a protected "
                "environment).")
        return verdict, approver
    if verdict == "none":
        if override:
            return verdict, f"{actor} (override)"
        if not approved:
            # Not exit 3: no gate asked for a review; the command line lacks a flag.
            raise InputError("no gate report: a promotion without a gate verdict is a manual "
                             "one and needs --approved (or --override --reason), or give "
                             "--gate-report FILE", key="--approved")
        return verdict, approver
    return verdict, ("gate" if not approved else f"gate, {approver}")


def _resolve_candidate(registry: Registry, model: str, candidate: str,
                       tags_for: Any) -> tuple[Any, str | None, bool]:
    """The candidate's model version, its run id, and whether it was registered just now.

    A ``runs:/`` candidate is registered with its tags in the same call (`tags_for(run)` gives
    them): each later tag write is a separate request, and MLflow's server makes every
    model-version tag write and alias move cost time in proportion to the model's number of
    versions (see `promote`), so fewer is faster.
    """
    text = candidate.strip()
    if text.isdigit():
        mv = registry.model_version(model, str(int(text)))
        if mv is None:
            raise InputError(f"registered model {model!r} has no version {text}",
                             key="--candidate")
        return mv, mv.run_id or None, False
    match = _RUNS_URI.match(text)
    if not match:
        raise InputError(f"expected runs:/<run-id>/<artifact-path> or a version number, got "
                         f"{candidate!r}", key="--candidate")
    run_id, path = match.group(1), match.group(2).strip("/")
    try:
        run = registry.call("get_run", run_id)
    except NotFound:
        raise InputError(f"no MLflow run {run_id} at {registry.where}", key="--candidate") \
            from None
    parent, _, _ = path.rpartition("/")
    listing = registry.call("list_artifacts", run_id, parent or None)
    if not any(item.path == path for item in listing):
        raise InputError(f"run {run_id} has no artifact {path!r} to register",
                         key="--candidate")
    source = f"runs:/{run_id}/{path}"
    with contextlib.suppress(Conflict):
        registry.call("create_registered_model", model)
    # Idempotent registration: a re-run after a crash finds the version it registered.
    # By run id only (validated above): the model name stays out of the filter's syntax.
    existing = registry.call("search_model_versions", f"run_id = '{run_id}'", max_results=200)
    for mv in sorted(existing, key=lambda v: int(v.version)):
        if mv.name == model and mv.source == source:
            return mv, run_id, False
    tags = {k: str(v)[:5000] for k, v in tags_for(run).items() if v not in (None, "")}
    mv = registry.call("create_model_version", model, source, run_id=run_id, tags=tags,
                       await_creation_for=0)
    return mv, run_id, True


def _set_version_tags(registry: Registry, model: str, mv: Any, tags: Mapping[str, Any]) -> None:
    """Set the tags whose value differs from what the version already has."""
    have = dict(getattr(mv, "tags", {}) or {})
    for key, value in tags.items():
        if value is None or value == "":
            continue
        text = str(value)[:5000]
        if have.get(key) != text:
            upsert(registry, "set_model_version_tag", model, str(mv.version), key, text)


def lineage_of(run: Any) -> dict[str, str]:
    """The `mlci.*` tags the train stage wrote on the candidate's run (commit, data
    fingerprint, image digest, seed, CI run URL, ...), and the run id."""
    tags = {k: v for k, v in run.data.tags.items() if k.startswith(names.PREFIX)}
    tags[names.SOURCE_RUN_ID] = run.info.run_id
    return tags


def promote(registry: Registry, *, model: str, candidate: str, alias: str,
            expect_current: Any = UNSET, gate_report: str | None = None,
            approved: bool = False, override: bool = False, reason: str | None = None,
            platform: Platform, expect_alias: str | None = None) -> MoveResult:
    """`expect_alias`: the alias the expectation (the gate's baseline) is about, when it is not
    `alias` -- with a deploy target the gate compares against champion while promote queues
    the candidate on `canary` (mlci.canary.registry)."""
    check_model_name(model)
    # --gate-report wins; else the report the gate recorded on the candidate's run, if any
    report = read_gate_report(gate_report) if gate_report else \
        find_gate_report(registry, model, candidate)
    actor = actor_of(platform)
    verdict, approved_by = _policy(report, approved=approved, override=override, reason=reason,
                                   actor=actor,
                                   approver=approver_of(platform, actor) if approved else actor)
    expected = expect_current
    if report is not None and report.baseline_known:
        if expected is not UNSET and expected != report.baseline_version:
            raise InputError(
                f"--expect-current {version_tag(expected)} contradicts the gate report, "
                f"which compared against {fmt(report.baseline_version)}", key="--expect-current")
        expected = report.baseline_version
    elif expected is UNSET:
        platform.warning("no --expect-current and no baseline version in a gate report: the "
                         "move is serialized with other mlci moves but not checked against "
                         "what the gate saw")

    def check_run(run_id: str | None, what: str) -> None:
        if report is not None and report.candidate_run_id and run_id and \
                report.candidate_run_id != run_id:
            raise InputError(f"the gate report is about run {report.candidate_run_id}, but "
                             f"the candidate {what} comes from run {run_id}", file=report.path,
                             key="candidate.run_id")

    match = _RUNS_URI.match(candidate.strip())
    if match:
        check_run(match.group(1), candidate)   # before anything is registered
    report_link = None
    if report is not None:
        report_link = report.link or platform.run_url or str(Path(report.path).resolve())
    gate_tags = {names.GATE_VERDICT: verdict, names.GATE_REPORT: report_link,
                 names.APPROVED_BY: approved_by,
                 names.GATE_OVERRIDE_REASON: reason if override else None}
    mv, run_id, fresh = _resolve_candidate(registry, model, candidate,
                                           lambda run: {**lineage_of(run), **gate_tags})
    version = str(mv.version)
    check_run(run_id, f"version {version}")
    tags = dict(mv.tags or {}) if fresh else {}
    if not fresh:
        if run_id:
            try:
                tags = lineage_of(registry.call("get_run", run_id))
            except NotFound:
                tags = {}
        tags.update(gate_tags)
        _set_version_tags(registry, model, mv, tags)
    faults.point("after-register")

    fields = dict(common_fields(platform))
    fields.update({"verdict": verdict, "approved_by": approved_by, "gate_report": report_link,
                   "override": "true" if override else None, "reason": reason,
                   "candidate": candidate, "candidate_run_id": run_id})
    for key in names.LINEAGE_TAGS:
        if tags.get(key):
            fields["lineage." + key[len(names.PREFIX):]] = tags[key]
    if expect_alias and expect_alias != alias and expected is not UNSET:
        holder = registry.alias_version(model, expect_alias)
        if holder != expected:
            raise CheckFailed(f"{model}@{expect_alias} points to {fmt(holder)}, not "
                              f"{fmt(expected)} as the gate saw: it moved in between. Nothing "
                              f"was changed; re-run the gate against the current {expect_alias}.")
        expected = UNSET   # what `alias` (the queue) held before does not matter
    log = AuditLog(registry, model)
    result = transition(registry, log, alias=alias, kind="promote", target=version,
                        expected=expected, fields=fields, me=me_of(platform),
                        warn=platform.warning)
    result.verdict, result.approved_by = verdict, approved_by
    # Nothing is written on the version after the move: who moved it, when, from which
    # version and in which CI run is the audit event's (`mlci history`). Each version-tag
    # write would cost a request whose time MLflow's server makes grow with the version count.
    return result

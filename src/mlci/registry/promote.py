"""Promotion: move a registry alias to a candidate version, with an audit record, safely.

The move protocol (`transition`, shared with rollback) -- intent, claim, decide, move, confirm:

1. **settle** -- find the head of the alias's event chain (`mlci.registry.audit`). If it is
   pending (a promotion that did not finish), repair it first (below).
2. **check** -- read the alias. If it is not where the caller expects (``--expect-current``,
   or the version the gate compared against, from the gate report), stop: exit 1, nothing
   written. This is the "someone promoted in between" case.
3. **intent** -- append our event (state ``intent``, with from/to versions, verdict, actor,
   CI run, reason).
4. **claim** -- link our event after the head: a write-once register, so of two pipelines
   that both passed step 2 exactly one gets it. The loser marks its event ``lost`` and
   exits 1 naming the winner. The winner re-reads the alias (a change made outside mlci
   aborts here).
5. **decide** -- write ``decision=move`` on our event (write-once). From here the move is
   final: anyone may finish it.
6. **move** -- `set_registered_model_alias`.
7. **confirm** -- re-read the alias; state ``moved``, run FINISHED.

A failure part-way therefore never leaves the alias moved without its event (the event is
written before the move), nor an event claiming a move that did not happen (``moved`` is
written only after the alias was read back).

How a crash is detected and repaired: the event of an interrupted move stays the head of
its chain with no terminal state. The next promote or rollback of that alias finds it in
step 1 and looks at its decision:

- ``move`` (crashed after step 5): the move is finished on its behalf -- alias set to the
  event's target (idempotent, so harmless if the original process is alive and does it
  too), read back, event marked ``moved`` with a note naming the repairing run. Then the
  new request is checked against the alias as it now is (so a different promotion that
  expected the old version exits 1, correctly).
- none (crashed between steps 3/4 and 5): once the event is older than its lease
  (``$MLCI_PROMOTE_LEASE`` s, default 120) the repairer writes ``decision=abort``. That is
  a compare-and-set against the original process's ``decision=move``: exactly one of the
  two lands, so an aborted event can never move the alias afterwards. The event is marked
  ``aborted`` ("abandoned before the move"). A younger one means a promotion may still be
  running: exit 1, "in progress, retry".
- ``abort``: only the terminal tags are missing; they are written.

Re-running the *same* promotion (same alias, same target, same expected version) resumes
its own interrupted event instead of treating it as someone else's: it writes
``decision=move`` (the same value is accepted if the original wrote it too), moves and
confirms -- one event, no lease wait. Events that never got linked (a crash between steps
3 and 4) are not part of the chain; `history` shows them as ``abandoned``.

Policy (`promote`): a gate verdict of ``review`` needs ``--approved`` (exit 3 otherwise); a
``reject`` is refused (exit 1) unless ``--override --reason TEXT``, which is recorded; no
gate report at all counts as a manual promotion and needs ``--approved``.

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

Test hook: ``$MLCI_FAULT`` (`mlci.registry.faults`) stops the process at a named step.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlci import __version__
from mlci.ci import Platform
from mlci.errors import CheckFailed, InputError, ServiceError
from mlci.registry import faults
from mlci.registry.approvers import approver_of
from mlci.registry.audit import AuditLog, Event, Lost, iso, now_ms, version_tag
from mlci.registry.client import Conflict, NotFound, Registry, seconds_from_env

DEFAULT_LEASE = 120.0
LEASE_ENV = "MLCI_PROMOTE_LEASE"
UNSET: Any = object()   # "no expectation" (distinct from None = "the alias is not set")
_RUNS_URI = re.compile(r"^runs:/([0-9A-Za-z_-]+)/(.+)$")


class ApprovalRequired(CheckFailed):
    """The gate said `review` and no human approved: exit 3, as the gate itself does."""

    exit_code = 3


@dataclass
class MoveResult:
    model: str
    alias: str
    event: str                       # promote | rollback
    version: str
    previous_version: str | None
    moved: bool                      # False: the alias already pointed there
    event_id: str | None = None
    resumed: bool = False            # an interrupted run of the same move was finished
    repaired: list[str] = field(default_factory=list)   # other events finished/aborted first
    verdict: str | None = None
    approved_by: str | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def fmt(version: str | None) -> str:
    return "nothing (alias not set)" if version is None else f"version {version}"


def lease_from_env() -> float:
    return seconds_from_env(LEASE_ENV, DEFAULT_LEASE)


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


# -- the move protocol ---------------------------------------------------------------------------
def _finish_move(registry: Registry, log: AuditLog, event: Event, *, repaired_by: str | None,
                 trust_from: bool = False) -> None:
    """Steps 6-7 for a decided event: move the alias to its target and confirm."""
    model, alias, target = log.model, event.alias or "", event.to_version or ""
    note = f"finished by a later run ({repaired_by}) after an interruption" if repaired_by \
        else None
    if not trust_from:
        now = registry.alias_version(model, alias)
        if now not in (event.from_version, target):
            log.finish(event, "interrupted", note=f"alias was at {fmt(now)}, changed outside "
                       f"mlci; not moved" + (f" ({note})" if note else ""))
            raise CheckFailed(f"{model}@{alias} points to {fmt(now)}, which no mlci event "
                              f"explains: it was changed outside mlci. Nothing was moved.")
    registry.call("set_registered_model_alias", model, alias, target)
    faults.point("after-move")
    now = registry.alias_version(model, alias)
    if now != target:
        log.finish(event, "interrupted", note=f"moved to {target}, but read back {fmt(now)}: "
                   "changed outside mlci right after the move")
        raise CheckFailed(f"{model}@{alias} was moved to version {target} but now points to "
                          f"{fmt(now)}: something outside mlci changed it concurrently")
    log.finish(event, "moved", note=note, extra={"confirmed_at": iso(now_ms())})


def _repair(registry: Registry, log: AuditLog, head: Event, *, lease: float,
            me: str) -> None:
    decision = head.decision
    if decision is None:
        age = (now_ms() - head.time_ms) / 1000
        if age < lease:
            raise CheckFailed(
                f"another {head.describe()} started {age:.0f}s ago and has not finished. "
                f"Nothing was changed; retry when it has finished (or, if it crashed, after "
                f"its {lease:g}s lease, ${LEASE_ENV}, when the next run repairs it).")
        decision = log.decide(head, "abort")
    if decision == "abort":
        log.finish(head, "aborted", note=f"abandoned before the move; closed by {me}")
    else:
        _finish_move(registry, log, head, repaired_by=me)


def settle(registry: Registry, log: AuditLog, alias: str, *, me: str, lease: float,
           same: Any = None) -> tuple[Event | None, list[str], Event | None]:
    """Repair pending events at the head of the chain. Returns (head, repaired, resumed).

    `same(event) -> bool` says whether a pending head is an interrupted run of the very
    move we are asked for; such an event is resumed (finished) rather than repaired.
    """
    repaired: list[str] = []
    for _ in range(10):
        head = log.head(alias)
        if head is None or not head.pending:
            return head, repaired, None
        if same is not None and same(head):
            decision = head.decision or log.decide(head, "move")
            if decision == "move":
                _finish_move(registry, log, head, repaired_by=f"re-run {me}")
                return head, repaired, head
        _repair(registry, log, head, lease=lease, me=me)
        repaired.append(head.run_id)
    raise ServiceError(f"the audit chain of {log.model}@{alias} kept changing while it was "
                       "being repaired; retry")


def transition(registry: Registry, log: AuditLog, *, alias: str, kind: str, target: str,
               expected: Any, fields: Mapping[str, Any], me: str) -> MoveResult:
    """Move `alias` to `target` if it points to `expected` (UNSET: wherever it points)."""
    model = log.model
    lease = lease_from_env()

    def same(event: Event) -> bool:
        return (event.kind == kind and event.to_version == target
                and (expected is UNSET or event.from_version == expected))

    head, repaired, resumed = settle(registry, log, alias, me=me, lease=lease, same=same)
    if resumed is not None:
        return MoveResult(model, alias, kind, target, resumed.from_version, moved=True,
                          event_id=resumed.run_id, resumed=True, repaired=repaired,
                          note="finished an interrupted run of this same move")
    current = registry.alias_version(model, alias)
    if current == target:   # e.g. a re-run after success: nothing to move, nothing to check
        previous = head.from_version if head and head.to_version == target else None
        return MoveResult(model, alias, kind, target, previous, moved=False,
                          event_id=head.run_id if head and head.to_version == target else None,
                          repaired=repaired, note=f"{alias} already points to version {target}")
    if expected is not UNSET and current != expected:
        raise CheckFailed(
            f"{model}@{alias} points to {fmt(current)}, not {fmt(expected)} as expected "
            f"(the version the gate compared against): another pipeline moved it in between"
            + (f" -- {head.describe()}" if head and head.to_version == current else "")
            + f". Nothing was changed; re-run the gate against the current {alias}.")
    intent = log.begin(alias=alias, kind=kind, from_version=current, to_version=target,
                       head=head, lease_seconds=lease, fields=fields)
    faults.point("after-intent")
    try:
        log.claim(intent, head, alias)
    except Lost as lost:
        winner = None
        if lost.winner:
            try:
                winner = log.get(lost.winner)
            except ServiceError:
                winner = None
        log.finish(intent, "lost", note=f"another move claimed it first: {lost.winner}")
        raise CheckFailed(
            f"lost the race: {model}@{alias} was being moved from {fmt(current)} by "
            + (winner.describe() if winner else f"audit event {lost.winner}")
            + ", which claimed the move first. Nothing was changed by this run.") from None
    faults.point("after-claim")
    now = registry.alias_version(model, alias)
    if now != current:
        log.decide(intent, "abort")
        log.finish(intent, "aborted", note=f"alias changed outside mlci to {fmt(now)}")
        raise CheckFailed(f"{model}@{alias} changed to {fmt(now)} outside mlci while this "
                          "move was being prepared. Nothing was changed by this run.")
    if log.decide(intent, "move") != "move":
        log.finish(intent, "aborted", note="aborted by a repair (lease expired) before it moved")
        raise CheckFailed(f"this {kind} was aborted by another run's repair before it moved "
                          f"(it outlived its {lease:g}s lease, ${LEASE_ENV}). "
                          "Nothing was changed.")
    faults.point("after-decision")
    _finish_move(registry, log, intent, repaired_by=None, trust_from=True)
    return MoveResult(model, alias, kind, target, current, moved=True, event_id=intent.run_id,
                      repaired=repaired)


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
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"cannot read the gate report: {error.strerror or error}",
                         file=path) from None
    except ValueError as error:
        raise InputError(f"the gate report is not valid JSON: {error}", file=path) from None
    if not isinstance(data, dict) or data.get("verdict") not in ("promote", "review", "reject"):
        got = data.get("verdict") if isinstance(data, dict) else type(data).__name__
        raise InputError(f"expected 'promote', 'review' or 'reject', got {got!r}", file=path,
                         key="verdict")
    baseline = data.get("baseline")
    known, version = False, None
    if isinstance(baseline, dict) and "model_version" in baseline:
        known = True
        raw = baseline.get("model_version")
        version = None if raw in (None, "") else str(raw)
    elif baseline is None and "baseline" in data:
        known = True   # no baseline at all: the first model
    candidate = data.get("candidate")
    run_id = candidate.get("run_id") if isinstance(candidate, dict) else None
    link = os.environ.get("MLCI_GATE_REPORT_URL") or None
    return GateReport(path=path, verdict=data["verdict"], baseline_known=known,
                      baseline_version=version, candidate_run_id=run_id or None, link=link)


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
            raise ApprovalRequired("no --gate-report: a promotion without a gate verdict is a "
                                   "manual one and needs --approved (or --override --reason).")
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
    try:
        registry.call("create_registered_model", model)
    except Conflict:
        pass
    # Idempotent registration: a re-run after a crash finds the version it registered.
    existing = registry.call("search_model_versions",
                             f"name = '{model}' and run_id = '{run_id}'", max_results=200)
    for mv in sorted(existing, key=lambda v: int(v.version)):
        if mv.source == source:
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
            registry.call("set_model_version_tag", model, str(mv.version), key, text)


def lineage_of(run: Any) -> dict[str, str]:
    """The `mlci.*` tags the train stage wrote on the candidate's run (commit, data
    fingerprint, image digest, seed, CI run URL, ...), and the run id."""
    tags = {k: v for k, v in run.data.tags.items() if k.startswith("mlci.")}
    tags["mlci.source_run_id"] = run.info.run_id
    return tags


def actor_of(platform: Platform) -> str:
    """Who is acting: ``$MLCI_APPROVER`` if set, else the CI platform's actor (GitHub:
    ``GITHUB_TRIGGERING_ACTOR``/``GITHUB_ACTOR``; GitLab: ``GITLAB_USER_LOGIN``, the user who
    started a manual job), else the local user."""
    if os.environ.get("MLCI_APPROVER"):
        return os.environ["MLCI_APPROVER"]
    if platform.actor:
        return platform.actor
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database in some containers
        return "unknown"


def me_of(platform: Platform) -> str:
    return platform.run_url or f"pid {os.getpid()} of {actor_of(platform)}"


def common_fields(platform: Platform) -> dict[str, Any]:
    return {"actor": actor_of(platform), "ci_platform": platform.name,
            "ci_run_url": platform.run_url, "ci_commit": platform.commit,
            "mlci_version": __version__}


def promote(registry: Registry, *, model: str, candidate: str, alias: str,
            expect_current: Any = UNSET, gate_report: str | None = None,
            approved: bool = False, override: bool = False, reason: str | None = None,
            platform: Platform) -> MoveResult:
    report = read_gate_report(gate_report) if gate_report else None
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
    gate_tags = {"mlci.gate.verdict": verdict, "mlci.gate.report": report_link,
                 "mlci.approved_by": approved_by,
                 "mlci.gate.override_reason": reason if override else None}
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
    for key in ("mlci.git_commit", "mlci.data_fingerprint", "mlci.image_digest", "mlci.seed"):
        if tags.get(key):
            fields["lineage." + key[len("mlci."):]] = tags[key]
    log = AuditLog(registry, model)
    result = transition(registry, log, alias=alias, kind="promote", target=version,
                        expected=expected, fields=fields, me=me_of(platform))
    result.verdict, result.approved_by = verdict, approved_by
    # Nothing is written on the version after the move: who moved it, when, from which
    # version and in which CI run is the audit event's (`mlci history`). Each version-tag
    # write would cost a request whose time MLflow's server makes grow with the version count.
    return result

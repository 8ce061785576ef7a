"""The move protocol: move a registry alias with an audit record, safe under races and crashes.

`transition` (used by promote, rollback and the canary) -- intent, claim, decide, move, confirm:

1. **settle** -- find the head of the alias's event chain (`mlci.registry.audit`). If it is
   pending (a move that did not finish), repair it first (below). Then make sure the alias
   agrees with the chain (see "Late writes").
2. **check** -- read the alias. If it is not where the caller expects, stop: exit 1, nothing
   written. This is the "someone moved it in between" case.
3. **intent** -- append our event (state ``intent``, from/to versions and the caller's fields).
4. **claim** -- link our event after the head: a write-once register, so of two runs that both
   passed step 2 exactly one gets it. The loser marks its event ``lost`` and exits 1 naming
   the winner. The winner re-reads the alias (a change made outside mlci aborts here).
5. **decide** -- write ``decision=move`` on our event (write-once). From here the move is
   final: anyone may finish it.
6. **move** -- `set_registered_model_alias`.
7. **confirm** -- re-read the chain head and the alias (see "Late writes"); state ``moved``.

The event is written before the move and ``moved`` only after the alias was read back, so a
failure part-way never leaves the alias moved without its event, nor an event claiming a move
that did not happen.

Crash repair: an interrupted move stays the head of its chain with no terminal state. The
next move of that alias finds it in step 1 and looks at its decision: ``move`` -- the move is
finished on its behalf (alias set, confirmed, note naming the repairing run); none -- once the
event is older than its lease (``$MLCI_PROMOTE_LEASE`` s, default 120) the repairer writes
``decision=abort``, a compare-and-set against the owner's ``decision=move``, so an aborted
event can never move the alias afterwards; a younger one means a move may still be running:
exit 1, "in progress, retry"; ``abort`` -- only the terminal tags are written. Re-running the
*same* move resumes its own event (one event, no lease wait).

Late writes. MLflow has no conditional alias write, and a write can land long after it was
sent (a 503 and its backoff, a slow proxy): a finisher's write could land after a *later*
move and silently undo it. So every write is followed by a check, and every run starts with
one: the chain says where the alias must be -- the target of its newest event that moved or
decided to move (`chain_truth`) -- and whenever the alias holds another version that an
earlier event of the chain decided to move it to (the signature of a delayed write), the run
writes the chain's version back, records a ``repair`` event (found, restored, which event's
write it undid) and warns. The writer whose write landed late does this itself as soon as its
request returns; a write that lands after its writer gave up or died is repaired by the next
promote or rollback of the alias. A version no mlci event ever targeted (or an unset alias)
is a change made outside mlci: it is never overwritten by a repair (the move in progress stops,
event ``interrupted``, as before). An alias managed by mlci is therefore changed with
``mlci promote``/``rollback`` only; setting it by hand to a version mlci once moved it to
cannot be told apart from a delayed write and is restored by the next run, which says so.

Test hook: ``$MLCI_FAULT`` (`mlci.registry.faults`) stops the process at a named step.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from mlci import __version__
from mlci.ci import Platform
from mlci.errors import CheckFailed, ServiceError
from mlci.registry import faults
from mlci.registry.audit import AuditLog, Event, Lost, iso, now_ms
from mlci.registry.client import Registry, seconds_from_env

DEFAULT_LEASE = 120.0
LEASE_ENV = "MLCI_PROMOTE_LEASE"
UNSET: Any = object()   # "no expectation" (distinct from None = "the alias is not set")
ROUNDS = 10             # write-and-check rounds before giving up on a chain that keeps moving
MAX_BACK = 20           # events walked back past aborted ones to find the chain's version
Warn = Callable[[str], None]


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
    restored: list[str] = field(default_factory=list)   # late alias writes undone (repairs)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def fmt(version: str | None) -> str:
    return "nothing (alias not set)" if version is None else f"version {version}"


def lease_from_env() -> float:
    return seconds_from_env(LEASE_ENV, DEFAULT_LEASE)


def _stderr_warning(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


@dataclass
class _Run:
    """One run's view of one alias: who we are, where to warn, what we repaired."""

    registry: Registry
    log: AuditLog
    alias: str
    me: str
    warn: Warn
    restored: list[str] = field(default_factory=list)

    @property
    def model(self) -> str:
        return self.log.model

    def alias_now(self) -> str | None:
        return self.registry.alias_version(self.model, self.alias)

    def unchanged(self, repaired: list[str]) -> str:
        """How to end a refusal truthfully: what this run did write, if anything."""
        done = [f"finished or closed {len(repaired)} interrupted move(s)"] if repaired else []
        done += [f"restored {self.alias} after a delayed write"] if self.restored else []
        return ("Nothing was changed by this run." if not done else
                f"This run only {' and '.join(done)} (recorded in the audit trail).")


# -- late writes: the alias agrees with the chain ----------------------------------------------
def chain_truth(log: AuditLog, head: Event | None) -> Event | None:
    """The event whose target the alias must hold: the newest event of the chain that moved or
    decided to move. None: mlci has no say (no move yet, or the newest word is an
    ``interrupted`` event: the alias was changed outside mlci)."""
    node = head
    for _ in range(MAX_BACK):
        if node is None or node.state == "interrupted":
            return None
        if node.decision == "move" or node.state == "moved":
            return node
        prev = node.tag("prev")
        if not prev or prev == "root":
            return None
        node = log.get(prev)
    return None


def _agree(run: _Run, head: Event | None, now: str | None, wrote: Event | None) -> bool:
    """One round: True if the alias agrees with the chain (or mlci has no say), else restore
    the chain's version (a delayed write undone, recorded, warned) and return False."""
    truth = chain_truth(run.log, head)
    if truth is None or now == truth.to_version:
        return True
    if head is not None and head.pending and now == head.from_version and \
            (wrote is None or wrote.run_id != head.run_id):
        return True   # another run's move is under way; it writes, then checks, itself
    stale = run.log.decided_move_to(run.alias, now)
    if stale is None:   # no mlci event ever moved it there: changed outside mlci
        if wrote is not None and head is not None and head.run_id == wrote.run_id and \
                head.pending:
            run.log.finish(wrote, "interrupted", note=f"moved to {wrote.to_version}, but read "
                           f"back {fmt(now)}: changed outside mlci right after the move")
            raise CheckFailed(f"{run.model}@{run.alias} was moved to version "
                              f"{wrote.to_version} but now points to {fmt(now)}: something "
                              "outside mlci changed it concurrently")
        return True     # not ours to overwrite; the next move reports it
    target = truth.to_version or ""
    run.registry.call("set_registered_model_alias", run.model, run.alias, target)
    note = (f"{run.alias} pointed to version {now}, left by a delayed alias write of an earlier "
            f"move ({stale.describe()}); the chain's newest move ({truth.describe()}) says "
            f"version {target}: restored")
    run.log.record("repair", {"alias": run.alias, "from_version": now, "to_version": target,
                              "note": note, "actor": run.me, "undone_event": stale.run_id,
                              "chain_event": truth.run_id, "mlci_version": __version__})
    run.restored.append(note)
    run.warn(f"{run.model}@{note} (recorded in the audit trail as a repair event)")
    return False


def _converge(run: _Run, wrote: Event | None, head: Event | None = None,
              now: Any = UNSET) -> Event | None:
    """Check (and repair) until the alias agrees with the chain; return the head then."""
    for _ in range(ROUNDS):
        if head is None:
            head = run.log.head(run.alias)
        if now is UNSET:
            now = run.alias_now()
        if _agree(run, head, now, wrote):
            return head
        head, now = None, UNSET
    raise ServiceError(f"{run.model}@{run.alias} kept changing while mlci restored it to "
                       "what its audit trail says; retry")


def _current(run: _Run, head: Event | None) -> tuple[Event | None, str | None]:
    """(head, alias version) once they agree: a delayed write found here is undone first."""
    now = run.alias_now()
    if _agree(run, head, now, None):
        return head, now
    head = _converge(run, None)
    return head, run.alias_now()


def current_version(registry: Registry, log: AuditLog, alias: str, head: Event | None, *,
                    me: str, warn: Warn | None = None) -> tuple[str | None, list[str]]:
    """The alias's version after `settle`, made to agree with the chain first (a delayed
    write is undone and recorded): (version, notes of what was restored)."""
    run = _Run(registry, log, alias, me, warn or _stderr_warning)
    return _current(run, head)[1], run.restored


# -- finishing and repairing moves ---------------------------------------------------------------
def _finish_move(run: _Run, event: Event, *, repaired_by: str | None,
                 trust_from: bool = False) -> Event | None:
    """Steps 6-7 for a decided event: move the alias to its target and confirm. Returns the
    chain head after the move (another event when the chain moved on meanwhile)."""
    target = event.to_version or ""
    note = f"finished by a later run ({repaired_by}) after an interruption" if repaired_by \
        else None
    if not trust_from:
        now = run.alias_now()
        if now not in (event.from_version, target) and \
                run.log.decided_move_to(run.alias, now) is None:
            run.log.finish(event, "interrupted", note=f"alias was at {fmt(now)}, changed "
                           f"outside mlci; not moved" + (f" ({note})" if note else ""))
            raise CheckFailed(f"{run.model}@{run.alias} points to {fmt(now)}, which no mlci "
                              "event explains: it was changed outside mlci. Nothing was moved.")
    run.registry.call("set_registered_model_alias", run.model, run.alias, target)
    faults.point("after-move")
    # Re-read the head *after* our write returned: a later event means our write may have
    # landed after its move; _converge puts the chain's version back.
    head = _converge(run, event)
    if head is not None and head.run_id == event.run_id and head.pending:
        run.log.finish(event, "moved", note=note, extra={"confirmed_at": iso(now_ms())})
    return head


def _repair(run: _Run, head: Event, *, lease: float) -> None:
    decision = head.decision
    if decision is None:
        age = (now_ms() - head.time_ms) / 1000
        if age < lease:
            raise CheckFailed(
                f"another {head.describe()} started {age:.0f}s ago and has not finished. "
                f"Nothing was changed; retry when it has finished (or, if it crashed, after "
                f"its {lease:g}s lease, ${LEASE_ENV}, when the next run repairs it).")
        decision = run.log.decide(head, "abort")
    if decision == "abort":
        run.log.finish(head, "aborted", note=f"abandoned before the move; closed by {run.me}")
    else:
        _finish_move(run, head, repaired_by=run.me)


def _settle(run: _Run, *, lease: float,
            same: Callable[[Event], bool] | None) -> tuple[Event | None, list[str], Event | None]:
    repaired: list[str] = []
    for _ in range(ROUNDS):
        head = run.log.head(run.alias)
        if head is None or not head.pending:
            return head, repaired, None
        if same is not None and same(head):
            decision = head.decision or run.log.decide(head, "move")
            if decision == "move":
                _finish_move(run, head, repaired_by=f"re-run {run.me}")
                return head, repaired, head
        _repair(run, head, lease=lease)
        repaired.append(head.run_id)
    raise ServiceError(f"the audit chain of {run.model}@{run.alias} kept changing while it was "
                       "being repaired; retry")


def settle(registry: Registry, log: AuditLog, alias: str, *, me: str, lease: float,
           same: Callable[[Event], bool] | None = None,
           warn: Warn | None = None) -> tuple[Event | None, list[str], Event | None]:
    """Repair pending events at the head of the chain. Returns (head, repaired, resumed).

    `same(event) -> bool` says whether a pending head is an interrupted run of the very move
    we are asked for; such an event is resumed (finished) rather than repaired.
    """
    return _settle(_Run(registry, log, alias, me, warn or _stderr_warning), lease=lease,
                   same=same)


# -- the move -------------------------------------------------------------------------------------
def transition(registry: Registry, log: AuditLog, *, alias: str, kind: str, target: str,
               expected: Any, fields: Mapping[str, Any], me: str,
               warn: Warn | None = None) -> MoveResult:
    """Move `alias` to `target` if it points to `expected` (UNSET: wherever it points)."""
    run = _Run(registry, log, alias, me, warn or _stderr_warning)
    model, lease = log.model, lease_from_env()

    def same(event: Event) -> bool:
        return (event.kind == kind and event.to_version == target
                and (expected is UNSET or event.from_version == expected))

    def result(**kw: Any) -> MoveResult:
        return MoveResult(model, alias, kind, target, restored=run.restored, **kw)

    head, repaired, resumed = _settle(run, lease=lease, same=same)
    if resumed is not None:
        return result(previous_version=resumed.from_version, moved=True,
                      event_id=resumed.run_id, resumed=True, repaired=repaired,
                      note="finished an interrupted run of this same move")
    head, current = _current(run, head)
    if current == target:   # e.g. a re-run after success: nothing to move, nothing to check
        ours = head is not None and head.to_version == target
        return result(previous_version=head.from_version if head and ours else None,
                      moved=False, event_id=head.run_id if head and ours else None,
                      repaired=repaired, note=f"{alias} already points to version {target}")
    if expected is not UNSET and current != expected:
        raise CheckFailed(
            f"{model}@{alias} points to {fmt(current)}, not {fmt(expected)} as expected "
            f"(the version the gate compared against): another pipeline moved it in between"
            + (f" -- {head.describe()}" if head and head.to_version == current else "")
            + f". {run.unchanged(repaired)} Re-run the gate against the current {alias}.")
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
            + f", which claimed the move first. {run.unchanged(repaired)}") from None
    faults.point("after-claim")
    now = run.alias_now()
    if now != current and log.decided_move_to(alias, now) is None:
        log.decide(intent, "abort")
        log.finish(intent, "aborted", note=f"alias changed outside mlci to {fmt(now)}")
        raise CheckFailed(f"{model}@{alias} changed to {fmt(now)} outside mlci while this "
                          f"move was being prepared. {run.unchanged(repaired)}")
    # (a version an earlier event moved it to is a delayed write: our move overwrites it)
    if log.decide(intent, "move") != "move":
        log.finish(intent, "aborted", note="aborted by a repair (lease expired) before it moved")
        raise CheckFailed(f"this {kind} was aborted by another run's repair before it moved "
                          f"(it outlived its {lease:g}s lease, ${LEASE_ENV}). "
                          f"{run.unchanged(repaired)}")
    faults.point("after-decision")
    after = _finish_move(run, intent, repaired_by=None, trust_from=True)
    moved = result(previous_version=current, moved=True, event_id=intent.run_id,
                   repaired=repaired)
    if after is not None and after.run_id != intent.run_id:
        # Our write was late: another run finished our event for us and a later move followed.
        truth = chain_truth(log, after)
        moved.note = f"moved, then superseded while this run confirmed it: {after.describe()}"
        run.warn(f"{model}@{alias}: this {kind} to version {target} was done and recorded, "
                 f"but a later move already followed it ({after.describe()}); {alias} points "
                 f"to {fmt(truth.to_version if truth else run.alias_now())}")
    return moved


# -- who is acting ------------------------------------------------------------------------------
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

"""The audit trail of a registered model: an append-only event log kept in the registry itself.

Where the events live
    One MLflow *run* per event, in the experiment ``mlci-audit:<model>`` (created on first
    use). The event's fields are the run's tags (``mlci.event``, ``mlci.alias``,
    ``mlci.from_version``, ``mlci.to_version``, ``mlci.state``, ``mlci.verdict``,
    ``mlci.actor``, ``mlci.ci_run_url``, ``mlci.reason``, ...); its time is the run's start
    time. The log therefore lives next to the models it describes, survives any number of
    alias moves back and forth (model-version tags alone would be overwritten), and is read
    newest first, one page at a time, with ``search_runs(order_by=start_time DESC,
    max_results=N)``: the cost of `history` and of every lookup here depends on the page
    size and the number of *events*, never on the number of model versions.

Append-only under races
    Creating a run is the only way an event is added, and the server gives every run a
    fresh id, so two writers can never overwrite each other's event (a registered-model tag
    ``mlci.audit.<seq>`` would: tags are upserts and MLflow has no compare-and-swap).

    Moving an alias safely needs more than that: two pipelines that both saw ``champion ->
    v1`` must not both move it. MLflow has no conditional update, but it has two write-once
    registers that the server checks atomically in its database:

    * a run *param* cannot change once logged: the second `log_param` of the same key with
      a different value fails (``INVALID_PARAMETER_VALUE``, "Changing param values is not
      allowed"; the SQL store relies on the (run, key) primary key), while repeating the
      same value succeeds -- so a retried write is harmless;
    * an experiment *name* is unique: `create_experiment(name, tags)` fails with
      ``RESOURCE_ALREADY_EXISTS`` for the second creator, and the winner's tags are stored
      in the same transaction.

    The move events of one (model, alias) form a chain. Each event links to its successor
    through the param ``mlci.next`` on itself; the first event is linked from the tag
    ``mlci.next`` of a per-alias root experiment ``mlci-audit:<model>@<alias>``, created
    with that tag in one call. To move the alias, a writer creates its intent event and
    then *claims* the link after the current head of the chain. Exactly one claim of a
    link succeeds; a loser is told who won (`Lost`) and marks its own event ``lost``. A
    second write-once param, ``mlci.decision`` (``move`` or ``abort``) on the event itself,
    fences the holder of the link against a repairer (see `mlci.registry.moves`).

    The head is found from a hint -- the newest event of the alias tagged ``mlci.linked``
    -- and then by following ``mlci.next`` forward to the event that has none; any
    event of the chain leads to the head, so a stale hint (clock skew between runners, a
    crash before the ``linked`` tag) costs a lookup or two, never correctness.

    The guarantee needs a tracking server whose backend store is a database (the SQL
    store: SQLite, PostgreSQL, MySQL). MLflow's file store checks params with a read then a
    write, which is not atomic across processes.

Other events (``mlci canary`` weight changes and checks) are appended with `record`:
runs in the same experiment with ``mlci.state=recorded``, outside the chain.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from mlci import names
from mlci.errors import InputError, ServiceError
from mlci.registry.client import Conflict, NotFound, Registry

P = names.PREFIX
NEXT = names.AUDIT_NEXT              # param on an event / tag on the root experiment: the successor
DECISION = names.AUDIT_DECISION      # param on an event: "move" or "abort", written once
MOVE_KINDS = frozenset({"promote", "rollback"})
TERMINAL = frozenset({"moved", "aborted", "lost", "interrupted", "recorded"})
NONE = "none"                   # how "no version" is written in a tag
MAX_TAG = 5000
MAX_WALK = 100_000


def check_model_name(model: str) -> str:
    """`model`, if mlci can register and audit it; else an `InputError` (exit 2), raised before
    anything is created in the registry."""
    why = names.model_name_problem(model)
    if why:
        raise InputError(f"registered model name {model!r} cannot be used: {why}. "
                         f"{names.MODEL_NAME_HINT}", key="--model")
    return model


def literal(value: str) -> str:
    """`value` as a quoted string of an MLflow search filter. MLflow's filter parser has no
    escape for a quote inside a string, so a value containing both quote kinds is refused."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise InputError(f"cannot search the registry for {value!r}: it contains both quote kinds")


_DUPLICATE = re.compile(r"unique constraint|duplicate key|duplicate entry", re.IGNORECASE)


def upsert(registry: Registry, method: str, *args: Any, **kwargs: Any) -> Any:
    """A tag write (`set_tag`, `log_batch` tags, `set_model_version_tag`) that survives a
    concurrent writer of the same tag: MLflow's SQL store upserts with a read, then an insert,
    so two runs tagging the same run or version at once can collide on the table's unique
    key (a refusal naming the constraint). The row exists by then, so the write is repeated
    once, as an update."""
    try:
        return registry.call(method, *args, **kwargs)
    except (ServiceError, Conflict) as error:   # however the client classifies the refusal
        if not _DUPLICATE.search(str(error)):
            raise
    return registry.call(method, *args, **kwargs)


def events_experiment(model: str) -> str:
    return f"mlci-audit:{model}"


def root_experiment(model: str, alias: str) -> str:
    return f"mlci-audit:{model}@{alias}"


def version_tag(version: str | None) -> str:
    return NONE if version is None else str(version)


def version_of(tag: str | None) -> str | None:
    return None if tag in (None, "", NONE) else tag


def now_ms() -> int:
    return int(time.time() * 1000)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[
        :-3] + "Z"


class Lost(Exception):
    """Our claim of a link failed: `winner` (an event id) claimed it first."""

    def __init__(self, winner: str | None) -> None:
        super().__init__(winner)
        self.winner = winner


@dataclass
class Event:
    run_id: str
    time_ms: int
    status: str
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_run(cls, run: Any) -> Event:
        return cls(run_id=run.info.run_id, time_ms=int(run.info.start_time or 0),
                   status=str(run.info.status), tags=dict(run.data.tags),
                   params=dict(run.data.params))

    def tag(self, name: str) -> str | None:
        return self.tags.get(P + name)

    @property
    def kind(self) -> str:
        return self.tag("event") or "unknown"

    @property
    def alias(self) -> str | None:
        return self.tag("alias")

    @property
    def from_version(self) -> str | None:
        return version_of(self.tag("from_version"))

    @property
    def to_version(self) -> str | None:
        return version_of(self.tag("to_version"))

    @property
    def next(self) -> str | None:
        return self.params.get(NEXT)

    @property
    def decision(self) -> str | None:
        return self.params.get(DECISION)

    @property
    def state(self) -> str:
        """intent | claimed | moved | aborted | lost | interrupted | recorded."""
        state = self.tag("state") or "intent"
        if state in TERMINAL:
            return state
        if self.decision == "abort":
            return "aborted"
        return "claimed" if self.tag("linked") == "true" else state

    @property
    def pending(self) -> bool:
        return self.kind in MOVE_KINDS and self.state not in TERMINAL

    @property
    def seq(self) -> int:
        try:
            return int(self.tag("seq") or 0)
        except ValueError:
            return 0

    def describe(self) -> str:
        who = self.tag("actor") or "unknown actor"
        where = self.tag("ci_run_url")
        return (f"{self.kind} of {self.tag('model')}@{self.alias} "
                f"{version_tag(self.from_version)} -> {version_tag(self.to_version)} by {who}"
                + (f" ({where})" if where else "") + f" [audit event {self.run_id}]")

    def as_dict(self) -> dict[str, Any]:
        core = ("event", "model", "alias", "from_version", "to_version", "state", "verdict",
                "actor", "approved_by", "ci_run_url", "reason", "note", "seq")
        out: dict[str, Any] = {
            "id": self.run_id, "time": iso(self.time_ms), "event": self.kind,
            "model": self.tag("model"), "alias": self.alias,
            "from_version": self.from_version, "to_version": self.to_version,
            "outcome": "pending" if self.pending else self.state,
            "verdict": self.tag("verdict"), "actor": self.tag("actor"),
            "approved_by": self.tag("approved_by"), "ci_run_url": self.tag("ci_run_url"),
            "reason": self.tag("reason"), "note": self.tag("note"),
            "seq": self.seq or None,
        }
        out["details"] = {k[len(P):]: v for k, v in sorted(self.tags.items())
                          if k.startswith(P) and k[len(P):] not in core
                          and k[len(P):] not in ("linked", "intent", "prev", "lease_until")}
        return out


def _clip(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_TAG else text[:MAX_TAG - 3] + "..."


class AuditLog:
    """The event log of one registered model."""

    def __init__(self, registry: Registry, model: str) -> None:
        self.registry = registry
        self.model = model
        self._experiment_id: str | None = None

    # -- the experiment ------------------------------------------------------------------
    def experiment_id(self, *, create: bool) -> str | None:
        if self._experiment_id is not None:
            return self._experiment_id
        name = events_experiment(self.model)
        found = self.registry.call("get_experiment_by_name", name)
        if found is None and create:
            try:
                self._experiment_id = str(self.registry.call(
                    "create_experiment", name,
                    tags={P + "audit": "events", P + "model": self.model}))
                return self._experiment_id
            except Conflict:
                found = self.registry.call("get_experiment_by_name", name)
        if found is None:
            return None
        if getattr(found, "lifecycle_stage", "active") == "deleted":
            if not create:
                return str(found.experiment_id)
            # The audit log must outlive a cleanup of experiments: bring it back.
            self.registry.call("restore_experiment", found.experiment_id)
        self._experiment_id = str(found.experiment_id)
        return self._experiment_id

    def get(self, run_id: str) -> Event:
        try:
            return Event.from_run(self.registry.call("get_run", run_id))
        except NotFound:
            raise ServiceError(f"audit event {run_id} of {self.model} is missing from the "
                               f"registry (deleted by hand?)") from None

    # -- the chain -------------------------------------------------------------------------
    def head(self, alias: str) -> Event | None:
        """The newest event of the alias's move chain, or None before the first move."""
        exp = self.experiment_id(create=False)
        node: Event | None = None
        if exp is not None:
            runs = self.registry.call(
                "search_runs", [exp],
                filter_string=f"tags.`{P}alias` = {literal(alias)} and tags.`{P}linked` = 'true'",
                max_results=1, order_by=["attributes.start_time DESC"])
            if runs:
                node = Event.from_run(runs[0])
        if node is None:
            root = self.registry.call("get_experiment_by_name",
                                      root_experiment(self.model, alias))
            first = root.tags.get(NEXT) if root is not None else None
            if not first:
                return None
            node = self.get(first)
        for _ in range(MAX_WALK):
            if not node.next:
                return node
            node = self.get(node.next)
        raise ServiceError(f"audit chain of {self.model}@{alias} does not end")  # pragma: no cover

    def begin(self, *, alias: str, kind: str, from_version: str | None, to_version: str,
              head: Event | None, lease_seconds: float, fields: Mapping[str, Any]) -> Event:
        """Write the intent: a new event, not yet part of the chain."""
        exp = self.experiment_id(create=True)
        start = now_ms()
        tags = {P + key: _clip(value) for key, value in fields.items()
                if value is not None and value != ""}
        tags.update({
            P + "event": kind, P + "model": self.model, P + "alias": alias,
            P + "from_version": version_tag(from_version), P + "to_version": to_version,
            P + "state": "intent", P + "prev": head.run_id if head else "root",
            P + "seq": str(head.seq + 1 if head else 1),
            P + "lease_until": str(start + int(lease_seconds * 1000)),
        })
        run = self.registry.call(
            "create_run", exp, start_time=start, tags=tags,
            run_name=f"{kind} {alias}: {version_tag(from_version)} -> {to_version}")
        return Event.from_run(run)

    def claim(self, intent: Event, head: Event | None, alias: str) -> None:
        """Link `intent` after `head` (or as the first event). Raises `Lost` if taken."""
        if head is None:
            name = root_experiment(self.model, alias)
            try:
                self.registry.call("create_experiment", name, tags={
                    NEXT: intent.run_id, P + "audit": "root", P + "model": self.model,
                    P + "alias": alias})
            except Conflict:
                root = self.registry.call("get_experiment_by_name", name)
                winner = root.tags.get(NEXT) if root is not None else None
                if winner != intent.run_id:
                    raise Lost(winner) from None
        else:
            try:
                self.registry.call("log_param", head.run_id, NEXT, intent.run_id)
            except Conflict:
                winner = self.get(head.run_id).next
                if winner != intent.run_id:
                    raise Lost(winner) from None
        upsert(self.registry, "set_tag", intent.run_id, P + "linked", "true")
        intent.tags[P + "linked"] = "true"

    def decide(self, event: Event, decision: str) -> str:
        """Write the event's one decision; return the decision that stands (ours or earlier)."""
        try:
            self.registry.call("log_param", event.run_id, DECISION, decision)
            event.params[DECISION] = decision
            return decision
        except Conflict:
            fresh = self.get(event.run_id)
            event.params.update(fresh.params)
            return fresh.decision or decision

    def finish(self, event: Event, state: str, *, note: str | None = None,
               extra: Mapping[str, Any] | None = None) -> None:
        from mlflow.entities import RunTag

        tags = {P + "state": state, P + "finished_at": iso(now_ms())}
        if note:
            tags[P + "note"] = _clip(note)
        for key, value in (extra or {}).items():
            if value is not None:
                tags[P + key] = _clip(value)
        upsert(self.registry, "log_batch", event.run_id,
                           tags=[RunTag(k, v) for k, v in tags.items()])
        status = {"moved": "FINISHED", "recorded": "FINISHED", "aborted": "KILLED"}.get(
            state, "FAILED")
        self.registry.call("set_terminated", event.run_id, status)
        event.tags.update(tags)

    # -- other events and reading ------------------------------------------------------------
    def record(self, kind: str, fields: Mapping[str, Any]) -> Event:
        """Append an event that moves nothing (e.g. a canary weight change or check)."""
        exp = self.experiment_id(create=True)
        tags = {P + key: _clip(value) for key, value in fields.items()
                if value is not None and value != ""}
        tags.update({P + "event": kind, P + "model": self.model, P + "state": "recorded"})
        run = self.registry.call("create_run", exp, start_time=now_ms(), tags=tags,
                                 run_name=kind)
        self.registry.call("set_terminated", run.info.run_id, "FINISHED")
        return Event.from_run(run)

    def page(self, limit: int, token: str | None = None) -> tuple[list[Event], str | None]:
        """Events newest first, `limit` at a time."""
        exp = self.experiment_id(create=False)
        if exp is None:
            return [], None
        runs = self.registry.call("search_runs", [exp], filter_string="",
                                  max_results=limit, order_by=["attributes.start_time DESC"],
                                  page_token=token)
        return [Event.from_run(run) for run in runs], getattr(runs, "token", None) or None

    def last_move_to(self, alias: str, version: str, kind: str = "promote") -> Event | None:
        """The newest completed `kind` event that moved `alias` to `version`."""
        return self._newest(f"tags.`{P}alias` = {literal(alias)} and tags.`{P}to_version` = "
                            f"{literal(version)} and tags.`{P}state` = 'moved' and "
                            f"tags.`{P}event` = {literal(kind)}")

    def decided_move_to(self, alias: str, version: str | None) -> Event | None:
        """The newest event of the chain that decided to move `alias` to `version`: one whose
        alias write may still land late (`mlci.registry.moves`). None for an unset alias."""
        if version is None:
            return None
        return self._newest(f"tags.`{P}alias` = {literal(alias)} and tags.`{P}to_version` = "
                            f"{literal(version)} and params.`{DECISION}` = 'move'")

    def _newest(self, filter_string: str) -> Event | None:
        exp = self.experiment_id(create=False)
        if exp is None:
            return None
        runs = self.registry.call("search_runs", [exp], filter_string=filter_string,
                                  max_results=1, order_by=["attributes.start_time DESC"])
        return Event.from_run(runs[0]) if runs else None

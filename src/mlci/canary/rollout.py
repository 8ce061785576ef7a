"""The persisted rollout (one JSON document per model) and the lease that says who may advance it.

A tick takes the lease (`holder`) with a compare-and-set on the state, works, and releases it
with another. A second tick meanwhile sees a live holder and exits, saying who it is. A holder
that died is recognised two ways: on the same host, its pid no longer exists; elsewhere, its
lease ran out (`$MLCI_CANARY_LEASE` seconds, default 300, renewed by every write of the tick).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from mlci.canary.state import StateConflict, StateStore
from mlci.errors import InputError

SCHEMA = 1
TERMINAL = frozenset({"promoted", "rolled-back"})
MAX_WINDOWS = 500       # kept in the document for status and the chart; the audit has them all


@dataclass
class Rollout:
    model: str
    version: str                              # the candidate
    stable_version: str | None                # what serves production; None: a first model
    candidate_was_champion: bool = False
    # starting | running | waiting-approval | promoting | rolling-back | promoted | rolled-back
    phase: str = "starting"
    step: int = 0
    weight: float = 0.0                       # the split last confirmed applied
    pending_weight: float | None = None       # intent: written before the target is changed
    started_at: float = 0.0
    step_started_at: float = 0.0
    last_window_end: float = 0.0
    finished_at: float | None = None
    failures: int = 0
    inconclusive_streak: int = 0
    passes_in_step: int = 0
    last_status: str | None = None            # verdict of the newest window
    approved_step: int | None = None
    approved_by: str | None = None
    reason: str | None = None                 # why it ended (rolled back / promoted)
    target_saved: dict[str, Any] = field(default_factory=dict)
    source_cursor: dict[str, Any] = field(default_factory=dict)
    windows: list[dict[str, Any]] = field(default_factory=list)
    weights: list[dict[str, Any]] = field(default_factory=list)   # [{t, from, to}]
    holder: dict[str, Any] | None = None
    schema: int = SCHEMA

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any], where: str) -> Rollout:
        if doc.get("schema") != SCHEMA:
            raise InputError(f"rollout state schema {doc.get('schema')!r} is not {SCHEMA}",
                             file=where)
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in doc.items() if k in known})
        except TypeError as error:
            raise InputError(f"the rollout state is incomplete: {error}", file=where) from None

    def add_window(self, entry: dict[str, Any]) -> None:
        self.windows.append(entry)
        del self.windows[:-MAX_WINDOWS]


def lease_seconds() -> float:
    from mlci.registry.client import seconds_from_env

    return seconds_from_env("MLCI_CANARY_LEASE", 300.0)


def me(run_url: str | None, actor: str) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "pid": os.getpid(), "host": socket.gethostname(),
            "run": run_url, "actor": actor, "since": time.time()}


def describe(holder: dict[str, Any]) -> str:
    where = holder.get("run") or f"pid {holder.get('pid')} on {holder.get('host')}"
    since = time.strftime("%H:%M:%S", time.gmtime(float(holder.get("since") or 0)))
    return f"{where} (by {holder.get('actor') or 'unknown'}, since {since} UTC)"


def alive(holder: dict[str, Any], now: float) -> bool:
    if float(holder.get("until") or 0) <= now:
        return False
    if holder.get("host") == socket.gethostname():
        try:
            os.kill(int(holder.get("pid") or 0), 0)
        except ProcessLookupError:
            return False   # died on this host: no need to wait for its lease
        except (PermissionError, ValueError):
            return True
    return True


class Busy(Exception):
    def __init__(self, holder: dict[str, Any]) -> None:
        super().__init__(describe(holder))
        self.holder = holder


class Lease:
    """The state of one model's rollouts, held by this process for the length of one tick."""

    def __init__(self, store: StateStore, holder: dict[str, Any]) -> None:
        self.store = store
        self.holder = holder
        self.token: str | None = None
        self.doc: dict[str, Any] | None = None
        self.held = False

    def acquire(self, now: float) -> Rollout | None:
        """The current rollout (None: there has never been one); raises Busy."""
        doc, token = self.store.load()
        if doc is not None:
            other = doc.get("holder")
            if other and other.get("id") != self.holder["id"] and alive(other, now):
                raise Busy(other)
            doc["holder"] = {**self.holder, "until": now + lease_seconds()}
            try:
                self.token = self.store.save(doc, token)
            except StateConflict:
                raise Busy(self._who()) from None
        self.doc, self.held = doc, True
        return Rollout.from_dict(doc, self.store.where) if doc is not None else None

    def _who(self) -> dict[str, Any]:
        doc, _ = self.store.load()
        return (doc or {}).get("holder") or {"run": "another process", "since": time.time()}

    def save(self, rollout: Rollout, now: float, *, release: bool = False) -> None:
        rollout.holder = None if release else {**self.holder, "until": now + lease_seconds()}
        try:
            self.token = self.store.save(rollout.as_dict(), self.token)
        except StateConflict:
            raise Busy(self._who()) from None
        if release:
            self.held = False

    def release(self) -> None:
        """Give the lease back without changing anything else (after an error)."""
        if not self.held:
            return
        try:
            doc, token = self.store.load()
            if doc is not None and (doc.get("holder") or {}).get("id") == self.holder["id"]:
                doc["holder"] = None
                self.store.save(doc, token)
        except Exception:  # noqa: BLE001, S110 - the lease then simply runs out
            pass
        self.held = False

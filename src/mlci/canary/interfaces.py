"""The two seams of a rollout: where traffic is split (a `Target`) and where its evidence comes
from (a `MetricSource`). The controller (`mlci.canary.controller`) knows only these; each
target and each source is a module of its own that knows nothing of the others.

Weights are percentages of traffic to the canary, as floats: 0.5 is a 1:199 split; 0 means the
canary is out of the router entirely (not `weight=0`, which nginx rejects); 100 means all
traffic to the canary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

STABLE = "stable"
CANARY = "canary"


@dataclass(frozen=True)
class ModelRef:
    """One variant: a registered model version and where it can be loaded from."""

    model: str
    version: str
    uri: str                     # e.g. models:/churn/3 (what `mlflow models serve -m` takes)


@dataclass
class VariantSample:
    """What one variant served in one window."""

    requests: int = 0
    errors: int = 0              # every non-2xx answer counts (and connection failures)
    latencies_ms: list[float] = field(default_factory=list)
    business: dict[str, float] = field(default_factory=dict)   # business metric -> value


@dataclass
class Window:
    """The evidence of one check interval, for both variants over the same time span."""

    start: float                 # unix seconds
    end: float
    stable: VariantSample
    canary: VariantSample


class SourceError(Exception):
    """The metric source could not be read: the check fails (never passes on no data)."""


class TargetError(Exception):
    """The serving target refused a change (bad config, failed reload, API error)."""


class Target(Protocol):
    """Sets the traffic split between the stable model and the canary."""

    name: str

    def prepare(self, stable: ModelRef, canary: ModelRef, saved: dict[str, Any]) -> dict[str, Any]:
        """Make both variants reachable (start servers, add a variant, ...) with the canary at
        0%. `saved` is what an earlier call returned (a resumed rollout): reuse what still
        runs. Returns what must be persisted in the rollout state to resume or clean up."""

    def set_weight(self, weight: float) -> None:
        """Route `weight` percent of traffic to the canary; raise TargetError and keep the
        last good split when the change cannot be applied."""

    def health(self) -> str | None:
        """None when both variants are reachable, else what is wrong."""

    def finish(self, outcome: str) -> None:
        """`promoted`: the canary now serves all traffic as the new stable model;
        `rolled-back`: all traffic to the stable model, the canary removed. Idempotent."""


class MetricSource(Protocol):
    """Reads the evidence of one window. `cursor` is persisted in the rollout state between
    ticks (e.g. a byte offset into an access log) so each tick reads only what is new."""

    def read(self, cursor: dict[str, Any], start: float,
             end: float) -> tuple[Window, dict[str, Any]]:
        """The window [start, end) and the cursor to pass next time; SourceError if unreadable."""

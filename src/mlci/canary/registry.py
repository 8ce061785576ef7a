"""What a rollout does to the registry (the registry says what serves production).

- The promote stage (with a `deploy:` section) moves alias `canary` to the candidate; the
  production alias (`champion`, `registry.alias`) still names the stable model.
- A rollout of version V compares it with the production alias's version. If V already *is*
  the production alias (promoted straight to champion before the rollout), the stable model is
  the version it replaced, read from the audit trail, and a rollback restores it exactly as
  `mlci rollback` does.
- Promoted (100% and its checks passed): the production alias moves to V through the move
  protocol's compare-and-set, expecting the stable version the rollout started from (a move
  made meanwhile by someone else stops it: exit 1), then alias `canary` is removed.
- Rolled back: alias `canary` is removed (if it still names V) and V is tagged
  `mlci.rollout=rolled-back`.
- Every start, weight change, check window, approval and outcome is an audit event
  (`AuditLog.record`), shown by `mlci history`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from mlci import names
from mlci.ci import Platform
from mlci.errors import InputError
from mlci.registry.audit import AuditLog
from mlci.registry.client import NotFound, Registry


@dataclass
class Plan:
    version: str
    stable: str | None                 # None: a first model
    candidate_was_champion: bool


class RolloutRegistry:
    def __init__(self, registry: Registry, model: str, *, champion: str, canary: str,
                 platform: Platform) -> None:
        self.registry = registry
        self.model = model
        self.champion = champion
        self.canary = canary
        self.platform = platform
        self.log = AuditLog(registry, model)

    def uri(self, version: str) -> str:
        return f"models:/{self.model}/{version}"

    def queued(self) -> str | None:
        """The version alias `canary` names (queued for rollout), if any."""
        return self.registry.alias_version(self.model, self.canary)

    def plan(self, version: str) -> Plan:
        if self.registry.model_version(self.model, version) is None:
            raise InputError(f"registered model {self.model!r} has no version {version}",
                             key="--version")
        champion = self.registry.alias_version(self.model, self.champion)
        if champion != version:
            return Plan(version, champion, False)
        event = self.log.last_move_to(self.champion, version, kind="promote")
        previous = event.from_version if event is not None else None
        return Plan(version, previous, True)

    def record(self, kind: str, version: str, stable: str | None, summary: str,
               details: dict[str, Any] | None = None) -> None:
        from mlci.registry.promote import common_fields

        fields: dict[str, Any] = dict(common_fields(self.platform))
        fields.update({"alias": self.canary, "from_version": stable or "none",
                       "to_version": version, "reason": summary})
        fields.update(details or {})
        self.log.record(kind, fields)

    def _drop_canary_alias(self, version: str) -> None:
        if self.registry.alias_version(self.model, self.canary) == version:
            with contextlib.suppress(NotFound):
                self.registry.call("delete_registered_model_alias", self.model, self.canary)

    def promote(self, plan: Plan, summary: str) -> None:
        from mlci.registry.promote import common_fields, me_of, transition

        if not plan.candidate_was_champion:
            fields = dict(common_fields(self.platform))
            fields.update({"reason": summary, "via": "canary rollout",
                           "approved_by": "canary analysis"})
            transition(self.registry, self.log, alias=self.champion, kind="promote",
                       target=plan.version, expected=plan.stable, fields=fields,
                       me=me_of(self.platform))
        self._drop_canary_alias(plan.version)
        self.registry.call("set_model_version_tag", self.model, plan.version, names.ROLLOUT,
                           "promoted")

    def roll_back(self, plan: Plan, summary: str) -> None:
        from mlci.registry.rollback import rollback

        self._drop_canary_alias(plan.version)
        self.registry.call("set_model_version_tag", self.model, plan.version, names.ROLLOUT,
                           "rolled-back")
        if plan.candidate_was_champion and plan.stable is not None and \
                self.registry.alias_version(self.model, self.champion) == plan.version:
            rollback(self.registry, model=self.model, alias=self.champion, to=plan.stable,
                     reason=f"canary rollout of version {plan.version} rolled back: {summary}",
                     platform=self.platform)

"""Rollback: move the alias back to its previous holder (or `--to VERSION`), audited.

"Previous holder" is read from the audit trail, not from model-version tags: the
``from_version`` of the newest completed *promote* event that moved the alias to the version
it holds now. Rolling back twice therefore walks back through the promotions (v3 -> v2 ->
v1), instead of toggling between the last two. A version that first became the holder
(nothing before it), or an alias set outside mlci, has no recorded previous holder: give
``--to``.

The move itself is `mlci.registry.moves.transition` with the current version as the
expectation: the same intent/claim/decide/move/confirm protocol, so a rollback racing a
promotion (or another rollback) either wins cleanly or exits 1 with nothing changed.
"""

from __future__ import annotations

from mlci.ci import Platform
from mlci.errors import InputError
from mlci.registry.audit import AuditLog, Event
from mlci.registry.client import NotFound, Registry
from mlci.registry.moves import (
    MoveResult,
    common_fields,
    current_version,
    lease_from_env,
    me_of,
    settle,
    transition,
)


def _require_model(registry: Registry, model: str) -> None:
    """A missing model is the --model flag's fault, not --alias's."""
    try:
        registry.call("get_registered_model", model)
    except NotFound:
        raise InputError(f"registered model {model!r} does not exist at {registry.where}",
                         key="--model") from None


def rollback(registry: Registry, *, model: str, alias: str, to: str | None = None,
             reason: str | None = None, platform: Platform) -> MoveResult:
    log = AuditLog(registry, model)
    me = me_of(platform)
    wanted = str(int(to)) if to is not None and to.strip().isdigit() else None

    def same(event: Event) -> bool:
        """An interrupted rollback that this one repeats (a re-run of the same job)."""
        if event.kind != "rollback" or (wanted is not None and event.to_version != wanted):
            return False
        return registry.alias_version(model, alias) in (event.from_version, event.to_version)

    # Finish or close an interrupted move first, so "current" below is the settled truth.
    head, repaired, resumed = settle(registry, log, alias, me=me, lease=lease_from_env(),
                                     same=same, warn=platform.warning)
    if resumed is not None:
        return MoveResult(model, alias, "rollback", resumed.to_version or "",
                          resumed.from_version, moved=True, event_id=resumed.run_id,
                          resumed=True, repaired=repaired,
                          note="finished an interrupted run of this same rollback")
    # "Previous holder" is judged from the alias as the trail says it is (a delayed write undone).
    current, restored = current_version(registry, log, alias, head, me=me, warn=platform.warning)
    if current is None:
        _require_model(registry, model)
        raise InputError(f"{model}@{alias} is not set: there is nothing to roll back",
                         key="--alias")
    if to is not None:
        text = to.strip()
        if not text.isdigit():
            raise InputError(f"expected a version number, got {to!r}", key="--to")
        target = str(int(text))
        if registry.model_version(model, target) is None:
            raise InputError(f"registered model {model!r} has no version {target}", key="--to")
    else:
        event = log.last_move_to(alias, current, kind="promote")
        if event is None:
            raise InputError(
                f"no promotion of version {current} to {model}@{alias} is recorded in the "
                "audit trail, so its previous holder is unknown: give --to VERSION")
        if event.from_version is None:
            raise InputError(
                f"version {current} was the first holder of {model}@{alias}: there is no "
                "earlier version to roll back to; give --to VERSION")
        target = event.from_version
    if target == current:
        raise InputError(f"{model}@{alias} already points to version {target}", key="--to")
    fields = dict(common_fields(platform))
    fields.update({"reason": reason or "(no reason given)", "rolled_back_version": current})
    result = transition(registry, log, alias=alias, kind="rollback", target=target,
                        expected=current, fields=fields, me=me, warn=platform.warning)
    result.repaired = repaired + result.repaired
    result.restored = restored + result.restored
    return result

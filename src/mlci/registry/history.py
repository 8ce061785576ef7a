"""`mlci history`: the audit trail of a model, newest first, as a table or JSON.

Read-only: it repairs nothing (the next promote or rollback does). An interrupted move
shows as ``pending``; an intent that never got linked into its alias's chain (its process
died between writing the intent and claiming the move) shows as ``abandoned`` -- it moved
nothing.
"""

from __future__ import annotations

from typing import Any

from mlci.registry.audit import NEXT, AuditLog, Event, root_experiment
from mlci.registry.client import NotFound, Registry

COLUMNS = ("time", "event", "alias", "from", "to", "outcome", "verdict", "actor", "ci run",
           "reason")


def _linked(log: AuditLog, event: Event) -> bool:
    """Is a not-yet-tagged event part of its chain (did its claim succeed)?"""
    prev = event.tag("prev")
    if prev == "root":
        root = log.registry.call("get_experiment_by_name",
                                 root_experiment(log.model, event.alias or ""))
        return root is not None and root.tags.get(NEXT) == event.run_id
    if not prev:
        return False
    try:
        return log.get(prev).next == event.run_id
    except Exception:  # noqa: BLE001 - a missing predecessor: not linked
        return False


def history(registry: Registry, model: str, *, limit: int = 50,
            page_token: str | None = None) -> dict[str, Any]:
    log = AuditLog(registry, model)
    events, token = log.page(limit, page_token)
    rows = []
    for event in events:
        row = event.as_dict()
        if event.pending and event.tag("linked") != "true" and not _linked(log, event):
            row["outcome"] = "abandoned"
        rows.append(row)
    current: dict[str, str | None] = {}
    for alias in sorted({row["alias"] for row in rows if row.get("alias")}):
        try:
            current[alias] = registry.alias_version(model, alias)
        except NotFound:
            current[alias] = None
    return {"model": model, "aliases": current, "events": rows, "next_page_token": token}


def _short(value: Any, width: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[:width - 1] + "…"


def render_table(data: dict[str, Any]) -> str:
    rows = [(e["time"][:19].replace("T", " "), e["event"], e.get("alias") or "",
             e.get("from_version") or ("-" if e["event"] in ("promote", "rollback") else ""),
             e.get("to_version") or "", e["outcome"], e.get("verdict") or "",
             _short(e.get("actor"), 20), _short(e.get("ci_run_url"), 60),
             _short(e.get("reason"), 40)) for e in data["events"]]
    head = [c.upper() for c in COLUMNS]
    widths = [max([len(head[i])] + [len(r[i]) for r in rows]) for i in range(len(head))]
    lines = [f"# {data['model']}: " + (", ".join(f"{a} -> {v or 'unset'}"
                                                for a, v in data["aliases"].items())
                                      or "no alias moves recorded")]
    lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=False)).rstrip())
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())
    if not rows:
        lines.append("(no events)")
    if data.get("next_page_token"):
        lines.append(f"(more: --page-token {data['next_page_token']})")
    return "\n".join(lines)

"""The difference between two manifests: added, removed, modified and renamed entries.

A rename is a removed path and an added path with the same hash and size, paired one to
one (in path order, so the pairing is deterministic when several files share a hash).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from mlci.data.manifest import Entry, Manifest


@dataclass
class Diff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: list[dict[str, Any]] = field(default_factory=list)
    renamed: list[dict[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.modified or self.renamed)

    def counts(self) -> dict[str, int]:
        return {"added": len(self.added), "removed": len(self.removed),
                "modified": len(self.modified), "renamed": len(self.renamed)}

    def to_json(self) -> dict[str, Any]:
        return {"added": self.added, "removed": self.removed, "modified": self.modified,
                "renamed": self.renamed}


def _dir_detail(old: Entry, new: Entry) -> dict[str, list[str]] | None:
    """File-level detail of a changed DVC directory output, when both listings are known."""
    a = (old.extra or {}).get("dir")
    b = (new.extra or {}).get("dir")
    if not isinstance(a, dict) or not isinstance(b, dict):
        return None
    return {"added": sorted(b.keys() - a.keys()), "removed": sorted(a.keys() - b.keys()),
            "modified": sorted(k for k in a.keys() & b.keys() if a[k] != b[k])}


def diff(old: Manifest, new: Manifest) -> Diff:
    before = old.by_path()
    after = new.by_path()
    result = Diff()
    added = sorted(after.keys() - before.keys())
    removed = sorted(before.keys() - after.keys())
    for path in sorted(before.keys() & after.keys()):
        a, b = before[path], after[path]
        if a.hash != b.hash or a.size != b.size:
            change: dict[str, Any] = {"path": path, "old_hash": a.hash, "new_hash": b.hash,
                                      "old_size": a.size, "new_size": b.size}
            detail = _dir_detail(a, b)
            if detail is not None:
                change["files"] = detail
            result.modified.append(change)
    by_content: dict[tuple[str, int], list[str]] = defaultdict(list)
    for path in removed:
        by_content[(before[path].hash, before[path].size)].append(path)
    still_added = []
    renamed_from = set()
    for path in added:
        candidates = by_content.get((after[path].hash, after[path].size))
        if candidates:
            source = candidates.pop(0)
            renamed_from.add(source)
            result.renamed.append({"from": source, "to": path})
        else:
            still_added.append(path)
    result.added = still_added
    result.removed = [p for p in removed if p not in renamed_from]
    return result

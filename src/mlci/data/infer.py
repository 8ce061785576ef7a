"""`mlci validate-data --infer`: a starting contract from a reference snapshot.

What the snapshot shows becomes a rule the snapshot passes: each column's type, whether it
has nulls (and its null ratio), its range, its categories when there are few, uniqueness
of id-like columns, and a drift section against the snapshot itself. The team then edits
it: widen the ranges, drop what is incidental, add what they know.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from mlci.data.contract import Contract, to_datetime
from mlci.data.validate.columns import BOOLS, ColumnData
from mlci.data.validate.reading import read_table

MAX_CATEGORIES = 20


def _round_up(ratio: float) -> float:
    """A null-ratio limit a little above what was seen (3 significant digits)."""
    bumped = min(1.0, ratio * 1.5)
    return float(f"{bumped:.3g}") if bumped > ratio else ratio


def _iso(micros: int) -> str:
    moment = datetime.fromtimestamp(micros / 1e6, tz=timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")


def _is_datetime(text: str) -> bool:
    if "-" not in text[:8]:
        return False
    try:
        to_datetime(text)
    except ValueError:
        return False
    return True


def _iso_of(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _text_column(data: ColumnData, rule: dict[str, Any], parsed: bool) -> None:
    """`parsed`: CSV text, which may read as booleans or datetimes (a Parquet string
    column is a string column)."""
    counts = np.bincount(data.valid(), minlength=len(data.categories))
    used = [c for c, n in zip(data.categories, counts, strict=True) if n]
    flags = used and all(c.strip().lower() in BOOLS for c in used) and len(used) <= 2
    if parsed and flags and not all(c.strip().isdigit() for c in used):
        rule["type"] = "boolean"
    elif parsed and used and all(_is_datetime(c) for c in used):
        moments = sorted(to_datetime(c) for c in used)
        rule.update(type="datetime", min=_iso_of(moments[0]), max=_iso_of(moments[-1]))
    elif len(used) <= MAX_CATEGORIES and len(used) * 20 <= data.valid().size:
        rule.update(type="category", allowed=sorted(used))
    else:
        rule["type"] = "string"
        if used and len(used) == data.valid().size:
            rule["unique"] = True
        if used:
            rule.update(min_length=min(len(c) for c in used),
                        max_length=max(len(c) for c in used))


def infer_contract(paths: list[Path], shown: list[str]) -> str:
    base = Contract()
    table = read_table(paths, base, every=True)
    names = list(table.names)
    csv_only = all(source.fmt == "csv" for source in table.sources)
    columns: dict[str, dict[str, Any]] = {}
    integral: list[str] = []
    for name in names:
        data = table.column(name, None)
        rule: dict[str, Any] = {}
        nulls = int(data.null.sum())
        if nulls == 0:
            rule["nullable"] = False
        elif data.rows:
            rule["max_null_ratio"] = _round_up(nulls / data.rows)
        valid = data.valid()
        if data.kind in ("number", "integer"):
            rule["type"] = "float"
            if valid.size:
                rule.update(min=_plain(valid.min()), max=_plain(valid.max()))
                if data.kind == "integer" or bool(np.all(np.mod(valid, 1) == 0)):
                    integral.append(name)
        elif data.kind == "boolean":
            rule["type"] = "boolean"
        elif data.kind == "datetime":
            rule["type"] = "datetime"
            if valid.size:
                rule.update(min=_iso(int(valid.min())), max=_iso(int(valid.max())))
        else:
            _text_column(data, rule, csv_only)
        columns[name] = rule
    if integral:
        # Integer only where every value reads as one in this very snapshot (CSV "1.0" not).
        again = read_table(paths, base, dict.fromkeys(integral, "integer"))
        for name in integral:
            data = again.column(name, "integer")
            if not data.bad:
                columns[name]["type"] = "integer"
                if data.valid().size and np.unique(data.valid()).size == data.valid().size \
                        and data.valid().size > 1 and columns[name].get("nullable") is False:
                    columns[name]["unique"] = True
    return _render(columns, table.rows, shown)


def _plain(value: Any) -> Any:
    number = float(value)
    return int(number) if number.is_integer() and abs(number) < 1e15 else number


def _render(columns: dict[str, dict[str, Any]], rows: int, shown: list[str]) -> str:
    order = ("type", "nullable", "max_null_ratio", "unique", "min", "max", "min_length",
             "max_length", "allowed")
    lines = [(f"# Inferred by `mlci validate-data --infer` from {', '.join(shown)} "
              f"({rows:,} rows)."),
             "# A starting point: widen the ranges, drop what is incidental, add what you know.",
             "rows: {min: 1}", "columns:"]
    for name, rule in columns.items():
        ordered = {k: rule[k] for k in order if k in rule}
        key = yaml.safe_dump(name, default_style=None).strip().removesuffix("\n...")
        body = yaml.safe_dump(ordered, default_flow_style=True, width=10 ** 6,
                              sort_keys=False).strip()
        lines.append(f"  {key}: {body}")
    ids = [n for n, r in columns.items() if r.get("unique")]
    ref = shown[0] if len(shown) == 1 else None
    lines += ["drift:",
              f"  reference: {yaml.safe_dump(ref).strip().removesuffix(chr(10) + '...')}"
              if ref else "  # reference: the snapshot to compare with",
              ("  method: auto          # KS / chi-square on small samples, Wasserstein / "
               "Jensen-Shannon on large ones")]
    if ids:
        lines.append(f"  # unique columns ({', '.join(ids)}) are not compared for drift")
    return "\n".join(lines) + "\n"

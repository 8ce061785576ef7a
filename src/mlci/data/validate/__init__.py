"""Checking a data snapshot (CSV and/or Parquet files read as one table) against a contract.

Column by column: each column is read (Parquet) or handed over from the one CSV pass,
checked, compared with its reference column when it has drift rules, and dropped, so the
memory holds about one column of each table at a time (plus the columns a multi-column
rule needs together). Every violation names its column, rule, observed and expected.
Types: a CSV cell is text, so `integer` means every non-null cell reads as an integer,
`float`/`number` as a number, `boolean` as true/false/1/0/yes/no/t/f/y/n, `datetime` as
ISO 8601; a Parquet column's own type must match (`float` and `number` take integers,
`string` takes dictionary-encoded strings, `category` takes any type, an all-null column
matches any type).
"""

from __future__ import annotations

from mlci.data.contract import Contract
from mlci.data.validate.columns import ColumnData
from mlci.data.validate.driftcheck import column_drift, share_rule
from mlci.data.validate.reading import Table, read_table
from mlci.data.validate.result import Result, Violation
from mlci.data.validate.rules import ColumnCheck
from mlci.data.validate.tables import compare_rule, unique_rule

__all__ = ["Result", "Table", "Violation", "check", "read_table", "reading_types"]


def reading_types(contract: Contract) -> dict[str, str | None]:
    """The type each column is read as (an untyped column with date bounds: datetime)."""
    types: dict[str, str | None] = {}
    for name, spec in contract.columns.items():
        dated = spec.type is None and (spec.max_age is not None or any(
            hasattr(b, "tzinfo") for b in (spec.min, spec.max)))
        types[name] = "datetime" if dated else spec.type
    return types


def check(table: Table, contract: Contract, reference: Table | None = None) -> Result:
    result = Result(table.rows)
    _table_rules(table, contract, result)
    types = reading_types(contract)
    together = {c for group in contract.unique for c in group} | \
        {n for rule in contract.compare for n in (rule.left, rule.right)}
    drift_columns = set(contract.drift_columns()) if reference is not None else set()
    kept: dict[str, ColumnData] = {}
    drifted: list[str] = []
    compared = 0
    for name, spec in contract.columns.items():
        result.checks += 1
        if name not in table.names:
            if spec.required:
                result.add(Violation(name, "required", "missing", "present", spec.severity))
            continue
        data = table.column(name, types[name])
        ok = ColumnCheck(name, spec, data, result).run()
        if ok and name in together:
            kept[name] = data
        if ok and name in drift_columns and reference is not None and contract.drift:
            if name not in reference.names:
                result.add(Violation(name, "drift", "column missing from the reference",
                                     "present in the reference"))
                continue
            ref = reference.column(name, types[name])
            if ref.bad or ref.mixed:
                result.add(Violation(name, "drift", f"reference: {ref.bad} value(s) not "
                                     f"{spec.type} (e.g. {ref.bad_example or ref.mixed})",
                                     f"reference column of type {spec.type}"))
                continue
            compared += 1
            if column_drift(name, contract.drift, spec.drift, data, ref, result):
                drifted.append(name)
        del data
    if contract.drift is not None:
        share_rule(contract.drift, drifted, compared, result)
    for group in contract.unique:
        if all(c in kept for c in group):
            unique_rule(group, [kept[c] for c in group], result)
    for rule in contract.compare:
        if rule.left in kept and rule.right in kept:
            compare_rule(rule, kept[rule.left], kept[rule.right], result)
    return result


def _table_rules(table: Table, contract: Contract, result: Result) -> None:
    rows, sev = table.rows, contract.rows.severity
    if contract.rows.min is not None:
        result.checks += 1
        if rows < contract.rows.min:
            result.add(Violation(None, "rows.min", rows, f">= {contract.rows.min}", sev))
    if contract.rows.max is not None:
        result.checks += 1
        if rows > contract.rows.max:
            result.add(Violation(None, "rows.max", rows, f"<= {contract.rows.max}", sev))
    if contract.extra_columns == "forbid":
        result.checks += 1
        extra = [c for c in table.names if c not in contract.columns]
        if extra:
            result.add(Violation(None, "extra_columns", extra, "only the contract's columns"))

"""Issue 16 item 7: the checks teams expect of a data contract, each passing and failing, on
CSV and Parquet."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.unit.data.contract_helpers import (
    clean_environment,
    rules,
    validate,
    write_csv_text,
    write_parquet,
)

pytestmark = pytest.mark.unit

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def table() -> dict[str, list[Any]]:
    n = 200
    return {
        "id": list(range(n)),
        "user": [i % 50 for i in range(n)],
        "day": [i // 50 for i in range(n)],
        "start": [float(i) for i in range(n)],
        "end": [float(i) + 1.5 for i in range(n)],
        "email": [f"user{i}@example.org" for i in range(n)],
        "score": [float(i % 10) for i in range(n)],
        "seen": [NOW - timedelta(hours=i) for i in range(n)],
    }


GOOD = """
unique: [[user, day]]
compare: ["end > start", {left: start, op: "<", right: end, mostly: 0.99}]
columns:
  id: {type: integer, unique: true}
  user: {type: integer}
  day: {type: integer}
  start: {type: float}
  end: {type: float}
  email: {type: string, pattern: "[a-z0-9]+@[a-z.]+", min_length: 5, max_length: 40}
  score: {type: float, mean: {min: 4, max: 5}, std: {max: 3}, quantiles: {0.5: {min: 4, max: 5}, 1: {max: 9}}}
  seen: {type: datetime, min: 2000-01-01, max: 2999-12-31T00:00:00Z, max_age: 2h}
"""


def write(tmp_path: Path, fmt: str, columns: dict[str, list[Any]]) -> Path:
    if fmt == "parquet":
        return write_parquet(tmp_path / "d.parquet", columns)
    names = list(columns)
    def cell(value: Any) -> str:
        return "" if value is None else iso(value) if isinstance(value, datetime) else str(value)

    lines = [",".join(names)] + [",".join(cell(columns[c][i]) for c in names)
                                 for i in range(len(columns[names[0]]))]
    return write_csv_text(tmp_path / "d.csv", "\n".join(lines) + "\n")


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_environment(monkeypatch, tmp_path)


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str,
        columns: dict[str, list[Any]], text: str = GOOD) -> tuple[int, dict[str, Any]]:
    spec = tmp_path / "contract.yml"
    spec.write_text(text, encoding="utf-8")
    return validate(capsys, spec, [write(tmp_path, fmt, columns)])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_conforming_table_passes_every_rule(tmp_path: Path, fmt: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run(tmp_path, capsys, fmt, table())
    assert code == 0, report
    assert report["checks"] >= 20


def _set(columns: dict[str, list[Any]], name: str, index: int, value: Any) -> None:
    columns[name][index] = value


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("mutate, expected", [
    (lambda t: _set(t, "id", 5, 4), ("id", "unique")),
    (lambda t: _set(t, "day", 60, 0), ("user, day", "unique")),
    (lambda t: _set(t, "end", 7, 7.0), ("end > start", "compare")),
    (lambda t: _set(t, "email", 3, "not-an-email"), ("email", "pattern")),
    (lambda t: _set(t, "email", 3, "a@b"), ("email", "min_length")),
    (lambda t: _set(t, "email", 3, "x" * 50 + "@example.org"), ("email", "max_length")),
    (lambda t: t.update(score=[float(i % 10) + 2 for i in range(200)]), ("score", "mean")),
    (lambda t: t.update(score=[0.0, 9.0] * 100), ("score", "std")),
    (lambda t: _set(t, "score", 0, 10.0), ("score", "quantiles.1")),
    (lambda t: t.update(seen=[NOW - timedelta(hours=3 + i) for i in range(200)]),
     ("seen", "max_age")),
    (lambda t: _set(t, "seen", 9, datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)),
     ("seen", "min")),
])
def test_each_rule_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str,
                         mutate: Any, expected: tuple[str, str]) -> None:
    columns = table()
    mutate(columns)
    code, report = run(tmp_path, capsys, fmt, columns)
    assert code == 1
    # The rule fails, and nothing outside the column (or group) it checks.
    assert expected in rules(report), report["violations"]
    assert {column for column, _ in rules(report)} == {expected[0]}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_mostly_tolerates_a_share_of_failing_values(tmp_path: Path, fmt: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    columns = {"x": [float(i) for i in range(100)]}
    columns["x"][0] = -1.0
    text = "columns:\n  x: {type: float, min: {value: 0, mostly: 0.99}}\n"
    assert run(tmp_path, capsys, fmt, columns, text)[0] == 0
    columns["x"][1] = -2.0  # 2% below: more than the 1% tolerated
    code, report = run(tmp_path, capsys, fmt, columns, text)
    assert code == 1
    [violation] = report["violations"]
    assert violation["observed"] == "-2 (2 of 100 value(s) below)"
    assert violation["expected"] == ">= 0 for at least 0.99 of the values"
    # mostly on the column applies to every row-wise rule of it.
    column_wide = "columns:\n  x: {type: float, min: 0, max: 97, mostly: 0.95}\n"
    assert run(tmp_path, capsys, fmt, columns, column_wide)[0] == 0


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_warn_rule_reports_without_failing(tmp_path: Path, fmt: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    columns = {"x": [1.0, 2.0, 50.0], "y": ["a", "b", "c"]}
    text = ("columns:\n  x: {type: float, max: {value: 10, severity: warn}}\n"
            "  y: {type: category, allowed: [a, b], severity: warn}\n")
    code, report = run(tmp_path, capsys, fmt, columns, text)
    assert code == 0 and report["valid"] is True
    assert rules(report, "warnings") == {("x", "max"), ("y", "allowed")}
    assert rules(report) == set()


def test_the_summary_and_annotations_list_warnings(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out.txt"))
    columns = {"x": [1.0, 50.0]}
    code, _ = run(tmp_path, capsys, "csv", columns,
                  "columns:\n  x: {type: float, max: 10, severity: warn}\n")
    assert code == 0
    assert "| x | max | 50 (1 value(s) above) | <= 10 | warn |" in (tmp_path / "summary.md").read_text()
    outputs = (tmp_path / "out.txt").read_text().splitlines()
    assert outputs[outputs.index(next(o for o in outputs if o.startswith("valid<<"))) + 1] \
        == "true"
    assert outputs[outputs.index(next(o for o in outputs if o.startswith("warnings<<"))) + 1] \
        == "1"

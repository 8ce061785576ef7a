"""`mlci validate-data`: every rule passes and fails, on CSV and Parquet; drift."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlci.cli import main
from mlci.data import drift
from mlci.data.contract import load_contract
from mlci.data.distributions import kolmogorov_sf
from mlci.data.validate import check, read_table
from mlci.errors import InputError

pytestmark = pytest.mark.unit

ROWS = [
    {"id": 1, "age": 34, "income": 52000.5, "country": "DE", "churned": True},
    {"id": 2, "age": 51, "income": 61000.0, "country": "FR", "churned": False},
    {"id": 3, "age": 27, "income": None, "country": "US", "churned": False},
    {"id": 4, "age": 45, "income": 48000.0, "country": "DE", "churned": True},
]


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else str(v).lower() if isinstance(v, bool)
                                 else v) for k, v in row.items()})
    return path


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


WRITERS = {"csv": write_csv, "parquet": write_parquet}


def contract(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "contract.yml"
    path.write_text(text)
    return path


def violations(tmp_path: Path, fmt: str, rows: list[dict[str, Any]], text: str,
               reference: list[dict[str, Any]] | None = None) -> list[tuple[Any, ...]]:
    data = WRITERS[fmt](tmp_path / f"data.{fmt}", rows)
    spec = load_contract(contract(tmp_path, text))
    ref = None
    if reference is not None:
        ref = read_table([WRITERS[fmt](tmp_path / f"ref.{fmt}", reference)], spec)
    result = check(read_table([data], spec), spec, ref)
    return [(v.column, v.rule) for v in result.violations]


BASE = """
columns:
  id: {type: integer, unique: true, nullable: false}
  age: {type: integer, min: 18, max: 100}
  income: {type: float, max_null_ratio: 0.25}
  country: {type: category, allowed: [DE, FR, US]}
  churned: {type: boolean}
rows: {min: 2, max: 10}
"""


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_conforming_snapshot_passes(tmp_path: Path, fmt: str) -> None:
    assert violations(tmp_path, fmt, ROWS, BASE) == []


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("mutate, expected", [
    (lambda r: [{k: v for k, v in row.items() if k != "churned"} for row in r],
     ("churned", "required")),
    (lambda r: [{**row, "age": "old" if i == 0 else str(row["age"])} for i, row in enumerate(r)],
     ("age", "type")),
    (lambda r: [{**row, "income": None if i < 2 else row["income"]} for i, row in enumerate(r)],
     ("income", "max_null_ratio")),
    (lambda r: [{**row, "id": None if i == 0 else row["id"]} for i, row in enumerate(r)],
     ("id", "nullable")),
    (lambda r: [{**row, "age": 12 if i == 0 else row["age"]} for i, row in enumerate(r)],
     ("age", "min")),
    (lambda r: [{**row, "age": 130 if i == 0 else row["age"]} for i, row in enumerate(r)],
     ("age", "max")),
    (lambda r: [{**row, "country": "XX" if i == 0 else row["country"]}
                for i, row in enumerate(r)], ("country", "allowed")),
    (lambda r: [{**row, "id": 1} for row in r], ("id", "unique")),
    (lambda r: r[:1], (None, "rows.min")),
    (lambda r: r * 3, (None, "rows.max")),
])
def test_each_rule_fails(tmp_path: Path, fmt: str, mutate: Any, expected: tuple[Any, ...]
                         ) -> None:
    found = violations(tmp_path, fmt, mutate(ROWS), BASE)
    assert expected in found


def test_extra_columns_forbidden(tmp_path: Path) -> None:
    rows = [{**row, "secret": "x"} for row in ROWS]
    assert violations(tmp_path, "csv", rows, BASE) == []
    assert violations(tmp_path, "csv", rows, BASE + "extra_columns: forbid\n") == \
        [(None, "extra_columns")]


def test_a_violation_lists_observed_and_expected(tmp_path: Path) -> None:
    rows = [{**row, "age": 12 if i < 2 else row["age"]} for i, row in enumerate(ROWS)]
    data = write_csv(tmp_path / "d.csv", rows)
    spec = load_contract(contract(tmp_path, BASE))
    [v] = check(read_table([data], spec), spec).violations
    assert v.to_json() == {"column": "age", "rule": "min",
                           "observed": "12 (2 value(s) below)",
                           "expected": ">= 18", "severity": "block"}


def test_parquet_types_are_the_columns_own(tmp_path: Path) -> None:
    rows = [{**row, "id": float(row["id"])} for row in ROWS]
    assert ("id", "type") in violations(tmp_path, "parquet", rows, BASE)


def sample(rng: np.random.Generator, n: int, shift: float = 0.0) -> list[dict[str, Any]]:
    values = rng.normal(50 + shift, 10, n)
    groups = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2] if not shift else [0.2, 0.3, 0.5])
    return [{"x": float(v), "g": str(g)} for v, g in zip(values, groups, strict=False)]


DRIFT = """
columns:
  x: {type: float}
  g: {type: category}
drift: {method: both, psi_max: 0.2, ks_statistic_max: 0.1, ks_pvalue_min: 0.001}
"""


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_no_drift_on_the_same_distribution(tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(7)
    assert violations(tmp_path, fmt, sample(rng, 5000), DRIFT,
                      reference=sample(rng, 5000)) == []


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_drift_is_detected_on_shifted_data(tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(7)
    found = violations(tmp_path, fmt, sample(rng, 5000, shift=8), DRIFT,
                       reference=sample(rng, 5000))
    assert set(found) == {("x", "drift.psi"), ("x", "drift.ks_statistic"),
                          ("x", "drift.ks_pvalue"), ("g", "drift.psi")}


def test_ks_matches_the_textbook_values() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 400), rng.normal(0.5, 1, 300)
    statistic, pvalue = drift.ks_2samp(a, b)
    # Brute force: the largest gap between the two empirical CDFs.
    grid = np.concatenate([a, b])
    brute = max(abs((a <= t).mean() - (b <= t).mean()) for t in grid)
    assert statistic == pytest.approx(brute)
    assert 0 < pvalue < 1e-6
    assert kolmogorov_sf(0.0) == 1.0
    assert kolmogorov_sf(1.36) == pytest.approx(0.049, abs=0.002)  # the 5% point


def test_psi_is_zero_for_identical_samples() -> None:
    values = list(range(1000))
    assert drift.psi_numeric(values, values) == pytest.approx(0.0)
    assert drift.psi_categorical({"a": 50, "b": 50}, {"a": 50, "b": 50}) == pytest.approx(0.0)


@pytest.mark.parametrize("text, key", [
    ("columns:\n  x: {type: integr}\n", "columns.x.type"),
    ("columns:\n  x: {type: integer, minimum: 3}\n", "columns.x.minimum"),
    ("rows: {min: -1}\n", "rows.min"),
    ("columns:\n  x: {type: string, min: 1}\n", "columns.x"),
    ("drift: {columns: [nope]}\n", "(top level)"),
])
def test_an_invalid_contract_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(InputError) as err:
        load_contract(contract(tmp_path, text))
    assert err.value.key == key and err.value.file


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "GITLAB", "CI_", "MLCI_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_command_exit_codes_and_report(tmp_path: Path, clean_env: None,
                                       monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(3)
    write_csv(tmp_path / "ref.csv", sample(rng, 3000))
    write_csv(tmp_path / "same.csv", sample(rng, 3000))
    write_csv(tmp_path / "shifted.csv", sample(rng, 3000, shift=8))
    contract(tmp_path, DRIFT.replace("drift: {", "drift: {reference: ref.csv, "))
    assert main(["validate-data", "--contract", "contract.yml", "--data", "same.csv"]) == 0
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("MLCI_DOTENV", str(tmp_path / "v.env"))
    monkeypatch.setenv("MLCI_SUMMARY_FILE", str(tmp_path / "summary.md"))
    capsys.readouterr()
    assert main(["validate-data", "--contract", "contract.yml", "--data", "shifted.csv",
                 "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert ("x", "drift.psi") in [(v["column"], v["rule"]) for v in report["violations"]]
    env = (tmp_path / "v.env").read_text()
    assert "MLCI_VALID=false" in env and "MLCI_DATA_VALID=false" in env
    assert "| x | drift.psi |" in (tmp_path / "summary.md").read_text()


def test_command_bad_input_is_exit_2(tmp_path: Path, clean_env: None,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate-data", "--data", "x.csv"]) == 2
    assert "no contract" in capsys.readouterr().err
    contract(tmp_path, BASE)
    assert main(["validate-data", "--contract", "contract.yml", "--data", "x.csv"]) == 2
    assert "x.csv: --data: data file not found" in capsys.readouterr().err
    contract(tmp_path, DRIFT)
    write_csv(tmp_path / "d.csv", [{"x": 1.0, "g": "a"}])
    assert main(["validate-data", "--contract", "contract.yml", "--data", "d.csv"]) == 2
    assert "no reference" in capsys.readouterr().err


def test_config_supplies_the_contract(tmp_path: Path, clean_env: None) -> None:
    (tmp_path / "data").mkdir()
    write_csv(tmp_path / "data/d.csv", ROWS)
    contract(tmp_path, BASE)
    (tmp_path / "mlci.yml").write_text("data:\n  paths: [data]\n  contract: contract.yml\n")
    assert main(["validate-data"]) == 0

"""Issue 16 item 9: `mlci validate-data --infer --data REF > contract.yml` writes a starting
contract that the reference itself passes, for CSV and Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from mlci.cli import main
from mlci.data.contract import load_contract
from tests.unit.data.contract_helpers import (
    clean_environment,
    validate,
    write_csv_text,
    write_parquet,
)

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_environment(monkeypatch, tmp_path)


def columns() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    n = 400
    return {
        "id": list(range(n)),
        "age": rng.integers(18, 90, n).tolist(),
        "income": [None if i % 10 == 0 else float(v) for i, v in
                   enumerate(rng.normal(5e4, 1e4, n))],
        "country": rng.choice(["NO", "SE", "DK"], n).tolist(),
        "churned": rng.choice(["true", "false"], n).tolist(),
        "email": [f"u{i}@example.org" for i in range(n)],
        "signup": [f"2024-01-{1 + i % 28:02d}T10:00:00Z" for i in range(n)],
    }


def write(tmp_path: Path, fmt: str) -> Path:
    data = columns()
    if fmt == "parquet":
        return write_parquet(tmp_path / "ref.parquet", data)
    names = list(data)
    rows = [",".join("" if data[c][i] is None else str(data[c][i]) for c in names)
            for i in range(len(data["id"]))]
    return write_csv_text(tmp_path / "ref.csv", "\n".join([",".join(names), *rows]) + "\n")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_inferred_contract_holds_for_its_reference(tmp_path: Path, fmt: str,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    ref = write(tmp_path, fmt)
    capsys.readouterr()
    assert main(["validate-data", "--infer", "--data", str(ref)]) == 0
    text = capsys.readouterr().out
    spec = tmp_path / "contract.yml"
    spec.write_text(text, encoding="utf-8")
    contract = load_contract(spec)
    cols = contract.columns
    assert cols["id"].type == "integer" and cols["id"].unique
    assert cols["age"].type == "integer" and cols["age"].min >= 18
    assert cols["income"].type == "float" and cols["income"].max_null_ratio == 0.15
    assert cols["country"].type == "category" and cols["country"].allowed == ["DK", "NO", "SE"]
    assert cols["email"].type == "string" and cols["email"].unique
    assert cols["signup"].type == ("datetime" if fmt == "csv" else "string")
    assert contract.drift is not None and contract.drift.reference == str(ref)
    code, report = validate(capsys, spec, [ref])
    assert code == 0, report["violations"]
    assert report["drift"] and all(not d["drifted"] for d in report["drift"].values())
    # The file is plain YAML a team edits: one line per column.
    assert yaml.safe_load(text)["columns"]["country"]["allowed"] == ["DK", "NO", "SE"]


def test_infer_needs_data(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate-data", "--infer"]) == 2
    assert "no data" in capsys.readouterr().err

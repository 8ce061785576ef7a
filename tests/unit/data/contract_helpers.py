"""Helpers of the validate-data tests: write CSV/Parquet, run the command, read its report."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from mlci.cli import main


def write_csv_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def write_parquet(path: Path, columns: dict[str, Any]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), path)
    return path


def clean_environment(monkeypatch: pytest.MonkeyPatch, where: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "GITLAB", "CI_", "MLCI_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(where)


def validate(capsys: pytest.CaptureFixture[str], contract: Path, data: list[Path],
             *extra: str) -> tuple[int, dict[str, Any]]:
    """(exit code, the --json report) of `mlci validate-data`; the report's "stderr" is what
    the command wrote there."""
    capsys.readouterr()
    code = main(["validate-data", "--contract", str(contract), "--data",
                 *[str(d) for d in data], "--json", *extra])
    out, err = capsys.readouterr()
    # The report is valid JSON: no NaN or Infinity.
    report = json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in --json")) \
        if out.strip() else {}
    report["stderr"] = err
    return code, report


def rules(report: dict[str, Any], key: str = "violations") -> set[tuple[Any, str]]:
    return {(v["column"], v["rule"]) for v in report.get(key, [])}

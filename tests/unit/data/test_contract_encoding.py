"""A contract's `csv.encoding` that Python does not know is a clear input error (exit 2)
when the contract is read, for CSV and Parquet data alike -- not a LookupError traceback
halfway through the scan (issue 12.10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci.cli import main

pytestmark = pytest.mark.unit

CONTRACT = "columns:\n  a: {type: integer}\ncsv:\n  encoding: %s\n"


@pytest.mark.parametrize("encoding", ["bogus", "'utf-9'"])
def test_unknown_encoding_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    encoding: str) -> None:
    (tmp_path / "d.csv").write_text("a\n1\n")
    (tmp_path / "contract.yml").write_text(CONTRACT % encoding)
    code = main(["validate-data", "--contract", str(tmp_path / "contract.yml"),
                 "--data", str(tmp_path / "d.csv")])
    err = capsys.readouterr().err
    assert code == 2
    assert "csv.encoding: unknown text encoding" in err, err
    assert "Traceback" not in err and "internal error" not in err


def test_a_known_encoding_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "d.csv").write_bytes("a\n1\n".encode("latin-1"))
    (tmp_path / "contract.yml").write_text(CONTRACT % "latin-1")
    assert main(["validate-data", "--contract", str(tmp_path / "contract.yml"),
                 "--data", str(tmp_path / "d.csv")]) == 0, capsys.readouterr().err

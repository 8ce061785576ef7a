"""Issue 16 items 3-6: no silent pass, the same verdict for CSV and Parquet, category lists
as written, exact messages, valid JSON, a BOM is not part of a column name."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci.data.contract import load_contract
from mlci.errors import InputError
from tests.unit.data.contract_helpers import (
    clean_environment,
    rules,
    validate,
    write_csv_text,
    write_parquet,
)

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_environment(monkeypatch, tmp_path)


def contract(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "contract.yml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("reader", ["csv", "pure", "arrow"])
def test_every_nan_spelling_is_null(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    monkeypatch.setenv("MLCI_CSV_READER", reader)
    data = write_csv_text(tmp_path / "d.csv", "x\n1.5\nNAN\n+nan\n-nan\n2\n")
    spec = contract(tmp_path, "columns:\n  x: {type: float, nullable: false, min: 0, "
                              "max: 3}\n")
    code, report = validate(capsys, spec, [data])
    assert code == 1
    [violation] = report["violations"]
    assert violation["rule"] == "nullable" and violation["observed"].startswith("3 null(s)")


def test_a_parquet_part_of_the_wrong_type_fails(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "parts").mkdir()
    write_parquet(tmp_path / "parts/a.parquet", {"x": [1.5, 2.5]})
    write_parquet(tmp_path / "parts/b.parquet", {"x": ["3.5", "oops"]})
    spec = contract(tmp_path, "columns:\n  x: {type: float, min: 0}\n")
    code, report = validate(capsys, spec, [tmp_path / "parts"])
    assert code == 1
    [violation] = report["violations"]
    assert violation["rule"] == "type" and "b.parquet" in violation["observed"]
    # CSV and Parquet parts together: one table, every part's own values checked.
    write_csv_text(tmp_path / "parts/c.csv", "x\n-1\n")
    (tmp_path / "parts/b.parquet").unlink()
    code, report = validate(capsys, spec, [tmp_path / "parts"])
    assert code == 1 and rules(report) == {("x", "min")}
    assert report["rows"] == 3


ORDINARY = {"i": [1, 2, 3, 4], "c": ["a", "b", "a", "b"], "n": [None, None, None, None]}
ORDINARY_CSV = "i,c,n\n1,a,\n2,b,\n3,a,\n4,b,\n"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_data_same_verdict_in_both_formats(tmp_path: Path, fmt: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    if fmt == "csv":
        data = write_csv_text(tmp_path / "d.csv", ORDINARY_CSV)
    else:
        import pyarrow as pa

        data = write_parquet(tmp_path / "d.parquet", {
            "i": ORDINARY["i"], "c": pa.array(ORDINARY["c"]).dictionary_encode(),
            "n": pa.array(ORDINARY["n"], type=pa.null())})
    spec = contract(tmp_path, """columns:
  i: {type: float, min: 0}
  c: {type: string}
  n: {type: integer}
""")
    code, report = validate(capsys, spec, [data])
    assert code == 0, report
    untyped = contract(tmp_path, "columns:\n  i: {min: 0}\n  c: {allowed: [a, b]}\n")
    code, report = validate(capsys, untyped, [data])
    assert code == 0, report


def test_category_lists_are_strings_as_written(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv_text(tmp_path / "d.csv", "country,code\nNO,1\nSE,2\nDK,3\n")
    spec = contract(tmp_path, "columns:\n  country: {type: category, allowed: [NO, SE, DK]}\n"
                              "  code: {type: integer, allowed: [1, 2, 3]}\n")
    assert validate(capsys, spec, [data])[0] == 0
    write_csv_text(tmp_path / "d.csv", "country,code\nNO,1\nFI,4\nDK,3\n")
    code, report = validate(capsys, spec, [data])
    assert code == 1 and rules(report) == {("country", "allowed"), ("code", "allowed")}


def test_messages_show_the_exact_values(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv_text(tmp_path / "d.csv", "x,y\n1.0000001,1\n0.5,\n0.2,3\n")
    spec = contract(tmp_path, "columns:\n  x: {type: float, max: 1}\n"
                              "  y: {type: integer, max_null_ratio: 0.333333}\n")
    code, report = validate(capsys, spec, [data])
    assert code == 1
    found = {v["rule"]: v for v in report["violations"]}
    assert found["max"]["observed"] == "1.0000001 (1 value(s) above)"
    assert found["max"]["expected"] == "<= 1"
    assert found["max_null_ratio"]["observed"].startswith("0.3333333333333333 (1 of 3")
    assert found["max_null_ratio"]["expected"] == "<= 0.333333"


@pytest.mark.parametrize("reader", ["csv", "pure", "arrow"])
def test_a_utf8_bom_is_not_part_of_the_first_column(tmp_path: Path, reader: str,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCI_CSV_READER", reader)
    data = tmp_path / "d.csv"
    data.write_bytes("\ufeffid,x\n1,2\n".encode())
    spec = contract(tmp_path, "extra_columns: forbid\ncolumns:\n  id: {type: integer}\n"
                              "  x: {type: integer}\n")
    assert validate(capsys, spec, [data])[0] == 0


def test_json_is_valid_for_an_empty_drift_column(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    write_csv_text(tmp_path / "ref.csv", "x\n1\n2\n3\n")
    data = write_csv_text(tmp_path / "d.csv", "x\n\n\n\n")
    spec = contract(tmp_path, "columns:\n  x: {type: float}\n"
                              "drift: {reference: ref.csv, method: ks}\n")
    code, report = validate(capsys, spec, [data])
    assert code == 1  # nothing to compare never passes
    assert report["drift"]["x"]["ks_pvalue"] is None
    assert "no values to compare" in report["violations"][0]["observed"]


@pytest.mark.parametrize("text, key", [
    ("columns:\n  x: {pattern: '('}\n", "columns.x"),
    ("columns:\n  x: {type: datetime, max_age: soon}\n", "columns.x"),
    ("columns:\n  x: {min: {value: 1, mostly: 2}}\n", "columns.x.options.min.mostly"),
    ("compare: ['x >> y']\ncolumns: {x: {}}\n", "compare.0"),
    ("unique: [[x, z]]\ncolumns: {x: {}}\n", "(top level)"),
    ("drift: {method: {numeric: chi2}}\n", "drift"),
])
def test_an_invalid_contract_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(InputError) as err:
        load_contract(contract(tmp_path, text))
    assert err.value.key == key, err.value


@pytest.mark.parametrize("reader", ["csv", "pure", "arrow"])
def test_a_ragged_row_is_bad_input_with_its_line(tmp_path: Path, reader: str,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCI_CSV_READER", reader)
    data = write_csv_text(tmp_path / "d.csv", "a,b\n1,2\n\n3,4\n5\n")
    spec = contract(tmp_path, "columns:\n  a: {type: integer}\n")
    code, report = validate(capsys, spec, [data])
    assert code == 2
    assert f"{data}:5: row has 1 fields, the header 2" in report["stderr"]


def test_a_missing_reference_is_bad_input(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv_text(tmp_path / "d.csv", "x\n1\n")
    spec = contract(tmp_path, "columns:\n  x: {type: float}\ndrift: {reference: nope.csv}\n")
    code, report = validate(capsys, spec, [data])
    assert code == 2 and "nope.csv: drift.reference: data file not found" in report["stderr"]


def test_an_alias_bomb_contract_is_refused(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefg", "bcdefgh", strict=True)) + "columns: {}\n"
    with pytest.raises(InputError) as err:
        load_contract(contract(tmp_path, bomb))
    assert "alias" in str(err.value)

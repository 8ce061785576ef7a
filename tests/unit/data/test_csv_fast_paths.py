"""The pure CSV reader's fast paths give exactly the `csv` module's columns: the vectorised
parser of plain chunks (csvvec.py) cell for cell, or nothing at all; and a file scanned by
a child process (csvchild.py) gives the in-process read's report, errors and line numbers."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlci.data.contract import parse_contract
from mlci.data.validate import check, csvchild, csvscan, csvvec, read_table
from mlci.data.validate.columns import ColumnBuilder, ColumnData
from mlci.errors import InputError

pytestmark = pytest.mark.unit

TYPES: dict[str, str | None] = {"n": "float", "i": "integer", "c": "category", "u": None,
                                "b": "boolean"}
NULLS = {"", "NA"}


def _builders() -> dict[str, ColumnBuilder]:
    return {name: ColumnBuilder(name, kind, NULLS) for name, kind in TYPES.items()}


def _same(a: ColumnData, b: ColumnData) -> None:
    assert (a.kind, a.categories, a.bad, a.bad_example) == \
        (b.kind, b.categories, b.bad, b.bad_example)
    assert np.array_equal(a.null, b.null)
    assert np.array_equal(a.values, b.values, equal_nan=a.kind == "number")
    if a.kind == "number":  # -0.0 stays negative (a null's NaN has no meaningful sign)
        assert np.array_equal(np.signbit(a.values[~a.null]), np.signbit(b.values[~b.null]))


def _both(text: str) -> tuple[int | None, dict[str, ColumnBuilder], dict[str, ColumnBuilder]]:
    keep = list(enumerate(TYPES))
    fast, slow = _builders(), _builders()
    got = csvvec.parse_plain(text, keep, len(TYPES), fast, ",", "x.csv")
    csvscan._csv_module(io.StringIO(text, newline=""), 1, keep, slow, len(TYPES),
                        Path("x.csv"), ",")
    return got, fast, slow


NUMBERS = ["0", "-0", "+0", "1", "-1", "007", "3.25", "-3.25", ".5", "-.5", "5.", "+5.",
           "123456789012345", "12345.6789", "0.1", "0.30000000000000004"[:15], "999.999",
           "-0.0001", "", "NA", "nan", "-nan", "NaN", "+NAN",  # (null spellings: plain too)
           "1e5", "null", "Nan", "inf", "1_0", " 1", "1 ", "--1", "1.2.3", ".", "-", "+",
           "1234567890123456", '"1"', "0x1", "1-", "N A"]
TEXTS = ["a", "north", '"north"', '""', "", "NA", "é", " sp ", '"a,b"', '"x""y"', 'a"b']


def _row(rng: random.Random, odd: bool) -> str:
    plain = NUMBERS[:24]
    pool = NUMBERS if odd else plain
    number = rng.choice(pool)
    integer = rng.choice([n for n in pool if "." not in n] if not odd else pool)
    text = rng.choice(TEXTS if odd else TEXTS[:8])
    return ",".join([number, integer, text, rng.choice(pool), rng.choice(["true", "0", ""])])


@pytest.mark.parametrize("seed", range(60))
def test_plain_chunks_parse_exactly_as_the_csv_module(seed: int) -> None:
    rng = random.Random(seed)
    odd = seed % 3 == 0  # every third chunk likely holds something the fast path refuses
    end = "\r\n" if seed % 4 == 1 else "\n"  # CRLF: the last field ends before the CR
    text = "".join(_row(rng, odd and rng.random() < 0.1) + end for _ in range(50))
    got, fast, slow = _both(text)
    if got is None:
        assert odd  # a plain chunk takes the fast path
        assert all(not b.pieces for b in fast.values())  # nothing half-added
        return
    assert got == 50
    for name in TYPES:
        _same(fast[name].finish(), slow[name].finish())


@pytest.mark.parametrize("text", [
    "1,2,a\r,3,true\n",           # a carriage return inside a field
    "1,2,a,3,true\r\r\n",         # two before a newline
    "1,2,a,3,true\r\n1,2,a,3,t\n",  # CRLF on some lines only
    "1,2,a,3\n",                  # a short row
    "1,2,a,3,true,4\n",           # a long row
    '1,2,"a,b",3\n',              # a quoted delimiter that makes the count look right
    "1,2,a,3,true\n\n",           # a blank line
    "1e3,2,a,3,true\n",           # an exponent
    "Nan,2,a,3,true\n",           # a NaN spelling not matched exactly (null: general path)
    "null,2,a,3,true\n",          # not a null spelling of this contract: a bad cell
    "1,2.0,a,3,true\n",           # a dot in an integer column
    "1234567890123456,2,a,3,t\n",  # 16 characters: beyond the exact range
    '1,2,"a"b,3,true\n',          # a quote inside a field
    '"1",2,a,3,true\n',           # a quoted number
])
def test_anything_but_plain_is_left_to_the_general_path(text: str) -> None:
    fast = _builders()
    assert csvvec.parse_plain(text, list(enumerate(TYPES)), len(TYPES), fast, ",", "x") is None
    assert all(not b.pieces for b in fast.values())


def test_crlf_lines_with_a_quoted_last_field() -> None:
    got, fast, slow = _both('1,2,"a",3,"true"\r\n-1.5,7,"b c",,""\r\n')
    assert got == 2
    for name in TYPES:
        _same(fast[name].finish(), slow[name].finish())


def test_every_exact_decimal_reads_as_float_does() -> None:
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.normal(0, 1e4, 3000), rng.uniform(-1, 1, 3000)])
    cells = [f"{v:.{d}f}" for v, d in zip(values, rng.integers(0, 9, values.size),
                                          strict=True)]
    cells = [c for c in cells if len(c) <= csvvec.WIDEST]
    text = "".join(f"{c},1,a,1,t\n" for c in cells)
    got, fast, _ = _both(text)
    assert got == len(cells)
    parsed = fast["n"].finish().values
    assert parsed.tolist() == [float(c) for c in cells]


# -- a child process ---------------------------------------------------------------------------

CONTRACT = """
columns:
  i: {type: integer, min: 0}
  f: {type: float, max: 100, max_null_ratio: 0.5}
  s: {type: string, max_length: 12}
  c: {type: category, allowed: [a, b, NO]}
drift: {method: {numeric: ks, categorical: chi2}}
"""


def _text(rows: int, extra: str = "") -> str:
    lines = [f"{n},{'' if n % 13 == 0 else (n % 97) + 0.25},\"t {n % 7}\",{'ab'[n % 2]}"
             for n in range(rows)]
    return "\ufeffi,f,s,c\n" + "\n".join(lines) + "\n" + extra


def _report(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch, workers: str,
            chunk: int = 1000) -> Any:
    monkeypatch.setenv("MLCI_CSV_READER", "pure")
    monkeypatch.setenv("MLCI_CSV_WORKERS", workers)
    monkeypatch.setattr(csvscan, "CHUNK", chunk)
    monkeypatch.setattr(csvchild, "MIN_BYTES", 0)
    data, ref = tmp_path / "d.csv", tmp_path / "r.csv"
    data.write_bytes(text.encode("utf-8"))
    ref.write_bytes(_text(300).encode("utf-8"))
    spec = parse_contract(CONTRACT, "contract.yml")
    return check(read_table([data], spec), spec, read_table([ref], spec)).to_json()


@pytest.mark.parametrize("extra", [
    "",
    '5000,1,"two\nlines",a\n5001,2,x,b\n',   # a quoted field over lines: serial after
    "5000,NA,x,NO\n5001,nan,y,zz\n5002,1e2,z,a\n",  # blocks the general path parses
    "5000,1,x,a\r\n5001,2,y,b\r\n",  # CRLF: the general path
    "5000,1,x,a\r5001,2,y,b\r",  # lone carriage returns: serial from there
    "5000,1,x,a",  # no newline at the end
])
@pytest.mark.parametrize("chunk", [97, 1000, 1 << 20])
def test_a_child_process_gives_the_serial_report(tmp_path: Path, extra: str, chunk: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    text = _text(700, extra)
    serial = _report(tmp_path, text, monkeypatch, "1", chunk)
    assert _report(tmp_path, text, monkeypatch, "2", chunk) == serial
    monkeypatch.setenv("MLCI_CSV_READER", "csv")
    assert _report(tmp_path, text, monkeypatch, "1") == serial


def test_a_ragged_row_in_a_child_names_its_line(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    text = _text(500) + "9,1,x\n"
    messages = []
    for workers in ("1", "2"):
        with pytest.raises(InputError) as err:
            _report(tmp_path, text, monkeypatch, workers)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert messages[0].endswith("d.csv:502: row has 3 fields, the header 4")


def test_bad_utf8_is_a_read_error_in_a_child_too(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    text = _text(500).encode("utf-8") + b"9,1,\xff,a\n" + _text(10).encode("utf-8")[15:]
    monkeypatch.setattr(csvchild, "MIN_BYTES", 0)
    for workers in ("1", "2"):
        monkeypatch.setenv("MLCI_CSV_READER", "pure")
        monkeypatch.setenv("MLCI_CSV_WORKERS", workers)
        data = tmp_path / "d.csv"
        data.write_bytes(text)
        spec = parse_contract(CONTRACT, "contract.yml")
        with pytest.raises(InputError, match="cannot read CSV: 'utf-8' codec can't decode"):
            assert read_table([data], spec).rows  # (a child's error: when the rows are used)


def test_a_child_that_dies_is_an_error(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2\n")

    def scan() -> Any:
        os._exit(9)

    source = csvscan.Source(data, "csv", ["a", "b"], pending=csvchild.Pending(data, scan))
    with pytest.raises(InputError, match=r"the reading process ended \(exit code 9\)"):
        source.ready()


def test_a_child_that_cannot_write_its_columns_leaves_the_scan_to_the_parent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = _text(300)
    serial = _report(tmp_path, text, monkeypatch, "1")

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(csvchild.pickle, "dump", full)  # (in the forked child too)
    assert _report(tmp_path, text, monkeypatch, "2") == serial


def test_the_scratch_file_is_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "d.csv"
    data.write_text(_text(50))
    spec = parse_contract(CONTRACT, "contract.yml")
    pending = csvchild.Pending(data, lambda: csvscan._scan_csv_pure(data, spec, {"i": None}))
    scratch = Path(pending._out)
    source = csvscan.Source(data, "csv", [], pending=pending)
    assert source.ready().rows == 50
    assert not scratch.exists()
    abandoned = csvchild.Pending(data, lambda: csvscan._scan_csv_pure(data, spec, {}))
    scratch = Path(abandoned._out)
    del abandoned  # (the finalizer stops the child and removes its file)
    assert not scratch.exists()


def test_the_scratch_directory_needs_room_for_twice_the_file() -> None:
    assert csvchild._scratch(1 << 60) is None  # the temporary directory instead


def test_the_worker_count_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLCI_CSV_WORKERS", raising=False)
    assert not csvchild.wanted(1 << 30)  # the default: in this process
    monkeypatch.setenv("MLCI_CSV_WORKERS", "2")
    assert csvchild.wanted(1 << 30)
    assert not csvchild.wanted(1000)  # a small file: in this process
    monkeypatch.setenv("MLCI_CSV_WORKERS", "two")
    with pytest.raises(InputError, match="MLCI_CSV_WORKERS must be a whole number"):
        csvchild.wanted(1000)

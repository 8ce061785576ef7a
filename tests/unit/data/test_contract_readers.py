"""The three CSV readers (the `csv` module, numpy's fast path, pyarrow's) give the same
verdict and the same messages on awkward files; and a chunked read equals a whole one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlci.data.contract import parse_contract
from mlci.data.validate import check, csvscan, read_table

pytestmark = pytest.mark.unit

CONTRACT = """
columns:
  i: {type: integer, min: 0}
  f: {type: float, max: 100, max_null_ratio: 0.5}
  s: {type: string, pattern: "[a-z ,\\"\\n]*", max_length: 12}
  c: {type: category, allowed: [a, b, NO]}
  b: {type: boolean}
  d: {type: datetime, min: 2020-01-01}
  u: {}
drift: {method: psi}
"""

FILES = {
    "plain": "i,f,s,c,b,d,u\n1,1.5,x,a,true,2021-01-01,3\n2,2.5,y,b,false,2021-02-01,4\n",
    "nulls": "i,f,s,c,b,d,u\n1,NA,,a,,2021-01-01,\n2,nan,null,NO,t,,N/A\n3,+nan,x,,f,2022-01-01,"
             "-nan\n4,NAN,None,b,yes,2023-01-01,5\n",
    "quoted": 'i,f,s,c,b,d,u\n1,"1.5","a, b",a,true,2021-01-01,1\n2,3,"say ""hi""",b,'
              'false,2021-01-01,x\n',
    "multiline": 'i,f,s,c,b,d,u\n1,1,"two\nlines",a,true,2021-01-01,1\n2,2,z,b,no,'
                 '2021-01-01,2\n',
    "bad cells": "i,f,s,c,b,d,u\n1.5,abc,x,a,maybe,yesterday,1\n-1,101,x,zz,true,2019-01-01,2"
                 "\n",
    "null in integers": "i,f,s,c,b,d,u\n,1,x,a,true,2021-01-01,1\n3,2,y,b,false,2021-01-01,2\n",
    "blank lines and CRLF": "i,f,s,c,b,d,u\r\n1,1,x,a,true,2021-01-01,1\r\n\r\n2,2,y,b,"
                            "false,2021-01-01,2\r\n",
    "spaces": "i,f,s,c,b,d,u\n 1 , 2.5 , x ,a,True,2021-01-01T10:00:00+02:00, 7\n",
    "bom": "\ufeffi,f,s,c,b,d,u\n1,1,x,a,true,2021-01-01,1\n",
    "quoted delimiters and nulls": 'i,f,s,c,b,d,u\n1,,"x,,y",a,true,2021-01-01,\n2,NA,"NA",b,'
                                   'false,,1\n3,"",",",,,,\n',
    "empty fields in a row": "i,f,s,c,b,d,u\n1,,,,,,\n,,,,,,\n",
    "long text": "i,f,s,c,b,d,u\n1,1,abcdefghijklmnop,a,true,2021-01-01,1\n",
}


def result(tmp_path: Path, text: str, reader: str, monkeypatch: pytest.MonkeyPatch,
           chunk: int = 65_536) -> dict[str, Any]:
    monkeypatch.setenv("MLCI_CSV_READER", reader)
    monkeypatch.setattr(csvscan, "CHUNK", chunk)
    data = tmp_path / "d.csv"
    data.write_bytes(text.encode("utf-8"))
    ref = tmp_path / "ref.csv"
    ref.write_bytes(FILES["plain"].encode("utf-8"))
    spec = parse_contract(CONTRACT, "contract.yml")
    out = check(read_table([data], spec), spec, read_table([ref], spec)).to_json()
    return out


@pytest.mark.parametrize("name", list(FILES))
def test_every_reader_gives_the_same_report(tmp_path: Path, name: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    reports = {reader: result(tmp_path, FILES[name], reader, monkeypatch)
               for reader in ("csv", "pure", "arrow")}
    assert reports["pure"] == reports["csv"]
    assert reports["arrow"] == reports["csv"]


def test_a_chunked_read_equals_a_whole_one(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [f"{i},{i % 7}.5,t{i % 5},{'ab'[i % 2]},{'tf'[i % 3 == 0]},2021-01-0{1 + i % 9},"
            f"{'' if i % 11 == 0 else i}" for i in range(1, 400)]
    text = "i,f,s,c,b,d,u\n" + "\n".join(rows) + '\n500,1,"x\ny",a,t,2021-01-01,1\n'
    whole = result(tmp_path, text, "csv", monkeypatch)
    # Blocks of about `chunk` characters (whole lines): the quoted field over two lines
    # sits inside a block for some sizes, a block ends inside it for others.
    for reader in ("csv", "pure"):
        for chunk in range(30, 130, 7):
            assert result(tmp_path, text, reader, monkeypatch, chunk=chunk) == whole

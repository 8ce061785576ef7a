"""Hostile YAML in any file mlci reads is a clear input error (exit 2), quickly: alias bombs,
binary files, huge integers, deep nesting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

# 9 levels of 9 aliases: ~387 million nodes once expanded, 360-odd bytes on disk.
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
HOSTILE = {
    "bomb": (BOMB.encode(), "alias bomb"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not UTF-8 text"),
    "huge-int": (b"model: x\ntrain: {seed: " + b"9" * 5000 + b"}\n", "cannot be read"),
    "deep": (b"a: " + b"[" * 500 + b"]" * 500 + b"\n", "nested"),
    "top-list": (b"- a\n- b\n", "mapping"),
}


def mlci(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlci", *argv], cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("where", ["config", "gate-spec", "dvc"])
def test_hostile_yaml_is_an_input_error(tmp_path: Path, case: str, where: str) -> None:
    content, expected = HOSTILE[case]
    if where == "config":
        (tmp_path / "mlci.yml").write_bytes(content)
        result = mlci("config", "--tracking-uri", "http://127.0.0.1:9", cwd=tmp_path)
        shown = "mlci.yml"
    elif where == "gate-spec":
        (tmp_path / "gate.yml").write_bytes(content)
        (tmp_path / "c.json").write_text('{"accuracy": 0.9}')
        result = mlci("gate", "--spec", "gate.yml", "--candidate", "c.json", cwd=tmp_path)
        shown = "gate.yml"
    else:
        (tmp_path / "data.dvc").write_bytes(content)
        result = mlci("data-change", "--dvc", cwd=tmp_path)
        shown = "data.dvc"
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert shown in result.stderr
    if case != "top-list":
        assert expected in result.stderr, result.stderr


def test_a_modest_alias_is_fine(tmp_path: Path) -> None:
    (tmp_path / "mlci.yml").write_text(
        "model: churn\ntrain: &t {seed: 3, env: {A: b}}\ndata: {paths: [data]}\n")
    result = mlci("config", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr

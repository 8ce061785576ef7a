"""docs/data-contract.md: every example is a valid contract, and every rule and drift method
the schema knows is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlci.data.contract import CATEGORICAL_METHODS, NUMERIC_METHODS, Column, Drift, parse_contract

pytestmark = pytest.mark.unit
PAGE = Path(__file__).resolve().parents[3] / "docs" / "data-contract.md"


def test_every_example_is_a_valid_contract() -> None:
    text = PAGE.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert len(blocks) >= 5
    for block in blocks:
        parse_contract(block, str(PAGE))


def test_every_rule_and_method_is_documented() -> None:
    text = PAGE.read_text(encoding="utf-8")
    keys = set(Column.model_fields) - {"options"} | set(Drift.model_fields)
    keys |= set(NUMERIC_METHODS) | set(CATEGORICAL_METHODS)
    missing = sorted(k for k in keys if f"`{k}" not in text)
    assert missing == []

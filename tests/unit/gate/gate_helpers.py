"""Shared helpers of the gate engine's unit tests: write prediction files and specs."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlci.gate.engine import Side, run_gate
from mlci.gate.spec import GateSpec


def write_predictions(path: Path, ids: Sequence[Any], labels: Sequence[Any],
                      preds: Sequence[Any], scores: Sequence[Any] | None = None,
                      **columns: Sequence[Any]) -> Path:
    header = ["id", "label", "prediction"] + (["score"] if scores is not None else []) + \
        list(columns)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i in range(len(ids)):
            row = [ids[i], labels[i], preds[i]] + ([scores[i]] if scores is not None else [])
            writer.writerow(row + [columns[c][i] for c in columns])
    return path


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def gate(spec: dict[str, Any], candidate: dict[str, Any], baseline: dict[str, Any] | None,
         **kwargs: Any) -> dict[str, Any]:
    """Run the engine on metric dicts (no files): returns the report dict."""
    return run_gate(GateSpec.model_validate(spec), Side("cand.json", candidate,
                    predictions=kwargs.get("cand_pred")),
                    None if baseline is None else Side("base.json", baseline,
                                                       predictions=kwargs.get("base_pred")))


def rule(report: dict[str, Any], rule_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [r for r in report["rules"] if r["id"] == rule_id]
    assert len(found) == 1, (rule_id, [r["id"] for r in report["rules"]])
    return found[0]

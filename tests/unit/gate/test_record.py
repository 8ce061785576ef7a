"""Where promote finds the gate's report when no file is given (`find_gate_report`), against a
fake MLflow client: the candidate's run, by run URI or by version."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mlci import names
from mlci.errors import InputError
from mlci.registry.client import Registry, RetryPolicy
from mlci.registry.promote import find_gate_report

pytestmark = pytest.mark.unit

REPORT = {"verdict": "review", "baseline": {"model_version": "4"}, "candidate": {"run_id": "r1"}}


class Client:
    def __init__(self, tags: dict[str, str], artifact: str | None) -> None:
        self.tags, self.artifact = tags, artifact

    def get_run(self, run_id: str) -> Any:
        return SimpleNamespace(data=SimpleNamespace(tags=self.tags))

    def get_model_version(self, name: str, version: str) -> Any:
        return SimpleNamespace(version=version, run_id="r1")

    def download_artifacts(self, run_id: str, path: str, dst: str) -> str:
        if self.artifact is None:
            raise FileNotFoundError(path)
        local = Path(dst) / Path(path).name
        local.write_text(self.artifact, encoding="utf-8")
        return str(local)


def registry(client: Client) -> Registry:
    return Registry("http://reg", policy=RetryPolicy(timeout=0), client=client)


@pytest.mark.parametrize("candidate", ["runs:/r1/model", "7"])
def test_the_latest_recorded_report_is_found(candidate: str) -> None:
    path = "mlci/gate/20261128T000000Z-abc123/report.json"
    found = find_gate_report(registry(Client({names.GATE_REPORT: path}, json.dumps(REPORT))),
                             "churn", candidate)
    assert found is not None
    assert (found.verdict, found.baseline_version, found.path) == \
        ("review", "4", f"runs:/r1/{path}")


def test_a_run_never_gated_has_no_report() -> None:
    assert find_gate_report(registry(Client({}, None)), "churn", "runs:/r1/model") is None


def test_a_tag_naming_a_missing_report_is_an_input_error() -> None:
    with pytest.raises(InputError, match="not there"):
        find_gate_report(registry(Client({names.GATE_REPORT: "mlci/gate/x/report.json"}, None)),
                         "churn", "runs:/r1/model")

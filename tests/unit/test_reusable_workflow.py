"""The reusable workflow works from another repository: its actions are `$/` references
(the repository and commit of the workflow file), never `./` (the caller's checkout); the
act harness turns `$/` into `./` (act rejects `$/`) in one place, tests/e2e/clients.for_act."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.clients import for_act

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / ".github" / "workflows" / "ml-pipeline.yml"
ACTIONS = sorted([ROOT / "action.yml", *ROOT.glob("actions/*/action.yml")])


def uses_of(doc: dict[str, Any]) -> list[str]:
    found = [str(job["uses"]) for job in (doc.get("jobs") or {}).values() if "uses" in job]
    steps = [s for job in (doc.get("jobs") or {}).values() for s in job.get("steps") or []]
    steps += (doc.get("runs") or {}).get("steps") or []
    return found + [str(s["uses"]) for s in steps if "uses" in s]


def test_the_reusable_workflow_names_its_actions_by_self_repository_references() -> None:
    uses = uses_of(yaml.safe_load(PIPELINE.read_text(encoding="utf-8")))
    local = [u for u in uses if u.startswith(("./", "$/"))]
    assert local, "ml-pipeline.yml references no mlci action"
    caller_relative = [u for u in local if not u.startswith("$/")]
    assert not caller_relative, \
        f"ml-pipeline.yml: {caller_relative} resolve in the caller's checkout; use $/<path>"
    assert all((ROOT / u[2:] / "action.yml").is_file() for u in local), local


def test_the_gate_jobs_hold_no_shell_logic() -> None:
    """One CI input -> one flag -> one `mlci` line: the gate scores the holdout itself."""
    gate = yaml.safe_load(PIPELINE.read_text(encoding="utf-8"))["jobs"]["gate"]
    assert [s.get("uses", "").split("@")[0] for s in gate["steps"]] == \
        ["actions/checkout", "$/actions/gate"]
    assert "holdout" in gate["steps"][1]["with"] and not any("run" in s for s in gate["steps"])
    text = (ROOT / "gitlab-templates" / "pipeline.yml").read_text(encoding="utf-8")
    job = yaml.safe_load(text.split("\n---\n", 1)[1])["mlci-gate"]
    assert "script" not in job, "mlci-gate runs the gate template's one line, `mlci gate`"
    template = yaml.safe_load(
        (ROOT / "gitlab-templates" / "gate.yml").read_text(encoding="utf-8").split(
            "\n---\n", 1)[1])
    assert template["$[[ inputs.job-prefix ]]-gate"]["script"] == ["mlci gate"]


def test_no_job_of_the_gitlab_pipeline_holds_shell_logic() -> None:
    """Every job runs its stage template's one `mlci` line; the wiring is job variables."""
    text = (ROOT / "gitlab-templates" / "pipeline.yml").read_text(encoding="utf-8")
    jobs = {k: v for k, v in yaml.safe_load(text.split("\n---\n", 1)[1]).items()
            if not k.startswith(".") and k != "include"}
    assert {"mlci-canary-deploy", "mlci-reviewed-canary-deploy", "mlci-gate"} <= set(jobs)
    assert not {k for k, job in jobs.items() if {"script", "before_script"} & set(job)}
    for name in ("mlci-canary-deploy", "mlci-reviewed-canary-deploy"):
        assert jobs[name]["variables"] == {"MLCI_INPUT_CANARY_VERSION": "$MLCI_VERSION",
                                           "MLCI_INPUT_CANARY_IF_PROMOTED": "$MLCI_PROMOTED"}


@pytest.mark.parametrize("path", ACTIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_composite_action_names_a_sibling_through_the_callers_checkout(path: Path) -> None:
    uses = uses_of(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert not [u for u in uses if u.startswith("./")], uses


def test_for_act_rewrites_only_uses_values_starting_with_self_repository() -> None:
    text = """\
jobs:
  gate:
    steps:
      - uses: $/actions/gate
      - id: train
        uses: $/actions/train   # a comment
      - uses: "$/actions/promote"
      - uses: ./actions/validate-data
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683
      - run: echo "uses: $/not/a/step" $/x
        env: {PRICE: $/unit}
"""
    assert for_act(text) == """\
jobs:
  gate:
    steps:
      - uses: ./actions/gate
      - id: train
        uses: ./actions/train   # a comment
      - uses: "./actions/promote"
      - uses: ./actions/validate-data
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683
      - run: echo "uses: $/not/a/step" $/x
        env: {PRICE: $/unit}
"""
    assert for_act(for_act(text)) == for_act(text)


def test_the_act_copy_of_the_reusable_workflow_is_the_same_but_for_the_references() -> None:
    text = PIPELINE.read_text(encoding="utf-8")
    rewritten = for_act(text)
    assert "$/" not in "".join(uses_of(yaml.safe_load(rewritten)))
    assert rewritten.replace("uses: ./", "uses: $/") == text.replace("uses: ./", "uses: $/")

"""Promotion policy, gate-report reading and audit-event state, without a registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlci.ci import Platform
from mlci.errors import CheckFailed, InputError
from mlci.registry import faults
from mlci.registry.audit import Event
from mlci.registry.promote import (
    UNSET,
    ApprovalRequired,
    _policy,
    parse_expect,
    read_gate_report,
)

pytestmark = pytest.mark.unit


def report(tmp_path: Path, data: object) -> str:
    path = tmp_path / "gate.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_gate_report_fields(tmp_path: Path) -> None:
    got = read_gate_report(report(tmp_path, {"verdict": "review",
                                             "baseline": {"model_version": 7},
                                             "candidate": {"run_id": "abc"}}))
    assert (got.verdict, got.baseline_known, got.baseline_version, got.candidate_run_id) == \
        ("review", True, "7", "abc")
    first = read_gate_report(report(tmp_path, {"verdict": "promote",
                                               "baseline": {"model_version": None}}))
    assert first.baseline_known and first.baseline_version is None
    from_file = read_gate_report(report(tmp_path, {"verdict": "promote",
                                                   "baseline": {"source": "b.json"}}))
    assert not from_file.baseline_known


@pytest.mark.parametrize("content", ['{"baseline": {}}', '{"verdict": "maybe"}', "[1]", "{"])
def test_gate_report_without_a_verdict_is_bad_input(tmp_path: Path, content: str) -> None:
    path = tmp_path / "gate.json"
    path.write_text(content)
    with pytest.raises(InputError) as caught:
        read_gate_report(str(path))
    assert caught.value.exit_code == 2 and caught.value.file == str(path)


def test_unreadable_gate_report(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_gate_report(str(tmp_path / "missing.json"))


def verdict(tmp_path: Path, value: str) -> object:
    return read_gate_report(report(tmp_path, {"verdict": value}))


def test_policy(tmp_path: Path) -> None:
    # alice runs the promotion; bob is who approved it (the reviewer, on GitHub)
    ok = {"approved": False, "override": False, "reason": None, "actor": "alice", "approver": "bob"}
    assert _policy(verdict(tmp_path, "promote"), **ok) == ("promote", "gate")
    assert _policy(verdict(tmp_path, "promote"), **{**ok, "approved": True}) \
        == ("promote", "gate, bob")
    with pytest.raises(ApprovalRequired) as review:
        _policy(verdict(tmp_path, "review"), **ok)
    assert review.value.exit_code == 3
    assert _policy(verdict(tmp_path, "review"), **{**ok, "approved": True}) == ("review", "bob")
    with pytest.raises(CheckFailed) as reject:
        _policy(verdict(tmp_path, "reject"), **ok)
    assert reject.value.exit_code == 1 and "--override" in str(reject.value)
    with pytest.raises(InputError, match="--reason"):
        _policy(verdict(tmp_path, "reject"), **{**ok, "override": True})
    assert _policy(verdict(tmp_path, "reject"), **{**ok, "override": True, "reason": "hotfix"}) \
        == ("reject", "alice (override)")
    # No gate report and no --approved: a missing flag (exit 2), not a gate's review (exit 3).
    with pytest.raises(InputError, match="no gate report") as manual:
        _policy(None, **ok)
    assert manual.value.exit_code == 2 and manual.value.key == "--approved"
    assert _policy(None, **{**ok, "approved": True}) == ("none", "bob")
    # an override is the actor's own doing, whoever approved
    assert _policy(verdict(tmp_path, "review"), **{**ok, "override": True, "reason": "x"}) \
        == ("review", "alice (override)")


def test_parse_expect() -> None:
    assert parse_expect(None) is UNSET
    assert parse_expect("none") is None
    assert parse_expect("007") == "7"
    with pytest.raises(InputError):
        parse_expect("latest")


def test_event_states() -> None:
    base = {"mlci.event": "promote", "mlci.alias": "champion", "mlci.from_version": "none",
            "mlci.to_version": "3"}
    intent = Event("r1", 0, "RUNNING", tags=dict(base))
    assert intent.pending and intent.state == "intent" and intent.from_version is None
    claimed = Event("r2", 0, "RUNNING", tags={**base, "mlci.linked": "true"})
    assert claimed.pending and claimed.state == "claimed"
    aborted = Event("r3", 0, "RUNNING", tags=dict(base), params={"mlci.decision": "abort"})
    assert not aborted.pending and aborted.state == "aborted"
    moved = Event("r4", 0, "FINISHED", tags={**base, "mlci.state": "moved"})
    assert not moved.pending and moved.as_dict()["outcome"] == "moved"
    recorded = Event("r5", 0, "FINISHED", tags={"mlci.event": "canary-step",
                                                "mlci.state": "recorded"})
    assert not recorded.pending


def test_fault_hook_is_inert_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLCI_FAULT", raising=False)
    faults.point("after-move")
    monkeypatch.setenv("MLCI_FAULT", "after-claim:exit")
    faults.point("after-move")   # another point: nothing happens


def test_platform_actor_is_the_approver(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlci.ci import GitHub, GitLab
    from mlci.registry.promote import actor_of

    monkeypatch.delenv("MLCI_APPROVER", raising=False)
    assert actor_of(GitHub({"GITHUB_ACTOR": "a", "GITHUB_TRIGGERING_ACTOR": "b"})) == "b"
    assert actor_of(GitLab({"GITLAB_USER_LOGIN": "carol"})) == "carol"
    monkeypatch.setenv("MLCI_APPROVER", "dave")
    assert actor_of(Platform({})) == "dave"

"""`mlci promote`, `rollback` and `history` against a real `mlflow server` (SQLite backend).

Most tests run the CLI in-process (`mlci.cli.main`) against the session server; the race and
the crash tests run `mlci` as real processes, and the crash test owns a private server it
SIGKILLs and restarts. Nothing is timed: a step that waits, waits for an event (a file, a
process exit), and the fault hook is `MLCI_FAULT` (documented in mlci.registry.faults).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlci.cli import main
from tests.registry_support import (
    ALICE,
    LINEAGE,
    TOKEN,
    alias,
    approvals_api,
    candidate_runs,
    client,
    gate_report,
    mlci_process,
    mlci_run,
    register,
    unique,
)
from tests.services import MlflowServer

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A terminal platform, outputs to a file, no mlci.yml; MLflow env that mlci sets in its
    own process is restored after each test."""
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "MLCI_CONFIG", "MLCI_APPROVER", "MLCI_FAULT",
                 "MLFLOW_TRACKING_URI", "MLCI_MODEL", "GITHUB_TOKEN", "MLCI_GITHUB_TOKEN",
                 "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0"),
                        ("MLFLOW_HTTP_REQUEST_TIMEOUT", "30"),
                        ("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MLCI_OUTPUT_FILE", str(tmp_path / "outputs.txt"))
    monkeypatch.setenv("USER", "tester")
    monkeypatch.chdir(tmp_path)
    yield


def cli(server: MlflowServer, *args: str) -> int:
    return main([args[0], "--tracking-uri", server.url, *args[1:]])


def outputs(tmp_path: Path) -> dict[str, str]:
    text = (tmp_path / "outputs.txt").read_text() if (tmp_path / "outputs.txt").exists() else ""
    found = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    (tmp_path / "outputs.txt").unlink(missing_ok=True)
    return found


def trail(server: MlflowServer, model: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert cli(server, "history", "--model", model, "--json") == 0
    return json.loads(capsys.readouterr().out)


def moves(history: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    return [(e["event"], e["from_version"], e["to_version"]) for e in history["events"]
            if e["outcome"] == "moved"]


# -- promote, lineage, history ----------------------------------------------------------------
def test_promote_records_lineage_outputs_and_history(
        mlflow_server: MlflowServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    url, model = mlflow_server.url, unique("churn")
    first, second = candidate_runs(url, 2)

    # The first model: no gate report, so a person approves it.
    assert cli(mlflow_server, "promote", "--model", model, "--candidate",
               f"runs:/{first}/model", "--approved") == 0
    assert outputs(tmp_path) == {"version": "1", "previous-version": "", "promoted": "true"}
    assert alias(url, model) == "1"

    # Then a gated one, as a GitHub job: the report's baseline is the expected current holder.
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "gh-out"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "gh-summary"))
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/churn")
    monkeypatch.setenv("GITHUB_RUN_ID", "777")
    monkeypatch.setenv("GITHUB_ACTOR", "release-bot")
    monkeypatch.setenv("GITHUB_SHA", "feedface")
    report = gate_report(tmp_path, "promote", baseline="1", run_id=second)
    capsys.readouterr()
    assert cli(mlflow_server, "promote", "--model", model, "--candidate",
               f"runs:/{second}/model", "--gate-report", report, "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["version"] == "2" and result["previous_version"] == "1" and result["moved"]
    assert result["verdict"] == "promote" and result["approved_by"] == "gate"
    gh_out = (tmp_path / "gh-out").read_text()
    assert "version<<" in gh_out and "\n2\n" in gh_out and "previous-version<<" in gh_out
    assert "promoted<<" in gh_out
    assert "promoted version 2" in (tmp_path / "gh-summary").read_text()
    assert alias(url, model) == "2"

    tags = client(url).get_model_version(model, "2").tags
    for key, value in LINEAGE.items():
        if key != "mlci.seed":
            assert tags[key] == value
    assert tags["mlci.seed"] == "1"
    assert tags["mlci.source_run_id"] == second
    assert tags["mlci.gate.verdict"] == "promote"
    assert tags["mlci.gate.report"] == "https://github.com/acme/churn/actions/runs/777"
    assert tags["mlci.approved_by"] == "gate"
    assert not any(key.startswith("mlci.promot") for key in tags)   # that is the trail's

    # Promoting the same thing again (a re-run after success) moves nothing.
    assert cli(mlflow_server, "promote", "--model", model, "--candidate", "2",
               "--gate-report", report) == 0

    history = trail(mlflow_server, model, capsys)
    assert history["aliases"] == {"champion": "2"}
    assert moves(history) == [("promote", "1", "2"), ("promote", None, "1")]   # newest first
    newest, oldest = history["events"]
    assert newest["actor"] == "release-bot" and newest["verdict"] == "promote"
    assert newest["ci_run_url"] == "https://github.com/acme/churn/actions/runs/777"
    assert newest["details"]["lineage.git_commit"] == LINEAGE["mlci.git_commit"]
    assert newest["details"]["ci_commit"] == "feedface"
    assert oldest["verdict"] == "none" and oldest["actor"] == "tester"
    assert newest["time"] > oldest["time"]

    monkeypatch.delenv("GITHUB_ACTIONS")
    capsys.readouterr()
    assert cli(mlflow_server, "history", "--model", model) == 0
    table = capsys.readouterr().out
    assert "champion -> 2" in table and table.index("release-bot") < table.index("tester")


def test_expect_current_mismatch_exits_1_and_moves_nothing(
        mlflow_server: MlflowServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, model = mlflow_server.url, unique("mismatch")
    register(url, model, candidate_runs(url, 3))
    assert cli(mlflow_server, "promote", "--model", model, "--candidate", "1", "--approved") == 0
    assert cli(mlflow_server, "promote", "--model", model, "--candidate", "2", "--approved",
               "--expect-current", "1") == 0
    before = trail(mlflow_server, model, capsys)

    # The gate compared version 3 against version 1; meanwhile version 2 was promoted.
    report = gate_report(tmp_path, "promote", baseline="1", run_id=None)
    capsys.readouterr()
    assert cli(mlflow_server, "promote", "--model", model, "--candidate", "3",
               "--gate-report", report) == 1
    err = capsys.readouterr().err
    assert "points to version 2, not version 1" in err and "Nothing was changed" in err
    assert cli(mlflow_server, "promote", "--model", model, "--candidate", "3", "--approved",
               "--expect-current", "none") == 1
    assert alias(url, model) == "2"
    assert trail(mlflow_server, model, capsys)["events"] == before["events"]

    # A contradiction between the flag and the report is bad input.
    assert cli(mlflow_server, "promote", "--model", model, "--candidate", "3",
               "--gate-report", report, "--expect-current", "2") == 2


def test_review_needs_approval(mlflow_server: MlflowServer, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    url, model = mlflow_server.url, unique("review")
    (run,) = candidate_runs(url, 1)
    report = gate_report(tmp_path, "review", baseline=None, run_id=run)
    capsys.readouterr()
    assert cli(mlflow_server, "promote", "--model", model, "--candidate", f"runs:/{run}/model",
               "--gate-report", report) == 3
    assert "human must approve" in capsys.readouterr().err
    assert alias(url, model) is None
    assert trail(mlflow_server, model, capsys)["events"] == []

    # The approved path, as a GitLab manual job: the approver is the user who pressed "run".
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("GITLAB_USER_LOGIN", "alice")
    monkeypatch.setenv("CI_JOB_URL", "https://gitlab.example/acme/churn/-/jobs/42")
    monkeypatch.setenv("MLCI_DOTENV", str(tmp_path / "mlci.env"))
    monkeypatch.setenv("MLCI_SUMMARY_FILE", str(tmp_path / "summary.md"))
    assert cli(mlflow_server, "promote", "--model", model, "--candidate", f"runs:/{run}/model",
               "--gate-report", report, "--approved") == 0
    assert "MLCI_VERSION=1\n" in (tmp_path / "mlci.env").read_text()
    tags = client(url).get_model_version(model, "1").tags
    assert tags["mlci.approved_by"] == "alice" and tags["mlci.gate.verdict"] == "review"
    (event,) = trail(mlflow_server, model, capsys)["events"]
    assert event["approved_by"] == "alice" and event["verdict"] == "review"
    assert event["ci_run_url"] == "https://gitlab.example/acme/churn/-/jobs/42"


def test_on_github_the_reviewer_who_approved_the_deployment_is_recorded(
        mlflow_server: MlflowServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    url, model = mlflow_server.url, unique("reviewed")
    (run,) = candidate_runs(url, 1)
    report = gate_report(tmp_path, "review", baseline=None, run_id=run)
    with approvals_api() as api:
        api.history = [ALICE]
        for name, value in (("GITHUB_ACTIONS", "true"), ("GITHUB_REPOSITORY", "acme/churn"),
                            ("GITHUB_RUN_ID", "77"), ("GITHUB_ACTOR", "pusher"),
                            ("GITHUB_OUTPUT", str(tmp_path / "gh-out")),
                            ("GITHUB_API_URL", f"http://127.0.0.1:{api.server_address[1]}"),
                            ("MLCI_GITHUB_TOKEN", TOKEN)):
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        assert cli(mlflow_server, "promote", "--model", model, "--candidate",
                   f"runs:/{run}/model", "--gate-report", report, "--approved") == 0
        assert TOKEN not in capsys.readouterr().err.replace(f"::add-mask::{TOKEN}", "")
    tags = client(url).get_model_version(model, "1").tags
    assert tags["mlci.approved_by"] == "alice (production)"
    (event,) = trail(mlflow_server, model, capsys)["events"]
    assert event["approved_by"] == "alice (production)" and event["actor"] == "pusher"


def test_reject_is_refused_unless_overridden_with_a_reason(
        mlflow_server: MlflowServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, model = mlflow_server.url, unique("reject")
    register(url, model, candidate_runs(url, 2))
    assert cli(mlflow_server, "promote", "--model", model, "--candidate", "1", "--approved") == 0
    report = gate_report(tmp_path, "reject", baseline="1", run_id=None)
    capsys.readouterr()
    assert cli(mlflow_server, "promote", "--model", model, "--candidate", "2",
               "--gate-report", report) == 1
    assert "the gate said reject" in capsys.readouterr().err
    assert cli(mlflow_server, "promote", "--model", model, "--candidate", "2",
               "--gate-report", report, "--override") == 2
    assert alias(url, model) == "1"
    assert cli(mlflow_server, "promote", "--model", model, "--candidate", "2",
               "--gate-report", report, "--override", "--reason", "hotfix for INC-7") == 0
    assert alias(url, model) == "2"
    newest = trail(mlflow_server, model, capsys)["events"][0]
    assert newest["verdict"] == "reject" and newest["reason"] == "hotfix for INC-7"
    assert newest["details"]["override"] == "true"
    assert newest["approved_by"] == "tester (override)"
    tags = client(url).get_model_version(model, "2").tags
    assert tags["mlci.gate.override_reason"] == "hotfix for INC-7"


def test_bad_inputs_exit_2(mlflow_server: MlflowServer, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    url, model = mlflow_server.url, unique("bad")
    (run,) = candidate_runs(url, 1)
    (tmp_path / "broken.json").write_text('{"baseline": {}}')
    cases = [
        ("--candidate", "runs:/" + run + "/nothing-here", "--approved"),
        ("--candidate", "models:/x/1", "--approved"),
        ("--candidate", "9", "--approved"),
        ("--candidate", f"runs:/{run}/model", "--gate-report", str(tmp_path / "broken.json")),
        ("--candidate", f"runs:/{run}/model", "--gate-report", str(tmp_path / "missing.json")),
        ("--candidate", f"runs:/{run}/model", "--gate-report",
         gate_report(tmp_path, "promote", baseline=None, run_id="another-run")),
    ]
    for case in cases:
        assert cli(mlflow_server, "promote", "--model", model, *case) == 2, case
    assert client(url).search_model_versions(f"name = '{model}'") == []
    capsys.readouterr()
    assert main(["promote", "--candidate", "1", "--approved"]) == 2
    assert "no model" in capsys.readouterr().err


# -- rollback ------------------------------------------------------------------------------------
def test_rollback_walks_back_through_promotions(
        mlflow_server: MlflowServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, model = mlflow_server.url, unique("rollback")
    register(url, model, candidate_runs(url, 3))
    for version in ("1", "2", "3"):
        assert cli(mlflow_server, "promote", "--model", model, "--candidate", version,
                   "--approved") == 0
    outputs(tmp_path)
    assert cli(mlflow_server, "rollback", "--model", model, "--reason", "error rate 4%") == 0
    assert outputs(tmp_path) == {"version": "2", "previous-version": "3"}
    assert alias(url, model) == "2"
    assert cli(mlflow_server, "rollback", "--model", model, "--reason", "still bad") == 0
    assert alias(url, model) == "1"
    capsys.readouterr()
    assert cli(mlflow_server, "rollback", "--model", model) == 2   # 1 was the first holder
    assert "first holder" in capsys.readouterr().err
    assert cli(mlflow_server, "rollback", "--model", model, "--to", "3",
               "--reason", "fixed upstream") == 0
    assert alias(url, model) == "3"
    assert cli(mlflow_server, "rollback", "--model", model, "--to", "12") == 2

    history = trail(mlflow_server, model, capsys)
    assert moves(history) == [("rollback", "1", "3"), ("rollback", "2", "1"),
                              ("rollback", "3", "2"), ("promote", "2", "3"),
                              ("promote", "1", "2"), ("promote", None, "1")]
    reasons = [e["reason"] for e in history["events"] if e["event"] == "rollback"]
    assert reasons == ["fixed upstream", "still bad", "error rate 4%"]


def test_rollback_of_an_unset_alias_is_bad_input(mlflow_server: MlflowServer,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    model = unique("unset")
    register(mlflow_server.url, model, candidate_runs(mlflow_server.url, 1))
    capsys.readouterr()
    assert cli(mlflow_server, "rollback", "--model", model) == 2
    assert "--alias" in capsys.readouterr().err
    # A model that does not exist is the --model flag's fault, not --alias's.
    assert cli(mlflow_server, "rollback", "--model", unique("no-such-model")) == 2
    err = capsys.readouterr().err
    assert "--model" in err and "does not exist" in err and "--alias" not in err


def test_names_and_flags_are_checked_before_anything_is_created(
        mlflow_server: MlflowServer, capsys: pytest.CaptureFixture[str]) -> None:
    url = mlflow_server.url
    (run,) = candidate_runs(url, 1)
    # A quote in the name used to create the model, then break the registry search after it.
    name = unique("o'brien")
    capsys.readouterr()
    assert cli(mlflow_server, "promote", "--model", name, "--candidate", f"runs:/{run}/model",
               "--approved") == 2
    err = capsys.readouterr().err
    assert "--model" in err and "cannot be used" in err
    with pytest.raises(Exception, match=r"not found|RESOURCE_DOES_NOT_EXIST"):
        client(url).get_registered_model(name)
    # A manual promotion without --approved: a missing flag (exit 2), not a review (exit 3).
    model = unique("manual")
    assert cli(mlflow_server, "promote", "--model", model, "--candidate",
               f"runs:/{run}/model") == 2
    assert "--approved" in capsys.readouterr().err
    assert alias(url, model) is None


def test_history_pages(mlflow_server: MlflowServer, capsys: pytest.CaptureFixture[str]) -> None:
    url, model = mlflow_server.url, unique("pages")
    register(url, model, candidate_runs(url, 3))
    for version in ("1", "2", "3"):
        assert cli(mlflow_server, "promote", "--model", model, "--candidate", version,
                   "--approved") == 0
    capsys.readouterr()
    assert cli(mlflow_server, "history", "--model", model, "--json", "--limit", "2") == 0
    page = json.loads(capsys.readouterr().out)
    assert [e["to_version"] for e in page["events"]] == ["3", "2"]
    assert page["next_page_token"]
    assert cli(mlflow_server, "history", "--model", model, "--json", "--limit", "2",
               "--page-token", page["next_page_token"]) == 0
    rest = json.loads(capsys.readouterr().out)
    assert [e["to_version"] for e in rest["events"]] == ["1"]


# -- races --------------------------------------------------------------------------------
def wait_for(condition: Callable[[], bool], what: str, procs: list[Any]) -> None:
    """Wait until `condition` holds; fail (not time out) if a process died first."""
    while not condition():
        for proc in procs:
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(f"{what}: a process exited with {proc.returncode}\n"
                                     f"{out}\n{err}")
        time.sleep(0.05)


@pytest.mark.parametrize("lockstep", [True, False], ids=["lockstep", "free-running"])
def test_two_promotions_race_exactly_one_wins(
        mlflow_server: MlflowServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        lockstep: bool) -> None:
    url, model = mlflow_server.url, unique("race")
    register(url, model, candidate_runs(url, 3))
    assert cli(mlflow_server, "promote", "--model", model, "--candidate", "1", "--approved") == 0
    procs, markers = [], []
    for candidate in ("2", "3"):
        env = {}
        if lockstep:   # both stop right after writing their intent, then go at once
            marker = tmp_path / f"paused-{candidate}"
            markers.append(marker)
            env = {"MLCI_FAULT": "after-intent:pause", "MLCI_FAULT_FILE": str(marker)}
        procs.append(mlci_process(url, "promote", "--model", model, "--candidate", candidate,
                                  "--approved", "--expect-current", "1", env=env))
    if lockstep:
        wait_for(lambda: all(m.exists() for m in markers), "both intents written", procs)
        for marker in markers:
            marker.unlink()
    outs = [proc.communicate(timeout=300) for proc in procs]
    results = [(proc.returncode, out, err) for proc, (out, err) in zip(procs, outs, strict=False)]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    winner = "2" if results[0][0] == 0 else "3"
    loser_err = next(err for code, _, err in results if code == 1)
    assert ("lost the race" in loser_err or "points to version " + winner in loser_err
            or "has not finished" in loser_err), loser_err
    assert alias(url, model) == winner
    history = trail(mlflow_server, model, capsys)
    assert moves(history) == [("promote", "1", winner), ("promote", None, "1")]
    if lockstep:
        assert [e["outcome"] for e in history["events"]].count("lost") == 1


# -- faults: crash and restart ------------------------------------------------------------
def test_registry_unreachable_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.services import free_port

    monkeypatch.setenv("MLCI_REGISTRY_TIMEOUT", "1")
    capsys.readouterr()
    assert main(["promote", "--tracking-uri", f"http://127.0.0.1:{free_port()}", "--model", "m",
                 "--candidate", "1", "--approved"]) == 2
    err = capsys.readouterr().err
    assert "unavailable" in err and "MLCI_REGISTRY_TIMEOUT" in err


def test_crash_mid_promotion_is_repaired_and_the_trail_stays_consistent(
        mlflow_server_factory: Callable[[], MlflowServer], tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    server = mlflow_server_factory()
    url = server.url
    model = unique("crash")
    register(url, model, candidate_runs(url, 6))
    assert cli(server, "promote", "--model", model, "--candidate", "1", "--approved") == 0

    def crash(candidate: str, expect: str, fault: str) -> None:
        """A separate `mlci promote` process that dies (os._exit) at `fault`."""
        died = mlci_run(url, "promote", "--model", model, "--candidate", candidate,
                        "--approved", "--expect-current", expect,
                        env={"MLCI_FAULT": f"{fault}:exit"})
        assert died.returncode == 75, died.stderr

    def promote(candidate: str, expect: str) -> tuple[int, str]:
        capsys.readouterr()
        code = cli(server, "promote", "--model", model, "--candidate", candidate,
                   "--approved", "--expect-current", expect)
        return code, capsys.readouterr().err

    # 1. The registry dies while a promotion is under way; the process retries through the
    #    outage and finishes once the server is back (same port, same database).
    marker = tmp_path / "paused"
    proc = mlci_process(url, "promote", "--model", model, "--candidate", "2", "--approved",
                        "--expect-current", "1",
                        env={"MLCI_FAULT": "after-decision:pause", "MLCI_FAULT_FILE": str(marker),
                             "MLCI_REGISTRY_TIMEOUT": "600"})
    wait_for(marker.exists, "promotion paused after its decision", [proc])
    server.kill()
    marker.unlink()           # it now talks to a dead server, and retries
    server.start()
    _out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err
    assert alias(url, model) == "2"

    # 2. The runner dies after deciding to move, before moving; the registry is down for the
    #    next attempt (exit 2, nothing touched), then the re-run finishes the same event.
    crash("3", "2", "after-decision")
    server.kill()
    monkeypatch.setenv("MLCI_REGISTRY_TIMEOUT", "1")
    code, err = promote("3", "2")
    assert code == 2 and "unavailable" in err
    monkeypatch.delenv("MLCI_REGISTRY_TIMEOUT")
    # The in-process run sized MLflow's per-request timeout to its 1 s budget, in this
    # process's environment; the test's own client must not inherit it (a cold server is slow).
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    server.start()
    assert alias(url, model) == "2"
    pending = trail(server, model, capsys)["events"][0]
    assert (pending["outcome"], pending["to_version"]) == ("pending", "3")
    code, err = promote("3", "2")
    assert code == 0, err
    assert alias(url, model) == "3"
    resumed = trail(server, model, capsys)["events"][0]
    assert resumed["id"] == pending["id"] and resumed["outcome"] == "moved"
    assert "finished by a later run" in resumed["note"]

    # 3. The runner dies after claiming the move, before deciding. Another promotion is told
    #    it is in progress; once its lease has run out (set to 0 here) the next one aborts the
    #    abandoned event and proceeds.
    crash("4", "3", "after-claim")
    code, err = promote("5", "3")
    assert code == 1 and "has not finished" in err
    monkeypatch.setenv("MLCI_PROMOTE_LEASE", "0")
    code, err = promote("5", "3")
    assert code == 0, err
    monkeypatch.delenv("MLCI_PROMOTE_LEASE")
    assert alias(url, model) == "5"

    # 4. The runner dies after moving, before confirming: the next run confirms the move, then
    #    refuses its own stale expectation (the alias did move).
    crash("6", "5", "after-move")
    assert alias(url, model) == "6"
    code, err = promote("4", "5")
    assert code == 1 and "points to version 6" in err

    # 5. A rollback dies after deciding; its re-run finishes that same event.
    died = mlci_run(url, "rollback", "--model", model, "--reason", "p99 latency",
                    env={"MLCI_FAULT": "after-decision:exit"})
    assert died.returncode == 75, died.stderr
    capsys.readouterr()
    assert cli(server, "rollback", "--model", model, "--reason", "p99 latency") == 0
    assert alias(url, model) == "5"

    # 6. The runner dies after writing its intent, before claiming: nothing is pending in the
    #    chain; history calls it abandoned.
    crash("1", "5", "after-intent")

    history = trail(server, model, capsys)
    assert history["aliases"] == {"champion": "5"}
    outcomes = [(e["event"], e["from_version"], e["to_version"], e["outcome"])
                for e in history["events"]]
    assert outcomes == [("promote", "5", "1", "abandoned"), ("rollback", "6", "5", "moved"),
                        ("promote", "5", "6", "moved"), ("promote", "3", "5", "moved"),
                        ("promote", "3", "4", "aborted"), ("promote", "2", "3", "moved"),
                        ("promote", "1", "2", "moved"), ("promote", None, "1", "moved")]
    # Every move in the trail happened, in order: each starts where the previous one ended.
    chain = [(f, t) for _, f, t, o in reversed(outcomes) if o == "moved"]
    assert all(chain[i][1] == chain[i + 1][0] for i in range(len(chain) - 1))
    assert [e["seq"] for e in history["events"] if e["outcome"] != "abandoned"] == \
        [7, 6, 5, 4, 3, 2, 1]
    assert "finished by a later run" in history["events"][1]["note"]

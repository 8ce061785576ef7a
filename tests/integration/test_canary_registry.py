"""The rollout's registry semantics and its S3 state store, against a real `mlflow server` and
moto's S3 server: promote queues on `canary` when mlci.yml has a deploy section; a promoted
rollout moves champion by the move protocol and drops `canary`; a rolled-back one drops
`canary`, tags the version, and restores the previous champion when the candidate had been
made champion before the rollout began."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import boto3
import pytest
import yaml

from mlci.canary.registry import RolloutRegistry
from mlci.canary.rollout import Busy, Lease, Rollout, me
from mlci.canary.state import S3Store, StateConflict
from mlci.ci import Platform
from mlci.registry.client import Registry
from tests.registry_support import (
    alias,
    candidate_runs,
    client,
    gate_report,
    mlci_run,
    register,
    unique,
)
from tests.services import MlflowServer

pytestmark = pytest.mark.integration


def versions(url: str, model: str, count: int) -> list[str]:
    return register(url, model, candidate_runs(url, count))


def ops(url: str, model: str) -> RolloutRegistry:
    return RolloutRegistry(Registry(url), model, champion="champion", canary="canary",
                           platform=Platform(env={}))


def test_promote_with_a_deploy_section_queues_the_candidate_on_canary(
        mlflow_server: MlflowServer, tmp_path: Path) -> None:
    url, model = mlflow_server.url, unique("queue")
    v1, v2, v3 = versions(url, model, 3)
    client(url).set_registered_model_alias(model, "champion", v1)
    (tmp_path / "mlci.yml").write_text(yaml.safe_dump({"model": model,
                                                       "deploy": {"target": "local"}}))
    report = gate_report(tmp_path, "promote", baseline=v1, run_id=None)
    done = mlci_run(url, "promote", "--candidate", v2, "--gate-report", report, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (alias(url, model), alias(url, model, "canary")) == (v1, v2)
    # the gate saw champion v1: once champion moved, a promotion on that report is refused
    client(url).set_registered_model_alias(model, "champion", v3)
    stale = mlci_run(url, "promote", "--candidate", v2, "--gate-report", report, cwd=tmp_path)
    assert stale.returncode == 1 and "champion points to version" in stale.stderr
    # an explicit --alias still wins
    (tmp_path / "mlci.yml").write_text(yaml.safe_dump({"model": model}))
    assert alias(url, model, "canary") == v2


def test_promoted_and_rolled_back_rollouts_in_the_registry(mlflow_server: MlflowServer) -> None:
    url, model = mlflow_server.url, unique("rollout")
    v1, v2, v3 = versions(url, model, 3)
    mlflow = client(url)
    mlflow.set_registered_model_alias(model, "champion", v1)
    mlflow.set_registered_model_alias(model, "canary", v2)
    registry = ops(url, model)
    assert registry.queued() == v2
    plan = registry.plan(v2)
    assert (plan.stable, plan.candidate_was_champion) == (v1, False)
    registry.promote(plan, "all steps passed")
    assert (alias(url, model), alias(url, model, "canary")) == (v2, None)
    assert mlflow.get_model_version(model, v2).tags["mlci.rollout"] == "promoted"

    mlflow.set_registered_model_alias(model, "canary", v3)
    registry.roll_back(registry.plan(v3), "error_rate regressed")
    assert (alias(url, model), alias(url, model, "canary")) == (v2, None)
    assert mlflow.get_model_version(model, v3).tags["mlci.rollout"] == "rolled-back"
    events = json.loads(mlci_run(url, "history", "--model", model, "--json").stdout)["events"]
    assert [e["event"] for e in events][:1] == ["promote"]


def test_a_candidate_already_champion_gets_the_previous_champion_back(
        mlflow_server: MlflowServer, tmp_path: Path) -> None:
    url, model = mlflow_server.url, unique("champ")
    v1, v2 = versions(url, model, 2)
    (tmp_path / "mlci.yml").write_text(yaml.safe_dump({"model": model}))
    for version, baseline in ((v1, None), (v2, v1)):
        report = gate_report(tmp_path, "promote", baseline=baseline, run_id=None)
        done = mlci_run(url, "promote", "--candidate", version, "--gate-report", report,
                        cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    registry = ops(url, model)
    plan = registry.plan(v2)
    assert (plan.stable, plan.candidate_was_champion) == (v1, True)
    registry.roll_back(plan, "latency regressed")
    assert alias(url, model) == v1
    events = json.loads(mlci_run(url, "history", "--model", model, "--json").stdout)["events"]
    assert events[0]["event"] == "rollback" and events[0]["to_version"] == v1


def _bucket(s3_env: dict[str, str]) -> str:
    name = unique("rollouts")
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def test_s3_state_is_written_with_conditional_puts(s3_env: dict[str, str]) -> None:
    store = S3Store(f"s3://{_bucket(s3_env)}/mlci/churn.json")
    assert store.load() == (None, None)
    token = store.save({"n": 1}, None)
    with pytest.raises(StateConflict):
        store.save({"n": 2}, None)                 # If-None-Match: it exists already
    newer = store.save({"n": 2}, token)
    with pytest.raises(StateConflict):
        store.save({"n": 3}, token)                # If-Match on a stale ETag
    assert store.load() == ({"n": 2}, newer)


def test_only_one_of_two_ticks_holds_an_s3_rollout(s3_env: dict[str, str]) -> None:
    uri = f"s3://{_bucket(s3_env)}/r.json"
    store = S3Store(uri)
    store.save(Rollout("m", "2", "1").as_dict(), None)
    first, second = Lease(store, me(None, "a")), Lease(store, me(None, "b"))
    first.acquire(1e10 - 100)
    with pytest.raises(Busy, match="by a"):
        second.acquire(1e10 - 99)


def test_racing_leases_on_a_local_state_one_wins(tmp_path: Path) -> None:
    from mlci.canary.state import LocalStore

    store = LocalStore(tmp_path / "state.json")
    store.save(Rollout("m", "2", "1").as_dict(), None)
    barrier = threading.Barrier(8)
    won: list[str] = []
    lost: list[str] = []

    def contend(name: str) -> None:
        lease = Lease(LocalStore(tmp_path / "state.json"), me(None, name))
        barrier.wait()
        try:
            lease.acquire(2e9)
            won.append(name)
        except Busy:
            lost.append(name)

    threads = [threading.Thread(target=contend, args=(f"t{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(lost) == 7

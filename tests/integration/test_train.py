"""`mlci train` and `mlci reproduce` with real podman (runc), the debootstrapped base image and
a real `mlflow server`: a tiny pure-Python trainer runs in a container built from a
Containerfile, and the MLflow run, its artifacts and its lineage are checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlci.cli import main
from tests.services import MlflowServer
from tests.train_support import BASE_IMAGE, copy_project, ensure_base_image, podman_containers

pytestmark = pytest.mark.integration

GIT = ["git", "-c", "user.name=mlci test", "-c", "user.email=test@mlci.invalid",
       "-c", "commit.gpgsign=false"]


@pytest.fixture(scope="session")
def base_image() -> str:
    return ensure_base_image()


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests run as in a terminal even inside a CI job; step outputs go to a file we read."""
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "MLFLOW_TRACKING_URI", "MLCI_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLCI_OUTPUT_FILE", str(tmp_path / "step-outputs"))


def client(server: MlflowServer) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=server.url)


def mlci(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any] | None, str]:
    """Run the CLI in-process; (exit code, parsed --json stdout or None, stderr)."""
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    data = json.loads(out) if out.strip().startswith("{") else None
    return code, data, err


def step_outputs(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "step-outputs"
    lines = path.read_text().splitlines() if path.exists() else []
    return dict(line.split("=", 1) for line in lines)


def git_project(dest: Path) -> Path:
    project = copy_project(dest)
    subprocess.run([*GIT, "init", "-q", "-b", "main", str(project)], check=True)
    subprocess.run([*GIT, "-C", str(project), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(project), "commit", "-q", "-m", "toy"], check=True)
    return project


def head(project: Path) -> str:
    return subprocess.run(["git", "-C", str(project), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()


def runs_of(server: MlflowServer, experiment: str) -> list[Any]:
    c = client(server)
    exp = c.get_experiment_by_name(experiment)
    return [] if exp is None else list(c.search_runs([exp.experiment_id]))


def artifact_text(server: MlflowServer, run_id: str, path: str, tmp: Path) -> str:
    local = client(server).download_artifacts(run_id, path, str(tmp))
    return Path(local).read_text(encoding="utf-8")


# -- one real training run, shared by the tests that read it ---------------------------------
@pytest.fixture(scope="module")
def trained(base_image: str, mlflow_server: MlflowServer,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    project = git_project(tmp_path_factory.mktemp("train") / "project")
    experiment = f"train-{uuid.uuid4().hex[:8]}"
    # Through the real console script, as a pipeline runs it.
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "mlci"), "train", "--config",
         str(project / "mlci.yml"), "--tracking-uri", mlflow_server.url, "--experiment",
         experiment, "--engine", "podman", "--env", "EPOCHS=25", "--json"],
        capture_output=True, text=True, cwd=project, check=False,
        env={k: v for k, v in os.environ.items()
             if k not in ("GITHUB_ACTIONS", "GITLAB_CI", "MLFLOW_TRACKING_URI")})
    assert proc.returncode == 0, proc.stderr[-4000:]
    yield {"project": project, "experiment": experiment, "result": json.loads(proc.stdout),
           "stderr": proc.stderr}


def test_train_logs_metrics_params_artifacts(trained: dict[str, Any],
                                             mlflow_server: MlflowServer, tmp_path: Path) -> None:
    result = trained["result"]
    run = client(mlflow_server).get_run(result["run_id"])
    assert run.info.status == "FINISHED"
    assert set(run.data.metrics) == {"accuracy", "log_loss"}
    assert 0.7 < run.data.metrics["accuracy"] <= 1.0
    assert run.data.metrics == result["metrics"]
    assert run.data.params == {"epochs": "25", "learning_rate": "0.1", "seed": "42"}
    listed = {a.path for a in client(mlflow_server).list_artifacts(result["run_id"])}
    assert {"model", "metrics.json", "params.json", "predictions.csv", "mlci"} <= listed
    mlci_dir = {a.path for a in client(mlflow_server).list_artifacts(result["run_id"], "mlci")}
    assert mlci_dir == {"mlci/lineage.json", "mlci/data-manifest.json", "mlci/train.log",
                        "mlci/build.log"}
    # The log streamed live to stderr and is kept in the run.
    assert "epoch 25/25" in trained["stderr"]
    assert "epoch 25/25" in artifact_text(mlflow_server, result["run_id"], "mlci/train.log",
                                          tmp_path)
    assert result["model_uri"] == f"runs:/{result['run_id']}/model"
    weights = json.loads(artifact_text(mlflow_server, result["run_id"], "model/weights.json",
                                       tmp_path))
    assert set(weights) == {"b", "w"}


def test_lineage_statement_and_tags(trained: dict[str, Any], mlflow_server: MlflowServer,
                                    tmp_path: Path) -> None:
    result, project = trained["result"], trained["project"]
    run_id = result["run_id"]
    statement = json.loads(artifact_text(mlflow_server, run_id, "mlci/lineage.json", tmp_path))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://mlci.dev/lineage/v1"
    subject = {s["name"]: "sha256:" + s["digest"]["sha256"] for s in statement["subject"]}
    assert set(subject) == {"metrics.json", "params.json", "predictions.csv",
                            "model/weights.json"}
    assert subject == result["artifacts"]
    pred = statement["predicate"]
    assert pred["code"] == {"commit": head(project), "dirty": False,
                            "repository": None}
    manifest = json.loads(artifact_text(mlflow_server, run_id, "mlci/data-manifest.json",
                                        tmp_path))
    assert {e["path"] for e in manifest["entries"]} == {"data/train.csv", "data/holdout.csv"}
    assert pred["data"]["fingerprint"] == manifest["fingerprint"]
    assert pred["data"]["mounts"] == {"/data": "data"}
    image = pred["image"]
    assert image["digest_kind"] == "image-id" and image["built"] is True
    assert image["digest"] == image["id"] == result["image_digest"]
    assert image["digest"].startswith("sha256:") and len(image["digest"]) == 71
    podman_id = subprocess.run(["podman", "image", "inspect", "--format", "{{.Id}}",
                                image["ref"]], capture_output=True, text=True, check=True)
    assert image["id"] == "sha256:" + podman_id.stdout.strip()
    assert image["containerfile"] == "Containerfile"
    import hashlib

    assert image["containerfile_sha256"] == "sha256:" + hashlib.sha256(
        (project / "Containerfile").read_bytes()).hexdigest()
    assert pred["engine"]["name"] == "podman" and pred["engine"]["containerized"] is True
    assert pred["engine"]["version"]
    assert pred["run"]["command"] == "python3 /app/train.py"
    assert pred["run"]["seed"] == 42 and pred["run"]["network"] == "none"
    assert pred["run"]["env"] == {"EPOCHS": "25"}
    assert pred["run"]["exit_code"] == 0 and pred["run"]["status"] == "FINISHED"
    assert pred["run"]["started_at"] <= pred["run"]["finished_at"]
    assert pred["host"]["cpus"] >= 1 and "accelerators" in pred["host"]
    assert pred["mlflow"]["run_id"] == run_id

    tags = client(mlflow_server).get_run(run_id).data.tags
    assert tags["mlci.git_commit"] == head(project)
    assert tags["mlci.git_dirty"] == "false"
    assert tags["mlci.data_fingerprint"] == manifest["fingerprint"]
    assert tags["mlci.image_digest"] == image["digest"]
    assert tags["mlci.containerfile_sha256"] == image["containerfile_sha256"]
    assert tags["mlci.seed"] == "42"
    assert tags["mlci.engine"] == "podman"
    assert tags["mlci.command"] == "python3 /app/train.py"
    assert tags["mlci.ci_run_url"] == ""          # not in CI here
    assert "mlci.failure" not in tags


def test_data_fingerprint_matches_data_change(trained: dict[str, Any],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The fingerprint train records is the one `mlci data-change` computes."""
    project = trained["project"]
    cwd = os.getcwd()
    os.chdir(project)
    try:
        _code, data, err = mlci(capsys, "data-change", "--paths", "data", "--json")
    finally:
        os.chdir(cwd)
    assert data is not None, err
    assert data["fingerprint"] == trained["result"]["lineage"]["predicate"]["data"]["fingerprint"]


def test_same_seed_reproduces_equal(trained: dict[str, Any], mlflow_server: MlflowServer,
                                    capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run_id = trained["result"]["run_id"]
    code, data, err = mlci(capsys, "reproduce", run_id, "--config",
                           str(trained["project"] / "mlci.yml"), "--tracking-uri",
                           mlflow_server.url, "--json")
    assert code == 0, err
    assert data is not None
    assert data["result"] == "equal", data
    assert data["differences"] == []
    assert sorted(data["artifacts"]["equal"]) == sorted(trained["result"]["artifacts"])
    again = client(mlflow_server).get_run(data["reproduction_run_id"])
    assert again.info.status == "FINISHED"
    assert again.data.tags["mlci.reproduces"] == run_id
    assert again.data.tags["mlci.reproduce_result"] == "equal"
    assert again.data.tags["mlci.image_digest"] == trained["result"]["image_digest"]
    assert step_outputs(tmp_path)["result"] == "equal"


def test_changed_seed_gives_different_artifacts(trained: dict[str, Any],
                                                mlflow_server: MlflowServer,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from mlci.train.reproduce import Tolerance, compare

    project = trained["project"]
    code, data, err = mlci(capsys, "train", "--config", str(project / "mlci.yml"),
                           "--tracking-uri", mlflow_server.url, "--experiment",
                           trained["experiment"], "--engine", "podman", "--seed", "7",
                           "--env", "EPOCHS=25", "--json")
    assert code == 0, err
    assert data is not None
    first = trained["result"]
    assert data["image_digest"] == first["image_digest"]   # the same cached image
    assert data["artifacts"]["model/weights.json"] != first["artifacts"]["model/weights.json"]
    verdict = compare(first["artifacts"], data["artifacts"], first["metrics"], data["metrics"],
                      Tolerance())
    assert verdict.result == "different"
    assert any(d.startswith("artifact model/weights.json") for d in verdict.differences)
    tags = client(mlflow_server).get_run(data["run_id"]).data.tags
    assert tags["mlci.seed"] == "7"


def test_reproduce_refuses_changed_data(trained: dict[str, Any], mlflow_server: MlflowServer,
                                        capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    project = copy_project(tmp_path / "changed")
    with open(project / "data" / "train.csv", "a", encoding="utf-8") as out:
        out.write("r9999,0.5,0.5,1\n")
    before = len(runs_of(mlflow_server, trained["experiment"]))
    code, _data, err = mlci(capsys, "reproduce", trained["result"]["run_id"], "--config",
                           str(project / "mlci.yml"), "--tracking-uri", mlflow_server.url,
                           "--json")
    assert code == 2
    assert "refused: the data fingerprint is" in err
    assert trained["result"]["lineage"]["predicate"]["data"]["fingerprint"] in err
    assert len(runs_of(mlflow_server, trained["experiment"])) == before   # nothing was run


def test_in_container_contract(base_image: str, mlflow_server: MlflowServer,
                               capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--image resolved to its ID, /data read-only, /outputs writable, the environment."""
    project = copy_project(tmp_path / "project")
    outputs = tmp_path / "kept"
    command = ("env | grep -E '^(MLCI_|MLFLOW_|EXTRA)' | sort > /outputs/env.txt; "
               "ls /data > /outputs/data.txt; "
               "if echo x 2>/dev/null >> /data/train.csv; then echo rw; else echo ro; fi "
               "> /outputs/mode.txt; "
               "printf '{\"ok\": 1}' > /outputs/metrics.json")
    experiment = f"contract-{uuid.uuid4().hex[:8]}"
    code, data, err = mlci(capsys, "train", "--image", BASE_IMAGE, "--command", command,
                           "--data", str(project / "data" / "train.csv"),
                           str(project / "data" / "holdout.csv"), "--seed", "5",
                           "--engine", "podman", "--network", "none", "--env", "EXTRA=a b",
                           "--cpus", "1", "--memory", "256m", "--outputs", str(outputs),
                           "--experiment", experiment, "--tracking-uri", mlflow_server.url,
                           "--config", str(project / "mlci.yml"), "--json")
    assert code == 0, err
    assert data is not None
    env = dict(line.split("=", 1) for line in (outputs / "env.txt").read_text().splitlines())
    fingerprint = data["lineage"]["predicate"]["data"]["fingerprint"]
    assert env == {"MLCI_DATA_DIR": "/data", "MLCI_OUTPUT_DIR": "/outputs", "MLCI_SEED": "5",
                   "MLCI_DATA_FINGERPRINT": fingerprint, "MLCI_GIT_COMMIT": "",
                   "MLFLOW_RUN_ID": data["run_id"], "EXTRA": "a b"}
    # Two files: each mounted under its own name; the data is read-only.
    assert (outputs / "data.txt").read_text().split() == ["holdout.csv", "train.csv"]
    assert (outputs / "mode.txt").read_text().strip() == "ro"
    # A localhost image has no registry digest: the record pins its image ID and says so.
    image = data["lineage"]["predicate"]["image"]
    assert image["ref"] == BASE_IMAGE and image["digest_kind"] == "image-id"
    assert image["id"] == "sha256:" + base_image.removeprefix("sha256:")
    assert image["containerfile_sha256"] is None
    assert data["model_uri"] == ""              # no model/ written
    run = client(mlflow_server).get_run(data["run_id"])
    assert run.data.metrics == {"ok": 1.0}
    assert run.data.tags["mlci.containerfile_sha256"] == ""
    listed = {a.path for a in client(mlflow_server).list_artifacts(data["run_id"], "outputs")}
    assert listed == {"outputs/env.txt", "outputs/data.txt", "outputs/mode.txt"}
    assert step_outputs(tmp_path) == {"run-id": data["run_id"],
                                      "image-digest": image["digest"], "model-uri": ""}


def test_failing_command_marks_run_failed(base_image: str, mlflow_server: MlflowServer,
                                          capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    experiment = f"fail-{uuid.uuid4().hex[:8]}"
    code, data, err = mlci(capsys, "train", "--image", BASE_IMAGE, "--command",
                           "echo about to fail; exit 3", "--engine", "podman",
                           "--experiment", experiment, "--tracking-uri", mlflow_server.url,
                           "--json")
    assert code == 1
    assert "the training command failed with exit code 3" in err
    assert err.count("the training command failed") == 1, err   # printed once (issue 11.17)
    assert data is not None and data["status"] == "FAILED"
    (run,) = runs_of(mlflow_server, experiment)
    assert run.info.status == "FAILED" and run.info.run_id == data["run_id"]
    assert run.data.tags["mlci.failure"] == "the training command failed with exit code 3"
    assert "about to fail" in artifact_text(mlflow_server, run.info.run_id, "mlci/train.log",
                                            tmp_path)
    statement = json.loads(artifact_text(mlflow_server, run.info.run_id, "mlci/lineage.json",
                                         tmp_path))
    assert statement["predicate"]["run"]["exit_code"] == 3
    assert statement["subject"] == []
    assert step_outputs(tmp_path)["run-id"] == data["run_id"]


def test_timeout_kills_the_container(base_image: str, mlflow_server: MlflowServer,
                                     capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    experiment = f"timeout-{uuid.uuid4().hex[:8]}"
    code, _data, err = mlci(capsys, "train", "--image", BASE_IMAGE, "--command",
                           "echo started; sleep 300", "--engine", "podman", "--timeout", "3",
                           "--experiment", experiment, "--tracking-uri", mlflow_server.url,
                           "--json")
    assert code == 1
    assert "timed out after 3s" in err and "was killed" in err
    (run,) = runs_of(mlflow_server, experiment)
    assert run.info.status == "FAILED"
    assert "timed out" in run.data.tags["mlci.failure"]
    assert podman_containers(f"mlci-{run.info.run_id[:12]}") == []   # killed and removed
    statement = json.loads(artifact_text(mlflow_server, run.info.run_id, "mlci/lineage.json",
                                         tmp_path))
    assert statement["predicate"]["run"]["timed_out"] is True


def test_broken_metrics_contract_fails_the_run(base_image: str, mlflow_server: MlflowServer,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    experiment = f"contract-{uuid.uuid4().hex[:8]}"
    code, _, err = mlci(capsys, "train", "--image", BASE_IMAGE, "--command",
                        "printf '{\"accuracy\": \"high\"}' > /outputs/metrics.json",
                        "--engine", "podman", "--experiment", experiment,
                        "--tracking-uri", mlflow_server.url)
    assert code == 1
    assert "metrics.json: accuracy: expected a number" in err
    (run,) = runs_of(mlflow_server, experiment)
    assert run.info.status == "FAILED"
    assert run.data.metrics == {}


def test_missing_containerfile_is_input_error(mlflow_server: MlflowServer,
                                              capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    experiment = f"nofile-{uuid.uuid4().hex[:8]}"
    code, _, err = mlci(capsys, "train", "--containerfile", str(tmp_path / "Nope"),
                        "--command", "true", "--engine", "podman", "--experiment", experiment,
                        "--tracking-uri", mlflow_server.url)
    assert code == 2
    assert f"{tmp_path / 'Nope'}: --containerfile: Containerfile not found" in err
    assert runs_of(mlflow_server, experiment) == []          # no run was created


def test_engine_not_working_is_input_error(mlflow_server: MlflowServer,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """docker here is a CLI without a daemon: a clear error naming it, no run."""
    experiment = f"noengine-{uuid.uuid4().hex[:8]}"
    code, _, err = mlci(capsys, "train", "--image", BASE_IMAGE, "--command", "true",
                        "--engine", "docker", "--experiment", experiment,
                        "--tracking-uri", mlflow_server.url)
    assert code == 2
    assert "--engine: docker is installed but its daemon is not reachable" in err \
        or "--engine: docker is not installed" in err
    assert runs_of(mlflow_server, experiment) == []


def test_engine_not_installed_is_input_error(mlflow_server: MlflowServer,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, _, err = mlci(capsys, "train", "--image", BASE_IMAGE, "--command", "true",
                        "--engine", "podman", "--tracking-uri", mlflow_server.url)
    assert code == 2
    assert "--engine: podman is not installed (not found on PATH)" in err
    code, _, err = mlci(capsys, "train", "--image", BASE_IMAGE, "--command", "true",
                        "--tracking-uri", mlflow_server.url)
    assert code == 2
    assert "no working container engine: docker is not installed" in err
    assert "--engine local" in err


def test_auto_engine_picks_the_working_one(base_image: str, mlflow_server: MlflowServer,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """docker's CLI is on PATH here but has no daemon: auto must choose podman."""
    experiment = f"auto-{uuid.uuid4().hex[:8]}"
    code, data, err = mlci(capsys, "train", "--image", BASE_IMAGE, "--command",
                           "printf '{\"x\": 2}' > \"$MLCI_OUTPUT_DIR/metrics.json\"",
                           "--experiment", experiment, "--tracking-uri", mlflow_server.url,
                           "--json")
    assert code == 0, err
    assert data is not None
    assert data["lineage"]["predicate"]["engine"]["name"] == "podman"


def test_local_engine_is_marked_in_the_record(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """--engine local, logged to a local SQLite store (the MLflow-client path of tracking)."""
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)   # the store's artifacts go to ./mlruns

    project = copy_project(tmp_path / "project")
    store = f"sqlite:///{tmp_path / 'mlruns.db'}"
    code, data, err = mlci(capsys, "train", "--engine", "local", "--command",
                           f"{sys.executable} train.py", "--config", str(project / "mlci.yml"),
                           "--experiment", "local", "--tracking-uri", store, "--json")
    assert code == 0, err
    assert data is not None
    pred = data["lineage"]["predicate"]
    assert pred["engine"]["name"] == "local" and pred["engine"]["containerized"] is False
    assert pred["run"]["isolation"].startswith("none")
    assert pred["run"]["backend"] == "local"
    assert data["metrics"]["accuracy"] > 0.7
    run = MlflowClient(store).get_run(data["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlci.engine"] == "local" and run.data.tags["mlci.image_digest"] == ""
    assert run.data.metrics == data["metrics"]
    listed = {a.path for a in MlflowClient(store).list_artifacts(data["run_id"])}
    assert {"model", "metrics.json", "predictions.csv", "mlci"} <= listed


def test_reproduce_refuses_changed_code(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The code that runs comes from the working tree (here --engine local): an edited
    train.py is refused, naming the recorded commit and the file, before anything runs
    (issue 11.12; it used to re-run and say `different`)."""
    monkeypatch.chdir(tmp_path)
    project = git_project(tmp_path / "project")
    store = f"sqlite:///{tmp_path / 'mlruns.db'}"
    common = ("--config", str(project / "mlci.yml"), "--tracking-uri", store)
    code, data, err = mlci(capsys, "train", "--engine", "local", "--command",
                           f"{sys.executable} train.py", "--experiment", "code", *common,
                           "--json")
    assert code == 0, err
    assert data is not None
    commit = head(project)
    train_py = project / "train.py"
    train_py.write_text(train_py.read_text() + "\n# tuned\n")
    code, _, err = mlci(capsys, "reproduce", data["run_id"], *common)
    assert code == 2
    assert f"refused: run {data['run_id']} was trained at commit {commit}" in err
    assert "differs from it (1 file: train.py)" in err
    assert "reproduced as" not in err


def test_unreachable_tracking_server_is_a_service_error(base_image: str,
                                                        capsys: pytest.CaptureFixture[str],
                                                        tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing runs when the run cannot be recorded: exit 2, naming the server, within the
    registry layer's budget."""
    from tests.services import free_port

    monkeypatch.setenv("MLCI_REGISTRY_TIMEOUT", "2")
    marker = tmp_path / "ran"
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = mlci(capsys, "train", "--image", BASE_IMAGE, "--engine", "podman",
                        "--command", f"touch {marker}", "--tracking-uri", url)
    assert code == 2
    assert f"registry {url} unavailable: reading experiment failed" in err
    assert "MLCI_REGISTRY_TIMEOUT" in err
    assert not marker.exists()


def test_unreachable_tracking_server_fails_before_the_build(
        base_image: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry is checked before the expensive work: no image is built (issue 11.13)."""
    import hashlib

    from tests.services import free_port

    monkeypatch.setenv("MLCI_REGISTRY_TIMEOUT", "2")
    containerfile = tmp_path / "Containerfile"
    containerfile.write_text(f"FROM {BASE_IMAGE}\nRUN echo {uuid.uuid4().hex}\n")
    tag = f"mlci-train:{hashlib.sha256(containerfile.read_bytes()).hexdigest()[:12]}"
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = mlci(capsys, "train", "--containerfile", str(containerfile), "--engine",
                        "podman", "--command", "true", "--tracking-uri", url)
    assert code == 2
    assert f"registry {url} unavailable" in err
    assert "podman build" not in err
    exists = subprocess.run(["podman", "image", "exists", tag], check=False)
    assert exists.returncode == 1, f"{tag} was built before the registry was checked"


@pytest.mark.parametrize(("metric", "expected", "exit_code"), [
    ("1", "within-tolerance", 0),     # same metric, model bytes differ (a timestamp)
    ("$(date +%s%N)", "different", 1),   # the metric differs too (a later time)
])
def test_reproduce_reports_within_tolerance_and_different(
        base_image: str, mlflow_server: MlflowServer, capsys: pytest.CaptureFixture[str],
        tmp_path: Path, metric: str, expected: str, exit_code: int) -> None:
    command = ("mkdir -p /outputs/model && date +%s%N > /outputs/model/stamp.txt && "
               f"echo \"{{\\\"score\\\": {metric}}}\" > /outputs/metrics.json")
    experiment = f"repro-{uuid.uuid4().hex[:8]}"
    code, data, err = mlci(capsys, "train", "--image", BASE_IMAGE, "--command", command,
                           "--engine", "podman", "--experiment", experiment,
                           "--tracking-uri", mlflow_server.url, "--json")
    assert code == 0, err
    assert data is not None
    code, result, err = mlci(capsys, "reproduce", data["run_id"], "--tracking-uri",
                             mlflow_server.url, "--json")
    assert result is not None, err
    assert (code, result["result"]) == (exit_code, expected), result
    assert result["artifacts"]["different"] == ["model/stamp.txt"] or expected == "different"
    assert any(d.startswith("artifact model/stamp.txt") for d in result["differences"])
    if expected == "different":
        assert f"run {data['run_id']} did not reproduce" in err

"""The reusable workflow `.github/workflows/ml-pipeline.yml` under real `act`, called by a
caller workflow as a team would: a real `mlflow server`, podman training from the Debian
base image, the gate scoring both models with `mlci evaluate`, and the canary job rolling
out with the `local` target (mlflow models serve + nginx) while the example's bounded
traffic generator sends requests. Snapshots: the first model, an improving one (canaried to
champion), a harmful one (rejected on its slice, production unchanged). After each run:
the registry's aliases and the audit trail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlci.canary.targets.config import LocalTarget as LocalConfig
from mlci.canary.targets.local import LocalTarget
from tests.e2e import clients
from tests.registry_support import unique
from tests.services import MlflowServer, free_port

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "examples/churn"


def example_files(tmp: Path) -> dict[str, Path]:
    """The example's tracked files, and its three snapshots generated beside them."""
    names = subprocess.run(["git", "ls-files", EXAMPLE], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    files = {n: ROOT / n for n in names if not n.endswith(".gitignore")}
    subprocess.run([sys.executable, str(ROOT / EXAMPLE / "generate.py"), str(tmp)], check=True)
    return files


def caller(model: str) -> str:
    return f"""on: push
permissions: {{}}
jobs:
  ml:
    permissions: {{contents: read, actions: read}}
    uses: ./.github/workflows/ml-pipeline.yml
    with:
      model: {model}
      config: {EXAMPLE}/mlci.yml
      holdout: {EXAMPLE}/data/holdout.csv
    secrets:
      tracking-uri: ${{{{ secrets.MLFLOW_TRACKING_URI }}}}
"""


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[LocalConfig]:
    config = LocalConfig(workdir=str(tmp_path / "serve"), listen=f"127.0.0.1:{free_port()}",
                         startup_timeout=240)
    yield config
    LocalTarget(config, base_dir=tmp_path, tracking_uri=None).stop_all()


@pytest.fixture
def traffic(tmp_path: Path, serving: LocalConfig) -> Iterator[None]:
    stop = tmp_path / "traffic.stop"
    subprocess.run([sys.executable, str(ROOT / EXAMPLE / "generate.py"),
                    str(tmp_path / "snapshots")], check=True)
    process = subprocess.Popen([sys.executable, str(ROOT / EXAMPLE / "traffic.py"), "--url",
                                f"http://{serving.listen}/invocations", "--rate", "15",
                                "--duration", "1700", "--stop-file", str(stop), "--data",
                                str(tmp_path / "snapshots" / "v1" / "holdout.csv")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield
    stop.touch()
    process.wait(timeout=30)


def test_reusable_workflow_first_improving_harmful(
        tmp_path: Path, make_repo: Callable[..., Path], mlflow_server: MlflowServer,
        act: Callable[..., clients.ActResult], serving: LocalConfig, traffic: None) -> None:
    from mlflow import MlflowClient

    built = subprocess.run([str(ROOT / "scripts" / "build-base-image.sh")],
                           capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    snapshots = tmp_path / "snapshots"
    files: dict[str, object] = dict(example_files(snapshots))
    model = unique("pipeline")

    def with_data(version: int) -> dict[str, object]:
        return {f"{EXAMPLE}/data/{p}.csv": snapshots / f"v{version}" / f"{p}.csv"
                for p in ("train", "holdout")}

    repo = make_repo({**files, **with_data(1), ".github/workflows/ml.yml": caller(model)},
                     extra_paths=(".github/workflows/ml-pipeline.yml",))
    env = {"MLCI_MODEL": model, "MLCI_DEPLOY__LOCAL__LISTEN": serving.listen,
           "MLCI_DEPLOY__LOCAL__WORKDIR": serving.workdir,
           "MLCI_DEPLOY__STATE": str(tmp_path / "rollout.json")}
    secrets = {"MLFLOW_TRACKING_URI": mlflow_server.url}
    registry = MlflowClient(tracking_uri=mlflow_server.url)

    def run(version: int) -> clients.ActResult:
        if version > 1:
            for rel, source in with_data(version).items():
                shutil.copy(str(source), repo / rel)
            clients.commit_all(repo, f"data v{version}")
        return act(repo, ".github/workflows/ml.yml", env=env, secrets=secrets, timeout=1500)

    def alias(name: str) -> str | None:
        try:
            return str(registry.get_model_version_by_alias(model, name).version)
        except Exception:  # noqa: BLE001 - the alias is not set
            return None

    first = run(1)
    assert first.ok, first.log[-6000:]
    assert alias("champion") == "1" and alias("canary") is None
    improved = run(2)
    assert improved.ok, improved.log[-6000:]
    assert alias("champion") == "2" and alias("canary") is None
    harmful = run(3)
    assert not harmful.ok
    assert "slices.region=south.accuracy" in harmful.log
    assert alias("champion") == "2" and alias("canary") is None     # production unchanged
    history = subprocess.run([str(Path(sys.executable).parent / "mlci"), "history", "--model",
                              model, "--tracking-uri", mlflow_server.url, "--json"],
                             capture_output=True, text=True, check=True,
                             env={**os.environ}).stdout
    for event in ("canary.start", "canary.weight", "canary.check", "canary.promoted",
                  "promote"):
        assert f'"{event}"' in history, event

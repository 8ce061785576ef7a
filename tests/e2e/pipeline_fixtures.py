"""Fixtures shared by the whole-pipeline e2e tests (act and gitlab-ci-local): the churn
example with its three snapshots, the `local` serving target, the example's bounded traffic,
and what both tests read back from the registry."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlci.canary.targets.config import LocalTarget as LocalConfig
from tests.canary_support import serving as serving  # shared with the canary tests

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "examples/churn"


@dataclass
class Example:
    files: dict[str, Path]   # the example's tracked files, by repository path
    snapshots: Path          # v1/, v2/, v3/: train.csv and holdout.csv each

    def data(self, version: int) -> dict[str, Path]:
        """The snapshot `version`'s files, where the example's mlci.yml reads them."""
        return {f"{EXAMPLE}/data/{p}.csv": self.snapshots / f"v{version}" / f"{p}.csv"
                for p in ("train", "holdout")}


@pytest.fixture
def example(tmp_path: Path) -> Example:
    """The example's files and its snapshots (generated once), on the Debian base image."""
    built = subprocess.run([str(ROOT / "scripts" / "build-base-image.sh")],
                           capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    names = subprocess.run(["git", "ls-files", EXAMPLE], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    snapshots = tmp_path / "snapshots"
    subprocess.run([sys.executable, str(ROOT / EXAMPLE / "generate.py"), str(snapshots)],
                   check=True)
    return Example({n: ROOT / n for n in names if not n.endswith(".gitignore")}, snapshots)


@pytest.fixture
def traffic(tmp_path: Path, example: Example, serving: LocalConfig) -> Iterator[None]:
    stop = tmp_path / "traffic.stop"
    process = subprocess.Popen([sys.executable, str(ROOT / EXAMPLE / "traffic.py"), "--url",
                                f"http://{serving.listen}/invocations", "--rate", "15",
                                "--duration", "1700", "--stop-file", str(stop), "--data",
                                str(example.snapshots / "v1" / "holdout.csv")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield
    stop.touch()
    process.wait(timeout=30)


def alias(tracking_uri: str, model: str, name: str) -> str | None:
    """The version `name` points to, None when the alias is not set."""
    from mlflow import MlflowClient

    try:
        return str(MlflowClient(tracking_uri=tracking_uri)
                   .get_model_version_by_alias(model, name).version)
    except Exception:  # noqa: BLE001 - the alias is not set
        return None


def history(tracking_uri: str, model: str) -> str:
    """`mlci history --json` of `model`: the audit trail."""
    return subprocess.run([str(Path(sys.executable).parent / "mlci"), "history", "--model",
                           model, "--tracking-uri", tracking_uri, "--json"],
                          capture_output=True, text=True, check=True).stdout

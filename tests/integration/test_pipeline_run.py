"""`mlci pipeline run` end to end on examples/churn: the embedded SQLite store, podman
training from the Debian base image, the `local` target (mlflow models serve + nginx) and
the example's bounded traffic generator.

One example copy walks through: the first model (every stage, rolled out), the same data
again (nothing runs; with --force everything runs and the same model is rejected for not
improving), a second snapshot without --holdout (exit 2 naming it), and that snapshot with
a gate that says review (the run stops before promotion, says how to approve, and
production is unchanged)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlci.registry.client import Registry
from tests.services import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
MLCI = str(Path(sys.executable).parent / "mlci")


class Example:
    def __init__(self, folder: Path, listen: str) -> None:
        self.folder = folder
        self.listen = listen
        self.env = {**os.environ, "MLCI_DEPLOY__LOCAL__LISTEN": listen}
        self.env.pop("MLFLOW_TRACKING_URI", None)
        self.store = f"sqlite:///{folder / '.mlci' / 'mlflow.db'}"

    def use(self, version: int) -> None:
        (self.folder / "data").mkdir(exist_ok=True)
        for part in ("train", "holdout"):
            shutil.copy(self.folder / "snapshots" / f"v{version}" / f"{part}.csv",
                        self.folder / "data" / f"{part}.csv")

    def run(self, *flags: str) -> tuple[int, dict[str, object], str]:
        done = subprocess.run([MLCI, "pipeline", "run", "--json", "--holdout",
                               "data/holdout.csv", *flags], cwd=self.folder, env=self.env,
                              capture_output=True, text=True, timeout=900, check=False)
        doc = json.loads(done.stdout) if done.stdout.strip() else {}
        return done.returncode, doc, done.stderr

    def champion(self) -> str | None:
        return Registry(self.store).alias_version("churn", "champion")


@pytest.fixture
def example(tmp_path: Path) -> Iterator[Example]:
    folder = tmp_path / "churn"
    shutil.copytree(ROOT / "examples" / "churn", folder,
                    ignore=shutil.ignore_patterns("data", "snapshots", ".mlci", "mlruns*"))
    subprocess.run([sys.executable, "generate.py"], cwd=folder, check=True)
    built = subprocess.run([str(ROOT / "scripts" / "build-base-image.sh")],
                           capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    found = Example(folder, f"127.0.0.1:{free_port()}")
    (folder / ".mlci").mkdir()
    stop = folder / ".mlci" / "traffic.stop"
    traffic = subprocess.Popen([sys.executable, "traffic.py", "--url",
                                f"http://{found.listen}/invocations", "--rate", "15",
                                "--duration", "840", "--stop-file", str(stop),
                                "--data", "snapshots/v1/holdout.csv"], cwd=folder,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield found
    finally:
        stop.touch()
        traffic.wait(timeout=30)
        subprocess.run([MLCI, "pipeline", "stop"], cwd=folder, env=found.env, check=False,
                       capture_output=True)


def decisions(doc: dict[str, object]) -> dict[str, str]:
    stages = doc["stages"]
    assert isinstance(stages, list)
    return {s["stage"]: s["decision"] for s in stages}


def test_first_model_then_unchanged_data_then_review(example: Example) -> None:
    example.use(1)
    code, doc, err = example.run()
    assert code == 0, err[-3000:]
    assert decisions(doc) == {"data-change": "changed", "validate-data": "valid",
                              "train": "trained", "gate": "promote", "promote": "promoted",
                              "canary": "promoted"}
    for number, name in enumerate(("data-change", "validate-data", "train", "gate", "promote",
                                   "canary"), start=1):
        assert f"[{number}/6] {name}: " in err      # a progress line per stage
    assert "embedded MLflow store" in err
    report = Path(str(doc["report_dir"])) / "report.md"
    assert "| canary | **promoted** |" in report.read_text()
    assert example.champion() == "1"

    code, doc, err = example.run()                  # the same data: nothing runs
    assert code == 0, err[-3000:]
    assert decisions(doc)["data-change"] == "unchanged"
    assert set(list(decisions(doc).values())[1:]) == {"skipped"}
    assert "--force" in str(doc["next"])

    code, doc, err = example.run("--force")         # the same data, every stage anyway:
    assert code == 1, err[-3000:]                   # the same model does not improve
    assert decisions(doc)["gate"] == "reject"
    assert decisions(doc)["promote"] == "skipped"
    assert example.champion() == "1"

    example.use(2)                                  # production exists, no holdout given:
    done = subprocess.run([MLCI, "pipeline", "run"], cwd=example.folder, env=example.env,
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "--holdout" in done.stderr               # the message names the missing flag
    assert example.champion() == "1"

    config = example.folder / "mlci.yml"            # a warn rule that fails: review
    text = config.read_text()
    config.write_text(text.replace("    f1:       {min: 0.40}\n",
                                   "    f1:       {min: 0.40}\n"
                                   "    precision: {min: 0.99, severity: warn}\n"))
    example.use(2)
    code, doc, err = example.run()
    assert code == 3, err[-3000:]
    found = decisions(doc)
    assert found["gate"] == "review"
    assert found["promote"] == found["canary"] == "skipped"
    assert "mlci promote" in str(doc["next"]) and "--approved" in str(doc["next"])
    assert example.champion() == "1"                # production unchanged

"""Shared fixture files for the data-change / validate-data e2e tests (act and gitlab-ci-local).

The repository holds two data snapshots, each with a manifest baseline committed next to it,
written by `mlci data-change --write` the way a user commits one:

- ``data/stable``: the manifest matches the files -> ``changed`` is "false";
- ``data/fresh``: the manifest was written, then one file was modified and one added ->
  ``changed`` is "true", 1 added, 1 modified, 0 removed.

and, for validate-data, a contract (its drift reference: ``data/reference.csv``), a good
table (``data/stable/train.csv``) and a bad one (``data/bad/train.csv``: a negative age and
an unknown country, which also shift the age and country distributions past the PSI limit).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e import clients

CONTRACT = """rows: {min: 3}
columns:
  id:      {type: integer, unique: true}
  age:     {type: integer, min: 0, max: 130}
  country: {type: category, allowed: [DE, FR, US]}
  churned: {type: boolean}
drift:
  reference: data/reference.csv
  method: psi
  psi_max: 0.2
  columns: [age, country]
"""

GOOD = "id,age,country,churned\n1,34,DE,true\n2,51,FR,false\n3,27,US,false\n4,45,DE,true\n"
BAD = "id,age,country,churned\n1,34,DE,true\n2,-5,FR,false\n3,27,XX,false\n4,45,DE,true\n"

STABLE_BASELINE = "baselines/stable.json"
FRESH_BASELINE = "baselines/fresh.json"


def _write_manifest(repo: Path, paths: str, dest: str) -> str:
    """`mlci data-change --paths PATHS --write DEST` in ``repo`` (a terminal run: the outer
    CI's output files are not touched); returns the manifest's fingerprint."""
    env = clients._clean_env({"MLCI_PLATFORM": "terminal"})
    subprocess.run([sys.executable, "-m", "mlci", "data-change", "--paths", paths,
                    "--write", dest], cwd=repo, env=env, check=True, capture_output=True,
                   text=True, stdin=subprocess.DEVNULL)
    return json.loads((repo / dest).read_text(encoding="utf-8"))["fingerprint"]


def data_repo(make_repo, extra_files: dict[str, str]) -> tuple[Path, dict[str, str]]:
    """The fixture repo, committed; returns it and the baseline fingerprints by snapshot."""
    repo = make_repo({
        "data/stable/train.csv": GOOD,
        "data/stable/labels.txt": "churned\n",
        "data/fresh/part-0.csv": "id,x\n1,0.5\n",
        "data/fresh/part-1.csv": "id,x\n2,0.7\n",
        "data/reference.csv": GOOD,
        "data/bad/train.csv": BAD,
        "contract.yml": CONTRACT,
        **extra_files,
    })
    fingerprints = {"stable": _write_manifest(repo, "data/stable", STABLE_BASELINE),
                    "fresh": _write_manifest(repo, "data/fresh", FRESH_BASELINE)}
    # New data lands after the baseline was committed: one file modified, one added.
    (repo / "data/fresh/part-1.csv").write_text("id,x\n2,0.9\n", encoding="utf-8")
    (repo / "data/fresh/part-2.csv").write_text("id,x\n3,0.1\n", encoding="utf-8")
    clients.commit_all(repo, "baselines, then new data")
    return repo, fingerprints

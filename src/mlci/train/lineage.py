"""The lineage record: an in-toto Statement v1 of what produced a model.

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": "model/model.json", "digest": {"sha256": "..."}}, ...],
     "predicateType": "https://mlci.dev/lineage/v1",
     "predicate": {code, data, image, run, host, ci, outputs}}

The subject is every file the training command wrote (model files, predictions, metrics),
named by its artifact path in the MLflow run. The statement is logged as the artifact
`mlci/lineage.json`; the facts a registry needs are also run tags (`mlci.*`, see `tags`),
which the promote stage copies to the model version. `mlci reproduce` reads it back.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlci import names
from mlci.errors import InputError

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://mlci.dev/lineage/v1"
MAX_TAG = 5000
_SECRET = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_?KEY)",
                     re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """Extra environment whose name looks secret is recorded by name only."""
    return bool(_SECRET.search(name))


def recorded_env(env: Mapping[str, str]) -> dict[str, str | None]:
    return {k: (None if is_secret_name(k) else v) for k, v in sorted(env.items())}


def git_facts(directory: Path, ci_commit: str | None = None) -> dict[str, Any]:
    """The code commit and whether the work tree differs from it (tracked files only)."""
    facts: dict[str, Any] = {"commit": ci_commit, "dirty": None, "repository": None}
    git = shutil.which("git")
    if git is None:
        return facts

    def run(*args: str) -> str | None:
        try:
            proc = subprocess.run([git, *args], cwd=directory, capture_output=True, text=True,
                                  timeout=30, check=False, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    head = run("rev-parse", "HEAD")
    if head is None:
        return facts
    facts["commit"] = head if not ci_commit or ci_commit == head else ci_commit
    status = run("status", "--porcelain", "--untracked-files=no")
    facts["dirty"] = None if status is None else bool(status)
    remote = run("config", "--get", "remote.origin.url")
    if remote:
        from mlci.redact import redact

        facts["repository"] = redact(remote)  # never record credentials
    return facts


def host_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
        "accelerators": _accelerators(),
    }
    return facts


def _memory_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def _accelerators() -> list[dict[str, str]]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        proc = subprocess.run([smi, "--query-gpu=index,name,driver_version,memory.total",
                               "--format=csv,noheader"], capture_output=True, text=True,
                              timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = []
    for line in proc.stdout.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 4:
            found.append({"kind": "nvidia-gpu", "index": parts[0], "name": parts[1],
                          "driver": parts[2], "memory": parts[3]})
    return found


def statement(subject_digests: Mapping[str, str], predicate: dict[str, Any]) -> dict[str, Any]:
    subject = [{"name": name, "digest": {digest.split(":", 1)[0]: digest.split(":", 1)[1]}}
               for name, digest in sorted(subject_digests.items())]
    return {"_type": STATEMENT_TYPE, "subject": subject, "predicateType": PREDICATE_TYPE,
            "predicate": predicate}


def dumps(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def _short(value: str) -> str:
    return value if len(value) <= MAX_TAG else value[: MAX_TAG - 3] + "..."


def predicate(*, code: dict[str, Any], data_paths: list[str], fingerprint: str | None,
              has_manifest: bool, mounts: dict[str, str], image: dict[str, Any],
              engine: dict[str, Any], run: dict[str, Any], host: dict[str, Any],
              platform: Any, tracking_uri: str) -> dict[str, Any]:
    """The one lineage record of a training run, whatever ran it (the backend seam: the
    container runner and SageMaker fill in `image`, `engine`, `run` and `host`; the rest is
    shared). `run` is the backend's mutable run facts, filled in as the run proceeds."""
    from mlci import __version__
    from mlci.redact import strip_credentials

    return {
        "code": code,
        "data": {"fingerprint": fingerprint, "paths": list(data_paths),
                 "manifest": names.MANIFEST_ARTIFACT if has_manifest else None,
                 "mounts": mounts},
        "image": image,
        "engine": engine,
        "run": run,
        "host": host,
        "ci": {"platform": platform.name, "run_url": platform.run_url},
        "mlflow": {"tracking_uri": strip_credentials(tracking_uri),
                   "experiment_id": None, "run_id": None},
        "mlci": {"version": __version__},
        "outputs": {},
    }


def tags(predicate: Mapping[str, Any]) -> dict[str, str]:
    """The run tags that summarize a predicate (empty string for an unknown value)."""
    code = predicate.get("code") or {}
    data = predicate.get("data") or {}
    image = predicate.get("image") or {}
    run = predicate.get("run") or {}
    engine = predicate.get("engine") or {}
    ci = predicate.get("ci") or {}
    dirty = code.get("dirty")
    out = {
        names.GIT_COMMIT: code.get("commit") or "",
        names.GIT_DIRTY: "" if dirty is None else str(bool(dirty)).lower(),
        names.DATA_FINGERPRINT: data.get("fingerprint") or "",
        names.IMAGE_DIGEST: image.get("digest") or "",
        names.CONTAINERFILE_SHA256: image.get("containerfile_sha256") or "",
        names.SEED: str(run.get("seed", "")),
        names.ENGINE: engine.get("name") or "",
        names.COMMAND: _short(run.get("command") or ""),
        names.CI_RUN_URL: ci.get("run_url") or "",
    }
    if code.get("commit"):
        out["mlflow.source.git.commit"] = code["commit"]
    return out


def parse(text: str, *, origin: str) -> dict[str, Any]:
    """Read a lineage statement back; an input error when it is not one mlci wrote."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"not valid JSON: {error.msg}", file=origin, line=error.lineno) from None
    if not isinstance(data, dict) or data.get("_type") != STATEMENT_TYPE or \
            data.get("predicateType") != PREDICATE_TYPE or \
            not isinstance(data.get("predicate"), dict):
        raise InputError(f"not an mlci lineage statement (expected _type {STATEMENT_TYPE} and "
                         f"predicateType {PREDICATE_TYPE})", file=origin)
    return data


def subject_digests(document: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for item in document.get("subject") or []:
        digest = item.get("digest") or {}
        if "sha256" in digest:
            out[item["name"]] = "sha256:" + digest["sha256"]
    return out

#!/usr/bin/env python3
"""Benchmark: promote, rollback and `history` (first page) against a model with 5,000 versions
and one with 10, on a local `mlflow server` (SQLite backend).

Targets (issue 5): each well under a second against a local server, and no growth with the
number of versions.

Setup is measured separately: the two models are written straight into a fresh SQLite
database through MLflow's own server-side stores (bulk inserts of model-version rows; the
schema is MLflow's, created by its migrations) before `mlflow server` starts on it. Then,
against the running server, for each model:

  promote   `mlci.registry.promote.promote` of a new training run's model (runs:/<id>/model),
            gate report "promote", expected current = the alias's holder: the full path --
            registration with lineage and gate tags, intent, claim, decide, move, confirm,
            promotion tag
  mlflow set-alias  one bare `set_registered_model_alias` call: MLflow's own floor
  rollback  `mlci.registry.rollback.rollback` to the previous holder
  history   `mlci.registry.history.history(limit=50)`, the first page

each repeated --repeat times (alternating promote/rollback, so the alias keeps moving and
the audit trail grows); median and max are printed, in-process (no interpreter start-up).
The candidate runs are created before timing starts.
One `mlci promote` / `mlci history` CLI call per model is timed too, start-up included.

    .venv/bin/python scripts/bench/promote_bench.py [--versions 5000] [--repeat 10] [--json]

The numbers depend on the machine's load; run it on a quiet machine for reference figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(db: Path, artifacts: Path, models: dict[str, int]) -> float:
    """Create the models with their versions directly in the database; return seconds."""
    from mlflow.entities import RunTag
    from mlflow.store.model_registry.dbmodels.models import SqlModelVersion
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

    start = time.perf_counter()
    uri = f"sqlite:///{db}"
    tracking = TrackingStore(uri, artifacts.as_uri())
    registry = RegistryStore(uri)
    exp = tracking.create_experiment("bench-train")
    lineage = [RunTag("mlci.git_commit", "0" * 40), RunTag("mlci.data_fingerprint", "sha256:d"),
               RunTag("mlci.image_digest", "sha256:i"), RunTag("mlci.seed", "0")]
    run = tracking.create_run(exp, "bench", int(time.time() * 1000), lineage, "bench-run")
    run_id = run.info.run_id
    for name, count in models.items():
        registry.create_registered_model(name)
        now = int(time.time() * 1000)
        source = f"runs:/{run_id}/model"
        with registry.ManagedSessionMaker() as session:
            session.add_all([registry._with_workspace_field(SqlModelVersion(
                name=name, version=v, creation_time=now, last_updated_time=now, source=source,
                storage_location=source, run_id=run_id, status="READY", current_stage="None"))
                for v in range(1, count + 1)])
    tracking.engine.dispose()
    registry.engine.dispose()
    return time.perf_counter() - start


def start_server(root: Path, db: Path, artifacts: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = open(root / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.Popen(
        [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{db}", "--artifacts-destination", artifacts.as_uri(),
         "--workers", "1"], stdout=log, stderr=subprocess.STDOUT, env=env,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"mlflow server exited: {(root / 'server.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):  # noqa: S310 - http://127.0.0.1
                return proc, url
        except OSError:
            time.sleep(0.2)
    raise SystemExit("mlflow server did not start")


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def candidate_runs(url: str, count: int) -> list[str]:
    """Training runs with lineage tags and a model/MLmodel artifact (bench setup, not timed)."""
    from mlflow import MlflowClient

    client = MlflowClient(url, url)
    exp = client.get_experiment_by_name("bench-train")
    ids = []
    with tempfile.TemporaryDirectory() as tmp:
        artifact = Path(tmp) / "MLmodel"
        artifact.write_text("flavors: {}\n")
        for i in range(count):
            run = client.create_run(exp.experiment_id, tags={
                "mlci.git_commit": "0" * 40, "mlci.data_fingerprint": "sha256:d",
                "mlci.image_digest": "sha256:i", "mlci.seed": str(i)})
            client.log_artifact(run.info.run_id, str(artifact), "model")
            client.set_terminated(run.info.run_id)
            ids.append(run.info.run_id)
    return ids


def bench_model(url: str, model: str, versions: int, repeat: int,
                report: Path) -> dict[str, object]:
    from mlflow import MlflowClient

    from mlci.ci import Platform
    from mlci.registry.client import Registry
    from mlci.registry.history import history
    from mlci.registry.promote import promote
    from mlci.registry.rollback import rollback

    registry = Registry(url)
    platform = Platform(env={"USER": "bench"})
    runs = candidate_runs(url, repeat)
    times: dict[str, list[float]] = {"promote": [], "rollback": [], "history": [],
                                     "mlflow set-alias": []}
    # The first holder; then promote a new run's model (registered with its lineage and gate
    # tags in one call), roll it back, read the first page of the trail.
    promote(registry, model=model, candidate="1", alias="champion", expect_current=None,
            gate_report=str(report), platform=platform)
    holder = "1"
    raw = MlflowClient(url, url)
    for run_id in runs:
        times["promote"].append(timed(lambda run_id=run_id: promote(
            registry, model=model, candidate=f"runs:/{run_id}/model", alias="champion",
            expect_current=holder, gate_report=str(report), platform=platform)))
        times["rollback"].append(timed(lambda: rollback(
            registry, model=model, alias="champion", reason="bench", platform=platform)))
        times["history"].append(timed(lambda: history(registry, model, limit=50)))
        # MLflow's own floor: one bare alias move (to the holder it already has).
        times["mlflow set-alias"].append(timed(lambda: raw.set_registered_model_alias(
            model, "champion", holder)))
    page = history(registry, model, limit=50)
    assert page["aliases"]["champion"] == holder and len(page["events"]) == min(50, 1 + 2 * repeat)
    summary: dict[str, object] = {"versions": versions}
    for op, values in times.items():
        summary[op] = {"median_s": round(statistics.median(values), 4),
                       "max_s": round(max(values), 4), "n": len(values)}
    return summary


def cli_call(url: str, *args: str) -> float:
    env = {**os.environ, "MLFLOW_TRACKING_URI": url, "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT":
           "true"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mlci", *args], env=env, capture_output=True,
                          text=True, cwd=tempfile.gettempdir())
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"mlci {' '.join(args)} failed: {proc.stderr}")
    return round(took, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=5000)
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"

    root = Path(tempfile.mkdtemp(prefix="mlci-promote-bench-"))
    db, artifacts = root / "mlflow.db", root / "artifacts"
    # The schema, created by MLflow's migrations (what `mlflow server` would do at start).
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    t0 = time.perf_counter()
    SqlAlchemyStore(f"sqlite:///{db}", artifacts.as_uri()).engine.dispose()
    schema_s = time.perf_counter() - t0
    models = {"bench-large": args.versions, "bench-small": args.small}
    seed_s = seed(db, artifacts, models)
    t0 = time.perf_counter()
    proc, url = start_server(root, db, artifacts)
    server_s = time.perf_counter() - t0
    report = root / "gate.json"
    report.write_text(json.dumps({"verdict": "promote"}))
    try:
        results = {name: bench_model(url, name, count, args.repeat, report)
                   for name, count in models.items()}
        for name in models:
            (run_id,) = candidate_runs(url, 1)
            results[name]["cli_promote_s"] = cli_call(
                url, "promote", "--model", name, "--candidate", f"runs:/{run_id}/model",
                "--gate-report", str(report))
            results[name]["cli_history_s"] = cli_call(url, "history", "--model", name)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
    out = {"setup": {"schema_s": round(schema_s, 2), "seed_s": round(seed_s, 2),
                     "server_start_s": round(server_s, 2)},
           "load_average": os.getloadavg(), "cpus": os.cpu_count(), "models": results}
    shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"setup: schema {out['setup']['schema_s']}s, seeding {args.versions}+{args.small} "
          f"versions {out['setup']['seed_s']}s, server start {out['setup']['server_start_s']}s")
    load = tuple(round(x, 1) for x in out["load_average"])
    print(f"machine: {out['cpus']} CPUs, load average {load}")
    print(f"{'model':<12} {'versions':>8}  {'op':<16} {'median':>8} {'max':>8}  (n={args.repeat})")
    for name, data in results.items():
        for op in ("promote", "rollback", "history", "mlflow set-alias"):
            stats = data[op]
            print(f"{name:<12} {data['versions']:>8}  {op:<16} {stats['median_s']:>7.3f}s "
                  f"{stats['max_s']:>7.3f}s")
        print(f"{name:<12} {data['versions']:>8}  CLI: promote {data['cli_promote_s']}s, "
              f"history {data['cli_history_s']}s (interpreter start-up included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

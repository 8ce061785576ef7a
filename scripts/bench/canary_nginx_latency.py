#!/usr/bin/env python3
"""Benchmark: the latency the canary router (nginx, as the `local` target runs it) adds to a
prediction, against calling the model server directly, in one run.

The `local` target serves one small pyfunc model (saved to a temporary directory) twice,
stable and canary, with `mlflow models serve`, and its nginx in front. Then, alternating
request by request over kept-alive connections (so both paths see the same machine load):

  direct   POST /invocations to the stable model server
  router   the same request through nginx, at --weight percent to the canary (default 50:
           the split_clients path; 0 routes everything to the stable server)

p50 and p99 of each, and the added latency: the difference of the p50s/p99s and the median of
the per-pair differences. Target (issue 13): <= 1 ms added at p50.

A model server's own time (~10-20 ms for a pyfunc, with its jitter) hides a sub-millisecond
hop, so the same comparison is also run against a backend that answers at once (an nginx
server block returning a fixed prediction), behind the same rendered router configuration:
that difference is the router's own cost.

    .venv/bin/python scripts/bench/canary_nginx_latency.py [--requests 2000] [--weight 50] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from mlci.canary.interfaces import ModelRef  # noqa: E402
from mlci.canary.targets.config import LocalTarget as LocalConfig  # noqa: E402
from mlci.canary.targets.local import LocalTarget  # noqa: E402
from mlci.canary.targets.processes import free_port  # noqa: E402
from mlci.canary.targets.router import render  # noqa: E402
from tests.canary_support import MODEL_CODE  # noqa: E402

BODY = json.dumps({"dataframe_records": [{"x": 0.5}]}).encode()
HEADERS = {"Content-Type": "application/json"}


def save_model(folder: Path) -> Path:
    import mlflow.pyfunc

    code = folder / "model.py"
    code.write_text(MODEL_CODE)
    path = folder / "model"
    mlflow.pyfunc.save_model(str(path), python_model=str(code), model_config={"answer": 1},
                             pip_requirements=["mlflow"])
    return path


def one(connection: http.client.HTTPConnection) -> float:
    began = time.perf_counter()
    connection.request("POST", "/invocations", body=BODY, headers=HEADERS)
    reply = connection.getresponse()
    reply.read()
    elapsed = time.perf_counter() - began
    if reply.status != 200:
        raise SystemExit(f"unexpected answer {reply.status}")
    return elapsed * 1000.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(pairs: list[tuple[float, float]]) -> dict[str, dict[str, float]]:
    direct = [d for d, _ in pairs]
    router = [r for _, r in pairs]
    return {
        "direct_ms": {"p50": percentile(direct, 50), "p99": percentile(direct, 99)},
        "router_ms": {"p50": percentile(router, 50), "p99": percentile(router, 99)},
        "added_ms": {"p50": percentile(router, 50) - percentile(direct, 50),
                     "p99": percentile(router, 99) - percentile(direct, 99),
                     "median_of_pairs": statistics.median(r - d for d, r in pairs)},
    }


def measure(direct_port: int, router_port: int, count: int) -> list[tuple[float, float]]:
    direct = http.client.HTTPConnection("127.0.0.1", direct_port, timeout=30)
    router = http.client.HTTPConnection("127.0.0.1", router_port, timeout=30)
    for _ in range(200):              # warm-up: imports, keep-alive pools
        one(direct)
        one(router)
    return [(one(direct), one(router)) for _ in range(count)]


def static_backend(folder: Path, count: int, weight: float) -> list[tuple[float, float]]:
    """The router in front of an nginx server block that answers at once."""
    prefix = folder / "static"
    (prefix / "logs").mkdir(parents=True)
    backend, listen = free_port(), free_port()
    router, _ = render(stable=f"127.0.0.1:{backend}", canary=f"127.0.0.1:{backend}",
                       weight=weight, listen=f"127.0.0.1:{listen}",
                       access_log=prefix / "logs" / "access.json.log", route_by=None)
    (prefix / "router.conf").write_text(router)
    (prefix / "nginx.conf").write_text(
        f'pid "{prefix}/nginx.pid";\nworker_processes 1;\n'
        "events { worker_connections 1024; }\n"
        f'http {{\n  client_body_temp_path "{prefix}/body";\n'
        f'  proxy_temp_path "{prefix}/proxy";\n  include "{prefix}/router.conf";\n'
        f"  server {{ listen 127.0.0.1:{backend}; access_log off;\n"
        "    location / { default_type application/json;\n"
        "      return 200 '{\"predictions\": [1]}'; } }\n}\n")
    nginx = ["nginx", "-p", f"{prefix}/", "-e", f"{prefix}/logs/error.log", "-c",
             str(prefix / "nginx.conf")]
    if os.geteuid() == 0:
        nginx += ["-g", "user root;"]
    subprocess.run(nginx, check=True, capture_output=True, timeout=60)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{listen}/-/mlci/generation",
                                            timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        return measure(backend, listen, count)
    finally:
        subprocess.run([*nginx, "-s", "quit"], capture_output=True, timeout=60, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--weight", type=float, default=50.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mlci-latency-bench-") as tmp:
        folder = Path(tmp)
        uri = str(save_model(folder))
        ref = ModelRef("bench", "1", uri)
        settings = LocalConfig(workdir=str(folder / "serve"),
                               listen=f"127.0.0.1:{free_port()}", on_finish="stop")
        target = LocalTarget(settings, base_dir=folder, tracking_uri=None)
        try:
            saved = target.prepare(ref, ref, {})
            target.set_weight(args.weight)
            pairs = measure(saved["servers"]["stable"]["port"],
                            int(settings.listen.rsplit(":", 1)[1]), args.requests)
        finally:
            target.finish("rolled-back")
        static = static_backend(folder, args.requests, args.weight)
    result: dict[str, object] = {"requests": args.requests, "weight": args.weight,
                                 "mlflow_models_serve": summary(pairs),
                                 "static_backend": summary(static)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.requests} alternating requests each, canary weight {args.weight}%")
        for backend in ("mlflow_models_serve", "static_backend"):
            print(f"{backend}:")
            part = result[backend]
            assert isinstance(part, dict)
            for name, values in part.items():
                print(f"  {name:10} " + "  ".join(f"{k}={v:.3f}" for k, v in values.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

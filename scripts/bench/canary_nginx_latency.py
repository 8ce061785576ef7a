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

    .venv/bin/python scripts/bench/canary_nginx_latency.py [--requests 2000] [--weight 50] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from mlci.canary.interfaces import ModelRef  # noqa: E402
from mlci.canary.targets.config import LocalTarget as LocalConfig  # noqa: E402
from mlci.canary.targets.local import LocalTarget  # noqa: E402
from mlci.canary.targets.processes import free_port  # noqa: E402
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
            host, port = settings.listen.rsplit(":", 1)
            direct = http.client.HTTPConnection("127.0.0.1",
                                                saved["servers"]["stable"]["port"], timeout=30)
            router = http.client.HTTPConnection(host, int(port), timeout=30)
            for _ in range(200):              # warm-up: imports, keep-alive pools
                one(direct)
                one(router)
            pairs = [(one(direct), one(router)) for _ in range(args.requests)]
        finally:
            target.finish("rolled-back")
    direct_ms = [d for d, _ in pairs]
    router_ms = [r for _, r in pairs]
    result = {
        "requests": args.requests, "weight": args.weight,
        "direct_ms": {"p50": percentile(direct_ms, 50), "p99": percentile(direct_ms, 99)},
        "router_ms": {"p50": percentile(router_ms, 50), "p99": percentile(router_ms, 99)},
        "added_ms": {"p50": percentile(router_ms, 50) - percentile(direct_ms, 50),
                     "p99": percentile(router_ms, 99) - percentile(direct_ms, 99),
                     "median_of_pairs": statistics.median(r - d for d, r in pairs)},
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.requests} alternating requests, canary weight {args.weight}%")
        for name in ("direct_ms", "router_ms", "added_ms"):
            print(f"  {name:10} " + "  ".join(f"{k}={v:.3f}" for k, v in result[name].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

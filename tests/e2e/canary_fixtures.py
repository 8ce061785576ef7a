"""A repository whose rollout runs on the `command` target: `split.py` records the split the
controller sets, `metrics.py` prints one window's metrics as JSON (a healthy candidate, or one
with a tenth of its requests failing). The registry is the session's real `mlflow server`."""

from __future__ import annotations

from typing import Any

import yaml

from tests.registry_support import candidate_runs, client, register

SPLIT = '''import json, sys, time
with open("split.log", "a") as out:
    out.write(json.dumps({"t": time.time(), "value": sys.argv[1]}) + "\\n")
'''

METRICS = '''import json, sys
canary_errors = 20 if sys.argv[1] == "faulty" else 0
print(json.dumps({"stable": {"requests": 800, "errors": 1, "latency_p99_ms": 40.0},
                  "canary": {"requests": 200, "errors": canary_errors,
                             "latency_p99_ms": 42.0}}))
'''


def config(model: str, behaviour: str, state: str = ".mlci/rollout.json") -> str:
    deploy: dict[str, Any] = {
        "target": "command",
        "command": {"set_weight": ["python3", "split.py", "{weight}"],
                    "finish": ["python3", "split.py", "{outcome}"]},
        "metrics": {"source": "command", "command": ["python3", "metrics.py", behaviour]},
        "state": state,
        "protocol": {"interval": "50ms", "min_requests": 50,
                     "steps": [{"weight": 10}, {"weight": 100}],
                     "checks": {"error_rate": {"max": 0.05, "max_regression": 0.01},
                                "latency_p99_ms": {"max": 500}}}}
    return yaml.safe_dump({"model": model, "deploy": deploy})


def files(model: str, behaviour: str, state: str = ".mlci/rollout.json") -> dict[str, str]:
    return {"mlci.yml": config(model, behaviour, state), "split.py": SPLIT,
            "metrics.py": METRICS}


def queued(url: str, model: str) -> None:
    """Version 1 is champion, version 2 is queued for rollout on `canary`."""
    v1, v2 = register(url, model, candidate_runs(url, 2))
    mlflow = client(url)
    mlflow.set_registered_model_alias(model, "champion", v1)
    mlflow.set_registered_model_alias(model, "canary", v2)

"""The `command` metric source: the user's command prints one window's metrics as JSON.

Placeholders (per argument): {start} {end} (unix seconds), {window} (seconds). Expected
output, one object per variant:

    {"stable": {"requests": 480, "errors": 2, "latency_p99_ms": 41.0, "conversion": 0.031},
     "canary": {"requests": 25, "errors": 0, "latencies_ms": [12.1, 14.0], ...}}

`requests` and `errors` are required counts; `latencies_ms` (a list) is optional; every other
number is a metric a check can name (latency_p50_ms, business metrics). Anything else is a
SourceError: a source that cannot be read never passes a check.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from mlci.canary.interfaces import CANARY, STABLE, SourceError, VariantSample, Window
from mlci.canary.sources.config import CommandSource as CommandConfig
from mlci.canary.targets.argv import run_checked, substitute, unknown_placeholders
from mlci.errors import ConfigError

PLACEHOLDERS = {"start", "end", "window"}


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value):
        raise SourceError(f"{where}: expected a number, got {value!r}")
    return float(value)


def sample(data: object, variant: str) -> VariantSample:
    if not isinstance(data, dict):
        raise SourceError(f"{variant}: expected an object with requests and errors, "
                          f"got {data!r}")
    result = VariantSample()
    for key in ("requests", "errors"):
        if key not in data:
            raise SourceError(f"{variant}.{key}: missing")
        count = _number(data[key], f"{variant}.{key}")
        if count < 0 or count != int(count):
            raise SourceError(f"{variant}.{key}: expected a count, got {data[key]!r}")
        setattr(result, key, int(count))
    if result.errors > result.requests:
        raise SourceError(f"{variant}: more errors ({result.errors}) than requests "
                          f"({result.requests})")
    latencies = data.get("latencies_ms", [])
    if not isinstance(latencies, list):
        raise SourceError(f"{variant}.latencies_ms: expected a list of numbers")
    result.latencies_ms = [_number(v, f"{variant}.latencies_ms") for v in latencies]
    result.business = {str(k): _number(v, f"{variant}.{k}") for k, v in data.items()
                       if k not in ("requests", "errors", "latencies_ms")}
    return result


class CommandSource:
    def __init__(self, config: CommandConfig, *, base_dir: Path) -> None:
        unknown = unknown_placeholders(config.command, PLACEHOLDERS)
        if unknown:
            raise ConfigError(f"unknown placeholder(s) {', '.join(unknown)}; known: "
                              f"{', '.join(sorted(PLACEHOLDERS))}", key="deploy.metrics.command")
        self.settings = config
        self.base_dir = base_dir

    def read(self, cursor: dict[str, Any], start: float,
             end: float) -> tuple[Window, dict[str, Any]]:
        argv = substitute(self.settings.command, {"start": f"{start:.3f}", "end": f"{end:.3f}",
                                                  "window": f"{end - start:.3f}"})
        done = run_checked(argv, cwd=self.base_dir, timeout=self.settings.timeout,
                           what="the metrics command", error=SourceError)
        try:
            data = json.loads(done.stdout)
        except ValueError:
            raise SourceError(f"the metrics command did not print JSON: "
                              f"{done.stdout.strip()[:300]!r}") from None
        if not isinstance(data, dict):
            raise SourceError("the metrics command must print an object with stable and canary")
        window = Window(start=start, end=end, stable=sample(data.get(STABLE), STABLE),
                        canary=sample(data.get(CANARY), CANARY))
        return window, cursor

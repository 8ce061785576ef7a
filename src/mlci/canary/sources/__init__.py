"""Metric sources of a canary rollout: `make_source` builds the one `deploy.metrics` names,
or, without it, the one the target provides (its nginx access log, its metrics command,
CloudWatch for SageMaker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlci.canary.interfaces import MetricSource
from mlci.errors import ConfigError


def make_source(deploy: Any, *, base_dir: Path, saved: dict[str, Any]) -> MetricSource:
    """`saved` is what the target's prepare() returned (it knows its own access log)."""
    from mlci.canary.sources import config

    metrics = getattr(deploy, "metrics", None)
    target = getattr(deploy, "target", None)
    if metrics is None:
        metrics = _default(deploy, target, saved)
    if isinstance(metrics, config.NginxLogSource):
        from mlci.canary.sources.nginx_log import NginxLogSource

        path = metrics.path or saved.get("access_log")
        if not path:
            raise ConfigError("the nginx-log source needs `path` (the router's JSON access "
                              "log) unless the target is nginx or local", key="deploy.metrics.path")
        resolved = Path(path)
        return NginxLogSource(resolved if resolved.is_absolute() else base_dir / resolved)
    if isinstance(metrics, config.PrometheusSource):
        from mlci.canary.sources.prometheus import PrometheusSource

        return PrometheusSource(metrics)
    if isinstance(metrics, config.CloudWatchSource):
        from mlci.canary.sources.cloudwatch import CloudWatchSource

        return CloudWatchSource(metrics, getattr(deploy, "sagemaker", None))
    if isinstance(metrics, config.CommandSource):
        from mlci.canary.sources.command import CommandSource

        return CommandSource(metrics, base_dir=base_dir)
    raise ConfigError(f"unknown metric source {metrics!r}", key="deploy.metrics")


def _default(deploy: Any, target: object, saved: dict[str, Any]) -> Any:
    from mlci.canary.sources import config

    if target in ("nginx", "local"):
        return config.NginxLogSource(source="nginx-log")
    if target == "sagemaker":
        return config.CloudWatchSource(source="cloudwatch")
    command = getattr(getattr(deploy, "command", None), "metrics", None)
    if target == "command" and command:
        return config.CommandSource(source="command", command=command)
    raise ConfigError(f"target {target} has no metrics of its own: set deploy.metrics "
                      "(nginx-log, prometheus, cloudwatch or command)", key="deploy.metrics")

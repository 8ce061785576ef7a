"""Serving targets of a canary rollout: `make_target` builds the one `deploy.target` names.

Each target is a module of its own (nginx, local, command, sagemaker), imported only when it
is the one configured (sagemaker needs boto3, the others do not).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlci.canary.interfaces import Target
from mlci.errors import ConfigError

TARGETS = ("nginx", "local", "command", "sagemaker")


def make_target(deploy: Any, *, base_dir: Path, tracking_uri: str | None) -> Target:
    """The target of the validated `deploy:` section; ConfigError when its section is missing."""
    kind = getattr(deploy, "target", None)
    section = getattr(deploy, kind, None) if isinstance(kind, str) else None
    if kind == "local":
        from mlci.canary.targets.config import LocalTarget as LocalConfig
        from mlci.canary.targets.local import LocalTarget

        return LocalTarget(section or LocalConfig(), base_dir=base_dir, tracking_uri=tracking_uri)
    if kind not in TARGETS:
        raise ConfigError(f"unknown target {kind!r}; expected one of {', '.join(TARGETS)}",
                          key="deploy.target")
    if section is None:
        raise ConfigError(f"target {kind} needs its settings in deploy.{kind}",
                          key=f"deploy.{kind}")
    if kind == "nginx":
        from mlci.canary.targets.nginx import NginxTarget

        return NginxTarget(section, base_dir=base_dir)
    if kind == "command":
        from mlci.canary.targets.command import CommandTarget

        return CommandTarget(section, base_dir=base_dir)
    from mlci.canary.targets.sagemaker import SagemakerTarget

    return SagemakerTarget(section)

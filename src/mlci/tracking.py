"""Which MLflow tracking store a command talks to when none is configured.

The embedded default is a local SQLite store. That store lives in the full
`mlflow` package (SQLAlchemy); mlci's own runtime has only the client, `mlflow-skinny`, so
without it an unset URI is a configuration error with a clear way out, never a traceback.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path

from mlci.errors import ConfigError
from mlci.redact import strip_credentials

__all__ = ["LOCAL_STORE_FILE", "registry_uri", "resolve_tracking_uri", "strip_credentials"]

LOCAL_STORE_FILE = "mlruns.db"


def resolve_tracking_uri(configured: str | None) -> str:
    """The configured URI (flag > MLCI_REGISTRY__TRACKING_URI > mlci.yml > MLFLOW_TRACKING_URI),
    else the local SQLite store `./mlruns.db` (absolute, so containers and children agree)."""
    if configured:
        return configured
    if importlib.util.find_spec("sqlalchemy") is None:
        raise ConfigError(
            "no MLflow tracking URI: set registry.tracking_uri in mlci.yml, "
            "$MLFLOW_TRACKING_URI or --tracking-uri (the local SQLite store used by default "
            "needs the full MLflow package: pip install mlflow)",
            key="registry.tracking_uri")
    return "sqlite:///" + str(Path(LOCAL_STORE_FILE).resolve())


def registry_uri(tracking_uri: str | None, env: Mapping[str, str] = os.environ) -> str | None:
    """The model registry mlci talks to: MLFLOW_REGISTRY_URI (how MLflow, and mlci, take a
    separate registry), else the tracking server."""
    return env.get("MLFLOW_REGISTRY_URI") or tracking_uri

"""Which MLflow tracking store a command talks to when none is configured.

DESIGN.md: the embedded default is a local SQLite store. That store lives in the full
`mlflow` package (SQLAlchemy); mlci's own runtime has only the client, `mlflow-skinny`, so
without it an unset URI is a configuration error with a clear way out, never a traceback.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from mlci.errors import ConfigError

LOCAL_STORE_FILE = "mlruns.db"


def strip_credentials(uri: str | None) -> str:
    """A URI fit for a log line or an error message: without its user-info, where a
    password or token would be (`https://user:secret@host/x` -> `https://host/x`)."""
    if not uri:
        return "(MLflow's default tracking URI)"
    start = uri.find("://")
    if start < 0:
        return uri
    start += 3
    end = len(uri)
    for mark in "/?#":
        found = uri.find(mark, start)
        if found >= 0:
            end = min(end, found)
    # the last "@" ends the user-info: a password may hold an unescaped "@"
    return uri[:start] + uri[start:end].rpartition("@")[2] + uri[end:]


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

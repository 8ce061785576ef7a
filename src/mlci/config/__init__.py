"""mlci.yml: the typed configuration, its loading and its overrides (see `load.py`)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.errors import ConfigError

if TYPE_CHECKING:
    from mlci.config.model import Config


_TYPE_TAGS = {"str", "int", "float", "bool", "none", "list", "dict", "constrained-str"}


def _model_names() -> set[str]:
    from pydantic import BaseModel

    names, pending = set(), list(BaseModel.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("mlci."):
            names.add(cls.__name__)
    return names


def _is_type_tag(part: object, models: set[str] | None = None) -> bool:
    """pydantic puts union members (`str`, `function-after[...]`, `GateSpec`) in locations."""
    return isinstance(part, str) and (part in _TYPE_TAGS or "[" in part or
                                      part in (models or set()))


def _expected(error: Mapping[str, Any]) -> str:
    message = str(error["msg"])
    kind = str(error["type"])
    if kind == "extra_forbidden":
        return "unknown key (not part of the schema; check its spelling)"
    if kind == "missing":
        return "required key is missing"
    message = message.removeprefix("Value error, ")
    given = error.get("input")
    if kind != "missing" and not isinstance(given, (dict, list)):
        shown = repr(given)
        # A whole file read as one string (a protocol that is not YAML) is not echoed back.
        message += f" (got {shown[:80]}...)" if len(shown) > 80 else f" (got {shown})"
    return message


def validate(data: Any, *, file: str, lines: Mapping[tuple[str, ...], int] | None = None,
             sources: Mapping[str, str] | None = None) -> Config:
    """Validate a raw mapping into the model, or raise ConfigError at the first problem.

    `sources` maps a dotted key to the environment variable that set it, so the message
    names where the bad value came from.
    """
    from pydantic import ValidationError

    from mlci.config.model import Config

    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level, got {type(data).__name__}",
                          file=file)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        # A union (e.g. `gate: path | spec`) reports one error per member; the deepest is
        # the one that says what is wrong inside the value the user meant.
        models = _model_names()
        located = [(tuple(str(p) for p in e["loc"] if not _is_type_tag(p, models)), e)
                   for e in exc.errors()]
        loc, first = max(located, key=lambda pair: len(pair[0]))
        others = {other for other, _ in located if other != loc[:len(other)]}
        key = ".".join(loc) or "(top level)"
        more = f" (and {len(others)} more problem(s))" if others else ""
        for length in range(len(loc), 0, -1):
            origin = (sources or {}).get(".".join(loc[:length]))
            if origin:
                raise ConfigError(_expected(first) + more, file=f"environment {origin}",
                                  key=key) from None
        line = None
        for length in range(len(loc), 0, -1):
            line = (lines or {}).get(loc[:length])
            if line:
                break
        raise ConfigError(_expected(first) + more, file=file, key=key, line=line) from None


def load_config(args: argparse.Namespace | None = None,
                env: Mapping[str, str] | None = None) -> Config:
    """The configuration of this run: mlci.yml, then the environment, then `--tracking-uri`."""
    from mlci.config.load import env_overrides, find_config, read_yaml, set_path
    from mlci.config.model import Config

    env = os.environ if env is None else env
    explicit = getattr(args, "config", None) if args is not None else None
    path = find_config(explicit, env)
    data: Any = {}
    lines: dict[tuple[str, ...], int] = {}
    if path is not None:
        data, lines = read_yaml(path)
        data = {} if data is None else data
    file = str(path) if path else "mlci.yml (defaults)"
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top level (model:, registry:, ...), "
                          f"got a {type(data).__name__}", file=file)
    if isinstance(data, dict):
        sources = {}
        for dotted, (name, value) in env_overrides(env, set(Config.model_fields)).items():
            if dotted == "registry.tracking_uri" and name == "MLFLOW_TRACKING_URI" and \
                    isinstance(data.get("registry"), dict) and data["registry"].get("tracking_uri"):
                continue  # an explicit file value beats the ambient MLflow variable
            set_path(data, dotted, value)
            sources[dotted] = name
    tracking_uri = getattr(args, "tracking_uri", None) if args is not None else None
    if tracking_uri:
        set_path(data, "registry.tracking_uri", tracking_uri)
    config = validate(data, file=file, lines=lines, sources=sources if isinstance(data, dict)
                      else None)
    config._base_dir = path.parent.resolve() if path else Path.cwd()
    _check_registry_uri(config, env, file, lines)
    return config


def _check_registry_uri(config: Any, env: Mapping[str, str], file: str,
                        lines: dict[tuple[str, ...], int]) -> None:
    """`registry.registry_uri` must name the registry mlci will use: MLflow's
    MLFLOW_REGISTRY_URI when set, else the tracking server. mlci does not route registry
    calls by the key itself, so a different value would send promotions to a registry the
    file does not name: refused, never ignored."""
    wanted = config.registry.registry_uri
    if not wanted:
        return
    from mlci.tracking import registry_uri

    used = registry_uri(config.registry.tracking_uri, env)
    if wanted != used:
        from mlci.redact import strip_credentials

        where = strip_credentials(used) if used else "the tracking server"
        raise ConfigError(
            f"expected the registry mlci uses ({where}), got {strip_credentials(wanted)!r}: "
            "mlci reads a separate registry from MLFLOW_REGISTRY_URI, as MLflow does; set it "
            "to this URI, or remove the key", file=file, key="registry.registry_uri",
            line=lines.get(("registry", "registry_uri")))

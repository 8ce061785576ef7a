"""Loading mlci.yml: file, then environment, then flags; errors name file, line, key and
expectation.

Precedence, lowest to highest:
1. defaults of the model;
2. `mlci.yml` (`--config FILE`, else `$MLCI_CONFIG`, else `./mlci.yml` when present);
3. environment: any key as `MLCI_<SECTION>__<KEY>` (e.g. `MLCI_TRAIN__SEED=7`,
   `MLCI_MODEL=churn`), values read as YAML. The ambient `MLFLOW_TRACKING_URI` fills
   `registry.tracking_uri` only when mlci.yml leaves it unset (as in MLflow, where the
   variable is the default and explicit configuration wins);
4. command-line flags (`--tracking-uri`, and each command's own flags, applied by the command).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from mlci.errors import ConfigError

DEFAULT_NAME = "mlci.yml"
ENV_PREFIX = "MLCI_"


def _lines(node: yaml.Node, path: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*path, str(key_node.value))
            out[key] = key_node.start_mark.line + 1
            _lines(value_node, key, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            item_path = (*path, str(index))
            out[item_path] = item.start_mark.line + 1
            _lines(item, item_path, out)


def read_yaml(path: Path) -> tuple[Any, dict[tuple[str, ...], int]]:
    """Parse a YAML file; return the data and a map of key path -> line number."""
    from mlci import yamlfile

    text = yamlfile.read_text(path, what="config", error=ConfigError)
    node = yamlfile.compose(text, file=str(path), error=ConfigError)   # alias budget checked
    data = yamlfile.construct(node, text, file=str(path), error=ConfigError)
    lines: dict[tuple[str, ...], int] = {}
    if node is not None:
        _lines(node, (), lines)
    return data, lines


def find_config(explicit: str | None, env: Mapping[str, str]) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file not found: {explicit}", file=explicit)
        return path
    if env.get("MLCI_CONFIG"):
        return find_config(env["MLCI_CONFIG"], {})
    default = Path(DEFAULT_NAME)
    try:
        return default if default.is_file() else None
    except OSError as error:   # e.g. a working directory this user may not read
        raise ConfigError(f"cannot look for {DEFAULT_NAME} in the working directory: "
                          f"{error.strerror or error}", file=DEFAULT_NAME) from None


def env_overrides(env: Mapping[str, str], top_keys: set[str]) -> dict[str, tuple[str, Any]]:
    """`MLCI_TRAIN__SEED=7` -> {"train.seed": ("MLCI_TRAIN__SEED", 7)}.

    Only names whose first segment is a top-level key count, so the variables mlci sets
    for training containers (`MLCI_SEED`, `MLCI_DATA_DIR`) never read as configuration.
    """
    found: dict[str, tuple[str, Any]] = {}
    if env.get("MLFLOW_TRACKING_URI"):
        found["registry.tracking_uri"] = ("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        parts = [part.lower() for part in name[len(ENV_PREFIX):].split("__")]
        if parts[0] not in top_keys or not all(parts):
            continue
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        found[".".join(parts)] = (name, value)
    return found


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    *parents, last = dotted.split(".")
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[last] = value

"""`mlci config`: validate mlci.yml with its overrides and print what the stages will see.

Every string value is printed through the credential stripper (`mlci.redact`): a tracking URI
with `user:password@` is shown without it."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # only the common options


def run(args: argparse.Namespace) -> int:
    from mlci.config import load_config

    config = load_config(args)
    resolved = _redacted(config.model_dump(mode="json", exclude_none=True))
    if args.json:
        print(json.dumps(resolved, indent=2, sort_keys=True))
    else:
        import yaml

        print(f"# {config.base_dir}: valid")
        print(yaml.safe_dump(resolved, sort_keys=False), end="")
    return 0


def _redacted(value: Any) -> Any:
    from mlci.redact import redact

    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value

"""`mlci config`: validate mlci.yml with its overrides and print what the stages will see."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # only the common options


def run(args: argparse.Namespace) -> int:
    from mlci.config import load_config

    config = load_config(args)
    resolved = config.model_dump(mode="json", exclude_none=True)
    if args.json:
        print(json.dumps(resolved, indent=2, sort_keys=True))
    else:
        import yaml

        print(f"# {config.base_dir}: valid")
        print(yaml.safe_dump(resolved, sort_keys=False), end="")
    return 0

"""Shared plumbing of `mlci promote`, `rollback`, `history` and `canary`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any


def registry_for(args: argparse.Namespace) -> tuple[Any, Any]:
    from mlci.config import load_config
    from mlci.registry.client import Registry

    config = load_config(args)
    return Registry(config.registry.tracking_uri), config


def model_of(args: argparse.Namespace, config: Any) -> str:
    """The registered model a command acts on: `--model`, else mlci.yml's `model`; a name mlci
    could not have registered is exit 2 (it also names the rollout's state file)."""
    from mlci.errors import InputError
    from mlci.registry.audit import check_model_name

    model = args.model or config.model
    if not model:
        raise InputError("no model: give --model NAME or set `model` in mlci.yml", key="--model")
    return check_model_name(model)


def model_alias(args: argparse.Namespace,
                make: Callable[[argparse.Namespace], tuple[Any, Any]], *,
                deploy: bool = False) -> tuple[Any, str, str]:
    """`deploy=True` (promote): with a `deploy:` section the default alias is the canary
    alias (queued for rollout; `mlci canary` moves the production alias). `args.production_alias`
    is set to the production alias either way."""
    from mlci.errors import InputError

    registry, config = make(args)
    model = model_of(args, config)
    args.production_alias = config.registry.alias
    queued = config.deploy.canary_alias if deploy and config.deploy is not None else None
    alias = args.alias or queued or config.registry.alias
    import re

    if not re.fullmatch(r"[A-Za-z0-9_-]+", alias):
        raise InputError(f"expected letters, digits, '_' or '-', got {alias!r}", key="--alias")
    return registry, model, alias


def output_result(platform: Any, result: Any, as_json: bool) -> None:
    platform.set_outputs({"version": result.version,
                          "previous-version": result.previous_version or ""})
    what = ("already pointed to" if not result.moved else
            "rolled back to" if result.event == "rollback" else "promoted")
    lines = [(f"### mlci {result.event}: `{result.model}@{result.alias}` {what} version "
              f"{result.version}"), "",
             "| | |", "|---|---|",
             f"| previous version | {result.previous_version or '—'} |"]
    if result.verdict:
        lines.append(f"| gate verdict | {result.verdict} |")
    if result.approved_by:
        lines.append(f"| approved by | {result.approved_by} |")
    if result.event_id:
        lines.append(f"| audit event | `{result.event_id}` |")
    if result.resumed:
        lines.append("| note | finished an interrupted run of this same move |")
    if result.repaired:
        lines.append(f"| repaired first | {', '.join(f'`{r}`' for r in result.repaired)} |")
    platform.summary("\n".join(lines))
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))

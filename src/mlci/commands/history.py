"""`mlci history`: the audit trail of a model, newest first (a table, or `--json`)."""

from __future__ import annotations

import argparse
import json

from mlci.commands._registry import model_of, registry_for


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="NAME",
                        help="registered model (default: mlci.yml model)")
    parser.add_argument("--limit", metavar="N", type=int, default=50,
                        help="events per page (default 50)")
    parser.add_argument("--page-token", metavar="TOKEN", help="the next page of an earlier call")


def run(args: argparse.Namespace) -> int:
    from mlci.errors import InputError
    from mlci.registry.history import history, render_table

    if args.limit < 1 or args.limit > 1000:
        raise InputError(f"expected 1..1000, got {args.limit}", key="--limit")
    registry, config = registry_for(args)
    model = model_of(args, config)
    data = history(registry, model, limit=args.limit, page_token=args.page_token)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(render_table(data))
    return 0

"""`mlci rollback`: move the alias back to its previous holder (or `--to VERSION`), audited.

Exit codes: 0 rolled back; 1 lost a race with another move; 2 bad input (no recorded
previous holder: give --to) or the registry unreachable. Outputs: `version` (the holder
now), `previous-version` (the version rolled back from).
"""

from __future__ import annotations

import argparse

from mlci.commands._registry import model_alias, output_result, registry_for


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="NAME",
                        help="registered model (default: mlci.yml model)")
    parser.add_argument("--alias", metavar="ALIAS",
                        help="alias to move back (default: mlci.yml registry.alias, else champion)")
    parser.add_argument("--to", metavar="VERSION",
                        help="version to move to (default: the previous holder from the trail)")
    parser.add_argument("--reason", metavar="TEXT", help="why (recorded in the audit trail)")


def run(args: argparse.Namespace) -> int:
    from mlci import ci
    from mlci.registry.rollback import rollback

    platform = ci.current()
    registry, model, alias = model_alias(args, registry_for)
    with platform.group(f"rollback {model}@{alias}"):
        result = rollback(registry, model=model, alias=alias, to=args.to, reason=args.reason,
                          platform=platform)
    output_result(platform, result, args.json)
    if not args.json:
        print(f"{model}@{alias}: version {result.previous_version} -> {result.version}")
    return 0

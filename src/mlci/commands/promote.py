"""`mlci promote`: move the production alias to a candidate, audited (see mlci.registry.promote).

Exit codes: 0 promoted (or already there); 1 refused -- the gate said reject, the alias
moved since the gate saw it, or another promotion won the race; 2 bad input or the
registry unreachable (nothing moved); 3 the gate said review and `--approved` was not given.
With `--verdicts`, a gate verdict not in the list changes nothing and exits 0 (so a pipeline
can include promote once per verdict it handles: automatic for promote, manual for review).
Outputs: `version`, `previous-version` (empty when the alias was not set, or nothing was done),
`promoted` (true when the alias names the candidate now; false when --verdicts skipped it).
"""

from __future__ import annotations

import argparse

from mlci.commands._registry import model_alias, output_result, registry_for
from mlci.errors import InputError

VERDICTS = ("promote", "review", "reject")


def verdict_list(text: str) -> list[str]:
    """`promote,review` -> ["promote", "review"]; anything else is refused."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    bad = [item for item in items if item not in VERDICTS]
    if bad or not items:
        raise argparse.ArgumentTypeError(
            f"expected a comma list of {', '.join(VERDICTS)}, got {text!r}")
    return items


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="NAME",
                        help="registered model (default: mlci.yml model)")
    parser.add_argument("--candidate", metavar="REF", required=True,
                        help="runs:/<run-id>/<artifact-path> (registered if new) or a VERSION")
    parser.add_argument("--alias", metavar="ALIAS",
                        help="alias to move (default: mlci.yml registry.alias, else champion)")
    parser.add_argument("--expect-current", metavar="VERSION",
                        help="refuse (exit 1) unless the alias points to VERSION ('none': unset); "
                        "default: the baseline version in --gate-report")
    parser.add_argument("--gate-report", metavar="FILE",
                        help="the gate's JSON report (default: the latest report mlci gate "
                        "recorded on the candidate's run)")
    parser.add_argument("--approved", action="store_true",
                        help="a human approved this promotion (needed for a review verdict)")
    parser.add_argument("--override", action="store_true",
                        help="promote despite a reject verdict (needs --reason; recorded)")
    parser.add_argument("--reason", metavar="TEXT", help="why (recorded in the audit trail)")
    parser.add_argument("--verdicts", metavar="LIST", type=verdict_list,
                        help="act only when the gate report's verdict is one of these "
                        "(comma list of promote, review, reject); otherwise change nothing "
                        "and exit 0")


def run(args: argparse.Namespace) -> int:
    from mlci import ci
    from mlci.registry.promote import parse_expect, promote

    platform = ci.current()
    expect = parse_expect(args.expect_current)
    if args.verdicts:
        verdict = _gate_verdict(args)
        if verdict not in args.verdicts:
            platform.set_outputs({"version": "", "previous-version": "", "promoted": "false"})
            print(f"mlci promote: the gate said {verdict}, not {' or '.join(args.verdicts)} "
                  "(--verdicts): nothing to do")
            return 0
    registry, model, alias = model_alias(args, registry_for, deploy=True)
    with platform.group(f"promote {model}@{alias} <- {args.candidate}"):
        result = promote(registry, model=model, candidate=args.candidate, alias=alias,
                         expect_current=expect, gate_report=args.gate_report,
                         approved=args.approved, override=args.override, reason=args.reason,
                         platform=platform, expect_alias=args.production_alias)
    output_result(platform, result, args.json)
    platform.set_outputs({"promoted": "true"})
    if not args.json:
        what = "promoted" if result.moved else "already there"
        print(f"{model}@{alias}: {result.previous_version or 'unset'} -> {result.version} "
              f"({what})")
    return 0


def _gate_verdict(args: argparse.Namespace) -> str:
    from mlci.registry.promote import find_gate_report, read_gate_report

    if args.gate_report:
        return read_gate_report(args.gate_report).verdict
    registry, model, _ = model_alias(args, registry_for, deploy=True)
    found = find_gate_report(registry, model, args.candidate)   # recorded on the run by the gate
    if found is None:
        raise InputError("--verdicts needs the gate's verdict: give --gate-report FILE, or gate "
                         "the candidate's run first (mlci gate records its report there)",
                         key="--verdicts")
    return found.verdict

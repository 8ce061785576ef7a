"""`mlci canary run|step|status|abort`: a rollout protocol against a serving target.

Exit codes: 0 promoted, in progress, waiting for an approval, nothing to do (idle), or another
process holds the rollout right now (busy: it changed nothing); 1 rolled back; 2 bad input or
configuration, or a service (registry, target, state store) that failed -- nothing promoted.
Outputs: `outcome` (promoted | rolled-back | in-progress | waiting-approval | idle | busy) and
`weight` (percent of traffic on the candidate now). The job summary shows every window's
checks with their numbers and a chart of weight and error rate over time.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ACTIONS = ("run", "step", "status", "abort")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=ACTIONS, nargs="?",
                        help="run: the whole rollout in this process; step: one tick of a "
                        "persisted rollout (for a scheduled pipeline); status: where it stands; "
                        "abort: roll back now")
    parser.add_argument("--mode", choices=ACTIONS, help="the same as the positional action "
                        "(what the action's and template's `mode` input sets)")
    parser.add_argument("--model", metavar="NAME", help="registered model (default: mlci.yml "
                        "model)")
    parser.add_argument("--version", metavar="V", help="candidate version (default: the "
                        "version alias `canary` names)")
    parser.add_argument("--protocol", metavar="FILE", help="rollout protocol file (default: "
                        "deploy.protocol of mlci.yml)")
    parser.add_argument("--target", choices=("nginx", "local", "sagemaker", "command"),
                        help="serving target (default: deploy.target of mlci.yml)")
    parser.add_argument("--state", metavar="PATH|s3://BUCKET/KEY", help="rollout state "
                        "(default: deploy.state, else .mlci/rollouts/<model>.json)")
    parser.add_argument("--approve", action="store_true", help="approve the current manual "
                        "pause (recorded with who approved)")
    parser.add_argument("--reason", metavar="TEXT", help="abort: why (recorded)")
    parser.add_argument("--if-promoted", choices=("true", "false"),
                        help="run/step: the `promoted` output of the promote step before it; "
                        "false (its gate verdict was not one it acts on) starts no rollout "
                        "and exits 0 with outcome idle")


def _protocol(path: str) -> Any:
    from pydantic import ValidationError

    from mlci.config import _expected
    from mlci.config.load import read_yaml
    from mlci.config.model import Protocol
    from mlci.errors import ConfigError

    data, lines = read_yaml(Path(path))
    if isinstance(data, dict) and set(data) == {"protocol"}:
        data = data["protocol"]   # a file holding `protocol:` itself
    try:
        return Protocol.model_validate(data or {})
    except ValidationError as error:
        first = error.errors()[0]
        loc = tuple(str(p) for p in first["loc"])
        raise ConfigError(_expected(first), file=path, key=".".join(loc) or "(top level)",
                          line=lines.get(loc[:1])) from None


def run(args: argparse.Namespace) -> int:
    from mlci import ci
    from mlci.canary import report
    from mlci.canary.controller import ROLLED_BACK, Controller, Result
    from mlci.canary.registry import RolloutRegistry
    from mlci.canary.rollout import Lease, Rollout, me
    from mlci.canary.state import open_store
    from mlci.commands._registry import model_of
    from mlci.config import load_config
    from mlci.config.model import Deploy
    from mlci.errors import InputError
    from mlci.registry.client import Registry
    from mlci.registry.promote import actor_of

    if args.action and args.mode and args.action != args.mode:
        raise InputError(f"canary {args.action} contradicts --mode {args.mode}", key="--mode")
    args.action = args.action or args.mode
    if not args.action:
        raise InputError("what to do: give run, step, status or abort (or --mode)",
                         key="--mode")
    platform = ci.current()
    config = load_config(args)
    model = model_of(args, config)
    if args.version is not None and not args.version.strip().isdigit():
        raise InputError(f"expected a version number, got {args.version!r}", key="--version")
    version = str(int(args.version)) if args.version else None
    if args.if_promoted and args.action not in ("run", "step"):
        raise InputError(f"--if-promoted applies to run and step, not {args.action}",
                         key="--if-promoted")
    if args.if_promoted == "false":
        return _nothing_promoted(platform, model, args.json)
    deploy = config.deploy or Deploy()
    if args.target:
        deploy = deploy.model_copy(update={"target": args.target})
        deploy = Deploy.model_validate(deploy.model_dump())
    protocol = _protocol(args.protocol) if args.protocol else deploy.protocol
    location = args.state or deploy.state or f".mlci/rollouts/{model}.json"
    store = open_store(location, config.base_dir)
    holder = me(platform.run_url, actor_of(platform))
    lease = Lease(store, holder)

    if args.action == "status":
        doc, _ = store.load()
        rollout = Rollout.from_dict(doc, store.where) if doc else None
        result = Result(report.outcome_of(rollout), report.status_line(model, rollout),
                        rollout)
    else:
        registry = Registry(config.registry.tracking_uri)
        ops = RolloutRegistry(registry, model, champion=config.registry.alias,
                              canary=deploy.canary_alias, platform=platform)

        def target() -> Any:
            from mlci.canary.targets import make_target

            return make_target(deploy, base_dir=config.base_dir,
                               tracking_uri=registry.tracking_uri)

        def source(saved: dict[str, Any]) -> Any:
            from mlci.canary.sources import make_source

            return make_source(deploy, base_dir=config.base_dir, saved=saved)

        controller = Controller(model=model, version=version, protocol=protocol, lease=lease,
                                registry=ops, target=target, source=source,
                                approve=args.approve, approver=holder["actor"],
                                say=platform.info)
        with platform.group(f"canary {args.action} {model}"):
            if args.action == "abort":
                result = controller.abort(args.reason or "aborted by hand (mlci canary abort)")
            elif args.action == "run":
                result = controller.run()
            else:
                result = controller.tick()
    weight = result.rollout.weight if result.rollout is not None else 0.0
    platform.set_outputs({"outcome": result.outcome, "weight": f"{weight:g}"})
    if args.action != "status" or result.rollout is not None:
        platform.summary(report.markdown(model, result.outcome, result.message, result.rollout))
    if args.json:
        print(json.dumps({"model": model, "outcome": result.outcome, "weight": weight,
                          "message": result.message,
                          "rollout": result.rollout.as_dict() if result.rollout else None},
                         indent=2, default=str))
    else:
        print(report.text(model, result.outcome, result.message, result.rollout))
    if result.outcome == ROLLED_BACK and args.action != "status":
        return 1
    return 0


def _nothing_promoted(platform: Any, model: str, as_json: bool) -> int:
    """--if-promoted false: the promote step moved nothing, so there is nothing to roll out
    (and a `canary` alias left from an earlier rollout must not be started instead)."""
    from mlci.canary import report

    message = "nothing was promoted (--if-promoted false): no rollout"
    platform.set_outputs({"outcome": "idle", "weight": "0"})
    platform.summary(report.markdown(model, "idle", message, None))
    if as_json:
        print(json.dumps({"model": model, "outcome": "idle", "weight": 0.0,
                          "message": message, "rollout": None}, indent=2))
    else:
        print(report.text(model, "idle", message, None))
    return 0

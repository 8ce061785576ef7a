"""`mlci reproduce RUN_ID`: re-run a recorded training run and compare its outputs.

    mlci reproduce RUN_ID [--tolerance T] [--engine E] [--data PATH...] [--timeout S] [--json]

--json prints {"result": "equal"|"within-tolerance"|"different", "differences": [...], ...}.
Exit codes: 0 equal or within tolerance; 1 different (or the re-run failed); 2 refused (the
data fingerprint differs from the recorded one, or the code comes from the working tree --
a rebuild or --engine local -- and differs from the recorded commit), bad input, or an
unreachable service.
Outputs: result, run-id (the reproduction's run), image-digest.
"""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", metavar="RUN_ID", help="MLflow run id of an `mlci train` run")
    parser.add_argument("--tolerance", metavar="T", default=None,
                        help="allowed metric difference: absolute (0.001) or relative (1%%); "
                        "default 0")
    parser.add_argument("--engine", choices=["auto", "docker", "podman", "local"],
                        help="engine to re-run with (default: the recorded one when it works)")
    parser.add_argument("--data", metavar="PATH", nargs="+", action="extend",
                        help="data paths, when not where the run recorded them (the fingerprint "
                        "must still match)")
    parser.add_argument("--timeout", metavar="SECONDS", help="override the recorded timeout")
    parser.add_argument("--outputs", metavar="DIR", help="keep the reproduction's outputs here")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mlci import ci
    from mlci.config import load_config
    from mlci.config.model import parse_duration
    from mlci.errors import InputError
    from mlci.tracking import resolve_tracking_uri
    from mlci.train.reproduce import Tolerance, reproduce

    cfg = load_config(args)
    timeout = None
    if args.timeout is not None:
        try:
            timeout = parse_duration(args.timeout)
        except ValueError as error:
            raise InputError(str(error), key="--timeout") from None
    result = reproduce(args.run_id, tracking_uri=resolve_tracking_uri(cfg.registry.tracking_uri),
                       base_dir=cfg.base_dir, tolerance=Tolerance.parse(args.tolerance),
                       engine=args.engine, data=args.data, timeout=timeout,
                       outputs=Path(args.outputs) if args.outputs else None)
    platform = ci.current()
    verdict = result.comparison.result
    platform.set_outputs({"result": verdict, "run-id": result.reproduction.run_id,
                          "image-digest": result.reproduction.image_digest})
    lines = [f"### mlci reproduce {args.run_id}: **{verdict}**", ""]
    lines += [f"- {d}" for d in result.comparison.differences] or ["- no differences"]
    lines += [f"- note: {n}" for n in result.notes]
    platform.summary("\n".join(lines))
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(f"{verdict}: run {args.run_id} reproduced as {result.reproduction.run_id}")
        for line in result.comparison.differences:
            print(f"  {line}")
        for note in result.notes:
            print(f"  note: {note}")
    if verdict == "different":
        platform.error(f"run {args.run_id} did not reproduce: "
                       + "; ".join(result.comparison.differences[:5]))
        return 1
    return 0

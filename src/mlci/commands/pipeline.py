"""`mlci pipeline run`: every stage of mlci.yml in order, in this process.

    mlci pipeline run [--config mlci.yml] [--force] [--holdout FILE] [--report-dir DIR] [--json]
    mlci pipeline stop [--config mlci.yml]     # stop what the local target keeps serving

data-change decides whether anything runs (`--force` runs anyway); then validate-data,
train, gate, promote and canary, each printing what it decided and why. Defaults when
nothing is configured: an MLflow store in a SQLite file under `.mlci/` next to mlci.yml,
podman or docker when present (else `local`, said loudly and recorded in the lineage), and
the serving target of `deploy:` (`local` by default).

Exit codes: 0 every stage that ran passed (or the data did not change); 1 a check said no
(invalid data, a failed training command, a rejected candidate, a rolled-back rollout);
2 bad input, configuration or an unreachable service; 3 the gate asked for a review (the
run stops before promotion and says how to approve).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["run", "stop"],
                        help="run: every stage of mlci.yml in order; stop: stop the model "
                        "servers and nginx the local target keeps serving")
    parser.add_argument("--force", action="store_true",
                        help="run every stage even when the data did not change")
    parser.add_argument("--holdout", metavar="FILE",
                        help="the examples the training command scores (its predictions.csv): "
                        "the production model is scored on them too (mlci evaluate), so the "
                        "gate compares both on the same rows; relative to mlci.yml")
    parser.add_argument("--report-dir", metavar="DIR",
                        help="where this run's reports go (default: .mlci/pipeline/<time>/ "
                        "next to mlci.yml)")


def run(args: argparse.Namespace) -> int:
    from mlci import ci
    from mlci.config import load_config
    from mlci.config.load import find_config
    from mlci.errors import InputError
    from mlci.pipeline import report, runner, stages

    platform = ci.current()
    found = find_config(args.config, os.environ)
    if found is None:
        raise InputError("mlci pipeline run needs mlci.yml: give --config FILE or run it in "
                         "the directory that holds it", key="--config")
    config_path = str(found.resolve())
    args.config = config_path
    config = load_config(args)
    if args.action == "stop":
        from mlci.pipeline.serving import stop_local

        print(stop_local(config))
        return 0
    if not config.model:
        raise InputError("set `model` in mlci.yml: the pipeline registers and promotes it",
                         file=config_path, key="model")
    base = config.base_dir
    uri, embedded = runner.tracking_uri_for(args.tracking_uri, config, base)
    say = runner.eprint
    if embedded:
        say(f"no tracking URI configured: using the embedded MLflow store {uri}")
    engine = stages.container_engine(config.train.engine)
    if engine == "local":
        platform.warning("neither podman nor docker is installed: training runs WITHOUT a "
                         "container (engine local), and the lineage record says so")
    holdout = None
    if args.holdout:
        holdout = str(Path(args.holdout) if Path(args.holdout).is_absolute()
                      else base / args.holdout)
        if not Path(holdout).is_file():
            raise InputError(f"holdout file not found: {holdout}", key="--holdout")
    run_dir = (Path(args.report_dir).resolve() if args.report_dir
               else base / ".mlci" / "pipeline" / runner.stamp())
    run_dir.mkdir(parents=True, exist_ok=True)
    ctx = stages.Context(config=config, config_path=config_path, tracking_uri=uri,
                         run_dir=run_dir, holdout=holdout, engine=engine)
    here = os.getcwd()
    if embedded:
        # A SQLite store puts new experiments' artifacts under ./mlruns of the working
        # directory: keep them beside the database.
        os.chdir(base / ".mlci")
    try:
        code, doc = runner.execute(ctx, force=args.force, model=config.model, say=say)
    finally:
        os.chdir(here)
    md, _ = report.write(doc, run_dir)
    platform.summary(report.markdown(doc))
    platform.set_outputs({"outcome": doc["outcome"], "report": str(md),
                          "last-stage": doc["last_stage"] or ""})
    if args.json:
        print(json.dumps(doc, indent=2, default=str))
    else:
        print(report.table([stages.Stage(s["stage"], s["decision"], s["why"], s["exit_code"],
                                         s["numbers"], s["links"], s["seconds"])
                            for s in doc["stages"]]))
        if doc["next"]:
            print(f"\nnext: {doc['next']}")
        print(f"\nreport: {md}")
    return code

"""`mlci gate`: evaluate a candidate against a baseline with a gate spec.

Exit codes: 0 promote, 1 reject, 3 review, 2 bad input (including an unreachable registry);
`--fail-on` lets a verdict that does not fail exit 0 (EXIT_CODES below is the table).
The verdict is printed, written as step outputs (`verdict`, `report-json`, `report-md`), and
the Markdown report goes to the job summary. With `--holdout FILE` the gate scores the
candidate and the baseline model on FILE itself (`mlci.gate.holdout`). numpy and MLflow
are imported only in `run`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.errors import InputError, MlciError

if TYPE_CHECKING:
    from mlci.gate.spec import GateSpec


FAIL_ON = ("reject", "review", "never")
# Which verdicts fail, per --fail-on; a verdict that does not fail exits 0 with a warning.
FAILS: dict[str, set[str]] = {"reject": {"reject"}, "review": {"reject", "review"},
                              "never": set()}
REPORT_FILES = {"report_md": "report.md", "report_json": "report.json",
                "junit": "junit.xml", "openmetrics": "metrics.txt"}
EXIT_CODES = """exit codes:
  verdict   no --fail-on   --fail-on reject   --fail-on review   --fail-on never
  promote   0              0                  0                  0
  review    3              0 (warning)        3                  0 (warning)
  reject    1              1                  1                  0 (warning)
  error     2              2                  2                  2   (nothing fails open)

The verdict output is what the gate decided, whatever the exit code; it is empty when the
gate could not decide (bad input, an unreachable registry, a crash)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXIT_CODES
    parser.add_argument("--spec", metavar="FILE",
                        help="gate spec (default: the gate: key of mlci.yml)")
    parser.add_argument("--candidate", metavar="REF", default=None,
                        help="candidate metrics: a JSON file, runs:/<run-id> or "
                        "models:/<name>@<alias> (optional when --candidate-predictions gives "
                        "every metric the spec names)")
    parser.add_argument("--baseline", metavar="REF", default=None,
                        help="baseline metrics (default: models:/<model>@<alias> from mlci.yml; "
                        "an alias that does not exist yet means a first model)")
    parser.add_argument("--candidate-predictions", metavar="FILE", default=None,
                        help="per-example predictions of the candidate (CSV or Parquet)")
    parser.add_argument("--baseline-predictions", metavar="FILE", default=None,
                        help="per-example predictions of the baseline, same examples")
    parser.add_argument("--holdout", metavar="FILE", default=None,
                        help="score the candidate and (when it exists) the baseline model on "
                        "this file (CSV or Parquet) and gate on both prediction files; the "
                        "files go to --report-dir, else to a temporary directory")
    parser.add_argument("--fail-on", choices=FAIL_ON, default=None,
                        help="which verdicts fail (exit non-zero): reject, review (review and "
                        "reject) or never; without it the exit code is the verdict's")
    parser.add_argument("--report-dir", metavar="DIR",
                        help="write report.md, report.json, junit.xml and metrics.txt here")
    parser.add_argument("--report-md", metavar="F", help="write the Markdown report here")
    parser.add_argument("--report-json", metavar="F", help="write the JSON report here")
    parser.add_argument("--junit", metavar="F", help="write a JUnit XML report here")
    parser.add_argument("--openmetrics", metavar="F", help="write OpenMetrics text here")
    parser.add_argument("--comment", action="store_true",
                        help="post (or update) the Markdown report as a PR/MR comment")


def _config(args: argparse.Namespace) -> Any:
    from mlci.config import load_config

    return load_config(args)


def _spec(args: argparse.Namespace, config: Any) -> GateSpec:
    from mlci.gate.spec import GateSpec, load_gate_spec, validate_gate_spec

    if args.spec:
        return load_gate_spec(args.spec)
    gate = getattr(config, "gate", None) if config is not None else None
    if gate is None:
        raise InputError("no gate spec: give --spec FILE or set gate: in mlci.yml", key="spec")
    if isinstance(gate, GateSpec):
        return gate
    if isinstance(gate, str):
        return load_gate_spec(config.resolve_path(gate))
    return validate_gate_spec(gate, file=str(Path(config.base_dir) / "mlci.yml"), prefix="gate.")


def _write(path: str | None, text: str) -> None:
    if not path:
        return
    try:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot write report: {error.strerror or error}", file=path) from None


def run(args: argparse.Namespace) -> int:
    from mlci import ci
    from mlci.gate import VERDICT_EXIT_CODES, report
    from mlci.gate.engine import Side, run_gate
    from mlci.gate.sources import NoBaseline, load_metrics

    platform = ci.current()
    if args.report_dir:
        for dest, name in REPORT_FILES.items():
            if not getattr(args, dest):   # a single-file flag wins over the directory
                setattr(args, dest, str(Path(args.report_dir) / name))
    from mlci.gate.holdout import check_flags, scored

    check_flags(args)    # before the registry is asked anything
    config = _config(args)
    spec = _spec(args, config)
    tracking_uri = args.tracking_uri or (config.registry.tracking_uri if config else None)
    if not args.candidate and not args.candidate_predictions:
        raise InputError("give --candidate REF (metrics) or --candidate-predictions FILE",
                         key="candidate")
    if args.candidate:
        source = load_metrics(args.candidate, tracking_uri=tracking_uri, role="candidate")
        candidate = Side(source.ref, dict(source.metrics), source.model_version, source.run_id,
                         args.candidate_predictions)
    else:  # every metric from the prediction files (the engine checks that they give all)
        candidate = Side(None, {}, None, None, args.candidate_predictions)
    baseline: Side | None = None
    baseline_ref = args.baseline
    if not baseline_ref and config is not None and config.model:
        # Omitting --baseline means "the production model", never "no baseline": that
        # would let a candidate through without comparing it with anything.
        baseline_ref = f"models:/{config.model}@{config.registry.alias}"
    if baseline_ref:
        try:
            found = load_metrics(baseline_ref, tracking_uri=tracking_uri, role="baseline")
            baseline = Side(found.ref, dict(found.metrics), found.model_version, found.run_id,
                            args.baseline_predictions)
        except NoBaseline as missing:
            platform.warning(f"no baseline yet ({missing.message}); "
                             f"on_missing_baseline: {spec.on_missing_baseline}")
            if args.baseline_predictions:
                raise InputError("--baseline-predictions given, but the baseline does not "
                                 "exist", key="baseline-predictions") from None
    elif args.baseline_predictions:
        baseline = Side(None, {}, None, None, args.baseline_predictions)
    else:
        platform.warning("no --baseline and no model in mlci.yml: judged as a first model "
                         f"(on_missing_baseline: {spec.on_missing_baseline})")
    with platform.group("mlci gate: evaluating"), \
            scored(args.holdout, args.report_dir, spec, candidate, baseline,
                   candidate_ref=args.candidate, tracking_uri=tracking_uri):
        result = run_gate(spec, candidate, baseline)
    markdown = report.to_markdown(result)
    _write(args.report_md, markdown)
    _write(args.report_json, report.to_json(result))
    _write(args.junit, report.to_junit(result))
    _write(args.openmetrics, report.to_openmetrics(result))
    platform.summary(markdown)
    outputs = {"verdict": result["verdict"]}
    if candidate.run_id:   # the candidate's run keeps the report: promote finds it there
        from mlci.gate.record import record
        from mlci.gate.result import GateReport
        from mlci.registry.client import Registry

        where = record(Registry(tracking_uri), GateReport.from_dict(result), markdown)
        outputs["report-uri"] = f"runs:/{candidate.run_id}/{where}"
    outputs["report-json"] = str(Path(args.report_json).resolve()) if args.report_json else ""
    outputs["report-md"] = str(Path(args.report_md).resolve()) if args.report_md else ""
    platform.set_outputs(outputs)
    text = [f"mlci gate: {result['verdict']}"] + [f"  - {r}" for r in result["reasons"]]
    if args.json:
        sys.stdout.write(report.to_json(result))
        print("\n".join(text), file=sys.stderr)
    else:
        print("\n".join(text), flush=True)
    if args.comment:
        from mlci.gate.comment import post_comment

        try:
            post_comment(markdown, platform=platform)
        except MlciError as error:
            # The comment is a courtesy copy of the report; the verdict stands either way
            # (the report is already in the job summary and the report files).
            platform.warning(f"--comment: could not post the report: {error}")
    return _exit_code(platform, result["verdict"], args.fail_on, VERDICT_EXIT_CODES)


def _exit_code(platform: Any, verdict: str, fail_on: str | None,
               codes: dict[str, int]) -> int:
    if fail_on is None or verdict == "promote":
        return codes[verdict]
    if verdict in FAILS[fail_on]:
        platform.error(f"verdict {verdict} fails (--fail-on {fail_on})")
        return codes[verdict]
    platform.warning(f"verdict {verdict}; passing because --fail-on is {fail_on}")
    return 0

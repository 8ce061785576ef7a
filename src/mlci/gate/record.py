"""The gate's report, kept on the candidate's MLflow run: how the stages are wired by the
registry rather than by files.

When the candidate is an MLflow run, `mlci gate` uploads its report there and tags the run:

- artifacts ``mlci/gate/<UTC time>-<random>/report.json`` and ``report.md`` (one directory
  per gate run: a re-run never overwrites the evidence of an earlier one);
- tag ``mlci.gate.report``: the artifact path of the latest ``report.json``;
- tag ``mlci.gate.verdict``: its verdict.

The tags are written after the upload, so a tag always names a complete report. `mlci
promote` without ``--gate-report`` reads the report the tag names (`latest`); a candidate's
run without the tag has no gate report (a manual promotion). Names: `mlci.names`.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from pathlib import Path

from mlci import names
from mlci.errors import InputError
from mlci.gate.result import GateReport
from mlci.registry.client import NotFound, Registry


def record(registry: Registry, report: GateReport, markdown: str) -> str:
    """Upload the report to the candidate's run and tag the run; returns the artifact path of
    ``report.json``. The report must name its candidate's run."""
    run_id = report.candidate.run_id
    if not run_id:
        raise ValueError("the candidate is not an MLflow run")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    directory = f"{names.GATE_REPORT_DIR}/{stamp}-{secrets.token_hex(3)}"
    with tempfile.TemporaryDirectory(prefix="mlci-gate-") as tmp:
        local = Path(tmp)
        (local / names.GATE_REPORT_FILE).write_text(report.to_json(), encoding="utf-8")
        (local / "report.md").write_text(markdown, encoding="utf-8")
        registry.call("log_artifacts", run_id, str(local), directory)
    path = f"{directory}/{names.GATE_REPORT_FILE}"
    registry.call("set_tag", run_id, names.GATE_REPORT, path)
    registry.call("set_tag", run_id, names.GATE_VERDICT, report.verdict)
    return path


def latest(registry: Registry, run_id: str) -> tuple[GateReport, str] | None:
    """The latest gate report recorded on `run_id` and where it is (``runs:/<id>/<path>``);
    None when the run has none. A tag naming a missing or malformed report is an input
    error (exit 2): the evidence was recorded and is now unreadable."""
    try:
        run = registry.call("get_run", run_id)
    except NotFound:
        raise InputError(f"run {run_id!r} not found in {registry.where}",
                         key="--candidate") from None
    path = (run.data.tags or {}).get(names.GATE_REPORT)
    if not path:
        return None
    where = f"runs:/{run_id}/{path}"
    text = registry.artifact_text(run_id, path)
    if text is None:
        raise InputError(f"tag {names.GATE_REPORT} names {where}, which is not there",
                         key="--gate-report")
    return GateReport.loads(text, origin=where), where

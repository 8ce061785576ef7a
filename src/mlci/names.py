"""Every name mlci writes into MLflow: run and model-version tags, artifact paths.

One module, so that the stage that writes a name and the stage that reads it cannot drift
apart (train writes the lineage tags that promote copies; the gate writes the verdict that
promote reads; data-change reads the fingerprint that train recorded).
"""

from __future__ import annotations

PREFIX = "mlci."

# -- training (`mlci train`): run tags, copied onto the model version by promote ---------
GIT_COMMIT = "mlci.git_commit"
GIT_DIRTY = "mlci.git_dirty"
DATA_FINGERPRINT = "mlci.data_fingerprint"
IMAGE_DIGEST = "mlci.image_digest"
SEED = "mlci.seed"
ENGINE = "mlci.engine"
COMMAND = "mlci.command"
CONTAINERFILE_SHA256 = "mlci.containerfile_sha256"
CI_RUN_URL = "mlci.ci_run_url"
FAILURE = "mlci.failure"                    # why a run ended FAILED
REPRODUCES = "mlci.reproduces"              # on a reproduction: the run it re-ran
REPRODUCE_RESULT = "mlci.reproduce_result"  # equal | within-tolerance | different
SAGEMAKER_RUN_ID = "mlci.run_id"            # tag on the SageMaker job: its MLflow run
# Lineage tags promote copies to the audit event (as lineage.<name>).
LINEAGE_TAGS = (GIT_COMMIT, DATA_FINGERPRINT, IMAGE_DIGEST, SEED)

# -- training artifacts ---------------------------------------------------------------------
META_DIR = "mlci"
LINEAGE_ARTIFACT = "mlci/lineage.json"
MANIFEST_ARTIFACT = "mlci/data-manifest.json"
TRAIN_LOG_ARTIFACT = "mlci/train.log"
BUILD_LOG_ARTIFACT = "mlci/build.log"
MODEL_ARTIFACT = "model"

# -- the gate (`mlci gate`, on the candidate's run; read by `mlci promote`) --------------------
GATE_VERDICT = "mlci.gate.verdict"          # also on the model version, by promote
GATE_REPORT = "mlci.gate.report"            # run tag: the artifact path of the latest report;
#                                             version tag: a link to the report
GATE_REPORT_DIR = "mlci/gate"               # artifacts: mlci/gate/<time>-<id>/report.json
GATE_REPORT_FILE = "report.json"
GATE_OVERRIDE_REASON = "mlci.gate.override_reason"

# -- promotion and rollout (model-version tags) ----------------------------------------------
SOURCE_RUN_ID = "mlci.source_run_id"
APPROVED_BY = "mlci.approved_by"
ROLLOUT = "mlci.rollout"

# -- the audit trail (`mlci.registry.audit`): params and tags of its event runs --------------
AUDIT_NEXT = "mlci.next"            # an event's successor in the alias's chain (write-once)
AUDIT_DECISION = "mlci.decision"    # "move" or "abort", written once


# -- registered model names -------------------------------------------------------------------
# Characters a registered model name may not have: MLflow refuses '/' and ':'; quotes and
# backslashes would have to survive MLflow's search-filter syntax; '@' separates NAME@ALIAS in
# models:/ references (and in the audit chain's root experiment name).
_BAD_MODEL_NAME_CHARS = frozenset("/:'\"`\\@")
MODEL_NAME_HINT = "Use letters, digits, spaces, '.', '_' or '-'"


def model_name_problem(model: str) -> str | None:
    """Why mlci cannot register and audit a model called `model`, or None when it can. Checked
    where the name comes in (`mlci.yml`, `--model`), before anything is created."""
    bad = sorted({c for c in model if c in _BAD_MODEL_NAME_CHARS or not c.isprintable()})
    if bad:
        return f"it contains {', '.join(repr(c) for c in bad)}"
    if len(model) > 250:
        return "it is longer than 250 characters"
    if not model.strip() or model != model.strip():
        return "it is empty or starts or ends with a space"
    return None

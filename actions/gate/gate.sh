#!/usr/bin/env bash
# The gate action's one step (actions/gate/action.yml): validate the inputs, install mlci
# (scripts/setup-mlci.sh, cached), run `mlci gate`, then map its exit code through `fail-on`.
# Inputs arrive only as MLCI_GATE_IN_* environment variables, never spliced into this text.
set -euo pipefail
source "$GITHUB_ACTION_PATH/../../scripts/act-exit-pause.sh"

error() { printf '::error title=mlci gate::%s\n' "$1" >&2; }

fail_on="${MLCI_GATE_IN_FAIL_ON:-reject}"
case "$fail_on" in
    reject|review|never) ;;
    *) error "input 'fail-on' must be reject, review or never, got '$fail_on'"; exit 2 ;;
esac
comment="$(printf '%s' "${MLCI_GATE_IN_COMMENT:-false}" | tr 'A-Z' 'a-z')"
case "$comment" in
    true|false|"") ;;
    *) error "input 'comment' must be true or false, got '${MLCI_GATE_IN_COMMENT}'"; exit 2 ;;
esac
if [[ -z "${MLCI_GATE_IN_CANDIDATE:-}" ]]; then
    error "input 'candidate' is required (a JSON metrics file, runs:/<run-id> or models:/<name>@<alias>)"
    exit 2
fi

bin="$("$GITHUB_ACTION_PATH/../../scripts/setup-mlci.sh")"
PATH="$bin:$PATH"

dir="${MLCI_GATE_IN_REPORT_DIR:-mlci-gate}"
args=(gate --candidate "$MLCI_GATE_IN_CANDIDATE"
      --report-md "$dir/report.md" --report-json "$dir/report.json"
      --junit "$dir/junit.xml" --openmetrics "$dir/metrics.txt")
[[ -z "${MLCI_GATE_IN_SPEC:-}" ]] || args+=(--spec "$MLCI_GATE_IN_SPEC")
[[ -z "${MLCI_GATE_IN_BASELINE:-}" ]] || args+=(--baseline "$MLCI_GATE_IN_BASELINE")
[[ -z "${MLCI_GATE_IN_CANDIDATE_PREDICTIONS:-}" ]] \
    || args+=(--candidate-predictions "$MLCI_GATE_IN_CANDIDATE_PREDICTIONS")
[[ -z "${MLCI_GATE_IN_BASELINE_PREDICTIONS:-}" ]] \
    || args+=(--baseline-predictions "$MLCI_GATE_IN_BASELINE_PREDICTIONS")
[[ "$comment" != true ]] || args+=(--comment)
[[ -z "${MLCI_GATE_IN_TRACKING_URI:-}" ]] || args+=(--tracking-uri "$MLCI_GATE_IN_TRACKING_URI")
[[ -z "${MLCI_GATE_IN_CONFIG:-}" ]] || args+=(--config "$MLCI_GATE_IN_CONFIG")

code=0
mlci "${args[@]}" || code=$?

# mlci gate: 0 promote, 1 reject, 3 review, 2 (or anything else) error -> always a failure.
case "$code" in
    0) exit 0 ;;
    1) verdict=reject ;;
    3) verdict=review ;;
    *) exit "$code" ;;
esac
if [[ "$fail_on" == never || ( "$verdict" == review && "$fail_on" == reject ) ]]; then
    printf '::warning title=mlci gate::verdict %s; the step passes because fail-on is %s\n' \
        "$verdict" "$fail_on" >&2
    exit 0
fi
error "verdict $verdict (fail-on: $fail_on)"
exit "$code"

#!/usr/bin/env bash
# The promote action's one step (actions/promote/action.yml): validate the inputs, install
# mlci (scripts/setup-mlci.sh, cached), run `mlci promote`. Its exit code is the step's.
# Inputs arrive only as MLCI_PROMOTE_IN_* environment variables, never spliced into this text.
set -euo pipefail
source "$GITHUB_ACTION_PATH/../../scripts/act-exit-pause.sh"

error() { printf '::error title=mlci promote::%s\n' "$1" >&2; }
boolean() {  # boolean NAME VALUE -> true|false, or exit 2
    local value
    value="$(printf '%s' "$2" | tr 'A-Z' 'a-z')"
    case "$value" in
        true|false) printf '%s' "$value" ;;
        "") printf 'false' ;;
        *) error "input '$1' must be true or false, got '$2'"; exit 2 ;;
    esac
}

approved="$(boolean approved "${MLCI_PROMOTE_IN_APPROVED:-false}")"
override="$(boolean override "${MLCI_PROMOTE_IN_OVERRIDE:-false}")"
if [[ -z "${MLCI_PROMOTE_IN_CANDIDATE:-}" ]]; then
    error "input 'candidate' is required (runs:/<run-id>/<artifact-path> or a version number)"
    exit 2
fi

bin="$("$GITHUB_ACTION_PATH/../../scripts/setup-mlci.sh")"
PATH="$bin:$PATH"

args=(promote --candidate "$MLCI_PROMOTE_IN_CANDIDATE")
[[ -z "${MLCI_PROMOTE_IN_MODEL:-}" ]] || args+=(--model "$MLCI_PROMOTE_IN_MODEL")
[[ -z "${MLCI_PROMOTE_IN_ALIAS:-}" ]] || args+=(--alias "$MLCI_PROMOTE_IN_ALIAS")
[[ -z "${MLCI_PROMOTE_IN_GATE_REPORT:-}" ]] || args+=(--gate-report "$MLCI_PROMOTE_IN_GATE_REPORT")
[[ -z "${MLCI_PROMOTE_IN_EXPECT_CURRENT:-}" ]] \
    || args+=(--expect-current "$MLCI_PROMOTE_IN_EXPECT_CURRENT")
[[ "$approved" != true ]] || args+=(--approved)
[[ "$override" != true ]] || args+=(--override)
[[ -z "${MLCI_PROMOTE_IN_REASON:-}" ]] || args+=(--reason "$MLCI_PROMOTE_IN_REASON")
[[ -z "${MLCI_PROMOTE_IN_TRACKING_URI:-}" ]] || args+=(--tracking-uri "$MLCI_PROMOTE_IN_TRACKING_URI")
[[ -z "${MLCI_PROMOTE_IN_CONFIG:-}" ]] || args+=(--config "$MLCI_PROMOTE_IN_CONFIG")
exec mlci "${args[@]}"

#!/usr/bin/env bash
# The validate-data action's one step (actions/validate-data/action.yml): install mlci
# (scripts/setup-mlci.sh, cached) and run `mlci validate-data` with the inputs that are set.
# Inputs arrive only as MLCI_VD_IN_* environment variables, never spliced into this text.
# mlci itself writes the step outputs (valid, violations), one error annotation per violation
# and the job summary; its exit code (0 valid, 1 violations, 2 bad input) is the step's.
set -euo pipefail
source "$GITHUB_ACTION_PATH/../../scripts/act-exit-pause.sh"

# Files are separated by spaces or newlines; `read -a` does not glob.
data=() reference=()
[[ -z "${MLCI_VD_IN_DATA:-}" ]] || read -r -d '' -a data <<<"$MLCI_VD_IN_DATA" || true
[[ -z "${MLCI_VD_IN_REFERENCE:-}" ]] || read -r -d '' -a reference <<<"$MLCI_VD_IN_REFERENCE" || true

bin="$("$GITHUB_ACTION_PATH/../../scripts/setup-mlci.sh")"
PATH="$bin:$PATH"

args=(validate-data)
[[ -z "${MLCI_VD_IN_CONTRACT:-}" ]] || args+=(--contract "$MLCI_VD_IN_CONTRACT")
((${#data[@]} == 0)) || args+=(--data "${data[@]}")
((${#reference[@]} == 0)) || args+=(--reference "${reference[@]}")
[[ -z "${MLCI_VD_IN_CONFIG:-}" ]] || args+=(--config "$MLCI_VD_IN_CONFIG")

exec mlci "${args[@]}"

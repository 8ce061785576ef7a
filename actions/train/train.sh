#!/usr/bin/env bash
# The train action's one step (actions/train/action.yml): install mlci (scripts/setup-mlci.sh,
# cached) and run `mlci train` with the inputs that are set. Inputs arrive only as
# MLCI_TRAIN_IN_* environment variables, never spliced into this text. mlci itself validates
# them and writes the step outputs (run-id, image-digest, model-uri) and the job summary.
set -euo pipefail
source "$GITHUB_ACTION_PATH/../../scripts/act-exit-pause.sh"

error() { printf '::error title=mlci train::%s\n' "$1" >&2; }

if [[ -n "${MLCI_TRAIN_IN_CONTAINERFILE:-}" && -n "${MLCI_TRAIN_IN_IMAGE:-}" ]]; then
    error "give either input 'containerfile' or input 'image', not both"
    exit 2
fi

bin="$("$GITHUB_ACTION_PATH/../../scripts/setup-mlci.sh")"
PATH="$bin:$PATH"

args=(train)
[[ -z "${MLCI_TRAIN_IN_CONTAINERFILE:-}" ]] || args+=(--containerfile "$MLCI_TRAIN_IN_CONTAINERFILE")
[[ -z "${MLCI_TRAIN_IN_CONTEXT:-}" ]] || args+=(--context "$MLCI_TRAIN_IN_CONTEXT")
[[ -z "${MLCI_TRAIN_IN_IMAGE:-}" ]] || args+=(--image "$MLCI_TRAIN_IN_IMAGE")
[[ -z "${MLCI_TRAIN_IN_COMMAND:-}" ]] || args+=(--command "$MLCI_TRAIN_IN_COMMAND")
if [[ -n "${MLCI_TRAIN_IN_DATA:-}" ]]; then
    read -r -d '' -a data <<<"$MLCI_TRAIN_IN_DATA" || true   # split on spaces and newlines
    ((${#data[@]} == 0)) || args+=(--data "${data[@]}")
fi
[[ -z "${MLCI_TRAIN_IN_SEED:-}" ]] || args+=(--seed "$MLCI_TRAIN_IN_SEED")
[[ -z "${MLCI_TRAIN_IN_EXPERIMENT:-}" ]] || args+=(--experiment "$MLCI_TRAIN_IN_EXPERIMENT")
[[ -z "${MLCI_TRAIN_IN_TRACKING_URI:-}" ]] || args+=(--tracking-uri "$MLCI_TRAIN_IN_TRACKING_URI")
[[ -z "${MLCI_TRAIN_IN_ENGINE:-}" ]] || args+=(--engine "$MLCI_TRAIN_IN_ENGINE")
[[ -z "${MLCI_TRAIN_IN_GPUS:-}" ]] || args+=(--gpus "$MLCI_TRAIN_IN_GPUS")
[[ -z "${MLCI_TRAIN_IN_TIMEOUT:-}" ]] || args+=(--timeout "$MLCI_TRAIN_IN_TIMEOUT")
[[ -z "${MLCI_TRAIN_IN_NETWORK:-}" ]] || args+=(--network "$MLCI_TRAIN_IN_NETWORK")
[[ -z "${MLCI_TRAIN_IN_CONFIG:-}" ]] || args+=(--config "$MLCI_TRAIN_IN_CONFIG")
if [[ -n "${MLCI_TRAIN_IN_ENV:-}" ]]; then
    while IFS= read -r line || [[ -n "$line" ]]; do
        line="${line%$'\r'}"
        [[ -z "${line//[[:space:]]/}" ]] || args+=(--env "$line")
    done <<<"$MLCI_TRAIN_IN_ENV"
fi

exec mlci "${args[@]}"

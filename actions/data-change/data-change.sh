#!/usr/bin/env bash
# The data-change action's one step (actions/data-change/action.yml): install mlci
# (scripts/setup-mlci.sh, cached) and run `mlci data-change` with the inputs that are set.
# Inputs arrive only as MLCI_DC_IN_* environment variables, never spliced into this text.
# mlci itself writes the step outputs (changed, fingerprint, counts) and the job summary.
set -euo pipefail
source "$GITHUB_ACTION_PATH/../../scripts/act-exit-pause.sh"

error() { printf '::error title=mlci data-change::%s\n' "$1" >&2; }

dvc="$(printf '%s' "${MLCI_DC_IN_DVC:-false}" | tr 'A-Z' 'a-z')"
case "$dvc" in
    true|false|"") ;;
    *) error "input 'dvc' must be true or false, got '${MLCI_DC_IN_DVC}'"; exit 2 ;;
esac

# Paths and prefixes are separated by spaces or newlines; `read -a` does not glob, so mlci
# (not the shell) expands the globs, `**` included.
paths=() s3=()
[[ -z "${MLCI_DC_IN_PATHS:-}" ]] || read -r -d '' -a paths <<<"$MLCI_DC_IN_PATHS" || true
[[ -z "${MLCI_DC_IN_S3:-}" ]] || read -r -d '' -a s3 <<<"$MLCI_DC_IN_S3" || true

# S3 prefixes need boto3: add the s3 extra when the input names prefixes.
extras="${MLCI_DC_IN_EXTRAS:-}"
if ((${#s3[@]})) && [[ ",${extras//[[:space:]]/}," != *,s3,* ]]; then
    extras="${extras:+$extras,}s3"
fi
export MLCI_SETUP_EXTRAS="$extras"

bin="$("$GITHUB_ACTION_PATH/../../scripts/setup-mlci.sh")"
PATH="$bin:$PATH"

args=(data-change)
((${#paths[@]} == 0)) || args+=(--paths "${paths[@]}")
[[ "$dvc" != true ]] || args+=(--dvc)
((${#s3[@]} == 0)) || args+=(--s3 "${s3[@]}")
[[ -z "${MLCI_DC_IN_AGAINST:-}" ]] || args+=(--against "$MLCI_DC_IN_AGAINST")
[[ -z "${MLCI_DC_IN_WRITE:-}" ]] || args+=(--write "$MLCI_DC_IN_WRITE")
[[ -z "${MLCI_DC_IN_CACHE:-}" ]] || args+=(--cache "$MLCI_DC_IN_CACHE")
[[ -z "${MLCI_DC_IN_TRACKING_URI:-}" ]] || args+=(--tracking-uri "$MLCI_DC_IN_TRACKING_URI")
[[ -z "${MLCI_DC_IN_CONFIG:-}" ]] || args+=(--config "$MLCI_DC_IN_CONFIG")

exec mlci "${args[@]}"

#!/usr/bin/env bash
# THE test command: scripts/test.sh [pytest args]
#
#   scripts/test.sh                      # everything: unit, integration, e2e
#   scripts/test.sh -m unit              # one marker
#   scripts/test.sh tests/e2e -k gitlab  # anything pytest takes
#
# 1. creates .venv (python3 -m venv) when missing and installs the package editable with
#    `.[test]`; the pip call is skipped while pyproject.toml (and the interpreter) are the
#    same as at the last install (src/ changes need no reinstall: the install is editable);
# 2. runs scripts/install-test-tools.sh (Debian packages, podman drop-in, gitlab-ci-local
#    with Node 22; idempotent) and puts the tools and the venv on PATH;
# 3. runs the static checks, `ruff check .` and `mypy --strict src` (configured in
#    pyproject.toml); a finding fails the run (exit 1) before any test starts;
# 4. runs pytest; exit 5 (no tests collected) is reported and treated as success,
#    otherwise pytest's exit code is ours.
#
# MLCI_SKIP_LINT=1 skips step 3 while iterating on one test; the full run never sets it.
#
# Environment: MLCI_DEV_VENV (default .venv), PYTHON (default python3), MLCI_DEV_TOOLS (see
# install-test-tools.sh), MLCI_TEST_TIMEOUT (per-test timeout in s, default 900, applied
# unless --timeout is given).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="${MLCI_DEV_VENV:-$root/.venv}"
python="${PYTHON:-python3}"

log() { printf '[test.sh] %s\n' "$*" >&2; }

if [[ ! -x "$venv/bin/python" ]]; then
    log "creating $venv with $python"
    "$python" -m venv "$venv"
fi

stamp="$venv/.mlci-test-stamp"
want="$( { "$venv/bin/python" --version 2>&1; cat pyproject.toml; } | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
    log "pip install -e .[test] into $venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet -e ".[test]"
    printf '%s\n' "$want" >"$stamp"
else
    log "$venv is up to date with pyproject.toml; no pip call"
fi

MLCI_DEV_VENV="$venv" scripts/install-test-tools.sh
tools="${MLCI_DEV_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/mlci-dev/tools}"
export PATH="$tools/bin:$venv/bin:$PATH"
export VIRTUAL_ENV="$venv"

if [[ "${MLCI_SKIP_LINT:-0}" != 1 ]]; then
    lint_failed=()
    log "ruff check ."
    "$venv/bin/ruff" check . || lint_failed+=("ruff check .")
    log "mypy --strict src"
    "$venv/bin/mypy" --strict src || lint_failed+=("mypy --strict src")
    if ((${#lint_failed[@]})); then
        printf '[test.sh] FAILED static checks: %s (findings above); no tests were run\n' \
            "$(IFS=,; echo "${lint_failed[*]}")" >&2
        exit 1
    fi
else
    log "MLCI_SKIP_LINT=1: ruff and mypy skipped"
fi

args=("$@")
has_timeout=0
for a in "${args[@]+"${args[@]}"}"; do
    [[ "$a" == --timeout* ]] && has_timeout=1
done
((has_timeout)) || args=(--timeout="${MLCI_TEST_TIMEOUT:-900}" "${args[@]+"${args[@]}"}")

set +e
"$venv/bin/python" -m pytest "${args[@]}"
rc=$?
set -e
if [[ $rc == 5 ]]; then
    echo "test.sh: pytest collected no tests (exit 5); treating as success"
    exit 0
fi
exit "$rc"

#!/usr/bin/env bash
# THE demo: the churn example (examples/churn) through three data snapshots with
# `mlci pipeline run`, on this machine, nothing to configure.
#
#   scripts/demo.sh
#
#   1. the first snapshot: the first model is trained in a container, gated (first model:
#      absolute rules), promoted and rolled out (local target: mlflow models serve + nginx);
#   2. a better snapshot: retrained, gated against production on the same holdout, promoted
#      to `canary` and rolled out by canary (30% -> 100%) to `champion`;
#   3. a snapshot that quietly hurts one region while the average improves: the gate
#      rejects it on that slice, and production is unchanged.
#   It ends with `mlci history` and where the reports are.
#
# Sets up what it needs when absent: the venv (.venv, the package with its test extra:
# mlflow and uvicorn for the model servers), podman and nginx (as root, through
# scripts/install-test-tools.sh), and the Debian base image (scripts/build-base-image.sh).
# A second run starts clean (it says so): the example's registry, rollout state and servers
# are removed first. A bounded traffic generator (127.0.0.1 only) runs during the pipeline
# and is stopped, with the model servers, when the demo ends (MLCI_DEMO_KEEP_SERVING=1 keeps
# the servers).
#
# Exit: 0 when every snapshot did what it should; 1 when one did not; 2 set-up failed.
# Environment: MLCI_DEV_VENV (default .venv), PYTHON (default python3),
#   MLCI_DEMO_LISTEN (router address, default 127.0.0.1:8765), MLCI_DEMO_KEEP_SERVING.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
example="$root/examples/churn"
venv="${MLCI_DEV_VENV:-$root/.venv}"
python="${PYTHON:-python3}"
listen="${MLCI_DEMO_LISTEN:-127.0.0.1:8765}"
start=$SECONDS

say() { printf '\n\033[1m== demo (%ss): %s\033[0m\n' "$((SECONDS - start))" "$*" >&2; }
fail() { printf '== demo: %s\n' "$*" >&2; exit "${2:-1}"; }

# --- set-up ----------------------------------------------------------------------------------
if [[ ! -x "$venv/bin/mlci" || ! -x "$venv/bin/mlflow" || ! -x "$venv/bin/uvicorn" ]]; then
    say "installing mlci into $venv (with mlflow and uvicorn for the model servers)"
    [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv" || fail "cannot create $venv" 2
    "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
    "$venv/bin/python" -m pip install --quiet -e "$root[serve]" >&2 || fail "pip install failed" 2
fi
mlci="$venv/bin/mlci"
have() { command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" ]]; }
if ! have podman || ! have nginx; then
    if [[ "$(id -u)" == 0 ]] || sudo -n true 2>/dev/null; then
        say "installing podman and nginx (scripts/install-test-tools.sh)"
        "$root/scripts/install-test-tools.sh" >&2 || fail "installing the tools failed" 2
    else
        fail "podman and nginx are needed (apt-get install podman nginx, as root)" 2
    fi
fi
export PATH="$venv/bin:$PATH:/usr/sbin"
say "the Debian base image of the training container (built once, then cached)"
"$root/scripts/build-base-image.sh" >/dev/null || fail "building the base image failed" 2

# --- a clean start ---------------------------------------------------------------------------
cd "$example"
export MLCI_DEPLOY__LOCAL__LISTEN="$listen"
if [[ -e .mlci || -e data ]]; then
    say "starting clean: removing the example's registry, rollout state and servers (.mlci/)"
    "$mlci" pipeline stop >&2 || true
    rm -rf .mlci data snapshots
fi
"$venv/bin/python" generate.py
mkdir -p data

traffic_pid=""
stop_file="$example/.mlci/traffic.stop"
cleanup() {
    [[ -n "$traffic_pid" ]] && { touch "$stop_file"; wait "$traffic_pid" 2>/dev/null || true; }
    if [[ "${MLCI_DEMO_KEEP_SERVING:-0}" != 1 ]]; then
        "$mlci" pipeline stop >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

mkdir -p .mlci
"$venv/bin/python" traffic.py --url "http://$listen/invocations" --rate 15 --duration 1800 \
    --stop-file "$stop_file" --data snapshots/v1/holdout.csv > .mlci/traffic.log 2>&1 &
traffic_pid=$!

snapshot() {   # snapshot N EXPECTED_EXIT WHAT
    local n=$1 expected=$2 what=$3 code=0
    say "snapshot v$n: $what"
    cp "snapshots/v$n/train.csv" "snapshots/v$n/holdout.csv" data/
    "$mlci" pipeline run --holdout data/holdout.csv || code=$?
    if [[ "$code" != "$expected" ]]; then
        fail "snapshot v$n: mlci pipeline run exited $code, expected $expected" 1
    fi
    printf '%s\n' "v$n: exit $code, as expected" >> .mlci/demo-outcomes.txt
}
: > .mlci/demo-outcomes.txt
snapshot 1 0 "the first model: trained, gated, promoted, rolled out"
snapshot 2 0 "a better model: retrained, promoted to canary, rolled out by canary to champion"
snapshot 3 1 "a model that hurts the south region: rejected by the gate, production unchanged"

touch "$stop_file"; wait "$traffic_pid" 2>/dev/null || true; traffic_pid=""
say "the audit trail (mlci history)"
store="sqlite:///$example/.mlci/mlflow.db"    # the pipeline's embedded store
trail="$("$mlci" history --tracking-uri "$store")" || fail "mlci history failed" 1
printf '%s\n' "$trail"
# Its first line names where each alias points now: "# churn: canary -> unset, champion -> 2".
champion="$(sed -n '1s/.* champion -> \([^,]*\).*/\1/p' <<<"$trail")"
[[ "$champion" == 2 ]] || fail "champion is version ${champion:-unset}, expected 2" 1
say "done in $((SECONDS - start)) s: champion is version $champion (the improved model)"
echo "reports (one directory per pipeline run, report.md is the summary):"
ls -d "$example"/.mlci/pipeline/*/ | sed 's/^/  /'
echo "traffic: $(cat .mlci/traffic.log 2>/dev/null)"

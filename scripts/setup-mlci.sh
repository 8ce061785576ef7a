#!/usr/bin/env bash
# Installs mlci from this checkout (the directory above scripts/) into an isolated, cached
# venv -- never into the caller's Python -- and makes `mlci` available.
#
# Used by the setup action (action.yml at the repo root) and by every stage action:
#
#   # setup action: later steps get `mlci` through $GITHUB_PATH
#   "$GITHUB_ACTION_PATH/scripts/setup-mlci.sh" >/dev/null
#
#   # stage action (actions/<stage>/action.yml): a first step, then `run: mlci <stage>`
#   "$GITHUB_ACTION_PATH/../../scripts/setup-mlci.sh" >/dev/null
#
# Contract: stdout is exactly one line, a directory holding only `mlci` (a symlink into the
# venv; the venv's own python/pip are deliberately not put on PATH, so they never shadow the
# caller's), so `$(...)` captures it; everything the script reports goes to stderr. It is not
# meant to be `source`d.
#
# Environment (the action passes its inputs under these prefixed names):
#   MLCI_SETUP_PYTHON   interpreter to build the venv with (default python3; name or path)
#   MLCI_SETUP_EXTRAS   comma-separated extras of the mlci package (e.g. "s3,parquet")
#   MLCI_CACHE_DIR      where venvs live (default ${RUNNER_TOOL_CACHE:-$HOME/.cache}/mlci)
#   GITHUB_PATH, GITHUB_OUTPUT   appended to when set (bin dir; version=<x>)
#
# A cached venv is immutable. Its directory names mlci's version, the Python version, the
# extras and a hash of the source (pyproject.toml, src/) and of the interpreter's path. It is
# built in a temporary directory beside it and renamed into place when complete, so no job
# ever sees a half-built venv, and a venv that exists is never deleted or rebuilt: two jobs
# sharing a tool cache -- with the same source or different ones -- cannot break each other.
# A venv that exists is reused with no pip call at all; of two jobs building the same one at
# once, the first rename wins and the other discards its own copy.
#
# Exit codes: 0 ok; 2 bad input (interpreter not found or too old, unknown extra);
# anything else: the install itself failed (pip's message is in the log).
set -euo pipefail

say() { printf 'mlci-setup: %s\n' "$*" >&2; }
fail() {  # fail CODE MESSAGE: a GitHub error annotation (plain text elsewhere), then exit CODE
    if [[ -n "${GITHUB_ACTIONS:-}" ]]; then
        printf '::error title=mlci setup::%s\n' "$2" >&2
    else
        printf 'mlci-setup: error: %s\n' "$2" >&2
    fi
    exit "$1"
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
[[ -f "$root/pyproject.toml" && -f "$root/src/mlci/__init__.py" ]] \
    || fail 1 "no mlci source tree at $root (expected pyproject.toml and src/mlci/)"

# --- inputs -----------------------------------------------------------------------------------
python_in="${MLCI_SETUP_PYTHON:-python3}"
[[ -n "$python_in" ]] || python_in=python3
python_path="$(command -v -- "$python_in" 2>/dev/null || true)"
[[ -n "$python_path" && -x "$python_path" ]] \
    || fail 2 "python interpreter '$python_in' not found (input 'python': give a command on PATH or a path to an executable)"
py_version="$("$python_path" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3]) if sys.version_info >= (3, 10) else print("old " + sys.version.split()[0])' 2>/dev/null || true)"
[[ -n "$py_version" ]] || fail 2 "'$python_in' ($python_path) is not a working Python interpreter (input 'python')"
[[ "$py_version" != old* ]] || fail 2 "'$python_in' is Python ${py_version#old }; mlci needs Python >= 3.10 (input 'python')"

# Extras known to this checkout's pyproject.toml ([project.optional-dependencies] keys).
known_extras="$(awk '
    /^\[/ { in_section = ($0 == "[project.optional-dependencies]"); next }
    in_section && match($0, /^[A-Za-z0-9][A-Za-z0-9._-]*[ \t]*=/) {
        name = substr($0, 1, RLENGTH); sub(/[ \t]*=$/, "", name); print name
    }' "$root/pyproject.toml" | sort -u | tr '\n' ' ')"
extras=()
IFS=',' read -r -a raw_extras <<<"${MLCI_SETUP_EXTRAS:-}"
for extra in "${raw_extras[@]}"; do
    extra="${extra//[[:space:]]/}"
    [[ -n "$extra" ]] || continue
    extra="$(printf '%s' "$extra" | tr 'A-Z_.' 'a-z--')"   # PEP 685 normalisation
    [[ " $known_extras " == *" $extra "* ]] \
        || fail 2 "unknown extra '$extra' (input 'extras'; this mlci offers: ${known_extras% })"
    extras+=("$extra")
done
extras_csv=""
if ((${#extras[@]})); then
    extras_csv="$(printf '%s\n' "${extras[@]}" | sort -u | paste -sd, -)"
fi

# --- identity of this install -------------------------------------------------------------------
version="$(sed -n 's/^__version__[[:space:]]*=[[:space:]]*["'\'']\([^"'\'']*\)["'\''].*/\1/p' "$root/src/mlci/__init__.py" | head -n1)"
[[ -n "$version" ]] || fail 1 "cannot read __version__ from $root/src/mlci/__init__.py"

if command -v sha256sum >/dev/null 2>&1; then sha256=(sha256sum); else sha256=(shasum -a 256); fi
# One hashing process for the whole tree; paths are part of the hash (renames count).
source_hash="$(cd "$root" && {
    printf '%s\0' pyproject.toml
    find src -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z
} | xargs -0 "${sha256[@]}" | "${sha256[@]}" | cut -c1-16)"

cache_dir="${MLCI_CACHE_DIR:-${RUNNER_TOOL_CACHE:-$HOME/.cache}/mlci}"
key="$(printf '%s\n' "$source_hash" "$python_path" "$extras_csv" | "${sha256[@]}" | cut -c1-16)"
venv="$cache_dir/mlci-$version-py$py_version-${extras_csv:-base}-$key"
venv="${venv//,/+}"
exposed="$venv/mlci-bin"     # holds only a symlink to the venv's `mlci`
mkdir -p "$cache_dir"

build=""
cleanup() { [[ -z "$build" || ! -e "$build" ]] || rm -rf -- "$build"; }   # only our own temp dir
trap 'code=$?; cleanup; ((code == 0)) || [[ "${ACT:-}" != true ]] || sleep 0.5' EXIT

install_venv() {
    local spec="$root" start
    [[ -z "$extras_csv" ]] || spec="${root}[${extras_csv}]"
    build="$(mktemp -d "$cache_dir/.build-XXXXXXXX")"
    say "installing mlci $version (${extras_csv:-no extras}) with Python $py_version into $venv"
    start=$(date +%s)
    # --no-compile: bytecode is written on first import instead, only for what mlci imports.
    local pip_args=(install --disable-pip-version-check --no-input --quiet --no-compile "$spec")
    # pip >= 22.3 can install into another interpreter (--python): a venv without its own pip
    # skips ensurepip (~5 s). The caller's environment is only read, never written.
    if "$python_path" -c 'import sys, pip; sys.exit(tuple(map(int, pip.__version__.split(".")[:2])) < (22, 3))' >/dev/null 2>&1; then
        "$python_path" -m venv --without-pip "$build" >&2 \
            || fail 2 "'$python_in' cannot create a venv (on Debian/Ubuntu: apt-get install python3-venv)"
        "$python_path" -m pip --python "$build/bin/python" "${pip_args[@]}" >&2
    else
        "$python_path" -m venv "$build" >&2 \
            || fail 2 "'$python_in' cannot create a venv (on Debian/Ubuntu: apt-get install python3-venv)"
        "$build/bin/python" -m pip "${pip_args[@]}" >&2
    fi
    # A venv finds its prefix from where its python lives, so it survives the rename; only
    # the scripts pip wrote name the build path (in their #! line): point them at the venv.
    local script
    while IFS= read -r script; do
        [[ -f "$script" && ! -L "$script" ]] || continue
        sed -i.bak "s|$build/|$venv/|g" "$script" && rm -f -- "$script.bak"
    done < <(grep -Il -- "$build/" "$build"/bin/* 2>/dev/null || true)
    # Only `mlci` is exposed on PATH: the venv's python/pip must not shadow the caller's.
    mkdir -p "$build/mlci-bin"
    ln -sfn "$venv/bin/mlci" "$build/mlci-bin/mlci"
    printf 'mlci=%s source=%s python=%s extras=%s\n' "$version" "$source_hash" "$python_path" \
        "$extras_csv" >"$build/.mlci-stamp"
    # The rename is the commit: atomic, and it fails when the venv exists already (another
    # job finished the same build first; its venv is as good as ours and may be in use).
    if "$python_path" -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$build" "$venv" 2>/dev/null; then
        build=""
        say "installed in $(( $(date +%s) - start ))s"
    else
        say "another job installed $venv first; using it"
        cleanup; build=""
    fi
}

installed=""
if [[ -x "$exposed/mlci" ]] && installed="$("$exposed/mlci" --version 2>/dev/null)"; then
    say "reusing cached venv $venv (mlci $version, Python $py_version, source $source_hash)"
else
    if [[ -e "$venv" ]]; then
        # Broken (e.g. its interpreter was removed): set aside, never deleted, since a job
        # may still have it open; clearing the tool cache reclaims it.
        aside="$(mktemp -u "$cache_dir/.broken-XXXXXXXX")"
        say "cached venv $venv does not run; moving it to $aside"
        mv -- "$venv" "$aside" 2>/dev/null || true
    fi
    install_venv
fi
if [[ -z "$installed" ]]; then
    installed="$("$exposed/mlci" --version 2>&1)" || fail 1 "the installed mlci does not run: $installed"
fi
installed="${installed##* }"
say "mlci $installed ready: $exposed/mlci"

[[ -z "${GITHUB_PATH:-}" ]] || printf '%s\n' "$exposed" >>"$GITHUB_PATH"
[[ -z "${GITHUB_OUTPUT:-}" ]] || printf 'version=%s\n' "$installed" >>"$GITHUB_OUTPUT"
printf '%s\n' "$exposed"

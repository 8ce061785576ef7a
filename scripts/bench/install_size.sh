#!/usr/bin/env bash
# Benchmark: installed size of mlci's runtime dependency set vs `pip install mlflow`.
#
#   scripts/bench/install_size.sh [--keep]
#
# Each set goes into a fresh venv (python3 -m venv, default pip install: bytecode compiled,
# pip's download cache allowed). Its size is `du` of site-packages minus the same for a bare
# venv (pip alone), so both figures count only what the install added. Prints a Markdown
# table; the work dir is $MLCI_BENCH_DIR (default .bench/install-size), removed unless --keep.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${PYTHON:-python3}"
work="${MLCI_BENCH_DIR:-$root/.bench/install-size}"
keep=0
[[ "${1:-}" == --keep ]] && keep=1

rm -rf "$work"
mkdir -p "$work"

site_kb() {  # site_kb VENV -> KiB of its site-packages
    local sp
    sp="$("$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    du -sk "$sp" | cut -f1
}
count_dists() {
    "$1/bin/python" -c 'import importlib.metadata as m; print(len({d.metadata["Name"].lower() for d in m.distributions()}))'
}
make_venv() {  # make_venv NAME [pip install args...] -> prints "seconds"
    local venv="$work/$1"; shift
    "$python" -m venv "$venv"
    local start end
    start=$(date +%s.%N)
    if (($#)); then
        "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet "$@" >&2
    fi
    end=$(date +%s.%N)
    echo "$start $end" | awk '{printf "%.1f", $2 - $1}'
}

make_venv bare >/dev/null
bare_kb=$(site_kb "$work/bare")
bare_n=$(count_dists "$work/bare")

t_mlci=$(make_venv mlci "$root")
mlci_kb=$(( $(site_kb "$work/mlci") - bare_kb ))
mlci_n=$(( $(count_dists "$work/mlci") - bare_n ))

t_mlflow=$(make_venv mlflow mlflow)
mlflow_kb=$(( $(site_kb "$work/mlflow") - bare_kb ))
mlflow_n=$(( $(count_dists "$work/mlflow") - bare_n ))
mlflow_version="$("$work/mlflow/bin/python" -c 'import importlib.metadata as m; print(m.version("mlflow"))')"

mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
echo "| install (fresh venv, $("$python" --version 2>&1)) | added MB | distributions | pip time (s, warm pip cache) |"
echo "|---|---:|---:|---:|"
echo "| mlci $(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$root/src/mlci/__init__.py") runtime set (\`pip install .\`) | $(mb "$mlci_kb") | $mlci_n | $t_mlci |"
echo "| mlflow $mlflow_version (\`pip install mlflow\`) | $(mb "$mlflow_kb") | $mlflow_n | $t_mlflow |"
awk -v a="$mlci_kb" -v b="$mlflow_kb" 'BEGIN { printf "\nmlci runtime set = %.1f%% of full mlflow\n", 100 * a / b }'

((keep)) || rm -rf "$work"

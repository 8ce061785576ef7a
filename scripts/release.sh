#!/usr/bin/env bash
# The release workflow's steps (.github/workflows/release.yml), one subcommand each, so the
# YAML holds no logic and each step can be run (and tested) on a laptop:
#
#   scripts/release.sh build           sdist + wheel into dist/ (once; later steps reuse them)
#   scripts/release.sh check           twine check; the wheel installs in a fresh venv and
#                                      `mlci --version` is the package's and the tag's version
#                                      ($MLCI_RELEASE_TAG, e.g. v1.2.3; optional); writes
#                                      version=<x> to $GITHUB_OUTPUT
#   scripts/release.sh image           builds docker/Containerfile from dist/ and pushes it to
#                                      $MLCI_IMAGE_REPO as <x.y.z>, <x.y>, <x>; writes digest=
#   scripts/release.sh publish-notes   GitHub release with the CHANGELOG section and the image
#                                      digest; moves the v<major> tag to this commit
#
# The version has one source: __version__ in src/mlci/__init__.py (pyproject.toml reads it).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
say() { printf 'release: %s\n' "$*" >&2; }
fail() { printf 'release: error: %s\n' "$*" >&2; exit 2; }

version() {
    sed -n 's/^__version__[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' src/mlci/__init__.py
}

tools_venv() {   # a venv with build and twine, never the caller's Python
    local venv="${MLCI_RELEASE_VENV:-$root/.release-venv}"
    if [[ ! -x "$venv/bin/twine" ]]; then
        python3 -m venv "$venv" >&2
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check build twine >&2
    fi
    printf '%s\n' "$venv"
}

cmd_build() {
    local venv
    venv="$(tools_venv)"
    rm -rf dist
    "$venv/bin/python" -m build --outdir dist . >&2
    ls -l dist >&2
}

cmd_check() {
    local venv want tag got probe
    venv="$(tools_venv)"
    want="$(version)"
    [[ -n "$want" ]] || fail "cannot read __version__ from src/mlci/__init__.py"
    shopt -s nullglob
    local wheels=(dist/mlci-"$want"-*.whl) sdists=(dist/mlci-"$want".tar.gz)
    ((${#wheels[@]} == 1 && ${#sdists[@]} == 1)) \
        || fail "expected one wheel and one sdist of mlci $want in dist/ (run: $0 build)"
    "$venv/bin/twine" check --strict dist/* >&2
    tag="${MLCI_RELEASE_TAG:-}"
    if [[ -n "$tag" && "$tag" != "v$want" ]]; then
        fail "tag '$tag' does not match the package version $want (src/mlci/__init__.py)"
    fi
    [[ -n "$(changelog_section "$want")" ]] \
        || fail "CHANGELOG.md has no section '## [$want]': a release needs its notes"
    probe="$(mktemp -d)"
    python3 -m venv "$probe/venv" >&2
    "$probe/venv/bin/python" -m pip install --quiet --disable-pip-version-check "${wheels[0]}" >&2
    got="$("$probe/venv/bin/mlci" --version)"
    rm -rf "$probe"
    [[ "$got" == "mlci $want" ]] || fail "the installed wheel says '$got', expected 'mlci $want'"
    say "dist/ holds mlci $want: twine check passed, the wheel installs and says '$got'"
    [[ -z "${GITHUB_OUTPUT:-}" ]] || printf 'version=%s\n' "$want" >>"$GITHUB_OUTPUT"
}

cmd_image() {
    local v="${MLCI_RELEASE_VERSION:-$(version)}" repo="${MLCI_IMAGE_REPO:?set MLCI_IMAGE_REPO}"
    local engine="${MLCI_ENGINE:-podman}" digestfile
    "$engine" build -f docker/Containerfile --build-arg VERSION="$v" \
        --build-arg REVISION="${GITHUB_SHA:-$(git rev-parse HEAD)}" \
        --build-arg SOURCE="${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-}" \
        -t "$repo:$v" . >&2
    if [[ -n "${MLCI_REGISTRY_TOKEN:-}" ]]; then
        printf '%s' "$MLCI_REGISTRY_TOKEN" | "$engine" login "${repo%%/*}" \
            --username "${MLCI_REGISTRY_USER:?}" --password-stdin >&2
    fi
    digestfile="$(mktemp)"
    "$engine" push --digestfile "$digestfile" "$repo:$v" >&2
    for tag in "${v%.*}" "${v%%.*}"; do
        "$engine" tag "$repo:$v" "$repo:$tag"
        "$engine" push "$repo:$tag" >&2
    done
    say "pushed $repo:$v@$(cat "$digestfile")"
    [[ -z "${GITHUB_OUTPUT:-}" ]] || printf 'digest=%s\n' "$(cat "$digestfile")" >>"$GITHUB_OUTPUT"
}

changelog_section() {   # the body of "## [x.y.z]" in CHANGELOG.md
    awk -v v="$1" '
        /^## \[/ { inside = (index($0, "## [" v "]") == 1); next }
        inside { print }' CHANGELOG.md
}

cmd_publish_notes() {
    local v="${MLCI_RELEASE_VERSION:?}" notes major sha
    notes="$(mktemp)"
    changelog_section "$v" >"$notes"
    [[ -s "$notes" ]] || fail "CHANGELOG.md has no section '## [$v]'"
    if [[ -n "${MLCI_IMAGE_DIGEST:-}" ]]; then
        printf '\n### Container image\n\n`%s@%s`\n' "${MLCI_IMAGE_REPO:?}" "$MLCI_IMAGE_DIGEST" \
            >>"$notes"
    fi
    gh release create "v$v" --title "mlci $v" --notes-file "$notes" --verify-tag
    major="v${v%%.*}"
    sha="${GITHUB_SHA:-$(git rev-parse HEAD)}"
    # The major tag moves through the API: no token in a git remote URL, nothing to leak.
    if gh api "repos/$GITHUB_REPOSITORY/git/refs/tags/$major" >/dev/null 2>&1; then
        gh api -X PATCH "repos/$GITHUB_REPOSITORY/git/refs/tags/$major" -f sha="$sha" \
            -F force=true >/dev/null
    else
        gh api -X POST "repos/$GITHUB_REPOSITORY/git/refs" -f ref="refs/tags/$major" \
            -f sha="$sha" >/dev/null
    fi
    say "release v$v created; $major now points to $sha"
}

case "${1:-}" in
    build) cmd_build ;;
    check) cmd_check ;;
    image) cmd_image ;;
    publish-notes) cmd_publish_notes ;;
    *) fail "usage: $0 build|check|image|publish-notes" ;;
esac

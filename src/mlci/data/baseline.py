"""Baselines for `mlci data-change --against`:

- `FILE`: a manifest written by `--write` (e.g. committed to the repository);
- `git:REF[:PATH]`: the manifest file as committed at REF (`git show REF:./PATH`, PATH
  relative to the project root); without PATH, the `--write` file (relative to the working
  directory, as `--write` is);
- `models:/NAME@ALIAS` or `models:/NAME/VERSION`: the data a registered model version was
  trained on — the model version's (else its run's) tag `mlci.data_fingerprint`, and the
  run's artifact `mlci/data-manifest.json` for the file-level difference.

No baseline yet (no such alias, the manifest not yet committed at REF) is reported, not an
error: the data counts as changed, so a first model gets trained. An unreachable registry,
a bad ref or an unreadable file is an error (exit 2).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.data import FINGERPRINT_TAG, MANIFEST_ARTIFACT
from mlci.data.manifest import Manifest
from mlci.errors import InputError

_MODELS = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))$")


@dataclass
class Baseline:
    ref: str
    fingerprint: str | None = None
    origin: str = ""
    note: str | None = None          # why there is no (full) baseline
    _raw: Any = field(default=None, repr=False)
    _text: str | None = field(default=None, repr=False)
    _manifest: Manifest | None = field(default=None, repr=False)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def manifest(self) -> Manifest | None:
        """Parsed (and checked against its recorded fingerprint) only when needed."""
        if self._manifest is None and self._raw is None and self._text is not None:
            self._raw = _parse(self._text, self.origin)
        if self._manifest is None and self._raw is not None:
            self._manifest = Manifest.from_json(self._raw, origin=self.origin)
        return self._manifest


# A manifest written by mlci starts {"version": 1, "fingerprint": "sha256:..."; reading
# that much decides "unchanged" without parsing 100,000 entries.
_HEAD = re.compile(r'^\{\s*"version":\s*1,\s*"fingerprint":\s*"(sha256:[0-9a-f]{64})"')


def _parse(text: str, origin: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", file=origin, line=exc.lineno) from None


def _from_text(ref: str, text: str, origin: str) -> Baseline:
    head = _HEAD.match(text[:256])
    if head:  # the entries are parsed (and checked) only if a difference is to be listed
        return Baseline(ref, fingerprint=head.group(1), origin=origin, _text=text)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", file=origin, line=exc.lineno) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("entries"), list):
        raise InputError("not an mlci data manifest: expected a JSON object with an "
                         "'entries' list", file=origin)
    fp = raw.get("fingerprint")
    baseline = Baseline(ref, origin=origin, _raw=raw)
    baseline.fingerprint = fp if isinstance(fp, str) else baseline.manifest.fingerprint  # type: ignore[union-attr]
    return baseline


def from_file(ref: str, root: Path) -> Baseline:
    path = Path(ref) if os.path.isabs(ref) else Path.cwd() / ref
    shown = os.path.relpath(path) if os.path.isabs(ref) else ref
    if path.exists() and not path.is_file():   # a FIFO would block the read forever
        raise InputError("the baseline manifest is not a regular file", file=shown,
                         key="--against")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("baseline manifest not found (write one with "
                         "`mlci data-change --write FILE`, or use --against git:REF / "
                         "models:/NAME@ALIAS)", file=shown, key="--against") from None
    except OSError as exc:
        raise InputError(f"cannot read baseline manifest: {exc.strerror}", file=shown,
                         key="--against") from None
    except UnicodeDecodeError:
        raise InputError("not an mlci data manifest: the file is not UTF-8 text (binary?)",
                         file=shown, key="--against") from None
    return _from_text(ref, text, shown)


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, timeout=120,
                              check=False)
    except FileNotFoundError:
        raise InputError("--against git:REF needs git on PATH", key="--against") from None


def from_git(ref: str, root: Path, write_path: str | None) -> Baseline:
    spec = ref[len("git:"):]
    rev, _, path = spec.partition(":")
    if not rev:
        raise InputError(f"expected git:REF[:PATH], got {ref!r}", key="--against")
    if not path:
        if not write_path:
            raise InputError(f"{ref} names no manifest and there is no --write file to "
                             "default to: give git:REF:PATH (relative to the project root) "
                             "or --write PATH", key="--against")
        # --write is relative to the working directory: the same file, wherever mlci runs.
        path = os.path.abspath(write_path)
    if os.path.isabs(path):
        path = os.path.relpath(path, root)
    path = path.replace(os.sep, "/")
    check = _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if check.returncode != 0:
        raise InputError(
            f"git ref {rev!r} not found in {root} (a shallow CI checkout may lack it: fetch "
            "it, e.g. actions/checkout with fetch-depth: 0, or GIT_DEPTH: 0 on GitLab)",
            key="--against")
    show = _git(root, "show", f"{rev}:./{path}")
    if show.returncode != 0:
        return Baseline(ref, origin=f"{rev}:{path}",
                        note=f"{path} is not committed at {rev}: no baseline yet")
    return _from_text(ref, show.stdout.decode("utf-8"), f"{rev}:{path}")


def from_model(ref: str, uri: str | None) -> Baseline:
    from mlci.registry.client import NotFound, Registry

    match = _MODELS.match(ref)
    if not match:
        raise InputError(f"expected models:/NAME@ALIAS or models:/NAME/VERSION, got {ref!r}",
                         key="--against")
    name, alias, version = match["name"], match["alias"], match["version"]
    registry = Registry(uri)
    try:
        mv = (registry.call("get_model_version_by_alias", name, alias) if alias
              else registry.call("get_model_version", name, version))
    except NotFound:
        return Baseline(ref, origin=ref, note=f"{ref} does not exist yet: no baseline")
    origin = f"{ref} (version {mv.version}, run {mv.run_id})"
    details = {"model": name, "version": str(mv.version), "run_id": mv.run_id}
    fingerprint = (mv.tags or {}).get(FINGERPRINT_TAG)
    text = None
    if mv.run_id:
        if not fingerprint:
            try:
                fingerprint = registry.call("get_run", mv.run_id).data.tags.get(FINGERPRINT_TAG)
            except NotFound:
                fingerprint = None
        text = registry.artifact_text(mv.run_id, MANIFEST_ARTIFACT)
    if text is not None:
        baseline = _from_text(ref, text, origin + f" artifact {MANIFEST_ARTIFACT}")
        if fingerprint and fingerprint != baseline.fingerprint:
            raise InputError(f"tag {FINGERPRINT_TAG}={fingerprint} disagrees with the "
                             f"recorded manifest's {baseline.fingerprint}", file=origin)
        baseline.details = details
        return baseline
    if fingerprint:
        return Baseline(ref, fingerprint=fingerprint, origin=origin, details=details,
                        note=f"no {MANIFEST_ARTIFACT} on run {mv.run_id}: fingerprints "
                        "compared, no file-level difference")
    return Baseline(ref, origin=origin, details=details,
                    note=f"version {mv.version} has no recorded data fingerprint "
                    f"(tag {FINGERPRINT_TAG}): treated as changed")


def resolve(ref: str, *, root: Path, write_path: str | None, uri: str | None) -> Baseline:
    if ref.startswith("models:/"):
        return from_model(ref, uri or os.environ.get("MLFLOW_TRACKING_URI"))
    if ref.startswith("git:"):
        return from_git(ref, root, write_path)
    return from_file(ref, root)

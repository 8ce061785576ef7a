"""DVC-tracked data, read from the hashes DVC recorded (`.dvc` files, `dvc.lock`): no DVC
installation, no download.

Each output is one manifest entry (its path relative to the project root, its size, and
`md5:<hash>` — `md5-dos2unix:` for files written by DVC 2, whose md5 of text files
normalizes line ends). A directory output's hash is DVC's `<md5>.dir` and its entry carries
`nfiles`; when the `.dir` listing is in the local DVC cache, the entry also carries the
per-file hashes (not part of the fingerprint, which must not depend on whether a cache is
present) so a change can be reported file by file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from mlci.data.manifest import Entry, normalize_path
from mlci.errors import InputError

PRUNE = {".git", ".dvc", "node_modules", ".venv", "venv", "__pycache__", ".tox"}


def find_dvc_files(root: Path) -> list[Path]:
    """`.dvc` files and `dvc.lock` files under root: git's list when root is in a work
    tree (tracked and untracked-but-not-ignored), else a walk."""
    try:
        proc = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
             "*.dvc", "dvc.lock", "**/dvc.lock"],
            cwd=root, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        proc = None
    if proc is not None and proc.returncode == 0:
        names = sorted({n for n in proc.stdout.decode().split("\0") if n})
        return [root / n for n in names if (root / n).is_file()]
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in PRUNE)
        for name in sorted(filenames):
            if name.endswith(".dvc") or name == "dvc.lock":
                found.append(Path(dirpath) / name)
    return found


def _cache_dirs(root: Path) -> list[Path]:
    dirs = []
    for config in (root / ".dvc" / "config.local", root / ".dvc" / "config"):
        try:
            text = config.read_text(encoding="utf-8")
        except OSError:
            continue
        section = None
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("["):
                section = line.strip("[]").strip().strip("'\"")
            elif section == "cache" and (m := re.match(r"dir\s*=\s*(.+)", line)):
                value = Path(m.group(1).strip())
                dirs.append(value if value.is_absolute() else (config.parent / value))
    dirs.append(root / ".dvc" / "cache")
    return dirs


def _read_dir_listing(root: Path, md5: str, legacy: bool) -> dict[str, str] | None:
    digest = md5[: -len(".dir")]
    for cache in _cache_dirs(root):
        for base in ((cache,) if legacy else (cache / "files" / "md5", cache)):
            candidate = base / digest[:2] / (digest[2:] + ".dir")
            try:
                items = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(items, list):
                return {normalize_path(str(i["relpath"])): str(i["md5"])
                        for i in items if isinstance(i, dict) and "relpath" in i and "md5" in i}
    return None


def _entry(root: Path, base: Path, out: Any, origin: str, key: str) -> Entry:
    if not isinstance(out, dict) or not isinstance(out.get("path"), str):
        raise InputError("expected an output with a 'path'", file=origin, key=key)
    legacy = out.get("hash") != "md5"
    digest: str | None = None
    for field, prefix in (("md5", "md5-dos2unix:" if legacy else "md5:"), ("etag", "etag:"),
                          ("checksum", "checksum:")):
        if out.get(field):
            digest, algo = str(out[field]), prefix
            break
    if digest is None:
        raise InputError(f"output {out['path']!r} has no recorded hash (md5); run `dvc commit`",
                         file=origin, key=key)
    path = (base / out["path"]) if not os.path.isabs(out["path"]) else Path(out["path"])
    rel = os.path.relpath(os.path.normpath(path), root)
    if rel == ".." or rel.startswith(".." + os.sep):
        raise InputError(f"output {out['path']!r} is outside the project root {root}",
                         file=origin, key=key)
    extra: dict[str, Any] = {"source": f"dvc:{os.path.relpath(origin, root)}"}
    if "nfiles" in out:
        extra["nfiles"] = out["nfiles"]
    if digest.endswith(".dir"):
        listing = _read_dir_listing(root, digest, legacy)
        if listing is not None:
            extra["dir"] = listing
    size = out.get("size")
    return Entry(normalize_path(rel), int(size) if isinstance(size, int) else 0,
                 algo + digest, extra)


def _load_yaml(path: Path, root: Path) -> Any:
    from mlci import yamlfile

    return yamlfile.load(yamlfile.read_text(path, what="DVC file"),
                         file=os.path.relpath(path, root))


def read_dvc_file(path: Path, root: Path) -> list[Entry]:
    shown = os.path.relpath(path, root)
    data = _load_yaml(path, root)
    if not isinstance(data, dict) or not isinstance(data.get("outs"), list):
        raise InputError("expected a .dvc file with an 'outs' list", file=shown, key="outs")
    return [_entry(root, path.parent, out, shown, f"outs[{i}]")
            for i, out in enumerate(data["outs"])]


def read_dvc_lock(path: Path, root: Path) -> list[Entry]:
    shown = os.path.relpath(path, root)
    data = _load_yaml(path, root)
    if not isinstance(data, dict) or not isinstance(data.get("stages"), dict):
        raise InputError("expected a dvc.lock with a 'stages' mapping (schema 2.0)",
                         file=shown, key="stages")
    # Paths in dvc.lock are relative to each stage's wdir, which only dvc.yaml records.
    wdirs: dict[str, str] = {}
    dvc_yaml = path.with_name("dvc.yaml")
    if dvc_yaml.is_file():
        spec = _load_yaml(dvc_yaml, root)
        for name, stage in ((spec or {}).get("stages") or {}).items():
            if isinstance(stage, dict) and isinstance(stage.get("wdir"), str):
                wdirs[str(name)] = stage["wdir"]
    entries = []
    for name, stage in data["stages"].items():
        if not isinstance(stage, dict):
            raise InputError("expected a mapping", file=shown, key=f"stages.{name}")
        wdir = wdirs.get(str(name).split("@")[0], ".")
        for i, out in enumerate(stage.get("outs") or []):
            entries.append(_entry(root, path.parent / wdir, out, shown,
                                  f"stages.{name}.outs[{i}]"))
    return entries


def dvc_entries(root: Path) -> list[Entry]:
    files = find_dvc_files(root)
    if not files:
        raise InputError(f"--dvc: no .dvc file or dvc.lock found under {root}", key="data.dvc")
    entries: list[Entry] = []
    for path in files:
        if path.name == "dvc.lock":
            entries.extend(read_dvc_lock(path, root))
        else:
            entries.extend(read_dvc_file(path, root))
    return entries

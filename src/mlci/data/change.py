"""Change detection for `mlci data-change`: which data, fingerprinted how, compared with
which baseline. The command (`mlci.commands.data_change`) parses flags and renders; this
module decides.

Options come from the flags over mlci.yml's `data:` section (`resolve`); the manifest is
built from local paths, DVC metadata and S3 listings (`build`); the report says whether it
changed since the baseline, and how (`compare`, `check`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from mlci.errors import InputError


def resolve(cfg: Any, *, paths: list[str] | None, dvc: bool | None, s3: list[str] | None,
            tracking_uri: str | None, against: str | None) -> dict[str, Any]:
    """The options of one check: flags (None: not given) over mlci.yml (`cfg`, or None)."""
    root = Path(cfg.base_dir) if cfg is not None else Path.cwd()
    data = cfg.data if cfg is not None else None
    # Paths from flags are relative to the working directory, those from mlci.yml to its
    # directory (the project root); manifest paths are relative to the root either way.
    if paths is not None:
        chosen = [p if os.path.isabs(p) or root == Path.cwd() else os.path.join(os.getcwd(), p)
                  for p in paths]
    else:
        chosen = list(data.paths if data else [])
    use_dvc = bool(dvc) if dvc is not None else bool(data and data.dvc)
    prefixes = s3 if s3 is not None else list(data.s3 if data else [])
    uri = tracking_uri or (cfg.registry.tracking_uri if cfg is not None else None) \
        or os.environ.get("MLFLOW_TRACKING_URI")
    if against is None and cfg is not None and cfg.model and uri:
        against = f"models:/{cfg.model}@{cfg.registry.alias}"
    elif against and not against.startswith(("models:/", "git:")):
        against = str(outside_cwd(against, root))
    if not (chosen or use_dvc or prefixes):
        raise InputError("no data to fingerprint: give --paths, --dvc or --s3, or set "
                         "data.paths / data.dvc / data.s3 in mlci.yml", key="data")
    return {"root": root, "paths": chosen, "dvc": use_dvc, "s3": prefixes, "uri": uri,
            "against": against, "shown_paths": paths if paths is not None else chosen}


def outside_cwd(path: str, root: Path) -> Path:
    """A path given on the command line: relative to the working directory."""
    del root  # flags are relative to where mlci runs, not to the project root
    return Path(path) if os.path.isabs(path) else Path.cwd() / path


def build(opts: dict[str, Any], *, write: str | None, cache: str | None,
          show_progress: bool = True) -> tuple[Any, dict[str, Any]]:
    from mlci.data.manifest import Manifest

    root: Path = opts["root"]
    entries = []
    stats: dict[str, Any] = {"hashed_files": 0, "hashed_bytes": 0, "cached_files": 0}
    sources: list[str] = []
    if opts["paths"]:
        from mlci.data.local import fingerprint_paths

        # The manifests being written and read are never part of the data they describe:
        # a baseline kept inside the watched paths must not read as "1 added" forever.
        exclude = [outside_cwd(write, root)] if write else []
        against = opts.get("against")
        if against and not str(against).startswith(("models:/", "git:")):
            exclude.append(outside_cwd(str(against), root))
        cache_dir = outside_cwd(cache, root) if cache else None
        if cache_dir is not None and cache_dir.exists() and not cache_dir.is_dir():
            raise InputError("expected a directory for the stat cache, got a file",
                             file=str(cache), key="--cache")
        result = fingerprint_paths(opts["paths"], root, cache_dir=cache_dir,
                                   exclude=exclude, show_progress=show_progress)
        stats.update(hashed_files=result.hashed_files, hashed_bytes=result.hashed_bytes,
                     cached_files=result.cached_files)
        if not (opts["dvc"] or opts["s3"]):
            # Local files only: the manifest as it is (perhaps deferred: entries unbuilt).
            result.manifest.sources = list(opts["shown_paths"])
            return result.manifest, stats
        entries.extend(result.entries)
        sources.extend(opts["shown_paths"])
    if opts["dvc"]:
        from mlci.data.dvc import dvc_entries

        entries.extend(dvc_entries(root))
        sources.append("dvc")
    if opts["s3"]:
        from mlci.data.s3 import s3_entries

        entries.extend(s3_entries(opts["s3"]))
        sources.extend(opts["s3"])
    return Manifest(entries, sources), stats


def compare(manifest: Any, baseline: Any) -> dict[str, Any]:
    from mlci.data.diff import diff

    report: dict[str, Any] = {"changed": True, "counts": None, "added": [], "removed": [],
                              "modified": [], "renamed": []}
    if baseline is None or baseline.fingerprint is None:
        return report
    report["changed"] = baseline.fingerprint != manifest.fingerprint
    if not report["changed"]:
        report["counts"] = {"added": 0, "removed": 0, "modified": 0, "renamed": 0}
        return report
    old = baseline.manifest
    if old is not None:
        difference = diff(old, manifest)
        report.update(difference.to_json())
        report["counts"] = difference.counts()
    return report


def check(opts: dict[str, Any], *, against_shown: str | None, write: str | None,
          cache: str | None, warn: Any = None) -> tuple[Any, Any, dict[str, Any]]:
    """Fingerprint, resolve the baseline, compare; write the manifest when asked.
    Returns (manifest, baseline or None, report)."""
    started = time.monotonic()
    manifest, stats = build(opts, write=write, cache=cache)
    base = None
    if opts["against"]:
        from mlci.data import baseline as baselines

        base = baselines.resolve(
            opts["against"], root=opts["root"], uri=opts["uri"],
            write_path=str(outside_cwd(write, opts["root"])) if write else None)
        base.ref = against_shown or base.ref
        if base.note and warn is not None:
            warn(f"data-change: {base.note}")
    report: dict[str, Any] = {"fingerprint": manifest.fingerprint, "files": manifest.files,
                              "bytes": manifest.total_size, "sources": manifest.sources}
    report.update(compare(manifest, base))
    report["baseline"] = None if base is None else {
        "ref": base.ref, "fingerprint": base.fingerprint, "origin": base.origin,
        "note": base.note, **base.details}
    if base is None:
        report["baseline_note"] = "no baseline given (--against): reported as changed"
    if write:
        manifest.write(outside_cwd(write, opts["root"]))
        report["manifest"] = str(write)
    report["hashed"] = {"files": stats["hashed_files"], "bytes": stats["hashed_bytes"],
                        "from_cache": stats["cached_files"]}
    report["seconds"] = round(time.monotonic() - started, 3)
    return manifest, base, report

"""`mlci data-change`: fingerprint the data and say whether it changed since a baseline.

Exit code: 0 whether or not the data changed (`changed` is an output, for `if:` / `rules:`
of later jobs); 2 for bad input (a path outside the root, an unreadable file, a bad
baseline) or an unreachable registry / object store. Nothing is skipped silently.

Outputs (GitHub step outputs; on GitLab the dotenv variables in brackets):
  changed, data-changed        [MLCI_CHANGED, MLCI_DATA_CHANGED]     "true" | "false"
  fingerprint, data-fingerprint [MLCI_FINGERPRINT, MLCI_DATA_FINGERPRINT]
  baseline-fingerprint         the baseline's fingerprint ("" when there is none)
  files                        entries in the manifest
  added, removed, modified, renamed   counts ("" when the baseline has no file list)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from mlci.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--paths", nargs="+", action="extend", metavar="GLOB", default=None,
        help="files, directories or globs (** recursive) relative to the project root "
        "(default: data.paths in mlci.yml)")
    parser.add_argument(
        "--dvc", action="store_true", default=None,
        help="include the outputs recorded in .dvc files and dvc.lock (no DVC needed)")
    parser.add_argument(
        "--s3", nargs="+", action="extend", metavar="URI", default=None,
        help="S3 prefixes s3://bucket/prefix (needs mlci[s3]); endpoint from "
        "$MLCI_S3_ENDPOINT_URL or $AWS_ENDPOINT_URL")
    parser.add_argument(
        "--against", metavar="REF", default=None,
        help="baseline: a manifest FILE, git:REF[:PATH], or models:/NAME@ALIAS "
        "(default: models:/<model>@<alias> when mlci.yml names a model and a registry)")
    parser.add_argument("--write", metavar="FILE", default=None,
                        help="write the manifest (path, size, hash per entry) to FILE")
    parser.add_argument("--cache", metavar="DIR", default=None,
                        help="stat cache directory (e.g. a CI cache): unchanged files are "
                        "not read again")


def _config(args: argparse.Namespace) -> Any:
    """mlci.yml with its overrides; None (all defaults) when there is neither a config file
    nor a `MLCI_MODEL` / `MLCI_REGISTRY__*` / `MLCI_DATA__*` variable, which keeps a check
    driven by flags alone free of the config model's import cost (pydantic: 0.1-0.3 s)."""
    from mlci.config import load_config
    from mlci.config.load import env_overrides, find_config

    overrides = env_overrides(os.environ, {"model", "registry", "data"})
    overrides.pop("registry.tracking_uri", None)  # read directly below
    if find_config(args.config, os.environ) is None and not overrides:
        return None
    return load_config(args)


def _resolve(args: argparse.Namespace) -> dict[str, Any]:
    cfg = _config(args)
    root = Path(cfg.base_dir) if cfg is not None else Path.cwd()
    data = cfg.data if cfg is not None else None
    # Paths from flags are relative to the working directory, those from mlci.yml to its
    # directory (the project root); manifest paths are relative to the root either way.
    if args.paths is not None:
        paths = [p if os.path.isabs(p) or root == Path.cwd() else os.path.join(os.getcwd(), p)
                 for p in args.paths]
    else:
        paths = list(data.paths if data else [])
    dvc = bool(args.dvc) if args.dvc is not None else bool(data and data.dvc)
    s3 = args.s3 if args.s3 is not None else list(data.s3 if data else [])
    uri = args.tracking_uri or (cfg.registry.tracking_uri if cfg is not None else None) \
        or os.environ.get("MLFLOW_TRACKING_URI")
    against = args.against
    if against is None and cfg is not None and cfg.model and uri:
        against = f"models:/{cfg.model}@{cfg.registry.alias}"
    elif against and not against.startswith(("models:/", "git:")):
        against = str(_outside_cwd(against, root))
    if not (paths or dvc or s3):
        raise InputError("no data to fingerprint: give --paths, --dvc or --s3, or set "
                         "data.paths / data.dvc / data.s3 in mlci.yml", key="data")
    return {"root": root, "paths": paths, "dvc": dvc, "s3": s3, "uri": uri, "against": against,
            "shown_paths": args.paths if args.paths is not None else paths}


def _outside_cwd(path: str, root: Path) -> Path:
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

        exclude = [_outside_cwd(write, root)] if write else []
        result = fingerprint_paths(opts["paths"], root,
                                   cache_dir=_outside_cwd(cache, root) if cache else None,
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


def _summary(report: dict[str, Any]) -> str:
    counts = report["counts"]
    head = "changed" if report["changed"] else "unchanged"
    lines = [f"### mlci data-change: data {head}", "",
             f"- fingerprint: `{report['fingerprint']}`",
             f"- entries: {report['files']:,} ({report['bytes'] / 1e6:,.1f} MB)"]
    base = report["baseline"]
    if base:
        shown = f" `{base['fingerprint']}`" if base["fingerprint"] else ""
        lines.append(f"- baseline: `{base['ref']}`{shown}")
        if base.get("note"):
            lines.append(f"- note: {base['note']}")
    if counts:
        lines.append("- " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    for kind in ("added", "removed"):
        items = report[kind]
        if items:
            lines.append(f"\n<details><summary>{kind} ({len(items)})</summary>\n")
            lines.extend(f"- `{p}`" for p in items[:200])
            if len(items) > 200:
                lines.append(f"- ... and {len(items) - 200} more (see the JSON report)")
            lines.append("\n</details>")
    if report["modified"]:
        lines.append(f"\n<details><summary>modified ({len(report['modified'])})</summary>\n")
        lines.extend(f"- `{m['path']}`" for m in report["modified"][:200])
        lines.append("\n</details>")
    if report["renamed"]:
        lines.append(f"\n<details><summary>renamed ({len(report['renamed'])})</summary>\n")
        lines.extend(f"- `{r['from']}` → `{r['to']}`" for r in report["renamed"][:200])
        lines.append("\n</details>")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from mlci import ci

    started = time.monotonic()
    opts = _resolve(args)
    platform = ci.current()
    manifest, stats = build(opts, write=args.write, cache=args.cache)
    base = None
    if opts["against"]:
        from mlci.data import baseline as baselines

        base = baselines.resolve(
            opts["against"], root=opts["root"], uri=opts["uri"],
            write_path=str(_outside_cwd(args.write, opts["root"])) if args.write else None)
        base.ref = args.against or base.ref
        if base.note:
            platform.warning(f"data-change: {base.note}")
    report: dict[str, Any] = {"fingerprint": manifest.fingerprint, "files": manifest.files,
                              "bytes": manifest.total_size, "sources": manifest.sources}
    report.update(compare(manifest, base))
    report["baseline"] = None if base is None else {
        "ref": base.ref, "fingerprint": base.fingerprint, "origin": base.origin,
        "note": base.note, **base.details}
    if base is None:
        report["baseline_note"] = "no baseline given (--against): reported as changed"
    if args.write:
        target = _outside_cwd(args.write, opts["root"])
        manifest.write(target)
        report["manifest"] = str(args.write)
    report["hashed"] = {"files": stats["hashed_files"], "bytes": stats["hashed_bytes"],
                        "from_cache": stats["cached_files"]}
    report["seconds"] = round(time.monotonic() - started, 3)
    counts = report["counts"]
    changed = "true" if report["changed"] else "false"
    outputs = {"changed": changed, "data-changed": changed,
               "fingerprint": manifest.fingerprint, "data-fingerprint": manifest.fingerprint,
               "baseline-fingerprint": (base.fingerprint or "") if base else "",
               "files": str(manifest.files)}
    for kind in ("added", "removed", "modified", "renamed"):
        outputs[kind] = str(counts[kind]) if counts else ""
    platform.set_outputs(outputs)
    platform.summary(_summary(report))
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        state = "changed" if report["changed"] else "unchanged"
        detail = (", ".join(f"{v} {k}" for k, v in counts.items()) if counts and
                  report["changed"] else "")
        print(f"data {state}: {manifest.fingerprint} ({manifest.files:,} entries"
              + (f"; {detail}" if detail else "") + ")")
        for kind, mark in (("added", "+"), ("removed", "-")):
            for path in report[kind][:50]:
                print(f"  {mark} {path}")
        for item in report["modified"][:50]:
            print(f"  M {item['path']}")
        for item in report["renamed"][:50]:
            print(f"  R {item['from']} -> {item['to']}")
    return 0

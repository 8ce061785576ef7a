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
from typing import Any


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


def _summary(report: dict[str, Any]) -> str:
    from mlci.escape import md_code, md_text

    counts = report["counts"]
    head = "changed" if report["changed"] else "unchanged"
    lines = [f"### mlci data-change: data {head}", "",
             f"- fingerprint: `{report['fingerprint']}`",
             f"- entries: {report['files']:,} ({report['bytes'] / 1e6:,.1f} MB)"]
    base = report["baseline"]
    if base:
        shown = f" `{base['fingerprint']}`" if base["fingerprint"] else ""
        lines.append(f"- baseline: {md_code(base['ref'])}{shown}")
        if base.get("note"):
            lines.append(f"- note: {md_text(base['note'])}")
    if counts:
        lines.append("- " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    for kind in ("added", "removed"):
        items = report[kind]
        if items:
            lines.append(f"\n<details><summary>{kind} ({len(items)})</summary>\n")
            lines.extend(f"- {md_code(p)}" for p in items[:200])
            if len(items) > 200:
                lines.append(f"- ... and {len(items) - 200} more (see the JSON report)")
            lines.append("\n</details>")
    if report["modified"]:
        lines.append(f"\n<details><summary>modified ({len(report['modified'])})</summary>\n")
        lines.extend(f"- {md_code(m['path'])}" for m in report["modified"][:200])
        lines.append("\n</details>")
    if report["renamed"]:
        lines.append(f"\n<details><summary>renamed ({len(report['renamed'])})</summary>\n")
        lines.extend(f"- {md_code(r['from'])} → {md_code(r['to'])}"
                     for r in report["renamed"][:200])
        lines.append("\n</details>")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from mlci import ci
    from mlci.data.change import check, resolve

    opts = resolve(_config(args), paths=args.paths, dvc=args.dvc, s3=args.s3,
                   tracking_uri=args.tracking_uri, against=args.against)
    platform = ci.current()
    manifest, base, report = check(opts, against_shown=args.against, write=args.write,
                                   cache=args.cache, warn=platform.warning)
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
        entries = "entry" if manifest.files == 1 else "entries"
        print(f"data {state}: {manifest.fingerprint} ({manifest.files:,} {entries}"
              + (f"; {detail}" if detail else "") + ")")
        for kind, mark in (("added", "+"), ("removed", "-")):
            for path in report[kind][:50]:
                print(f"  {mark} {path}")
        for item in report["modified"][:50]:
            print(f"  M {item['path']}")
        for item in report["renamed"][:50]:
            print(f"  R {item['from']} -> {item['to']}")
    return 0

#!/usr/bin/env python3
"""Regenerate the input/output tables in README.md and docs/*.md from the actions and templates.

The action and template files are the one source of their inputs; the pages show them
between markers:

    <!-- generated from actions/gate/action.yml -->
    ...
    <!-- end generated -->

`python scripts/readme_tables.py` rewrites them; `--check` exits 1 when a page is stale
(a unit test runs it).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- generated from (?P<path>\S+) -->\n)(?P<body>.*?)"
                   r"(<!-- end generated -->)", re.DOTALL)


def _cell(value: Any) -> str:
    text = " ".join(str(value).split()) if value is not None else ""
    return text.replace("|", "\\|")


def _code(value: Any) -> str:
    if value is None:
        return "(required)"
    if value is True or value is False:
        return f"`{str(value).lower()}`"
    return f"`{value}`" if str(value) != "" else '`""`'


def action_tables(doc: dict[str, Any]) -> str:
    lines = ["| input | default | description |", "|---|---|---|"]
    for name, spec in (doc.get("inputs") or {}).items():
        required = spec.get("required") and "default" not in spec
        default = None if required else spec.get("default", "")
        lines.append(f"| `{name}` | {_code(default)} | {_cell(spec.get('description'))} |")
    outputs = doc.get("outputs") or {}
    if outputs:
        lines += ["", "| output | description |", "|---|---|"]
        lines += [f"| `{name}` | {_cell(spec.get('description'))} |"
                  for name, spec in outputs.items()]
    return "\n".join(lines) + "\n"


def template_table(doc: dict[str, Any]) -> str:
    lines = ["| input | type | default | allowed | description |", "|---|---|---|---|---|"]
    for name, spec in doc["spec"]["inputs"].items():
        allowed = ", ".join(f"`{o}`" for o in spec.get("options", [])) or (
            f"`{spec['regex']}`".replace("|", "\\|") if spec.get("regex") else "")
        default = spec.get("default", None)
        lines.append(f"| `{name}` | {spec.get('type', 'string')} | {_code(default)} | {allowed} "
                     f"| {_cell(spec.get('description'))} |")
    return "\n".join(lines) + "\n"


def render(path: str) -> str:
    text = (ROOT / path).read_text(encoding="utf-8")
    if path.startswith("gitlab-templates/"):
        return template_table(next(yaml.safe_load_all(text)))
    return action_tables(yaml.safe_load(text))


def regenerate(readme: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + render(m.group("path")) + m.group(4), readme)


def pages() -> list[Path]:
    """Every page that may hold generated tables."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a page is stale")
    args = parser.parse_args()
    stale = []
    for page in pages():
        current = page.read_text(encoding="utf-8")
        fresh = regenerate(current)
        if fresh == current:
            continue
        stale.append(str(page.relative_to(ROOT)))
        if not args.check:
            page.write_text(fresh, encoding="utf-8")
    if args.check and stale:
        print(f"stale tables in {', '.join(stale)}: run python scripts/readme_tables.py",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

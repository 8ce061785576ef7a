"""The end of a pipeline run: the summary table, the Markdown report and the JSON document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlci.pipeline.stages import Stage

SCHEMA = "mlci.pipeline.run/v1"


def _numbers(stage: Stage) -> str:
    shown = []
    for key, value in stage.numbers.items():
        if value is None or key == "fingerprint":
            continue
        shown.append(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}")
    return ", ".join(shown[:5])


def table(stages: list[Stage]) -> str:
    """A plain-text table for the terminal."""
    rows = [("stage", "decision", "seconds", "key numbers")]
    rows += [(s.name, s.decision, f"{s.seconds:.1f}", _numbers(s)) for s in stages]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3]))
                     + "  " + row[3])
        if index == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 11)
    return "\n".join(lines)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(doc: dict[str, Any]) -> str:
    lines = [f"# mlci pipeline run: {doc['outcome']}", "",
             f"- model: `{doc['model']}`", f"- config: `{doc['config']}`",
             f"- tracking URI: `{doc['tracking_uri']}`",
             f"- started: {doc['started']}; {doc['seconds']:.1f} s", ""]
    if doc.get("next"):
        lines += [f"**Next:** {doc['next']}", ""]
    lines += ["| stage | decision | why | key numbers | seconds | reports |",
              "|---|---|---|---|---:|---|"]
    for entry in doc["stages"]:
        stage = Stage(entry["stage"], entry["decision"], entry["why"], entry["exit_code"],
                      entry["numbers"], entry["links"], entry["seconds"])
        links = ", ".join(f"[{name}]({_link(target, doc['report_dir'])})"
                          for name, target in stage.links.items()
                          if target and not target.startswith("runs:/"))
        runs = ", ".join(f"`{t}`" for t in stage.links.values() if t.startswith("runs:/"))
        lines.append(f"| {stage.name} | **{stage.decision}** | {_cell(stage.why)} | "
                     f"{_cell(_numbers(stage))} | {stage.seconds:.1f} | "
                     f"{', '.join(x for x in (links, runs) if x)} |")
    return "\n".join(lines) + "\n"


def _link(target: str, base: str) -> str:
    try:
        return str(Path(target).resolve().relative_to(Path(base).resolve()))
    except ValueError:
        return target


def write(doc: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    md, js = folder / "report.md", folder / "report.json"
    md.write_text(markdown(doc), encoding="utf-8")
    js.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    return md, js

"""Renderings of a gate result: Markdown, JSON, JUnit XML and OpenMetrics text.

All four render the same report (`mlci.gate.result.GateReport`, or its JSON object as
`engine.run_gate` returns it), so they never disagree. Metric names, slice
values, refs and messages come from users: each format escapes them its own way (Markdown
tables, the picture's code block, XML, OpenMetrics label values). Nothing here is random or dated,
so the same inputs give byte-identical reports.
"""

from __future__ import annotations

import html
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlci.gate import picture

if TYPE_CHECKING:
    from mlci.gate.result import GateReport

ICON = {"promote": "✅", "review": "⚠️", "reject": "❌"}
# The heavy minus is a deliberate emoji, like the other icons.
OUTCOME = {"pass": "✅ pass", "fail": "❌ fail", "review": "⚠️ review",
           "skip": "➖ skip",  # noqa: RUF001
           "not_gated": "➖ not gated"}  # noqa: RUF001
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>])")
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def md(value: Any) -> str:
    """Text safe inside a Markdown table cell: no HTML, no formatting, no cell breaks."""
    text = re.sub(r"[\r\n]+", " ", str(value))
    text = html.escape(text, quote=False)  # & < >
    return _MD_SPECIAL.sub(r"\\\1", text)


def num(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.5g}" if signed else f"{value:.5g}"


def _interval(value: list[float] | None) -> str:
    return "—" if not value else f"[{num(value[0], True)}, {num(value[1], True)}]"


def _rule_text(rule: dict[str, Any]) -> str:
    threshold = rule.get("threshold")
    check = rule["check"]
    return md(check if threshold is None else f"{check} {threshold}")


def _outcome_text(rule: dict[str, Any]) -> str:
    label = OUTCOME.get(rule["outcome"], rule["outcome"])
    if rule["outcome"] == "fail" and rule["severity"] == "warn":
        label = "⚠️ fail (warn)"
    return f"{label}: {md(rule['message'])}"


def _rule_table(rules: list[dict[str, Any]], with_slice: bool = False) -> list[str]:
    head = ["Metric", "Baseline", "Candidate", "Change", "Interval", "Rule", "Outcome"]
    if with_slice:
        head = ["Slice", "n", *head]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rules:
        cells = [md(r["metric"]), num(r["baseline"]), num(r["candidate"]),
                 num(r["change"], True), _interval(r["interval"]), _rule_text(r),
                 _outcome_text(r)]
        if with_slice:
            cells = [md(r["slice"] if r["slice"] is not None else "—"),
                     str(r["n"]) if r["n"] is not None else "—", *cells]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _side(side: dict[str, Any] | None) -> str:
    if side is None:
        return "none (first model)"
    parts = [md(side["ref"] or "predictions only")]
    if side.get("model_version"):
        parts.append(f"version {md(side['model_version'])}")
    if side.get("run_id"):
        parts.append(f"run {md(side['run_id'])}")
    if side.get("examples") is not None:
        parts.append(f"{side['examples']} examples")
    return ", ".join(parts)


def as_data(report: GateReport | Mapping[str, Any]) -> dict[str, Any]:
    """The JSON object of a report (the renderers read it, so they never disagree)."""
    from mlci.gate.result import GateReport

    return report.to_dict() if isinstance(report, GateReport) else dict(report)


def to_markdown(report: GateReport | Mapping[str, Any]) -> str:
    report = as_data(report)
    verdict = report["verdict"]
    lines = [f"## {ICON[verdict]} mlci gate: **{verdict}**", ""]
    lines += [f"- **Candidate:** {_side(report['candidate'])}",
              f"- **Baseline:** {_side(report['baseline'])}"]
    if report["significance"] and report["baseline"]:
        s = report["significance"]
        lines.append(f"- **Intervals:** paired, {s['confidence']:.0%} confidence, "
                     f"{s['resamples']} bootstrap resamples (seed {s['seed']}); DeLong for ROC AUC")
    lines += ["", "**Why:**", ""] + [f"- {md(r)}" for r in report["reasons"]] + [""]
    lines += picture.markdown(report)  # the forest plot, before the tables: what people look at
    rules = report["rules"]
    for section, title in (("primary", "Primary metric"), ("metrics", "Metrics")):
        chosen = [r for r in rules if r["section"] == section]
        if chosen:
            lines += [f"### {title}", "", *_rule_table(chosen), ""]
    if report["slices"]:
        s = report["slices"]
        lines += [f"### Slices by {md(s['column'])} (min {s['min_slice_size']} examples)", ""]
        lines += [*_rule_table([r for r in rules if r["section"] == "slices"], True), ""]
    if report["fairness"]:
        f = report["fairness"]
        summary = (f"Largest difference {num(f['difference'])}, min/max ratio "
                   f"{num(f['ratio'])}, {f['missing']} example(s) without a group.")
        lines += [f"### Fairness: {md(f['metric'])} across {md(f['column'])}", "", summary, ""]
        lines += [*_rule_table([r for r in rules if r["section"] == "fairness"]), ""]
        lines += ["| Group | n | Gated | Candidate | Baseline |", "|---|---|---|---|---|"]
        for g in f["groups"]:
            base = None if g["baseline"] is None else g["baseline"].get(f["metric"])
            lines.append(f"| {md(g['value'])} | {g['n']} | {'yes' if g['gated'] else 'no'} | "
                         f"{num(g['candidate'].get(f['metric']))} | {num(base)} |")
        lines.append("")
    if report["metrics"]:
        lines += ["### All metrics", "",
                  "| Metric | Baseline | Candidate | Change | Interval | Source |",
                  "|---|---|---|---|---|---|"]
        for m in report["metrics"]:
            iv = m["interval"]
            interval = _interval([iv["low"], iv["high"]]) if iv else "—"
            cand = num(m["candidate"]) if m["candidate"] is not None else \
                md(m["candidate_problem"] or "—")
            lines.append(f"| {md(m['name'])} | {num(m['baseline'])} | {cand} | "
                         f"{num(m['change'], True)} | {interval} | {md(m['source'] or '—')} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def to_json(report: GateReport | Mapping[str, Any]) -> str:
    return json.dumps(_finite(as_data(report)), indent=2, allow_nan=False,
                      ensure_ascii=False) + "\n"


def _xml(text: Any) -> str:
    return _XML_BAD.sub("\ufffd", str(text))


def to_junit(report: GateReport | Mapping[str, Any]) -> str:
    """One test case per rule: GitLab's MR test widget and GitHub test reporters show the gate."""
    report = as_data(report)
    rules = report["rules"]
    failures = sum(r["outcome"] in ("fail", "review") for r in rules)
    skipped = sum(r["outcome"] in ("skip", "not_gated") for r in rules)
    counts = {"tests": str(len(rules)), "failures": str(failures), "errors": "0",
              "skipped": str(skipped)}
    root = ET.Element("testsuites", {"name": "mlci gate", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": f"mlci gate: {report['verdict']}", **counts})
    for r in rules:
        case = ET.SubElement(suite, "testcase", classname=f"mlci.gate.{r['section']}",
                             name=_xml(r["id"]), time="0")
        detail = _xml(f"{r['message']} (candidate {num(r['candidate'])}, baseline "
                      f"{num(r['baseline'])}, change {num(r['change'], True)}, interval "
                      f"{_interval(r['interval'])}, rule {r['check']} {r['threshold']})")
        if r["outcome"] in ("fail", "review"):
            kind = "review" if r["outcome"] == "review" else r["severity"]
            ET.SubElement(case, "failure", message=_xml(r["message"]), type=kind).text = detail
        elif r["outcome"] in ("skip", "not_gated"):
            ET.SubElement(case, "skipped", message=_xml(r["message"]))
        else:
            ET.SubElement(case, "system-out").text = detail
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"


def _label(value: Any) -> str:
    return str(value).replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def to_openmetrics(report: GateReport | Mapping[str, Any]) -> str:
    """OpenMetrics text, for GitLab's `artifacts:reports:metrics`."""
    report = as_data(report)
    out = ["# TYPE mlci_gate_verdict gauge",
           "# HELP mlci_gate_verdict 1 for the verdict the gate gave"]
    for verdict in ("promote", "review", "reject"):
        out.append(f'mlci_gate_verdict{{verdict="{verdict}"}} '
                   f"{1 if report['verdict'] == verdict else 0}")
    out += ["# TYPE mlci_gate_metric gauge", "# HELP mlci_gate_metric metric values compared"]
    for m in report["metrics"]:
        for model in ("candidate", "baseline"):
            if m[model] is not None:
                out.append(f'mlci_gate_metric{{model="{model}",metric="{_label(m["name"])}"}} '
                           f"{m[model]!r}")
    out += ["# TYPE mlci_gate_rule gauge",
            "# HELP mlci_gate_rule 1 when the rule passed, 0 otherwise"]
    for r in report["rules"]:
        out.append(f'mlci_gate_rule{{rule="{_label(r["id"])}",outcome="{r["outcome"]}"}} '
                   f"{1 if r['outcome'] == 'pass' else 0}")
    out.append("# EOF")
    return "\n".join(out) + "\n"

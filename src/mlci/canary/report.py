"""What a person reads about a rollout: the terminal line, and the job summary (Markdown with
each window's checks and their numbers, and Mermaid charts that render on GitHub and GitLab
without image hosting).

The charts follow the gate picture's rules of honesty: both y axes start at zero and say their
unit; the x axis is the windows in order, each labelled with its end time since the start
(Mermaid's xychart spaces categories evenly, so the labels carry the real times); only windows
where the canary served requests are drawn in the error-rate chart (no invented zeros), the
canary's error rate as bars from zero and the stable model's as a line over them, so the
comparison is visible without a legend (xychart has none); a change of the split after the
last window (the rollback itself) is the weight chart's last point.
"""

from __future__ import annotations

import math
import time
from typing import Any

from mlci.canary.rollout import Rollout
from mlci.escape import md_text

MAX_POINTS = 60


def outcome_of(rollout: Rollout | None) -> str:
    if rollout is None:
        return "idle"
    if rollout.terminal:
        return rollout.phase
    return "waiting-approval" if rollout.phase == "waiting-approval" else "in-progress"


def status_line(model: str, r: Rollout | None) -> str:
    if r is None:
        return f"no rollout of {model} recorded in this state"
    since = time.time() - r.step_started_at
    base = (f"{model} version {r.version} (stable: {r.stable_version or 'none, first model'}): "
            f"{r.phase}, step {r.step + 1} at {r.weight:g}%")
    if r.terminal:
        return base + f" -- {r.reason}"
    return base + (f", {since:.0f}s in this step, {r.failures} failed window(s), "
                   f"{r.inconclusive_streak} inconclusive in a row, last window "
                   f"{r.last_status or 'none yet'}")


def _num(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{float(value):.{digits}g}"


def _elapsed(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _chart(r: Rollout) -> list[str]:
    windows = r.windows[-MAX_POINTS:]
    if not windows:
        return []
    points = [(_elapsed(w["end"] - r.started_at), float(w["weight"])) for w in windows]
    if r.weights and r.weights[-1]["t"] >= windows[-1]["end"] and \
            float(r.weights[-1]["to"]) != points[-1][1]:
        # the split changed after the last window (a rollback, a promotion): show where it is
        change = r.weights[-1]
        what = r.phase if r.terminal else "changed"
        points.append((f"{_elapsed(change['t'] - r.started_at)} {what}", float(change["to"])))
    labels = ", ".join(f'"{label}"' for label, _ in points)
    weights = ", ".join(f"{weight:g}" for _, weight in points)
    out = ["```mermaid", "xychart-beta", '    title "Canary weight per window (% of traffic)"',
           f"    x-axis \"window end (h:mm:ss since start)\" [{labels}]",
           '    y-axis "canary weight (%)" 0 --> 100', f"    line [{weights}]", "```"]
    judged = [w for w in windows if w.get("canary_requests")]
    if not judged:
        return out
    rates = []
    for w in judged:
        stable = next((c.get("stable") for c in w.get("checks", [])
                       if c.get("name") == "error_rate"), None)
        rates.append((w, 100 * float(w.get("canary_error_rate") or 0.0),
                      None if stable is None else 100 * float(stable)))
    top = max([c for _, c, _ in rates] + [s for _, _, s in rates if s is not None] + [0.1])
    labels = ", ".join(f'"{_elapsed(w["end"] - r.started_at)}"' for w, _, _ in rates)
    out += ["", "```mermaid", "xychart-beta",
            '    title "Error rate per window (%): canary (bars), stable (line)"',
            f"    x-axis \"window end (h:mm:ss since start)\" [{labels}]",
            f'    y-axis "error rate (%)" 0 --> {top * 1.1:.3g}',
            "    bar [" + ", ".join(f"{c:.4g}" for _, c, _ in rates) + "]"]
    if all(s is not None for _, _, s in rates):
        out.append("    line [" + ", ".join(f"{s:.4g}" for _, _, s in rates) + "]")
    out.append("```")
    return out


def markdown(model: str, outcome: str, message: str, r: Rollout | None) -> str:
    lines = [f"### mlci canary: {md_text(model)} — {outcome}", "", md_text(message), ""]
    if r is None:
        return "\n".join(lines)
    lines += ["| | |", "|---|---|",
              f"| candidate | version {md_text(r.version)} |",
              f"| stable | {md_text(r.stable_version or 'none (first model)')} |",
              f"| weight now | {r.weight:g}% |", f"| step | {r.step + 1} |",
              f"| failed windows | {r.failures} |"]
    if r.reason:
        lines.append(f"| why | {md_text(r.reason)} |")
    if r.approved_by:
        lines.append(f"| approved by | {md_text(r.approved_by)} |")
    lines += ["", *_chart(r), ""]
    if r.windows:
        lines += ["| window end | step | weight | verdict | canary req | stable req | checks |",
                  "|---|---|---|---|---|---|---|"]
        for w in r.windows[-MAX_POINTS:]:
            checks = "<br>".join(
                f"{md_text(c['name'])}: **{c['status']}**"
                + ("" if c.get("enforced", True) else " (not enforced)")
                + f" canary {_num(c.get('canary'))} stable {_num(c.get('stable'))}"
                + (f" p={_num(c.get('p_value'), 2)}" if c.get("p_value") is not None else "")
                + (f" ({md_text(c['limit'])})" if c.get("limit") else "")
                for c in w.get("checks", []))
            lines.append(f"| {_elapsed(w['end'] - r.started_at)} | {w['step']} | "
                         f"{float(w['weight']):g}% | {w['status']} | {w['canary_requests']} | "
                         f"{w['stable_requests']} | {checks or '—'} |")
    return "\n".join(lines)


def text(model: str, outcome: str, message: str, r: Rollout | None) -> str:
    lines = [f"{outcome}: {message}"]
    if r is not None and r.windows:
        w = r.windows[-1]
        lines.append(f"last window ({w['status']}, {w['canary_requests']} canary / "
                     f"{w['stable_requests']} stable requests):")
        for c in w.get("checks", []):
            lines.append(f"  {c['name']}: {c['status']}"
                         + ("" if c.get("enforced", True) else " (not enforced)")
                         + f"  canary {_num(c.get('canary'))}  stable {_num(c.get('stable'))}"
                         + (f"  p={_num(c.get('p_value'), 2)}" if c.get("p_value") is not None
                            else "") + (f"  [{c['limit']}]" if c.get("limit") else "")
                         + (f"  {c['reason']}" if c.get("reason") else ""))
    return "\n".join(lines)

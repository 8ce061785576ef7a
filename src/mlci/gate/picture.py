"""The gate report's picture: a fixed-width text forest plot in a fenced code block.

Why text and not a chart: Mermaid's chart types (xychart-beta bars and lines) can draw neither
a point with its own interval per row nor a per-row reference mark, and their bars start at
the axis minimum, not at zero. A code block renders the same in GitHub PR comments and job
summaries and in GitLab MR notes and job artifacts, with no image hosting and no JavaScript,
and shows user-supplied names literally (nothing inside a code block is Markdown or HTML).

How to read it (docs/gate-report.md says the same for users):

- one row per gated item: the primary metric and each metric with rules, each slice and
  metric, and in a second panel each fairness group; rows that failed come first, then those
  that went to review, then passes, then what was not gated;
- the axis is the change against the baseline as % of |baseline|, direction-normalised: an
  improvement always points right, whatever `greater_is_better` says (a fall of log_loss is
  drawn to the right). The fairness panel is each group's gap to the best group, in the
  metric's units, so every group is at or left of zero;
- `|` is zero, `o` the point estimate (`X` when the row failed or went to review), `---` its
  own confidence interval (`<` / `>` where it runs off the axis), `[` and `]` the band the
  rules allow (allowed regression, required improvement, min and max, all translated to the
  axis), so "outside the allowed band" is visible.

`panels(report)` adapts the report dict to `Panel`s of `Row`s; `render` draws only those.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

from mlci.escape import shown
from mlci.gate.picture_rows import Panel, Row, panels

__all__ = ["Panel", "Row", "markdown", "panels", "render"]

PLOT = 41          # columns of the plot area
LABEL_MAX = 28     # columns of the row label (longer labels are cut; the tables have them whole)
NOTE_MAX = 80      # columns of a row's note (a rule message can quote a long name)
MAX_ROWS = 30      # per panel: every failing/review row, then passes up to this many
RANK = {"fail": 3, "review": 2, "pass": 1, "none": 0}
STATUS = {"fail": "FAIL", "review": "REVIEW", "pass": "pass", "none": "-"}
HEADING = "### At a glance"
LEGEND = ("o point estimate (X: failed or review)  --- its confidence interval  | zero  "
          "[ ] what the rules allow")
_HIDDEN = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")  # controls, bidi/zero-width, unassigned


def markdown(report: dict[str, Any]) -> list[str]:
    """The picture section of the Markdown report ([] when there is nothing to draw)."""
    drawn = panels(report)
    if not any(p.rows for p in drawn):
        return []
    return render(report["verdict"], drawn)


def render(verdict: str, drawn: list[Panel]) -> list[str]:
    counts = {s: sum(r.status == s for p in drawn for r in p.rows) for s in RANK}
    body = [(f"verdict: {verdict} ({counts['fail']} failed, {counts['review']} to review, "
             f"{counts['pass']} passed, {counts['none']} not gated)"),
            LEGEND]
    for panel in drawn:
        if panel.rows:
            body += ["", *_panel(panel)]
    longest = max((len(run) for line in body for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)  # no backtick run in a name can close the block
    return [HEADING, "", fence + "text", *body, fence, ""]


def safe(text: str) -> str:
    """User text on one line with every control, bidi and zero-width character shown as an
    escape: it cannot end the line, reorder it, or hide in it."""
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in _HIDDEN else c
                   for c in shown(text))


def cell(text: str, width: int) -> str:
    """User text on one fixed-width cell: escapes shown, cut to `width` columns, padded."""
    out = safe(text)
    if sum(map(_width, out)) > width:
        cut, used = "", 0
        for char in out:
            if used + _width(char) > width - 2:
                break
            cut, used = cut + char, used + _width(char)
        out = cut + ".."
    return out + " " * (width - sum(map(_width, out)))


def _width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _fmt(value: float, percent: bool) -> str:
    return f"{value * 100:+.3g}%" if percent else f"{value:+.3g}"


class _Axis:
    """Maps values to plot columns: zero-anchored, the axis spans points and bands, and
    intervals widen it by at most its span (a wider whisker is cut and shown by an arrow)."""

    def __init__(self, rows: list[Row], percent: bool) -> None:
        core = [0.0] + [v for r in rows for v in (r.change, r.lower, r.upper) if v is not None]
        lo, hi = min(core), max(core)
        reach = max(hi - lo, 0.01 if percent else 1e-6)
        lows = [r.interval[0] for r in rows if r.interval]
        highs = [r.interval[1] for r in rows if r.interval]
        lo = max(min([lo, *lows]), lo - reach)
        hi = min(max([hi, *highs]), hi + reach)
        if hi - lo < reach:  # all zero: a symmetric axis
            lo, hi = lo - reach / 2, hi + reach / 2
        pad = (hi - lo) * 0.04  # room for a mark beyond the last point, on sides that have one
        self.lo, self.hi = (lo - pad if lo < 0 else lo), (hi + pad if hi > 0 else hi)
        self.zero = self.col(0.0)

    def col(self, value: float) -> int:
        spot = round((value - self.lo) / (self.hi - self.lo) * (PLOT - 1))
        return min(max(spot, 0), PLOT - 1)


def _outside(row: Row) -> tuple[bool, bool]:
    """(below the band, above the band), forgiving float noise as the rules do."""
    assert row.change is not None
    def tol(x: float) -> float:
        return 1e-9 * max(1.0, abs(x))
    below = row.lower is not None and row.change < row.lower - tol(row.lower)
    above = row.upper is not None and row.change > row.upper + tol(row.upper)
    return below, above


def _off_zero(value: float, axis: _Axis) -> int:
    """The value's column; a value that is not zero is never drawn on zero's column, so its
    side of zero (better or worse) always shows."""
    spot = axis.col(value)
    if value > 0 and spot <= axis.zero:
        spot = axis.zero + 1
    elif value < 0 and spot >= axis.zero:
        spot = axis.zero - 1
    return min(max(spot, 0), PLOT - 1)


def _plot(row: Row, axis: _Axis) -> str:
    cells = [" "] * PLOT
    if row.interval:
        low, high = row.interval
        for i in range(axis.col(low), axis.col(high) + 1):
            cells[i] = "-"
        if low < axis.lo:
            cells[0] = "<"
        if high > axis.hi:
            cells[-1] = ">"
    cells[axis.zero] = "|"  # the line of no change crosses whiskers, as in any forest plot
    for bound, mark in ((row.lower, "["), (row.upper, "]")):
        if bound is not None:
            cells[_off_zero(bound, axis)] = mark
    if row.change is not None and math.isfinite(row.change):
        # a point outside the band is never drawn on its mark
        spot = _off_zero(row.change, axis)
        below, above = _outside(row)
        if below and row.lower is not None and spot >= _off_zero(row.lower, axis):
            spot = _off_zero(row.lower, axis) - 1
        if above and row.upper is not None and spot <= _off_zero(row.upper, axis):
            spot = _off_zero(row.upper, axis) + 1
        cells[min(max(spot, 0), PLOT - 1)] = "X" if row.status in ("fail", "review") else "o"
    return "".join(cells)


def _numbers(row: Row, percent: bool) -> str:
    if row.change is None:
        return cell(row.note, NOTE_MAX).rstrip()
    text = _fmt(row.change, percent)
    if row.interval:
        text += f" [{_fmt(row.interval[0], percent)}, {_fmt(row.interval[1], percent)}]"
    if row.lower is not None and row.upper is not None:
        text += f"  needs [{_fmt(row.lower, percent)}, {_fmt(row.upper, percent)}]"
    elif row.lower is not None:
        text += f"  needs >= {_fmt(row.lower, percent)}"
    elif row.upper is not None:
        text += f"  needs <= {_fmt(row.upper, percent)}"
    return text + (f"  ({cell(row.note, NOTE_MAX).rstrip()})" if row.note else "")


def _panel(panel: Panel) -> list[str]:
    rows = sorted(panel.rows, key=lambda r: -RANK[r.status])  # stable: report order within
    urgent = [r for r in rows if r.status in ("fail", "review")]
    rest = [r for r in rows if r.status not in ("fail", "review")]
    shown_rows = urgent + rest[:max(0, MAX_ROWS - len(urgent))]
    axis = _Axis(shown_rows, panel.percent)
    width = min(LABEL_MAX, max(sum(map(_width, cell(r.label, LABEL_MAX).rstrip()))
                               for r in shown_rows))
    width = max(width, 4)
    indent = " " * (7 + width + 1)
    ticks = [" "] * PLOT
    marks = [(axis.zero, "0", "centre")]
    if any(r.change is not None for r in shown_rows):  # no scale to show when nothing is drawn
        marks += [(0, _fmt(axis.lo, panel.percent), "left"),
                  (PLOT - 1, _fmt(axis.hi, panel.percent), "right")]
    for spot, text, align in marks:
        start = {"left": spot, "centre": spot, "right": spot - len(text) + 1}[align]
        if all(c == " " for c in ticks[max(start - 1, 0):start + len(text) + 1]):
            ticks[start:start + len(text)] = text
    rule = ["-"] * PLOT
    for spot in (0, axis.zero, PLOT - 1):
        rule[spot] = "+"
    lines = [cell(panel.title, 120).rstrip(), "", indent + "".join(ticks).rstrip(),
             indent + "".join(rule)]
    for r in shown_rows:
        label = cell(r.label, width)
        lines.append(f"{STATUS[r.status]:<6} {label} {_plot(r, axis)}  "
                     f"{_numbers(r, panel.percent)}".rstrip())
    foot = [" "] * PLOT
    left, right = "<- worse", "better ->"
    if axis.zero - 1 - len(left) >= 0:
        foot[axis.zero - 1 - len(left):axis.zero - 1] = left
    if axis.zero + 2 + len(right) <= PLOT:
        foot[axis.zero + 2:axis.zero + 2 + len(right)] = right
    lines.append(indent + "".join(foot).rstrip())
    hidden = len(rows) - len(shown_rows)
    if hidden:
        lines.append(f"... and {hidden} more row(s) that passed or were not gated: see the "
                     "tables")
    return lines

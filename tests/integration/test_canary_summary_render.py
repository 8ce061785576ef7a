"""The canary job summary's charts, rendered as a reader sees them: the Markdown through
cmark-gfm (GitHub's renderer), each ```mermaid block through Mermaid 11 (npm, installed by
scripts/install-test-tools.sh) in Debian's headless Chromium.

Checks, for a rolled-back rollout: every chart renders (no Mermaid syntax error, one SVG per
block); the weight line ends at its lowest point, 0 (the rollback is in the picture); the
error-rate chart draws one bar per judged window, from zero, its top linear in the canary's
error rate, with the stable model's line on the same scale."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mlci.canary import report
from mlci.canary.rollout import Rollout

pytestmark = pytest.mark.integration

TOOLS = Path(os.environ.get("MLCI_DEV_TOOLS") or
             Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlci-dev" /
             "tools")
MERMAID = TOOLS / "mermaid" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"

PAGE = """<!doctype html><html><head><meta charset="utf-8"></head><body>
{body}
<script src="{mermaid}"></script>
<script>
(async function () {{
  var out = {{ok: false, charts: []}};
  try {{
    var blocks = document.querySelectorAll('pre > code.language-mermaid');
    var holders = [];
    blocks.forEach(function (code) {{
      var div = document.createElement("div");
      div.className = "mermaid";
      div.textContent = code.textContent;
      code.parentElement.replaceWith(div);
      holders.push(div);
    }});
    mermaid.initialize({{startOnLoad: false}});
    await mermaid.run({{nodes: holders}});
    holders.forEach(function (div) {{
      var svg = div.querySelector("svg");
      var chart = {{svg: !!svg, text: div.textContent, bars: [], lines: 0}};
      if (svg) {{
        svg.querySelectorAll('[class*="bar-plot"] rect').forEach(function (rect) {{
          var box = rect.getBBox();
          chart.bars.push([box.y, box.height]);
        }});
        chart.lines = svg.querySelectorAll('[class*="line-plot"] path').length;
        chart.ticks = [];
        svg.querySelectorAll('[class*="left-axis"] [class*="label"] text').forEach(function (t) {{
          var box = t.getBBox();
          chart.ticks.push([t.textContent, box.y + box.height / 2]);
        }});
        chart.line_d = Array.from(svg.querySelectorAll('[class*="line-plot"] path')).map(
          function (p) {{ return p.getAttribute("d"); }});
      }}
      out.charts.push(chart);
    }});
    out.ok = true;
  }} catch (e) {{ out.error = String(e); }}
  var el = document.createElement("pre");
  el.id = "mlci-result";
  el.textContent = JSON.stringify(out);
  document.body.appendChild(el);
}})();
</script></body></html>
"""


def tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not on PATH: scripts/install-test-tools.sh installs it"
    return found


def rolled_back() -> Rollout:
    r = Rollout("churn", "7", "6", started_at=0.0, phase="rolled-back", weight=0.0)
    for end, weight, requests, rate in ((60, 5, 0, None), (120, 5, 80, 0.0125),
                                        (180, 25, 400, 0.01), (240, 25, 400, 0.06)):
        r.add_window({"end": end, "step": 1 if weight == 5 else 2, "weight": weight,
                      "status": "fail" if rate == 0.06 else "pass",
                      "canary_requests": requests, "stable_requests": 1600,
                      "canary_error_rate": rate,
                      "checks": [{"name": "error_rate", "status": "pass", "canary": rate,
                                  "stable": 0.01, "enforced": True}]})
    r.weights = [{"t": 0, "from": 0, "to": 5}, {"t": 150, "from": 5, "to": 25},
                 {"t": 241, "from": 25, "to": 0}]
    return r


def render(markdown: str, tmp: Path) -> dict[str, Any]:
    assert MERMAID.is_file(), f"{MERMAID} missing: run scripts/install-test-tools.sh"
    done = subprocess.run([tool("cmark-gfm"), "-e", "table"], input=markdown,
                          capture_output=True, text=True, timeout=60, check=True)
    page = tmp / "summary.html"
    page.write_text(PAGE.format(body=done.stdout, mermaid=MERMAID.as_uri()), encoding="utf-8")
    dumped = subprocess.run(
        [tool("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-extensions", "--disable-dev-shm-usage", "--allow-file-access-from-files",
         f"--user-data-dir={tmp / 'profile'}", "--virtual-time-budget=20000", "--dump-dom",
         page.as_uri()], capture_output=True, text=True, timeout=180, check=False)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    found = re.search(r'<pre id="mlci-result">(.*?)</pre>', dumped.stdout, re.DOTALL)
    assert found, f"the page's check did not run:\n{dumped.stdout[-3000:]}"
    seen: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    assert seen["ok"], seen.get("error")
    return seen


def test_the_summary_charts_render_and_match_the_numbers(tmp_path: Path) -> None:
    markdown = report.markdown("churn", "rolled-back", "error_rate regressed", rolled_back())
    seen = render(markdown, tmp_path)
    weight, errors = seen["charts"]
    assert weight["svg"] and errors["svg"]
    assert "Syntax error" not in weight["text"] + errors["text"]
    assert weight["lines"] == 1 and errors["lines"] == 1
    # one bar per window where the canary served requests (the first served none)
    bars = errors["bars"]
    assert len(bars) == 3
    tops = [y for y, _ in bars]                            # for 1.25%, 1%, 6%
    per_point = (tops[1] - tops[2]) / 5.0                  # pixels per percentage point
    assert per_point > 0
    assert tops[1] - tops[0] == pytest.approx(0.25 * per_point, rel=0.02)   # linear in value
    zero = tops[1] + per_point                             # where 0% lies on the axis
    bottoms = {round(y + height, 1) for y, height in bars}
    assert len(bottoms) == 1                               # one baseline for every bar ...
    assert 0 <= bottoms.pop() - zero <= 10                 # ... at zero (Mermaid draws bars
    # to the plot's edge, a few pixels under the zero line: no bar is shortened by an offset)
    stable = errors["line_d"][0]
    assert {round(float(y), 1) for y in re.findall(r",([0-9.]+)", stable)} == \
        {round(tops[1], 1)}                                # stable's 1% = canary's 1% bar top
    # the weight line ends at 0: the rollback is in the picture
    points = [float(y) for y in re.findall(r",([0-9.]+)", weight["line_d"][0])]
    assert points[-1] == max(points) and len(points) == 5

"""The gate report's picture, rendered as a reader sees it: the Markdown report goes through
cmark-gfm (GitHub's own renderer, with its extensions) and markdown-it-py (another CommonMark
implementation, as GitLab's is), and the HTML through Debian's headless Chromium, for a
reject, a review and a promote case and for hostile names.

Checks: the page renders and its check script runs without error; the picture is exactly one
code block whose text is the picture, character for character (nothing broke out, nothing was
parsed as Markdown or HTML), in both renderers; no image or foreign script exists; in the
rendered fonts every row's plot starts at the same pixel (the fixed-width drawing holds); a
screenshot is taken. With MLCI_WRITE_DOCS_IMAGES=1 the screenshots are written to
docs/images/gate-<verdict>.png (how the pictures in docs/gate-report.md were made).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from PIL import Image

from mlci.gate import report as R
from tests.unit.gate.gate_helpers import gate
from tests.unit.gate.test_picture import promote_case, reject_case, review_case

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WIDTH = 940  # px: about a GitHub PR comment's width
GFM = ["--unsafe", "-e", "table", "-e", "strikethrough", "-e", "autolink", "-e", "tagfilter"]

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>mlci gate report</title><style>
body {{ font-family: -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif;
       font-size: 14px; line-height: 1.5; color: #1f2328; margin: 16px; max-width: {width}px; }}
pre {{ font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas,
      "Liberation Mono", "DejaVu Sans Mono", monospace; font-size: 12px; line-height: 1.45;
      background: #f6f8fa; padding: 16px; border-radius: 6px; overflow: auto; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #d1d9e0; padding: 4px 8px; }}
</style></head><body>
{body}
<script>
(function () {{
  var out = {{ok: false}};
  try {{
    var blocks = document.querySelectorAll("pre > code.language-text");
    out.blocks = blocks.length;
    var code = blocks[0];
    out.nodes = code.childNodes.length;
    var node = code.firstChild, text = node.data, lines = text.split("\\n");
    out.text = text;
    out.x = [];  // per panel: the pixel x where each row's plot starts
    var offset = 0, indent = -1, panel = null;
    for (var i = 0; i < lines.length; i++) {{
      var line = lines[i];
      if (/^ +\\+[-+]+\\+$/.test(line)) {{ indent = line.indexOf("+"); panel = []; out.x.push(panel); }}
      if (panel && (/^(FAIL|REVIEW|pass|-) /.test(line) || line.indexOf("+") === indent)) {{
        var range = document.createRange();
        range.setStart(node, offset + indent);
        range.setEnd(node, offset + indent + 1);
        panel.push(range.getBoundingClientRect().left);
      }}
      offset += line.length + 1;
    }}
    var box = code.parentElement.getBoundingClientRect();
    out.box = [box.left, box.top, box.right, box.bottom];
    out.images = document.images.length;
    out.scripts = document.scripts.length;
    out.tables = document.querySelectorAll("table").length;
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


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / "chromium-profile"  # its own profile: parallel runs never share a lock
    return subprocess.run(
        [tool("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", "--disable-extensions", "--disable-dev-shm-usage",
         f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False)


def picture_body(markdown: str) -> str:
    block = re.search(r"^(`{3,})text\n(.*?)^\1$", markdown, flags=re.MULTILINE | re.DOTALL)
    assert block is not None, markdown
    return block.group(2)


def code_blocks(page: str) -> list[str]:
    return [html.unescape(m) for m in
            re.findall(r'<pre><code class="language-text">(.*?)</code></pre>', page, re.DOTALL)]


def render(markdown: str, tmp: Path) -> tuple[dict[str, Any], Path]:
    """Render as GitHub does, load in Chromium: (what the page's script saw, the screenshot)."""
    done = subprocess.run([tool("cmark-gfm"), *GFM], input=markdown, capture_output=True,
                          text=True, timeout=60, check=True)
    assert code_blocks(done.stdout) == [picture_body(markdown)]
    page = tmp / "report.html"
    page.write_text(PAGE.format(body=done.stdout, width=WIDTH), encoding="utf-8")
    dumped = chromium(tmp, "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    found = re.search(r'<pre id="mlci-result">(.*?)</pre>', dumped.stdout, re.DOTALL)
    assert found, f"the page's check did not run:\n{dumped.stdout[-2000:]}"
    seen: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    assert seen["ok"], seen.get("error")
    height = int(seen["box"][3]) + 16
    shot = tmp / "report.png"
    taken = chromium(tmp, f"--window-size={WIDTH + 32},{height}", f"--screenshot={shot}",
                     page.as_uri())
    assert taken.returncode == 0 and shot.is_file(), taken.stderr[-2000:]
    return seen, shot


def check_rendering(report: dict[str, Any], tmp: Path) -> Path:
    markdown = R.to_markdown(report)
    body = picture_body(markdown)
    # GitLab-style CommonMark (markdown-it-py) sees the same single code block
    other = MarkdownIt("commonmark").enable("table").render(markdown)
    assert code_blocks(other) == [body]
    seen, shot = render(markdown, tmp)
    assert seen["blocks"] == 1 and seen["nodes"] == 1
    assert seen["text"] == body  # character for character: nothing parsed, nothing escaped
    assert seen["images"] == 0 and seen["scripts"] == 1
    assert seen["tables"] == len(re.findall(r"^\|(---\|)+$", markdown, flags=re.MULTILINE))
    assert seen["x"], "no panel drawn"
    for xs in seen["x"]:
        assert len(xs) >= 2 and max(xs) - min(xs) < 0.5, xs  # fixed width holds when rendered
    with Image.open(shot) as image:
        assert image.size == (WIDTH + 32, int(seen["box"][3]) + 16)
        left, top, right, bottom = (round(v) for v in seen["box"])
        block = image.convert("L").crop((left, top, min(right, image.width), bottom))
        dark = sum(block.histogram()[:100])
        assert dark > 500, "the code block rendered no text"  # glyphs drawn, not a blank box
    return shot


CASES: dict[str, Callable[[Path], dict[str, Any]]] = {
    "reject": reject_case, "review": review_case, "promote": promote_case}


@pytest.mark.parametrize("verdict", list(CASES))
def test_picture_renders_in_a_browser(verdict: str, tmp_path: Path) -> None:
    report = CASES[verdict](tmp_path)
    assert report["verdict"] == verdict
    shot = check_rendering(report, tmp_path)
    if os.environ.get("MLCI_WRITE_DOCS_IMAGES") == "1":
        images = ROOT / "docs" / "images"
        images.mkdir(parents=True, exist_ok=True)
        with Image.open(shot) as image:  # 64 colours: text and a few fills, a small file
            small = image.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
            small.save(images / f"gate-{verdict}.png", optimize=True)


def test_hostile_names_render_as_text(tmp_path: Path) -> None:
    evil = "```\n<img src=x onerror=alert(1)>`\u202e~~~"
    report = gate({"metrics": {evil: {"min": 0.5}, "*bold* [link](javascript:x)": {"min": 0}}},
                  {evil: 0.4, "*bold* [link](javascript:x)": 1}, {evil: 0.5})
    check_rendering(report, tmp_path)

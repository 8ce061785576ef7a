"""Property: any file name a data set may hold goes through data-change's log, job summary, step
outputs and JSON report without starting a workflow command, breaking out of Markdown, or
being lost."""

from __future__ import annotations

import json
import os
import re
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlci.cli import main

pytestmark = pytest.mark.unit

# Names a filesystem accepts: no NUL, no '/', not '.' or '..'. Lines, backticks, HTML, workflow
# commands, Markdown syntax and Unicode oddities are all fair game.
HOSTILE = st.sampled_from(["\n::warning title=x::clean", "`<img src=x onerror=alert(1)>`",
                           "a\r\n::add-mask::s", "## [x](http://evil)", "@team", "|col|",
                           "\u202eexe.csv", "\x1b[31mred", "```", "<!--", "%0A::error::x"])
NAMES = st.lists(st.one_of(HOSTILE, st.text(min_size=1, max_size=40)).filter(
    lambda n: "\0" not in n and "/" not in n and n not in (".", "..")
    and len(n.encode("utf-8", "surrogatepass")) < 200
    and not any(0xD800 <= ord(c) <= 0xDFFF for c in n)), min_size=1, max_size=4, unique=True)
ALLOWED_TAGS = {"h3", "ul", "li", "code", "details", "summary", "p", "strong", "em", "br"}


def runner_commands(text: str) -> list[str]:
    return [line.lstrip() for line in re.split(r"\r?\n", text)
            if line.lstrip().startswith(("::", "##["))]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=NAMES)
def test_any_file_name_is_escaped_everywhere(names: list[str]) -> None:
    from markdown_it import MarkdownIt

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "data").mkdir()
        (tmp / "data" / "keep.csv").write_text("1\n")
        env = {"GITHUB_ACTIONS": "true", "MLCI_PLATFORM": "github",
               "GITHUB_STEP_SUMMARY": str(tmp / "summary.md"),
               "GITHUB_OUTPUT": str(tmp / "output")}
        old_env, old_cwd = dict(os.environ), os.getcwd()
        try:
            os.chdir(tmp)
            os.environ.update(env)
            with redirect_stdout(StringIO()), redirect_stderr(StringIO()):
                assert main(["data-change", "--paths", "data", "--write", "base.json"]) == 0
            for name in names:
                (tmp / "data" / name).write_text("x\n")
            (tmp / "summary.md").write_text("")
            out, err = StringIO(), StringIO()
            with redirect_stdout(out), redirect_stderr(err):
                code = main(["data-change", "--paths", "data", "--against", "base.json"])
            with redirect_stdout(StringIO()) as js, redirect_stderr(StringIO()):
                main(["data-change", "--paths", "data", "--against", "base.json", "--json"])
        finally:
            os.chdir(old_cwd)
            os.environ.clear()
            os.environ.update(old_env)
        assert code == 0, err.getvalue()
        assert runner_commands(out.getvalue()) == []
        assert [c for c in runner_commands(err.getvalue())
                if not c.startswith(("::group::", "::endgroup::"))] == []
        report = json.loads(js.getvalue())
        assert sorted(report["added"]) == sorted(f"data/{n}" for n in names)
        html = MarkdownIt("commonmark", {"html": True}).render((tmp / "summary.md").read_text())
        tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", html))
        assert tags <= ALLOWED_TAGS, tags
        outputs = (tmp / "output").read_text()
        assert re.fullmatch(r"(?:[a-z-]+<<(ghadelimiter_[0-9a-f]{32})\n.*?\n\1\n)*", outputs,
                            re.DOTALL), outputs

"""Values from users' files cannot become workflow commands, escape sequences or Markdown/HTML."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlci import ci
from mlci.escape import GuardedStream, defuse, md_code, md_text, shown

pytestmark = pytest.mark.unit

SPOOF = "b\n::warning title=spoof::data is clean, skip review"
PAYLOADS = [SPOOF, "x\n::add-mask::secret", "  ::error::x", "\r\n##[warning]old syntax",
            "a\n\t::stop-commands::tok", "\x1b[0Ksection_start:1:evil\r\x1b[0Kfake",
            "q\u2028::warning::sep", "`<img src=x onerror=alert(1)>`", "@team ping https://x.io"]


def runner_commands(output: str) -> list[str]:
    """The lines GitHub's runner would execute: after leading whitespace, `::` or `##[`."""
    return [line.lstrip() for line in re.split(r"\r?\n", output)
            if line.lstrip().startswith(("::", "##["))]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_guarded_stream_never_emits_a_command(payload: str) -> None:
    out = io.StringIO()
    stream = GuardedStream(out)
    print(payload, file=stream)
    print(f"  + {payload}", file=stream)
    stream.write("partial ")
    stream.write(payload + "\n")
    assert runner_commands(out.getvalue()) == []
    assert "\x1b" not in out.getvalue()


def test_the_platform_layer_still_issues_its_own_commands() -> None:
    out = io.StringIO()
    platform = ci.GitHub({"GITHUB_ACTIONS": "true"}, GuardedStream(out))
    platform.warning(SPOOF)
    platform.info(SPOOF)
    platform.mask("s3cr%t")
    with platform.group("title\n::error::x"):
        pass
    commands = runner_commands(out.getvalue())
    assert commands == ["::warning::b%0A::warning title=spoof::data is clean, skip review",
                        "::add-mask::s3cr%25t", "::group::title%0A::error::x", "::endgroup::"]


def test_gitlab_sections_cannot_be_faked_by_a_value() -> None:
    out = io.StringIO()
    platform = ci.GitLab({"GITLAB_CI": "true"}, GuardedStream(out))
    platform.error("bad file \x1b[0Ksection_end:1:x\r\x1b[0K")
    text = out.getvalue()
    assert text.count("\x1b") == 2   # the colour on and off of mlci's own ERROR line
    assert "\\e[0Ksection_end" in text


@given(st.text())
def test_shown_is_one_line(value: str) -> None:
    text = shown(value)
    assert "\n" not in text and "\r" not in text and "\x1b" not in text
    assert runner_commands(defuse("x " + value)) == []


@given(st.text())
def test_md_code_cannot_be_closed_from_inside(value: str) -> None:
    span = md_code(value)
    fence = re.match(r"`+", span)
    assert fence is not None
    inner = span[len(fence.group()):-len(fence.group())]
    assert fence.group() not in inner and "\n" not in span


@given(st.text())
def test_md_text_is_inert(value: str) -> None:
    text = md_text(value)
    assert "<a " not in render_markdown(f"| {text} |")
    assert "<" not in text and "@" not in text and "\n" not in text
    assert "://" not in text and not re.search(r"(?<!\\)[|`*_\[\]]", text)


def test_data_change_file_names_cannot_spoof_a_runner(tmp_path: Path) -> None:
    """Exactly what a runner reads: the whole output of `mlci data-change` on GitHub."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "ok.csv").write_text("1\n")
    subprocess.run([sys.executable, "-m", "mlci", "data-change", "--paths", "data", "--write",
                    "base.json"], cwd=tmp_path, check=True, capture_output=True)
    for name in ("b\n::warning title=spoof::data is clean, skip review",
                 "c\n::add-mask::x", "`<img src=x>`.csv"):
        (data / name).write_text("1\n")
    env = {**os.environ, "GITHUB_ACTIONS": "true", "MLCI_PLATFORM": "github",
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
           "GITHUB_OUTPUT": str(tmp_path / "out")}
    result = subprocess.run([sys.executable, "-m", "mlci", "data-change", "--paths", "data",
                             "--against", "base.json"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "added" in result.stdout   # the names are listed...
    assert runner_commands(result.stdout) == []   # ...and none of them is a command
    assert [c for c in runner_commands(result.stderr)
            if not c.startswith(("::group::", "::endgroup::"))] == []
    rendered = render_markdown((tmp_path / "summary.md").read_text())
    assert "<img" not in rendered and "&lt;img src=x&gt;" in rendered


def render_markdown(text: str) -> str:
    """Markdown to HTML as a forge renders it (CommonMark, raw HTML allowed, tables)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)

"""The CI-platform layer writes exactly what GitHub's and GitLab's runners read back."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from mlci import ci

pytestmark = pytest.mark.unit


def read_github_file_command(path: Path) -> dict[str, str]:
    """Parse a $GITHUB_OUTPUT file the way actions/runner does (name=value, name<<DELIM)."""
    values: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        heredoc = re.fullmatch(r"([^=<]+)<<(.+)", line)
        if heredoc:
            name, delimiter = heredoc.groups()
            body: list[str] = []
            while lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            index += 1
            values[name] = "\n".join(body)
        else:
            name, _, value = line.partition("=")
            values[name] = value
    return values


def github(tmp_path: Path) -> tuple[ci.Platform, io.StringIO]:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / "output"),
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"), "GITHUB_SERVER_URL":
           "https://github.com", "GITHUB_REPOSITORY": "org/repo", "GITHUB_RUN_ID": "42",
           "GITHUB_ACTOR": "octo", "GITHUB_SHA": "abc"}
    stream = io.StringIO()
    return ci.detect(env, stream), stream


def test_detects_the_platform_from_the_environment() -> None:
    assert ci.detect({"GITHUB_ACTIONS": "true"}).name == "github"
    assert ci.detect({"GITLAB_CI": "true"}).name == "gitlab"
    assert ci.detect({}).name == "terminal"


def test_github_outputs_survive_newlines_equals_and_delimiter_lookalikes(tmp_path: Path) -> None:
    platform, _ = github(tmp_path)
    tricky = "line one\nEOF\nghadelimiter_x\nkey=value"
    platform.set_outputs({"verdict": "promote", "report": tricky, "empty": ""})
    platform.set_output("verdict", "reject")  # a later write wins, as on the runner
    assert read_github_file_command(tmp_path / "output") == {
        "verdict": "reject", "report": tricky, "empty": ""}


def test_github_delimiters_are_random(tmp_path: Path) -> None:
    platform, _ = github(tmp_path)
    platform.set_output("a", "1")
    platform.set_output("b", "2")
    delimiters = re.findall(r"<<(\S+)", (tmp_path / "output").read_text())
    assert len(set(delimiters)) == 2 and all(len(d) > 30 for d in delimiters)


def test_github_summary_appends_markdown(tmp_path: Path) -> None:
    platform, _ = github(tmp_path)
    platform.summary("# Gate\n| a | b |")
    platform.summary("second")
    assert (tmp_path / "summary").read_text() == "# Gate\n| a | b |\n\nsecond\n\n"


def test_github_annotations_groups_and_masks(tmp_path: Path) -> None:
    platform, stream = github(tmp_path)
    platform.error("bad value: 100%\nsecond line", file="mlci.yml", line=3)
    platform.warning("careful")
    with platform.group("Build image"):
        pass
    platform.mask("s3cr3t\nline2")
    assert stream.getvalue().splitlines() == [
        "::error file=mlci.yml,line=3::bad value: 100%25%0Asecond line",
        "::warning::careful",
        "::group::Build image",
        "::endgroup::",
        "::add-mask::s3cr3t",
        "::add-mask::line2",
    ]


def test_github_run_facts(tmp_path: Path) -> None:
    platform, _ = github(tmp_path)
    assert platform.run_url == "https://github.com/org/repo/actions/runs/42"
    assert (platform.actor, platform.commit) == ("octo", "abc")


def test_gitlab_outputs_are_a_dotenv_report(tmp_path: Path) -> None:
    stream = io.StringIO()
    env = {"GITLAB_CI": "true", "MLCI_DOTENV": str(tmp_path / "mlci.env"),
           "MLCI_SUMMARY_FILE": str(tmp_path / "summary.md"), "CI_JOB_URL": "https://gl/job/1"}
    platform = ci.detect(env, stream)
    platform.set_outputs({"verdict": "review", "report-json": "gate.json", "multi": "a\nb"})
    platform.summary("## Gate")
    assert (tmp_path / "mlci.env").read_text() == (
        "MLCI_VERDICT=review\nMLCI_REPORT_JSON=gate.json\n")
    assert "spans several lines" in stream.getvalue()
    assert (tmp_path / "summary.md").read_text() == "## Gate\n\n"
    assert platform.run_url == "https://gl/job/1"


def test_gitlab_sections_collapse(tmp_path: Path) -> None:
    stream = io.StringIO()
    platform = ci.detect({"GITLAB_CI": "true"}, stream)
    with platform.group("Build image"):
        print("inside", file=stream)
    start, inside, end = stream.getvalue().rstrip("\n").split("\n")
    assert re.fullmatch(r"\x1b\[0Ksection_start:\d+:mlci_build_image\[collapsed=true\]"
                        r"\r\x1b\[0KBuild image", start)
    assert inside == "inside"
    assert re.fullmatch(r"\x1b\[0Ksection_end:\d+:mlci_build_image\r\x1b\[0K", end)


def test_terminal_writes_files_only_when_asked(tmp_path: Path) -> None:
    stream = io.StringIO()
    platform = ci.detect({"MLCI_OUTPUT_FILE": str(tmp_path / "out")}, stream)
    platform.set_output("changed", "true")
    platform.summary("ignored: no MLCI_SUMMARY_FILE")
    platform.error("it broke")
    assert (tmp_path / "out").read_text() == "changed=true\n"
    assert stream.getvalue() == "mlci: error: it broke\n"
    assert not list(tmp_path.glob("*summary*"))


def test_platform_can_be_named_explicitly() -> None:
    """gitlab-ci-local sets GITLAB_CI=false; the templates set MLCI_PLATFORM=gitlab."""
    assert ci.detect({"GITLAB_CI": "false", "MLCI_PLATFORM": "gitlab"}).name == "gitlab"
    assert ci.detect({"GITHUB_ACTIONS": "true", "MLCI_PLATFORM": "terminal"}).name == "terminal"
    assert ci.detect({"MLCI_PLATFORM": "jenkins", "GITHUB_ACTIONS": "true"}).name == "github"


def test_github_annotations_use_workspace_relative_paths(tmp_path: Path) -> None:
    stream = io.StringIO()
    env = {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(tmp_path)}
    platform = ci.detect(env, stream)
    platform.error("bad", file=str(tmp_path / "data" / "contract.yml"), line=2)
    platform.error("elsewhere", file="/etc/mlci.yml")
    assert stream.getvalue().splitlines() == [
        "::error file=data/contract.yml,line=2::bad",
        "::error file=/etc/mlci.yml::elsewhere",
    ]

"""Every action and template input maps to a flag of its command, and every flag has its input.

The actions and templates are thin: one `mlci <command>` line, each input in the environment
as MLCI_INPUT_<COMMAND>_<FLAG> (mlci.inputs), named after the input. This test reads every
`actions/*/action.yml` and every stage template's `spec:inputs` -- whatever exists, so new
stages are checked as they arrive -- and checks the mapping both ways against the command's
own parser.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlci import inputs
from mlci.cli import build_parser

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]

# Inputs that are not flags: they set up the job, not the command.
ACTION_SETUP = {
    "python", "extras",                         # the venv the action builds (setup-mlci.sh)
    "github-token",                             # passed as MLCI_GITHUB_TOKEN, never a flag
    "comment-key",                              # passed as MLCI_COMMENT_KEY (gate comments)
}
TEMPLATE_SETUP = {
    "image", "mlci-install", "stage", "job-prefix",   # the job itself (base.yml)
    "when", "environment",                      # how the promote job runs
    "comment-key",                              # passed as MLCI_COMMENT_KEY (gate comments)
}
# Template inputs named differently from their flag, because the name is taken.
ALIASES = {("train", "train-image"): "--image"}   # `image` is the GitLab job's image
# Flags that are not CI inputs, per command ("*": every command).
NOT_INPUTS = {
    "*": {"--json"},                            # the step's outputs are the machine interface
    "gate": {"--report-md", "--report-json", "--junit", "--openmetrics"},  # = report-dir
    "validate-data": {"--tracking-uri",         # reads no registry
                      "--infer"},               # prints a starting contract: a local tool
}


def command_parser(words: list[str]) -> argparse.ArgumentParser:
    parser, _ = build_parser(words)
    current = parser
    for word in words:
        current = inputs.subparsers(current)[word]
    return current


def flags_of(words: list[str]) -> set[str]:
    return {str(inputs.long_flag(a)) for a in inputs.input_flags(command_parser(words))}


def expected_flags(words: list[str]) -> set[str]:
    return flags_of(words) - NOT_INPUTS["*"] - NOT_INPUTS.get(words[0], set())


def flag_of(command: str, name: str) -> str:
    return ALIASES.get((command, name), f"--{name}")


def mlci_words(line: str) -> list[str]:
    words = line.split()
    assert words[0] == "mlci" and all(re.fullmatch(r"[a-z][a-z-]*", w) for w in words[1:]), \
        f"expected one `mlci <command>` line and nothing else, got {line!r}"
    return words[1:]


def actions() -> list[Path]:
    return sorted(ROOT.glob("actions/*/action.yml"))


def stage_templates() -> list[Path]:
    """Templates with one visible job running mlci (base.yml installs; a template composing
    several stages is checked through the stage templates it includes)."""
    found = []
    for path in sorted(ROOT.glob("gitlab-templates/*.yml")):
        _, jobs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        visible = [k for k, v in jobs.items() if not k.startswith(".") and isinstance(v, dict)
                   and "script" in v]
        if len(visible) == 1:
            found.append(path)
    return found


def _action_step(doc: dict[str, Any]) -> dict[str, Any]:
    steps = [s for s in doc["runs"]["steps"] if str(s.get("run", "")).startswith("mlci ")]
    assert len(steps) == 1, "expected one step that runs mlci"
    return steps[0]


@pytest.mark.parametrize("path", actions(), ids=lambda p: p.parent.name)
def test_action_inputs_are_the_commands_flags(path: Path) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    step = _action_step(doc)
    words = mlci_words(step["run"])
    env = step.get("env") or {}
    names = [n for n in doc.get("inputs") or {} if n not in ACTION_SETUP]
    for name in names:
        variable = inputs.env_name(words[0], flag_of(words[0], name))
        assert env.get(variable) == f"${{{{ inputs.{name} }}}}", \
            f"input {name!r} must reach mlci as {variable}"
    given = {flag_of(words[0], n) for n in names}
    assert given <= flags_of(words), f"inputs without a flag: {sorted(given - flags_of(words))}"
    assert expected_flags(words) <= given, \
        f"flags without an input: {sorted(expected_flags(words) - given)}"
    stray = {k for k in env if k.startswith(inputs.PREFIX)} - {
        inputs.env_name(words[0], flag_of(words[0], n)) for n in names}
    assert not stray, f"variables no input sets: {sorted(stray)}"


@pytest.mark.parametrize("path", stage_templates(), ids=lambda p: p.stem)
def test_template_inputs_are_the_commands_flags(path: Path) -> None:
    spec, jobs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    job = next(v for k, v in jobs.items() if not k.startswith(".") and isinstance(v, dict)
               and "script" in v)
    assert len(job["script"]) == 1
    words = mlci_words(job["script"][0])
    variables = job.get("variables") or {}
    names = [n for n in spec["spec"]["inputs"] if n not in TEMPLATE_SETUP]
    for name in names:
        variable = inputs.env_name(words[0], flag_of(words[0], name))
        assert variables.get(variable) == {"value": f"$[[ inputs.{name} ]]", "expand": False}, \
            f"input {name!r} must reach mlci as {variable}, literally (expand: false)"
    given = {flag_of(words[0], n) for n in names}
    assert given <= flags_of(words), f"inputs without a flag: {sorted(given - flags_of(words))}"
    assert expected_flags(words) <= given, \
        f"flags without an input: {sorted(expected_flags(words) - given)}"
    for name, value in variables.items():
        # Every input arrives literally: GitLab must not expand `$VAR` inside one.
        if isinstance(value, str) and "$[[ inputs." in value:
            pytest.fail(f"variable {name} takes an input without expand: false")


def test_every_stage_action_and_template_is_checked() -> None:
    assert {p.parent.name for p in actions()} >= {
        "data-change", "validate-data", "train", "gate", "promote", "rollback"}
    assert {p.stem for p in stage_templates()} >= {
        "data-change", "validate-data", "train", "gate", "promote"}

"""CI inputs as flags (mlci.inputs): MLCI_INPUT_<COMMAND>_<FLAG> fills any flag not given."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from mlci import inputs
from mlci.cli import main
from mlci.errors import InputError

pytestmark = pytest.mark.unit


def toy() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toy")
    parser.add_argument("--paths", nargs="+")
    parser.add_argument("--env", nargs="+", action="extend", default=[])
    parser.add_argument("--seed", type=int)
    parser.add_argument("--fail-on", choices=("reject", "review", "never"))
    parser.add_argument("--comment", action="store_true")
    parser.add_argument("--candidate", required=True)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--image")
    group.add_argument("--containerfile")
    return parser


def parse(argv: list[str], env: Mapping[str, str],
          parser: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    parser = parser or toy()
    seen = inputs.apply(parser, "toy", env)
    args = parser.parse_args(argv)
    inputs.settle(parser, args, seen)
    return args


def test_the_name_is_the_command_and_the_flag() -> None:
    assert inputs.env_name("gate", "--fail-on") == "MLCI_INPUT_GATE_FAIL_ON"
    assert inputs.env_name("data-change", "--paths") == "MLCI_INPUT_DATA_CHANGE_PATHS"
    assert "__" not in inputs.env_name("train", "--tracking-uri")


def test_the_environment_fills_a_flag_not_given_and_an_explicit_flag_wins() -> None:
    env = {"MLCI_INPUT_TOY_SEED": "7", "MLCI_INPUT_TOY_CANDIDATE": "c.json"}
    assert (parse([], env).seed, parse([], env).candidate) == (7, "c.json")
    assert parse(["--seed", "9"], env).seed == 9
    assert parse(["--seed", "9", "--candidate", "x"], {}).seed == 9


def test_a_list_is_one_item_per_line_so_items_may_hold_spaces() -> None:
    env = {"MLCI_INPUT_TOY_CANDIDATE": "c",
           "MLCI_INPUT_TOY_PATHS": "data/with space.csv\r\n\n  data/**/*.csv  \n"}
    assert parse([], env).paths == ["data/with space.csv", "data/**/*.csv"]


def test_an_explicit_list_replaces_the_environments_never_extends_it() -> None:
    env = {"MLCI_INPUT_TOY_CANDIDATE": "c", "MLCI_INPUT_TOY_ENV": "A=1\nB=2"}
    assert parse([], env).env == ["A=1", "B=2"]
    assert parse(["--env", "C=3"], env).env == ["C=3"]


@pytest.mark.parametrize(("raw", "expected"), [
    ("true", True), ("TRUE", True), ("yes", True), ("on", True), ("1", True),
    ("false", False), ("No", False), ("off", False), ("0", False), ("", False), ("  ", False),
])
def test_a_switch_reads_true_or_false(raw: str, expected: bool) -> None:
    env = {"MLCI_INPUT_TOY_CANDIDATE": "c", "MLCI_INPUT_TOY_COMMENT": raw}
    assert parse([], env).comment is expected


@pytest.mark.parametrize(("name", "raw", "words"), [
    ("MLCI_INPUT_TOY_COMMENT", "maybe", ["--comment", "true or false", "'maybe'"]),
    ("MLCI_INPUT_TOY_SEED", "abc", ["--seed", "int", "'abc'"]),
    ("MLCI_INPUT_TOY_FAIL_ON", "sometimes", ["--fail-on", "reject, review, never"]),
])
def test_a_bad_value_names_the_variable_the_flag_and_what_was_expected(
        name: str, raw: str, words: list[str]) -> None:
    with pytest.raises(InputError) as caught:
        parse([], {"MLCI_INPUT_TOY_CANDIDATE": "c", name: raw})
    message = str(caught.value)
    assert "$" + name in message and all(word in message for word in words), message


def test_a_bad_value_is_ignored_when_the_flag_is_given() -> None:
    env = {"MLCI_INPUT_TOY_CANDIDATE": "c", "MLCI_INPUT_TOY_SEED": "abc"}
    assert parse(["--seed", "3"], env).seed == 3


def test_empty_is_not_given() -> None:
    args = parse([], {"MLCI_INPUT_TOY_CANDIDATE": "c", "MLCI_INPUT_TOY_SEED": "",
                      "MLCI_INPUT_TOY_PATHS": "\n  \n"})
    assert (args.seed, args.paths) == (None, None)
    with pytest.raises(InputError, match=r"--candidate: required.*\$MLCI_INPUT_TOY_CANDIDATE"):
        parse([], {"MLCI_INPUT_TOY_CANDIDATE": "  "})


def test_an_explicit_member_of_an_exclusive_group_drops_the_environments_other() -> None:
    env = {"MLCI_INPUT_TOY_CANDIDATE": "c", "MLCI_INPUT_TOY_IMAGE": "img@sha256:1"}
    args = parse(["--containerfile", "Containerfile"], env)
    assert (args.containerfile, args.image) == ("Containerfile", None)
    assert parse([], env).image == "img@sha256:1"


def test_two_members_of_an_exclusive_group_from_the_environment_are_refused() -> None:
    env = {"MLCI_INPUT_TOY_CANDIDATE": "c", "MLCI_INPUT_TOY_IMAGE": "img",
           "MLCI_INPUT_TOY_CONTAINERFILE": "Containerfile"}
    with pytest.raises(InputError, match=r"\$MLCI_INPUT_TOY_IMAGE.*\$MLCI_INPUT_TOY_CONTAINERFILE"):
        parse([], env)


def test_a_required_exclusive_group_names_its_variables() -> None:
    parser = argparse.ArgumentParser(prog="toy")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--image")
    group.add_argument("--containerfile")
    with pytest.raises(InputError, match=r"\$MLCI_INPUT_TOY_IMAGE"):
        parse([], {}, parser)
    assert parse([], {"MLCI_INPUT_TOY_CONTAINERFILE": "C"}, parser).containerfile == "C"


def test_a_subcommand_reads_the_commands_first_word() -> None:
    parser = argparse.ArgumentParser(prog="canary")
    sub = parser.add_subparsers(dest="action", required=True)
    for name in ("step", "status"):
        sub.add_parser(name).add_argument("--model", required=True)
    seen = inputs.apply(parser, "canary", {"MLCI_INPUT_CANARY_MODEL": "churn"})
    args = parser.parse_args(["step"])
    inputs.settle(parser, args, seen)
    assert args.model == "churn"


def test_a_name_is_never_read_as_an_mlci_yml_override() -> None:
    from mlci.config.load import env_overrides
    from mlci.config.model import Config

    top = set(Config.model_fields)
    env = {inputs.env_name(command, flag): "7" for command in ("train", "registry", "model")
           for flag in ("--seed", "--tracking-uri", "--model")}
    assert env_overrides(env, top) == {}


def run_main(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
             env: Mapping[str, str]) -> tuple[int, str, str]:
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "MLCI_PLATFORM", "MLCI_CONFIG",
                 "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_precedence_flag_then_input_then_override_then_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mlci.yml").write_text("registry: {tracking_uri: http://file:1}\n")

    def uri(argv: list[str], env: Mapping[str, str]) -> str:
        code, out, err = run_main(["config", "--json", *argv], monkeypatch, capsys, env)
        assert code == 0, err
        return str(json.loads(out)["registry"]["tracking_uri"])

    assert uri([], {}) == "http://file:1"
    override = {"MLCI_REGISTRY__TRACKING_URI": "http://override:2"}
    assert uri([], override) == "http://override:2"
    both = {**override, "MLCI_INPUT_CONFIG_TRACKING_URI": "http://input:3"}
    assert uri([], both) == "http://input:3"
    assert uri(["--tracking-uri", "http://flag:4"], both) == "http://flag:4"


def test_a_bad_input_exits_2_through_the_cli(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["gate"], monkeypatch, capsys,
                            {"MLCI_INPUT_GATE_FAIL_ON": "sometimes",
                             "MLCI_INPUT_GATE_CANDIDATE": "c.json"})
    assert code == 2
    assert "--fail-on" in err and "$MLCI_INPUT_GATE_FAIL_ON" in err and "sometimes" in err


def test_a_missing_required_input_exits_2_through_the_cli(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["promote"], monkeypatch, capsys, {})
    assert code == 2 and "--candidate" in err and "$MLCI_INPUT_PROMOTE_CANDIDATE" in err

"""The command line itself: version, help, schema, and a light start-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlci import __version__
from mlci.cli import COMMANDS, main

pytestmark = pytest.mark.unit


def mlci(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlci", *argv], capture_output=True, text=True,
                          cwd=cwd, check=False)


def test_version() -> None:
    result = mlci("--version")
    assert (result.returncode, result.stdout) == (0, f"mlci {__version__}\n")


def test_help_lists_every_command_and_only_those() -> None:
    result = mlci("--help")
    assert result.returncode == 0
    listed = [line.split()[0] for line in result.stdout.splitlines()
              if line.startswith("    ") and line.split()[0] in COMMANDS]
    assert sorted(listed) == sorted(COMMANDS)
    for name in COMMANDS:
        assert mlci(name, "--help").returncode == 0, name


def test_unknown_command_is_a_usage_error() -> None:
    result = mlci("deploy-everything")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_help_imports_no_heavy_modules() -> None:
    probe = ("import sys; from mlci.cli import main\n"
             "try: main(['--help'])\nexcept SystemExit: pass\n"
             "heavy = [m for m in ('mlflow', 'numpy', 'pydantic', 'yaml', 'boto3') "
             "if m in sys.modules]\n"
             "print(','.join(heavy), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    assert result.stderr.strip() == ""


def test_schema_is_generated_from_the_model(tmp_path: Path) -> None:
    from mlci.config.model import Config

    result = mlci("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "mlci.yml"
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(Config.model_fields)
    out = tmp_path / "schema.json"
    assert main(["schema", "--output", str(out)]) == 0
    assert json.loads(out.read_text()) == schema


def test_schema_validates_the_design_example(tmp_path: Path) -> None:
    """A third-party validator (as an editor would use) accepts what the model accepts."""
    import jsonschema
    import yaml

    from tests.unit.test_config import FULL

    schema = json.loads(mlci("schema").stdout)
    jsonschema.validate(yaml.safe_load(FULL), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"train": {"seed": "x"}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"deploy": {"protocol": {"interval": "soon"}}}, schema)


def test_an_unexpected_exception_is_exit_2_with_its_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import mlci.commands.schema as schema_command

    def broken(args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(schema_command, "run", broken)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert main(["schema"]) == 2
    err = capsys.readouterr().err
    assert "RuntimeError: boom" in err and "internal error in mlci" in err


def _gate_files(tmp_path: Path, candidate_f1: float) -> None:
    (tmp_path / "cand.json").write_text(json.dumps({"f1": candidate_f1, "acc": 0.9}))
    (tmp_path / "base.json").write_text(json.dumps({"f1": 0.8, "acc": 0.9}))
    (tmp_path / "gate.yml").write_text(
        "metrics:\n  f1: {min: 0.7}\n  acc: {min: 0.95, severity: warn}\n")


@pytest.mark.parametrize(("f1", "fail_on", "code"), [
    (0.9, None, 3), (0.9, "reject", 0), (0.9, "review", 3), (0.9, "never", 0),
    (0.5, None, 1), (0.5, "reject", 1), (0.5, "review", 1), (0.5, "never", 0),
])
def test_gate_fail_on_decides_which_verdicts_fail(tmp_path: Path, f1: float,
                                                  fail_on: str | None, code: int) -> None:
    _gate_files(tmp_path, f1)
    argv = ["gate", "--spec", "gate.yml", "--candidate", "cand.json", "--baseline", "base.json",
            "--report-dir", "out"]
    result = mlci(*argv, *(["--fail-on", fail_on] if fail_on else []), cwd=tmp_path)
    assert result.returncode == code, result.stderr
    verdict = "review" if f1 > 0.7 else "reject"
    assert result.stdout.startswith(f"mlci gate: {verdict}")
    if fail_on and code == 0:
        assert f"verdict {verdict}; passing because --fail-on is {fail_on}" in result.stderr
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["junit.xml", "metrics.txt", "report.json", "report.md"]
    assert json.loads((tmp_path / "out" / "report.json").read_text())["verdict"] == verdict


def test_gate_help_carries_the_exit_code_table() -> None:
    out = mlci("gate", "--help").stdout
    assert "--fail-on never" in out and "nothing fails open" in out


def test_promote_verdicts_skips_a_verdict_it_does_not_handle(tmp_path: Path) -> None:
    _gate_files(tmp_path, 0.5)
    mlci("gate", "--spec", "gate.yml", "--candidate", "cand.json", "--baseline", "base.json",
         "--report-json", "report.json", cwd=tmp_path)
    # No registry is reachable at this URI: doing nothing must not touch it.
    result = mlci("promote", "--model", "m", "--candidate", "1", "--gate-report", "report.json",
                  "--verdicts", "promote,review", "--tracking-uri", "http://127.0.0.1:9",
                  cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "the gate said reject" in result.stdout and "nothing to do" in result.stdout


def test_promote_verdicts_needs_a_verdict(tmp_path: Path) -> None:
    result = mlci("promote", "--model", "m", "--candidate", "1", "--verdicts", "promote",
                  cwd=tmp_path)
    assert result.returncode == 2 and "--verdicts" in result.stderr


def test_a_command_that_cannot_import_is_a_crash_not_a_verdict(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from mlci import cli

    monkeypatch.setitem(cli.COMMANDS, "gate", ("mlci_no_such_module", "broken"))
    code = main(["gate"])
    assert code == 2, "exit 1 would read as a reject verdict"
    assert "internal error in mlci" in capsys.readouterr().err


def _step_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A terminal run that keeps a step's outputs and summary (MLCI_OUTPUT_FILE and
    MLCI_SUMMARY_FILE; the CI platforms' own files are the act and gitlab-ci-local tests')."""
    import os

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MLCI_", "GITHUB_", "GITLAB_"))}
    return {**env, "MLCI_OUTPUT_FILE": str(tmp_path / "out"),
            "MLCI_SUMMARY_FILE": str(tmp_path / "summary"), **extra}


def _step_outputs(tmp_path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (tmp_path / "out").read_text().splitlines())


def test_promote_verdicts_skip_says_promoted_false(tmp_path: Path) -> None:
    _gate_files(tmp_path, 0.5)
    mlci("gate", "--spec", "gate.yml", "--candidate", "cand.json", "--baseline", "base.json",
         "--report-json", "report.json", cwd=tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "mlci", "promote", "--model", "m", "--candidate", "1",
         "--gate-report", "report.json", "--verdicts", "promote"],
        capture_output=True, text=True, cwd=tmp_path, env=_step_env(tmp_path), check=False)
    assert done.returncode == 0, done.stderr
    assert _step_outputs(tmp_path) == {"version": "", "previous-version": "",
                                       "promoted": "false"}


def test_canary_if_promoted_false_starts_nothing_and_reads_no_registry(tmp_path: Path) -> None:
    # As the pipeline's rollout job runs it: every flag from MLCI_INPUT_*, the registry
    # unreachable (reading it would be exit 2), a stale `canary` alias never consulted.
    env = _step_env(tmp_path, MLCI_INPUT_CANARY_MODE="run", MLCI_INPUT_CANARY_MODEL="churn",
                    MLCI_INPUT_CANARY_VERSION="", MLCI_INPUT_CANARY_IF_PROMOTED="false",
                    MLCI_INPUT_CANARY_TRACKING_URI="http://127.0.0.1:9")
    done = subprocess.run([sys.executable, "-m", "mlci", "canary"], capture_output=True,
                          text=True, cwd=tmp_path, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert "nothing was promoted" in done.stdout
    assert _step_outputs(tmp_path) == {"outcome": "idle", "weight": "0"}
    assert "idle" in (tmp_path / "summary").read_text()
    assert not (tmp_path / ".mlci").exists()          # no rollout state was opened


@pytest.mark.parametrize(("argv", "expected"), [
    (["canary", "status", "--model", "m", "--if-promoted", "false"],
     "--if-promoted applies to run and step, not status"),
    (["canary", "run", "--model", "m", "--if-promoted", "maybe"], "--if-promoted"),
    # a model name that would put the rollout's state outside .mlci/rollouts
    (["canary", "abort", "--model", "../../x"],
     "--model: registered model name '../../x' cannot be used: it contains '/'"),
    (["history", "--model", "a@b"], "it contains '@'"),
])
def test_canary_and_history_bad_use_is_exit_2(tmp_path: Path, argv: list[str],
                                               expected: str) -> None:
    done = mlci(*argv, cwd=tmp_path)
    assert done.returncode == 2 and expected in done.stderr, done.stderr

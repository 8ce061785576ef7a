"""`mlci data-change` end to end in-process: outputs, reports, baselines, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlci.cli import main

pytestmark = pytest.mark.unit


def write(path: Path, data: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "GITLAB", "CI_", "MLCI_", "MLFLOW_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "data/train/a.csv", "x\n1\n")
    write(tmp_path / "data/train/b.csv", "x\n2\n")
    return tmp_path


def github_outputs(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    out: dict[str, str] = {}
    i = 0
    while i < len(lines):
        name, delim = lines[i].split("<<", 1)
        out[name] = lines[i + 1]
        assert lines[i + 2] == delim
        i += 3
    return out


def on_github(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    out = project / "gh_output"
    out.write_text("")
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(project / "summary.md"))
    return out


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(["data-change", *argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def test_write_then_against_the_same_data_is_unchanged(project: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    assert main(["data-change", "--paths", "data", "--write", "data.manifest.json"]) == 0
    outputs_file = on_github(project, monkeypatch)
    code, report = run_json(capsys, "--paths", "data", "--against", "data.manifest.json")
    assert code == 0
    assert report["changed"] is False
    assert report["counts"] == {"added": 0, "removed": 0, "modified": 0, "renamed": 0}
    outputs = github_outputs(outputs_file)
    assert outputs["changed"] == outputs["data-changed"] == "false"
    assert outputs["fingerprint"] == report["fingerprint"] == outputs["baseline-fingerprint"]
    assert outputs["added"] == outputs["removed"] == outputs["modified"] == "0"
    assert "data unchanged" in (project / "summary.md").read_text()


def test_a_change_is_reported_with_counts_and_lists(project: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    main(["data-change", "--paths", "data", "--write", "data.manifest.json"])
    write(project / "data/train/a.csv", "x\n1\n3\n")        # modified
    (project / "data/train/b.csv").rename(project / "data/b.csv")   # renamed
    write(project / "data/train/c.csv", "x\n4\n")           # added
    outputs_file = on_github(project, monkeypatch)
    code, report = run_json(capsys, "--paths", "data", "--against", "data.manifest.json")
    assert code == 0   # a change is an output, not a failure
    assert report["changed"] is True
    assert report["added"] == ["data/train/c.csv"]
    assert [m["path"] for m in report["modified"]] == ["data/train/a.csv"]
    assert report["renamed"] == [{"from": "data/train/b.csv", "to": "data/b.csv"}]
    outputs = github_outputs(outputs_file)
    assert outputs["changed"] == "true"
    assert (outputs["added"], outputs["removed"], outputs["modified"], outputs["renamed"]) == \
        ("1", "0", "1", "1")


def test_gitlab_gets_mlci_data_changed_in_the_dotenv(project: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    main(["data-change", "--paths", "data", "--write", "m.json"])
    write(project / "data/new.csv", "x\n")
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("MLCI_DOTENV", str(project / "data.env"))
    monkeypatch.setenv("MLCI_SUMMARY_FILE", str(project / "summary.md"))
    assert main(["data-change", "--paths", "data", "--against", "m.json"]) == 0
    env = dict(line.split("=", 1) for line in (project / "data.env").read_text().splitlines())
    assert env["MLCI_DATA_CHANGED"] == "true" and env["MLCI_CHANGED"] == "true"
    assert env["MLCI_DATA_FINGERPRINT"].startswith("sha256:")
    assert env["MLCI_ADDED"] == "1"


def test_against_and_write_the_same_file_compares_first(project: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    main(["data-change", "--paths", "data", "--write", "m.json"])
    write(project / "data/new.csv", "x\n")
    _, report = run_json(capsys, "--paths", "data", "--against", "m.json", "--write",
                            "m.json")
    assert report["changed"] is True and report["added"] == ["data/new.csv"]
    _, report = run_json(capsys, "--paths", "data", "--against", "m.json")
    assert report["changed"] is False


def test_no_baseline_means_changed(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run_json(capsys, "--paths", "data")
    assert code == 0 and report["changed"] is True and report["baseline"] is None
    assert report["counts"] is None


def test_config_supplies_the_paths(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "mlci.yml", "data:\n  paths: [data/train]\n")
    code, report = run_json(capsys)
    assert code == 0 and report["files"] == 2 and report["sources"] == ["data/train"]
    code, report = run_json(capsys, "--paths", "data/train/a.csv")
    assert report["files"] == 1   # a flag overrides the file


def git(project: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=project,
                   check=True, capture_output=True)


def test_against_a_git_ref(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(project, "init", "-q")
    main(["data-change", "--paths", "data", "--write", "data.manifest.json"])
    git(project, "add", "data.manifest.json")
    git(project, "commit", "-q", "-m", "manifest")
    write(project / "data/train/a.csv", "changed\n")
    # The working copy's manifest is rewritten; the committed one is the baseline.
    code, report = run_json(capsys, "--paths", "data", "--against", "git:HEAD", "--write",
                            "data.manifest.json")
    assert code == 0 and report["changed"] is True
    assert [m["path"] for m in report["modified"]] == ["data/train/a.csv"]
    code, report = run_json(capsys, "--paths", "data",
                            "--against", "git:HEAD:data.manifest.json")
    assert report["changed"] is True
    code, report = run_json(capsys, "--paths", "data", "--against", "git:HEAD:nope.json")
    assert report["changed"] is True and "not committed" in report["baseline"]["note"]


def test_a_bad_git_ref_is_exit_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(project, "init", "-q")
    code = main(["data-change", "--paths", "data", "--against", "git:no-such-ref:m.json"])
    assert code == 2
    assert "no-such-ref" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--paths", "../"], "outside the project root"),
    (["--paths", "missing"], "matches no file"),
    (["--paths", "data", "--against", "none.json"], "baseline manifest not found"),
    (["--paths", "data", "--against", "models:/bad name"], "expected models:/NAME@ALIAS"),
    ([], "no data to fingerprint"),
    (["--s3", "gs://bucket/x"], "expected s3://bucket/prefix"),
])
def test_bad_input_is_exit_2_with_a_message(project: Path, capsys: pytest.CaptureFixture[str],
                                            argv: list[str], message: str) -> None:
    assert main(["data-change", *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_corrupt_baseline_is_exit_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "m.json", "{not json")
    assert main(["data-change", "--paths", "data", "--against", "m.json"]) == 2
    assert "m.json:1: not valid JSON" in capsys.readouterr().err


def test_start_up_imports_neither_numpy_nor_mlflow_nor_boto3(project: Path) -> None:
    code = ("import sys; from mlci.cli import main; "
            "rc = main(['data-change', '--paths', 'data', '--cache', '.c']); "
            "bad = [m for m in ('numpy', 'mlflow', 'boto3', 'pandas') if m in sys.modules]; "
            "print(rc, bad)")
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip().endswith("0 []")


def test_flag_paths_are_relative_to_the_working_directory(project: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    write(project / "sub/d/x.csv", "x\n")
    write(project / "sub/mlci.yml", "data:\n  paths: [d]\n")
    _, from_config = run_json(capsys, "--config", "sub/mlci.yml")
    _, from_flag = run_json(capsys, "--config", "sub/mlci.yml", "--paths", "sub/d",
                            "--write", "sub/m.json")
    assert from_config["fingerprint"] == from_flag["fingerprint"]
    entries = json.loads((project / "sub/m.json").read_text())["entries"]
    assert [e["path"] for e in entries] == ["d/x.csv"]   # relative to the project root
    _, again = run_json(capsys, "--config", "sub/mlci.yml", "--against", "sub/m.json")
    assert again["changed"] is False

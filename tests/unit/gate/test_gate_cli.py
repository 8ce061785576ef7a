"""`mlci gate` through `mlci.cli.main`: exit codes, outputs, reports, JSON refs, CSV files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mlci.cli import main
from tests.unit.gate.gate_helpers import write_json, write_predictions

pytestmark = pytest.mark.unit

SPEC = """\
primary: {metric: f1, min_improvement: 0.01}
metrics:
  accuracy:   {min: 0.6, max_regression: 0.02}
  latency_ms: {max: 50, greater_is_better: false, max_regression: "10%", severity: warn}
slices: {column: region, min_slice_size: 20, metrics: {accuracy: {min: 0.5}}}
fairness: {column: group, metric: recall, max_difference: 0.2, min_group_size: 20}
significance: {resamples: 500, seed: 1}
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "MLCI_CONFIG", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLCI_OUTPUT_FILE", str(tmp_path / "outputs.txt"))
    monkeypatch.setenv("MLCI_SUMMARY_FILE", str(tmp_path / "summary.md"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gate.yml").write_text(SPEC)
    n = 400
    ids = list(range(n))
    labels = [i % 2 for i in ids]
    region = ["north" if i < 200 else "south" for i in ids]
    group = ["a" if i % 4 < 2 else "b" for i in ids]
    good = [lab if i % 10 else 1 - lab for i, lab in enumerate(labels)]      # 90% right
    worse = [lab if i % 5 else 1 - lab for i, lab in enumerate(labels)]     # 80% right
    write_predictions(tmp_path / "good.csv", ids, labels, good, region=region, group=group)
    write_predictions(tmp_path / "worse.csv", ids, labels, worse, region=region, group=group)
    write_json(tmp_path / "fast.json", {"latency_ms": 30})
    write_json(tmp_path / "slow.json", {"latency_ms": 45})
    return tmp_path


def outputs(tmp_path: Path) -> dict[str, str]:
    lines = (tmp_path / "outputs.txt").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def gate(*extra: str, cand: str = "good.csv", base: str = "worse.csv",
         cand_ref: str = "fast.json", base_ref: str | None = "fast.json") -> int:
    args = ["gate", "--spec", "gate.yml", "--candidate", cand_ref,
            "--candidate-predictions", cand]
    if base_ref:
        args += ["--baseline", base_ref, "--baseline-predictions", base]
    return main(args + list(extra))


def test_promote_writes_every_report_and_outputs(env: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = gate("--report-md", "out/r.md", "--report-json", "out/r.json", "--junit", "out/j.xml",
                "--openmetrics", "out/m.txt")
    assert code == 0
    assert "mlci gate: promote" in capsys.readouterr().out
    report = json.loads((env / "out/r.json").read_text())
    assert report["verdict"] == "promote"
    assert {r["id"] for r in report["rules"]} >= {"primary.f1.significance",
                                                  "slices.region=north.accuracy.min",
                                                  "fairness.group.recall.max_difference"}
    ET.parse(env / "out/j.xml")
    assert (env / "out/m.txt").read_text().endswith("# EOF\n")
    assert outputs(env) == {"verdict": "promote", "report-json": str(env / "out/r.json"),
                            "report-md": str(env / "out/r.md")}
    assert "mlci gate: **promote**" in (env / "summary.md").read_text()


def test_reject_exit_1(env: Path) -> None:
    assert gate(cand="worse.csv", base="good.csv") == 1
    assert outputs(env)["verdict"] == "reject"


def test_warn_rule_review_exit_3(env: Path) -> None:
    # latency 45 vs 30: a warn-severity regression
    assert gate(cand_ref="slow.json") == 3
    assert outputs(env)["verdict"] == "review"


def test_first_model_without_baseline(env: Path) -> None:
    assert gate(base_ref=None) == 0
    (env / "gate.yml").write_text(SPEC + "on_missing_baseline: review\n")
    assert gate(base_ref=None) == 3


def test_json_output(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gate("--json") == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["verdict"] == "promote" and data["exit_code"] == 0
    assert "mlci gate: promote" in captured.err


def test_nan_candidate_metric_rejects(env: Path) -> None:
    (env / "nan.json").write_text('{"latency_ms": NaN}')
    (env / "gate.yml").write_text("metrics: {latency_ms: {max: 50}}\n")
    assert main(["gate", "--spec", "gate.yml", "--candidate", "nan.json"]) == 1


@pytest.mark.parametrize(("spec", "words"), [
    ("metrics: {accuracy: {mni: 0.8}}\n",
     "gate.yml: metrics.accuracy.mni: unknown key (expected one of: min, max"),
    ("metrics: {accuracy: {max_regression: abc}}\n",
     "gate.yml: metrics.accuracy.max_regression: expected a number or a percentage"),
])
def test_bad_spec_exit_2_with_message(env: Path, capsys: pytest.CaptureFixture[str], spec: str,
                                      words: str) -> None:
    (env / "gate.yml").write_text(spec)
    assert gate() == 2
    assert words in capsys.readouterr().err
    assert not (env / "outputs.txt").exists()


@pytest.mark.parametrize(("args", "words"), [
    (["--candidate", "missing.json"], "not found"),
    (["--candidate", "fast.json", "--baseline-predictions", "worse.csv"],
     "needs --candidate-predictions"),
    (["--candidate", "fast.json"], "need per-example predictions"),
    (["--candidate", "fast.json", "--candidate-predictions", "good.csv",
      "--baseline", "fast.json", "--baseline-predictions", "short.csv"], "not the baseline's"),
])
def test_bad_inputs_exit_2(env: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                           words: str) -> None:
    write_predictions(env / "short.csv", [0, 1], [0, 1], [0, 1], region=["n", "n"],
                      group=["a", "b"])
    assert main(["gate", "--spec", "gate.yml", *args]) == 2
    assert words in capsys.readouterr().err


def test_spec_from_mlci_yml(env: Path) -> None:
    (env / "mlci.yml").write_text("gate: gate.yml\n")
    assert main(["gate", "--candidate", "fast.json", "--candidate-predictions", "good.csv",
                 "--baseline", "fast.json", "--baseline-predictions", "worse.csv"]) == 0
    (env / "mlci.yml").write_text("gate:\n  metrics: {latency_ms: {max: 10}}\n")
    assert main(["gate", "--candidate", "fast.json"]) == 1


def test_no_spec_anywhere_is_exit_2(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate", "--candidate", "fast.json"]) == 2
    assert "--spec" in capsys.readouterr().err


def test_comment_failure_keeps_the_verdict(env: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from mlci.errors import ServiceError
    from mlci.gate import comment

    posted: list[str] = []

    def broken(markdown: str, **_: object) -> str:
        posted.append(markdown)
        raise ServiceError("GitHub API answered 502")

    monkeypatch.setattr(comment, "post_comment", broken)
    assert gate("--comment") == 0
    assert posted and "mlci gate: **promote**" in posted[0]
    assert "could not post the report: GitHub API answered 502" in capsys.readouterr().err

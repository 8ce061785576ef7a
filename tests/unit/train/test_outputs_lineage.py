"""The output contract, the lineage statement and its tags, and reproduce's comparison."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mlci.errors import InputError
from mlci.train import lineage
from mlci.train.outputs import OutputError, artifact_path, digest_tree, read_outputs
from mlci.train.reproduce import Tolerance, compare

pytestmark = pytest.mark.unit


def write(directory: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return directory


def test_read_outputs_reads_the_contract(tmp_path: Path) -> None:
    out = write(tmp_path, {"metrics.json": '{"accuracy": 0.9, "n": 3}',
                           "params.json": '{"lr": 0.1, "layers": [2, 3], "name": "x"}',
                           "predictions.csv": "id,y\n1,0\n", "model/w.json": "{}",
                           "plots/roc.txt": "roc"})
    outputs = read_outputs(out)
    assert outputs.metrics == {"accuracy": 0.9, "n": 3.0}
    assert outputs.params == {"lr": "0.1", "layers": "[2,3]", "name": "x"}
    assert outputs.has_model and outputs.has_predictions
    assert list(outputs.digests) == ["metrics.json", "model/w.json", "outputs/plots/roc.txt",
                                     "params.json", "predictions.csv"]
    assert outputs.digests["model/w.json"] == "sha256:" + hashlib.sha256(b"{}").hexdigest()


@pytest.mark.parametrize(("text", "message"), [
    (None, "wrote no metrics.json"),
    ("[1, 2]", "expected a JSON object of metric name -> number, got list"),
    ("{}", "no metrics"),
    ('{"a": "high"}', 'a: expected a number, got "high"'),
    ('{"a": true}', "a: expected a number, got true"),
    ('{"a": NaN}', "a: expected a finite number, got nan"),
    ('{"a": Infinity}', "a: expected a finite number, got inf"),
    ('{"a": null}', "a: expected a number, got null"),
    ('{"a": 1', "not valid JSON"),
    ('{"bad|name": 1}', "metric names may hold"),
])
def test_bad_metrics_are_clear_errors(tmp_path: Path, text: str | None, message: str) -> None:
    if text is not None:
        (tmp_path / "metrics.json").write_text(text)
    with pytest.raises(OutputError) as info:
        read_outputs(tmp_path)
    assert message in str(info.value)
    assert info.value.exit_code == 1
    assert str(info.value).startswith("metrics.json")


def test_bad_params_and_model(tmp_path: Path) -> None:
    write(tmp_path, {"metrics.json": '{"a": 1}', "params.json": "[]"})
    with pytest.raises(OutputError, match=r"params\.json: expected a JSON object"):
        read_outputs(tmp_path)
    (tmp_path / "params.json").unlink()
    (tmp_path / "model").write_text("not a dir")
    with pytest.raises(OutputError, match="model: expected a directory"):
        read_outputs(tmp_path)


def test_links_out_of_the_outputs_are_refused(tmp_path: Path) -> None:
    out = write(tmp_path / "out", {"metrics.json": '{"a": 1}'})
    secret = write(tmp_path, {"secret.txt": "s"}) / "secret.txt"
    (out / "leak.txt").symlink_to(secret)
    with pytest.raises(OutputError, match=r"leak\.txt: a symbolic link that points outside"):
        digest_tree(out)


def test_artifact_paths() -> None:
    assert artifact_path("model/a/b.bin") == "model/a/b.bin"
    assert artifact_path("metrics.json") == "metrics.json"
    assert artifact_path("report.html") == "outputs/report.html"


PREDICATE = {
    "code": {"commit": "c0ffee", "dirty": True},
    "data": {"fingerprint": "sha256:" + "1" * 64},
    "image": {"digest": "sha256:" + "2" * 64, "containerfile_sha256": "sha256:" + "3" * 64},
    "run": {"seed": 42, "command": "python3 /app/train.py"},
    "engine": {"name": "podman"},
    "ci": {"run_url": "https://github.com/o/r/actions/runs/1"},
}


def test_statement_shape_and_tags() -> None:
    doc = lineage.statement({"model/w.json": "sha256:" + "a" * 64}, PREDICATE)
    assert doc["_type"] == "https://in-toto.io/Statement/v1"
    assert doc["subject"] == [{"name": "model/w.json", "digest": {"sha256": "a" * 64}}]
    assert doc["predicateType"] == "https://mlci.dev/lineage/v1"
    assert lineage.subject_digests(doc) == {"model/w.json": "sha256:" + "a" * 64}
    assert lineage.parse(lineage.dumps(doc), origin="x") == doc
    assert lineage.tags(PREDICATE) == {
        "mlci.git_commit": "c0ffee", "mlci.git_dirty": "true",
        "mlci.data_fingerprint": "sha256:" + "1" * 64, "mlci.image_digest": "sha256:" + "2" * 64,
        "mlci.containerfile_sha256": "sha256:" + "3" * 64, "mlci.seed": "42",
        "mlci.engine": "podman", "mlci.command": "python3 /app/train.py",
        "mlci.ci_run_url": "https://github.com/o/r/actions/runs/1",
        "mlflow.source.git.commit": "c0ffee"}
    unknown = lineage.tags({"code": {"dirty": None}})
    assert unknown["mlci.git_dirty"] == "" and "mlflow.source.git.commit" not in unknown
    long = lineage.tags({"run": {"command": "x" * 6000}})["mlci.command"]
    assert len(long) == 5000 and long.endswith("...")


def test_parse_refuses_other_documents() -> None:
    with pytest.raises(InputError, match="not an mlci lineage statement"):
        lineage.parse(json.dumps({"_type": "https://in-toto.io/Statement/v1"}), origin="f")
    with pytest.raises(InputError, match="not valid JSON"):
        lineage.parse("{", origin="f")


def test_secret_looking_env_is_recorded_by_name_only() -> None:
    assert lineage.recorded_env({"EPOCHS": "3", "HF_TOKEN": "t", "AWS_SECRET_ACCESS_KEY": "k",
                                 "DB_PASSWORD": "p", "API_KEY": "a"}) == {
        "API_KEY": None, "AWS_SECRET_ACCESS_KEY": None, "DB_PASSWORD": None, "EPOCHS": "3",
        "HF_TOKEN": None}


def test_git_facts(tmp_path: Path) -> None:
    import subprocess

    assert lineage.git_facts(tmp_path) == {"commit": None, "dirty": None, "repository": None}
    assert lineage.git_facts(tmp_path, "abc")["commit"] == "abc"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false",
           "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "f").write_text("1")
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    subprocess.run([*git, "remote", "add", "origin", "https://user:tok@example.com/r.git"],
                   check=True)
    facts = lineage.git_facts(tmp_path)
    assert len(facts["commit"]) == 40 and facts["dirty"] is False
    assert facts["repository"] == "https://example.com/r.git"      # no credentials
    (tmp_path / "untracked").write_text("u")
    assert lineage.git_facts(tmp_path)["dirty"] is False
    (tmp_path / "f").write_text("2")
    assert lineage.git_facts(tmp_path)["dirty"] is True


A = {"model/w": "sha256:1", "metrics.json": "sha256:2"}


@pytest.mark.parametrize(("new_digests", "old_m", "new_m", "tol", "result"), [
    (A, {"acc": 0.9}, {"acc": 0.9}, "", "equal"),
    ({**A, "model/w": "sha256:9"}, {"acc": 0.9}, {"acc": 0.9}, "", "within-tolerance"),
    ({**A, "model/w": "sha256:9"}, {"acc": 0.9}, {"acc": 0.905}, "0.01", "within-tolerance"),
    ({**A, "model/w": "sha256:9"}, {"acc": 0.9}, {"acc": 0.905}, "0.001", "different"),
    ({**A, "model/w": "sha256:9"}, {"acc": 0.9}, {"acc": 0.905}, "1%", "within-tolerance"),
    ({**A, "model/w": "sha256:9"}, {"acc": 0.9}, {"acc": 0.905}, "0.1%", "different"),
    ({"metrics.json": "sha256:2"}, {"acc": 0.9}, {"acc": 0.9}, "", "different"),
    ({**A, "extra": "sha256:3"}, {"acc": 0.9}, {"acc": 0.9}, "", "different"),
    (A, {"acc": 0.9}, {"acc": 0.9, "f1": 0.1}, "1", "different"),
])
def test_compare(new_digests: dict[str, str], old_m: dict[str, float],
                 new_m: dict[str, float], tol: str, result: str) -> None:
    outcome = compare(A, new_digests, old_m, new_m, Tolerance.parse(tol))
    assert outcome.result == result
    if result != "equal":
        assert outcome.differences


def test_compare_lists_what_differs() -> None:
    outcome = compare(A, {**A, "model/w": "sha256:9"}, {"acc": 0.9}, {"acc": 0.8},
                      Tolerance.parse("0.05"))
    assert outcome.artifacts == {"equal": ["metrics.json"], "different": ["model/w"],
                                 "missing": [], "added": []}
    assert outcome.metrics["acc"]["within_tolerance"] is False
    assert outcome.differences[0].startswith("metric acc: 0.9 -> 0.8 (difference -0.1")
    assert "artifact model/w: sha256:1 -> sha256:9" in outcome.differences


def test_tolerance_parse() -> None:
    assert Tolerance.parse("0.5") == Tolerance(0.5, False)
    assert Tolerance.parse("2%") == Tolerance(0.02, True)
    assert str(Tolerance.parse("2%")) == "2%"
    for bad in ("-1", "abc", "1%%"):
        with pytest.raises(InputError, match="--tolerance"):
            Tolerance.parse(bad)

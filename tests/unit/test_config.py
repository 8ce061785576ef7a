"""mlci.yml: the typed model, its errors (file, line, key, expectation) and its precedence."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from mlci.cli import main
from mlci.config import load_config
from mlci.errors import ConfigError

pytestmark = pytest.mark.unit

FULL = """\
model: churn-classifier
registry: {tracking_uri: http://mlflow.internal:5000, alias: champion}
data:
  paths: [data/train, data/holdout]
  dvc: true
  s3: [s3://bucket/churn/raw/]
  contract: data/contract.yml
train:
  containerfile: train/Containerfile
  context: .
  command: python /app/train.py
  seed: 42
  engine: auto
  timeout: 3h
gate: gate.yml
deploy:
  target: nginx
  nginx: {config: /etc/nginx/conf.d/churn.conf, stable: 127.0.0.1:8001, canary: 127.0.0.1:8002}
  metrics: {source: nginx-log, path: /var/log/nginx/churn.json}
  state: s3://bucket/mlci/rollouts/churn.json
  protocol:
    interval: 1m
    failure_limit: 2
    min_requests: 100
    inconclusive_limit: 10
    max_duration: 8h
    steps:
      - {weight: 5, pause: 4h}
      - {weight: 25, pause: 1h}
      - {weight: 100}
    checks:
      error_rate:     {max: 0.01, max_regression: 0.005}
      latency_p99_ms: {max: 250, max_regression: "20%"}
"""


def args(config: Path | None = None, tracking_uri: str | None = None) -> argparse.Namespace:
    return argparse.Namespace(config=str(config) if config else None, tracking_uri=tracking_uri)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mlci.yml"
    path.write_text(text)
    return path


def test_the_design_example_loads_with_durations_in_seconds(tmp_path: Path) -> None:
    config = load_config(args(write(tmp_path, FULL)), env={})
    assert config.model == "churn-classifier"
    assert config.train.timeout == 3 * 3600
    assert config.deploy is not None
    protocol = config.deploy.protocol
    assert protocol.interval == 60 and protocol.max_duration == 8 * 3600
    assert [s.weight for s in protocol.steps] == [5, 25, 100]
    assert protocol.checks["latency_p99_ms"].max_regression == "20%"
    assert config.base_dir == tmp_path.resolve()
    assert config.resolve_path("gate.yml") == tmp_path.resolve() / "gate.yml"


def test_no_file_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(args(), env={})
    assert config.model is None and config.registry.alias == "champion"
    assert config.train.engine == "auto" and config.deploy is None


@pytest.mark.parametrize(
    ("text", "line", "key", "expected"),
    [
        ("model: m\ntrain:\n  seed: abc\n", 3, "train.seed", "valid integer"),
        ("model: m\ntrian: {}\n", 2, "trian", "unknown key"),
        ("train:\n  engine: kubernetes\n", 2, "train.engine", "'auto', 'docker'"),
        ("deploy:\n  protocol:\n    interval: soon\n", 3, "deploy.protocol.interval",
         "duration such as 30s"),
        ("deploy:\n  protocol:\n    steps:\n      - {weight: 50}\n      - {weight: 5}\n", 2,
         "deploy.protocol", "must not decrease"),
        ("deploy:\n  protocol:\n    steps:\n      - {weight: 150}\n", 4,
         "deploy.protocol.steps.0.weight", "less than or equal to 100"),
        ("data:\n  s3: [bucket/prefix]\n", 2, "data.s3.0", "s3://"),
        ("train: {containerfile: A, image: b}\n", 1, "train", "either containerfile or image"),
        # a name mlci could not register (it would also name the rollout's state file)
        ("registry: {}\nmodel: ../../etc/x\n", 2, "model", "it contains '/'"),
        ('model: "churn\\n::error::pwned"\n', 1, "model", "it contains '\\n', ':'"),
        ('model: " churn"\n', 1, "model", "starts or ends with a space"),
    ],
)
def test_errors_name_file_line_key_and_expectation(
    tmp_path: Path, text: str, line: int, key: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(args(path), env={})
    error = caught.value
    assert (error.file, error.line, error.key) == (str(path), line, key)
    assert expected in error.message
    assert str(error).startswith(f"{path}:{line}: {key}: ")


def test_broken_yaml_and_missing_file(tmp_path: Path) -> None:
    path = write(tmp_path, "model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML") as caught:
        load_config(args(path), env={})
    assert caught.value.line == 2
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(args(tmp_path / "nope.yml"), env={})
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_config(args(write(tmp_path, "- a\n- b\n")), env={})


def test_precedence_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = write(tmp_path, "model: from-file\nregistry: {tracking_uri: http://file}\n"
                 "train: {seed: 1}\n")
    env = {"MLCI_TRAIN__SEED": "7", "MLCI_MODEL": "from-env", "MLFLOW_TRACKING_URI": "http://amb",
           "MLCI_SEED": "99", "MLCI_DATA_DIR": "/data"}
    config = load_config(args(path), env=env)
    assert (config.model, config.train.seed) == ("from-env", 7)
    # The ambient MLflow variable is a default: the file's explicit value wins over it.
    assert config.registry.tracking_uri == "http://file"
    env["MLCI_REGISTRY__TRACKING_URI"] = "http://env"
    assert load_config(args(path), env=env).registry.tracking_uri == "http://env"
    assert load_config(args(path, "http://flag"), env=env).registry.tracking_uri == "http://flag"


def test_ambient_mlflow_uri_fills_an_unset_key(tmp_path: Path) -> None:
    path = write(tmp_path, "model: m\n")
    config = load_config(args(path), env={"MLFLOW_TRACKING_URI": "http://amb"})
    assert config.registry.tracking_uri == "http://amb"


def test_registry_uri_must_name_the_registry_in_use(tmp_path: Path) -> None:
    """mlci reads a separate registry from MLFLOW_REGISTRY_URI; a key naming another one would
    be ignored, promotions going elsewhere: refused (exit 2), never silently dropped."""
    path = write(tmp_path, "model: m\nregistry:\n  tracking_uri: http://track\n"
                 "  registry_uri: https://bob:s3cret@reg.example\n")
    with pytest.raises(ConfigError) as caught:
        load_config(args(path), env={})
    error = caught.value
    assert (error.file, error.line, error.key) == (str(path), 4, "registry.registry_uri")
    assert "expected the registry mlci uses (http://track)" in error.message
    assert "MLFLOW_REGISTRY_URI" in error.message and "s3cret" not in error.message
    env = {"MLFLOW_REGISTRY_URI": "https://bob:s3cret@reg.example"}
    assert load_config(args(path), env=env).registry.registry_uri == env["MLFLOW_REGISTRY_URI"]
    same = write(tmp_path, "model: m\nregistry: {tracking_uri: http://t, registry_uri: http://t}\n")
    assert load_config(args(same), env={}).registry.registry_uri == "http://t"


def test_environment_errors_name_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(args(write(tmp_path, "model: m\n")), env={"MLCI_TRAIN__SEED": "many"})
    assert caught.value.file == "environment MLCI_TRAIN__SEED"
    assert caught.value.key == "train.seed"


def test_config_from_mlci_config_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "model: via-env-path\n")
    assert load_config(args(), env={"MLCI_CONFIG": str(path)}).model == "via-env-path"


def test_cli_reports_bad_config_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITLAB_CI", raising=False)
    path = write(tmp_path, "train:\n  seed: -1\n")
    assert main(["config", "--config", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"mlci: error: {path}:2: train.seed: Input should be greater than or equal to 0 "
        "(got -1)\n")


def test_cli_prints_resolved_config_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    path = write(tmp_path, FULL)
    assert main(["config", "--config", str(path), "--json"]) == 0
    resolved = json.loads(capsys.readouterr().out)
    assert resolved["train"]["timeout"] == 10800
    assert resolved["deploy"]["protocol"]["steps"][0] == {"weight": 5, "pause": 14400}


def test_inline_gate_spec_is_typed_with_the_gate_model(tmp_path: Path) -> None:
    from mlci.gate.spec import GateSpec

    path = write(tmp_path, "gate:\n  primary: {metric: f1, min_improvement: 0.01}\n"
                 "  metrics:\n    f1: {min: 0.7}\n")
    assert isinstance(load_config(args(path), env={}).gate, GateSpec)
    bad = write(tmp_path, "gate:\n  primary: {metric: f1, min_improvement: 0.01}\n"
                "  metrics:\n    f1: {minimum: 0.7}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(args(bad), env={})
    assert caught.value.key is not None and caught.value.key.startswith("gate")
    assert caught.value.line is not None and caught.value.line >= 3


def test_a_long_bad_value_is_not_echoed_whole(tmp_path: Path) -> None:
    path = write(tmp_path, "model: x\ntrain: " + "'" + "a" * 5000 + "'\n")
    with pytest.raises(ConfigError) as caught:
        load_config(args(path), env={})
    assert len(str(caught.value)) < 400 and "..." in str(caught.value)

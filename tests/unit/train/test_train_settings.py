"""`mlci train` settings (flags over mlci.yml), input checks before any run exists, data
mounts, and which tracking URI the container gets."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from mlci.commands import train as train_cmd
from mlci.errors import InputError
from mlci.train.engine import Engine, LocalEngine
from mlci.train.runner import (
    Settings,
    check_env,
    container_tracking_uri,
    parse_env,
    prepare,
    snapshot_data,
)
from mlci.train.sagemaker import channels

pytestmark = pytest.mark.unit


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    parser.add_argument("--tracking-uri")
    parser.add_argument("--json", action="store_true")
    train_cmd.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("MLFLOW_TRACKING_URI", "MLCI_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "Containerfile").write_text("FROM x\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("x\n1\n")
    (tmp_path / "mlci.yml").write_text(
        "model: churn\nregistry: {tracking_uri: http://mlflow:5000}\n"
        "data: {paths: [data]}\n"
        "train:\n  containerfile: train/Containerfile\n  context: .\n"
        "  command: python3 /app/train.py\n  seed: 42\n  timeout: 3h\n"
        "  env: {EPOCHS: '3'}\n")
    return tmp_path


def test_config_supplies_the_defaults(project: Path) -> None:
    settings, _ = train_cmd.settings_from(parse("--config", str(project / "mlci.yml")))
    assert settings.containerfile == project / "train" / "Containerfile"
    assert settings.context == project             # train.context, relative to mlci.yml
    assert settings.command == "python3 /app/train.py"
    assert (settings.seed, settings.timeout, settings.experiment) == (42, 10800.0, "churn")
    assert settings.data == ["data"] and settings.env == {"EPOCHS": "3"}
    assert settings.tracking_uri == "http://mlflow:5000"
    assert settings.engine == "auto" and settings.network == "default"


def test_flags_override_the_config(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_SHELL", "v")
    settings, _ = train_cmd.settings_from(parse(
        "--config", str(project / "mlci.yml"), "--image", "ghcr.io/o/t:1", "--command", "run",
        "--seed", "7", "--timeout", "90", "--engine", "podman", "--network", "none",
        "--env", "EPOCHS=5", "A=b=c", "FROM_SHELL", "--data", "data/a.csv",
        "--experiment", "exp", "--tracking-uri", "http://other:5000"))
    assert settings.image == "ghcr.io/o/t:1" and settings.containerfile is None
    assert (settings.command, settings.seed, settings.timeout) == ("run", 7, 90.0)
    assert settings.env == {"EPOCHS": "5", "A": "b=c", "FROM_SHELL": "v"}
    assert settings.data == ["data/a.csv"] and settings.experiment == "exp"
    assert settings.tracking_uri == "http://other:5000"
    assert (settings.engine, settings.network) == ("podman", "none")


def test_containerfile_flag_context_defaults_to_its_directory(project: Path) -> None:
    settings, _ = train_cmd.settings_from(parse(
        "--config", str(project / "mlci.yml"), "--containerfile", "elsewhere/Dockerfile"))
    assert settings.containerfile == Path("elsewhere/Dockerfile")
    assert settings.context == Path("elsewhere")


def test_local_engine_ignores_the_configured_containerfile(project: Path) -> None:
    settings, _ = train_cmd.settings_from(parse("--config", str(project / "mlci.yml"),
                                                "--engine", "local"))
    assert settings.containerfile is None and settings.engine == "local"


@pytest.mark.parametrize(("argv", "message"), [
    (("--image", "a", "--containerfile", "b"), "give either --containerfile or --image"),
    (("--timeout", "soon"), "expected a duration"),
    (("--env", "1BAD=x"), "expected NAME=VALUE"),
    (("--env", "NOT_SET_ANYWHERE_X"), "is not set in the environment"),
    (("--seed", "-1"), "expected a seed >= 0"),
])
def test_bad_flags(project: Path, argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(InputError, match=message):
        train_cmd.settings_from(parse("--config", str(project / "mlci.yml"), *argv))


def settings(base: Path, **kw: object) -> Settings:
    values: dict[str, object] = {"command": "true", "base_dir": base, "image": "x",
                                 "tracking_uri": "http://127.0.0.1:1"}
    values.update(kw)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kw", "message"), [
    ({"command": " "}, "no training command"),
    ({"image": None}, "give exactly one of --containerfile FILE or --image REF"),
    ({"containerfile": Path("/nope/Containerfile"), "image": None}, "Containerfile not found"),
    ({"network": "host"}, "expected none or default"),
    ({"timeout": 0.0}, "expected a positive number of seconds"),
    ({"env": {"MLCI_SEED": "1"}}, "MLCI_SEED is set by mlci"),
    ({"engine": "local", "containerfile": Path("Containerfile"), "image": None},
     "--engine local runs the command on this host"),
])
def test_prepare_refuses_before_any_run(tmp_path: Path, kw: dict[str, object],
                                        message: str) -> None:
    with pytest.raises(InputError, match=message):
        prepare(settings(tmp_path, **kw))


def test_prepare_refuses_a_non_empty_output_dir(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "metrics.json").write_text("{}")
    with pytest.raises(InputError, match="must be empty"):
        prepare(settings(tmp_path, outputs=tmp_path / "out", engine="local"))


def test_data_mounts(tmp_path: Path) -> None:
    for rel in ("data/train/a.csv", "data/holdout/b.csv", "other/train/c.csv"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    one = snapshot_data(["data/train"], tmp_path)
    assert [(m.host, m.container, m.read_only) for m in one.mounts] == \
        [(tmp_path / "data" / "train", "/data", True)]
    assert one.fingerprint and one.fingerprint.startswith("sha256:")
    two = snapshot_data(["data/train", "data/holdout"], tmp_path)
    assert sorted(m.container for m in two.mounts) == ["/data/holdout", "/data/train"]
    globbed = snapshot_data(["data/*"], tmp_path)
    assert sorted(m.container for m in globbed.mounts) == ["/data/holdout", "/data/train"]
    assert globbed.fingerprint == two.fingerprint
    with pytest.raises(InputError, match="both named 'train'"):
        snapshot_data(["data/train", "other/train"], tmp_path)
    assert snapshot_data([], tmp_path).fingerprint is None
    with pytest.raises(InputError, match="matches no file"):
        snapshot_data(["missing"], tmp_path)


def test_which_tracking_uri_reaches_the_container() -> None:
    podman = Engine("podman", "podman", "4")
    assert container_tracking_uri("https://mlflow.example.com", podman, "default") == \
        "https://mlflow.example.com"
    assert container_tracking_uri("https://mlflow.example.com", podman, "none") is None
    assert container_tracking_uri("http://127.0.0.1:5000", podman, "default") is None
    assert container_tracking_uri("http://localhost:5000", podman, "default") is None
    assert container_tracking_uri("sqlite:///mlruns.db", podman, "default") is None
    assert container_tracking_uri("databricks", podman, "default") is None
    local = LocalEngine()
    assert container_tracking_uri("http://127.0.0.1:5000", local, "none") == \
        "http://127.0.0.1:5000"
    assert container_tracking_uri("sqlite:///mlruns.db", local, "default") == \
        "sqlite:///" + str(Path("mlruns.db").resolve())


def test_env_helpers() -> None:
    assert parse_env(["A=1", "B"], {"B": "2"}) == {"A": "1", "B": "2"}
    check_env({"OK_NAME": "1"})
    with pytest.raises(InputError, match="MLFLOW_RUN_ID is set by mlci"):
        check_env({"MLFLOW_RUN_ID": "x"})


def test_sagemaker_channels() -> None:
    assert channels(["s3://b/p/"]) == [("training", "s3://b/p/")]
    assert channels(["s3://b/train/", "s3://b/holdout"]) == [("train", "s3://b/train/"),
                                                             ("holdout", "s3://b/holdout")]
    with pytest.raises(InputError, match="both be channel"):
        channels(["s3://a/x/", "s3://b/x/"])


def test_configured_containerfile_uses_the_configured_context_default(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "mlci.yml").write_text("train: {containerfile: train/Containerfile, "
                                       "command: run}\n")
    settings, _ = train_cmd.settings_from(parse("--config", str(tmp_path / "mlci.yml")))
    assert settings.containerfile == tmp_path / "train" / "Containerfile"
    # One default on every path: the Containerfile's directory, as with --containerfile
    # and the action input (issue 11.11; it was the directory of mlci.yml here).
    assert settings.context == tmp_path / "train"

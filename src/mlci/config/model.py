"""The typed model of `mlci.yml`. The JSON Schema (`mlci schema`) is generated from it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    WithJsonSchema,
    model_validator,
)

from mlci.gate.spec import GateSpec

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$"


def parse_duration(value: object) -> float:
    """`90`, `"90s"`, `"1m"`, `"4h"` -> seconds. Raises ValueError with what was expected."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m, 4h or a number of seconds")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError("expected a duration such as 30s, 5m, 4h or a number of seconds")
    if seconds < 0:
        raise ValueError("expected a duration that is not negative")
    return seconds


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0},
                              {"type": "string", "pattern": DURATION_PATTERN}],
                    "description": "a duration: seconds, or a number with ms, s, m, h or d"}),
]


class Section(BaseModel):
    """Every section refuses unknown keys: a typo is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Registry(Section):
    tracking_uri: str | None = Field(
        None, description="MLflow tracking URI; default: $MLFLOW_TRACKING_URI, else a local "
        "SQLite store (sqlite:///mlruns.db, needs the full mlflow package)")
    registry_uri: str | None = Field(None, description="MLflow model registry URI, if separate")
    alias: str = Field("champion", pattern=r"^[A-Za-z0-9_-]+$",
                       description="registry alias that marks the production model")


class Data(Section):
    paths: list[str] = Field(default_factory=list, description="files, directories or globs")
    dvc: bool = Field(False, description="read hashes recorded in .dvc files and dvc.lock")
    s3: list[Annotated[str, Field(pattern=r"^s3://[^/]+(/.*)?$")]] = Field(
        default_factory=list, description="S3 prefixes (s3://bucket/prefix/)")
    contract: str | None = Field(None, description="data contract file for validate-data")


class Train(Section):
    containerfile: str | None = Field(None, description="Containerfile/Dockerfile to build")
    image: str | None = Field(None, description="image reference (pinned by digest ideally)")
    context: str = Field(".", description="build context directory")
    command: str | None = Field(None, description="training command run inside the container")
    seed: int = Field(0, ge=0, description="random seed, passed as MLCI_SEED")
    experiment: str | None = Field(None, description="MLflow experiment name")
    engine: Literal["auto", "docker", "podman", "local"] = "auto"
    gpus: str | None = Field(None, description="GPU request, mapped to the engine's own flag")
    timeout: Duration | None = Field(None, description="kill the run after this long")
    network: Literal["none", "default"] = "default"
    env: dict[str, str] = Field(default_factory=dict, description="extra environment")

    @model_validator(mode="after")
    def _one_image_source(self) -> Train:
        if self.containerfile and self.image:
            raise ValueError("give either containerfile or image, not both")
        return self


class NginxTarget(Section):
    config: str = Field(description="nginx config file mlci rewrites to split traffic")
    stable: str = Field(description="host:port of the stable model server")
    canary: str = Field(description="host:port of the canary model server")
    reload: str | None = Field(None, description="command that reloads nginx")


class MetricsSource(Section):
    source: Literal["nginx-log", "prometheus", "cloudwatch"]
    path: str | None = Field(None, description="nginx JSON access log (source: nginx-log)")
    url: str | None = Field(None, description="Prometheus base URL (source: prometheus)")


class Step(Section):
    weight: float = Field(ge=0, le=100, description="percent of traffic to the canary")
    pause: Duration | Literal["manual"] | None = Field(
        None, description="how long to hold this step, or manual approval")


class Check(Section):
    min: float | None = None
    max: float | None = None
    max_regression: float | Annotated[str, Field(pattern=r"^-?\d+(\.\d+)?%$")] | None = Field(
        None, description="allowed regression against the stable model over the same window; "
        "absolute, or relative as \"20%\"")


class Protocol(Section):
    interval: Duration = Field(60.0, description="time between checks")
    failure_limit: int = Field(1, ge=0, description="failed checks tolerated before rollback")
    min_requests: int = Field(100, ge=1, description="fewer requests in a window: inconclusive")
    inconclusive_limit: int = Field(10, ge=1, description="inconclusive windows before rollback")
    max_duration: Duration | None = None
    steps: list[Step] = Field(default_factory=lambda: [Step(weight=100)], min_length=1)
    checks: dict[str, Check] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _weights_increase(self) -> Protocol:
        weights = [step.weight for step in self.steps]
        if weights != sorted(weights):
            raise ValueError(f"step weights must not decrease, got {weights}")
        return self


class Deploy(Section):
    target: Literal["nginx", "local", "sagemaker", "command"] = "nginx"
    nginx: NginxTarget | None = None
    metrics: MetricsSource | None = None
    state: str | None = Field(None, description="rollout state: a local path or s3:// URI")
    protocol: Protocol = Field(default_factory=Protocol)


class Config(Section):
    """The whole of mlci.yml. Every key is optional where a default makes sense."""

    model_config = ConfigDict(extra="forbid", title="mlci.yml")

    model: str | None = Field(None, description="registered model name")
    registry: Registry = Field(default_factory=Registry)
    data: Data = Field(default_factory=Data)
    train: Train = Field(default_factory=Train)
    gate: str | GateSpec | None = Field(
        None, description="gate spec: a path to a spec file, or the spec inline")
    deploy: Deploy | None = None

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @property
    def base_dir(self) -> Path:
        """The directory of mlci.yml: relative paths in it are relative to here."""
        return self._base_dir

    def resolve_path(self, path: str) -> Path:
        return (self._base_dir / path) if not Path(path).is_absolute() else Path(path)

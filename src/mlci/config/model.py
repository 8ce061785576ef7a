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
    field_validator,
    model_validator,
)

from mlci import names
from mlci.canary.sources.config import MetricsConfig
from mlci.canary.targets.config import CommandTarget, LocalTarget, NginxTarget, SagemakerTarget
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
    registry_uri: str | None = Field(
        None, description="the MLflow model registry in use, checked: it must equal "
        "$MLFLOW_REGISTRY_URI (how a separate registry is set), else the tracking URI")
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
    context: str | None = Field(None, description="build context directory (default: the "
                                "Containerfile's directory)")
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


BUILTIN_CHECKS = ("error_rate", "latency_p50_ms", "latency_p90_ms", "latency_p99_ms")
_METRIC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


class Step(Section):
    weight: float = Field(gt=0, le=100, description="percent of traffic to the canary (may be "
                          "below 1: 0.5 is a 1:199 split)")
    pause: Duration | Literal["manual"] | None = Field(
        None, description="how long to hold this step (checks keep running), or `manual` to "
        "wait for `mlci canary step --approve`; none: advance after one passing window")


class Check(Section):
    min: float | None = Field(None, description="absolute lower limit for the canary's value")
    max: float | None = Field(None, description="absolute upper limit for the canary's value")
    max_regression: float | Annotated[str, Field(pattern=r"^\d+(\.\d+)?%$")] | None = Field(
        None, description="allowed regression against the stable model over the same window; "
        "absolute (same unit as the metric), or relative as \"20%\". Decided on evidence at "
        "the protocol's confidence")
    greater_is_better: bool | None = Field(
        None, description="direction of the metric; default false for error_rate and latency, "
        "true for business metrics")
    enforce: bool = Field(True, description="false: computed and reported, never acted on")

    @model_validator(mode="after")
    def _has_a_limit(self) -> Check:
        if self.min is None and self.max is None and self.max_regression is None:
            raise ValueError("a check needs at least one of min, max, max_regression")
        if isinstance(self.max_regression, (int, float)) and self.max_regression < 0:
            raise ValueError("max_regression must not be negative")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class Protocol(Section):
    interval: Duration = Field(60.0, gt=0, description="time between checks (one window)")
    failure_limit: int = Field(0, ge=0, description="failed windows tolerated; one more rolls "
                               "back (0: the first failed window rolls back)")
    min_requests: int = Field(100, ge=1, description="canary requests a window needs to be "
                              "judged; fewer: inconclusive (the rollout holds)")
    inconclusive_limit: int = Field(10, ge=0, description="inconclusive windows in a row "
                                    "tolerated; one more rolls back")
    max_duration: Duration | None = Field(None, description="roll back when the rollout has "
                                          "not finished after this long")
    confidence: float = Field(0.95, gt=0.5, lt=1, description="confidence a relative check "
                              "needs to call a regression (one-sided)")
    steps: list[Step] = Field(default_factory=lambda: [Step(weight=100)], min_length=1)
    checks: dict[str, Check] = Field(default_factory=dict, description="error_rate, "
                                     "latency_p50_ms, latency_p90_ms, latency_p99_ms, or a "
                                     "business metric the metric source reports")

    @model_validator(mode="after")
    def _valid(self) -> Protocol:
        weights = [step.weight for step in self.steps]
        if weights != sorted(weights):
            raise ValueError(f"step weights must not decrease, got {weights}")
        for name, check in self.checks.items():
            if not _METRIC_NAME.match(name):
                raise ValueError(f"check name {name!r}: expected {', '.join(BUILTIN_CHECKS)} "
                                 "or a metric name (letters, digits, _ . -)")
            if name in BUILTIN_CHECKS and check.greater_is_better:
                raise ValueError(f"checks.{name}: greater_is_better applies to business "
                                 "metrics only (a higher error rate or latency is worse)")
            if name.startswith("latency_") and name not in BUILTIN_CHECKS:
                raise ValueError(f"check name {name!r}: the latency checks are "
                                 "latency_p50_ms, latency_p90_ms and latency_p99_ms")
        return self


class Deploy(Section):
    target: Literal["nginx", "local", "sagemaker", "command"] = Field(
        "local", description="where traffic is split (docs/canary-targets.md)")
    nginx: NginxTarget | None = None
    local: LocalTarget | None = None
    command: CommandTarget | None = None
    sagemaker: SagemakerTarget | None = None
    metrics: MetricsConfig | None = Field(
        None, description="where the evidence comes from; default: what the target provides "
        "(nginx, local: the router's access log; command: its metrics command; sagemaker: "
        "CloudWatch)")
    state: str | None = Field(None, description="rollout state: a local path (default "
                              ".mlci/rollouts/<model>.json) or s3://bucket/key")
    canary_alias: str = Field("canary", pattern=r"^[A-Za-z0-9_-]+$",
                              description="registry alias of the version queued for rollout")
    protocol: Protocol = Field(default_factory=Protocol)

    @model_validator(mode="after")
    def _target_section(self) -> Deploy:
        if self.target in ("nginx", "command", "sagemaker") and getattr(self, self.target) is None:
            raise ValueError(f"target {self.target} needs a `{self.target}:` section")
        return self


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

    @field_validator("model")
    @classmethod
    def _usable_model_name(cls, value: str | None) -> str | None:
        # checked here so every stage refuses it at load, with the file and line
        why = None if value is None else names.model_name_problem(value)
        if why:
            raise ValueError(f"this registered model name cannot be used: {why}. "
                             f"{names.MODEL_NAME_HINT}")
        return value

    @property
    def base_dir(self) -> Path:
        """The directory of mlci.yml: relative paths in it are relative to here."""
        return self._base_dir

    def resolve_path(self, path: str) -> Path:
        return (self._base_dir / path) if not Path(path).is_absolute() else Path(path)

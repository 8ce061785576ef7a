"""`deploy.metrics` of mlci.yml: where a rollout's evidence comes from. One model per source,
told apart by `source:`. This module imports nothing of `mlci.config.model` at import time
(that module imports this one)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
)


def _duration(value: object) -> float:
    from mlci.config.model import parse_duration  # lazily: that module imports this one

    return parse_duration(value)


Duration = Annotated[float, BeforeValidator(_duration), WithJsonSchema({
    "anyOf": [{"type": "number", "minimum": 0},
              {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$"}],
    "description": "a duration: seconds, or a number with ms, s, m, h or d"})]
# names a business metric may take (they become check names in the protocol)
MetricName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Variants(_Section):
    """How each variant is named in the backend's labels or dimensions."""

    stable: str = "stable"
    canary: str = "canary"


class NginxLogSource(_Section):
    source: Literal["nginx-log"]
    path: str | None = Field(None, description="the router's JSON access log; default: the "
                             "one the nginx or local target writes")


class PrometheusSource(_Section):
    source: Literal["prometheus"]
    url: str = Field(pattern=r"^https?://", description="Prometheus base URL")
    variants: Variants = Field(default_factory=Variants)
    queries: dict[MetricName, str] = Field(
        description="PromQL per metric, a jinja2 template of {{ variant }} (the variant's "
        "label value) and {{ window }} (the window's length, e.g. 60s); `requests` and "
        "`errors` are required, latency_p50_ms/p90/p99 and any other name are optional")
    timeout: Duration = 30.0


class CloudWatchMetric(_Section):
    namespace: str
    metric: str
    stat: str = Field("Sum", description="Sum, Average, p99, ...")
    dimensions: dict[str, str] = Field(
        default_factory=dict, description="values are templates of {{ variant }}")
    scale: float = Field(1.0, description="multiplies the value (e.g. 0.001: us to ms)")


class CloudWatchSource(_Section):
    source: Literal["cloudwatch"]
    endpoint: str | None = Field(None, description="SageMaker endpoint whose AWS/SageMaker "
                                 "metrics are read (default: the sagemaker target's)")
    variants: Variants | None = Field(None, description="variant names (default: the "
                                      "sagemaker target's production variants)")
    metrics: dict[MetricName, CloudWatchMetric] = Field(
        default_factory=dict, description="more metrics (business metrics, or overrides of "
        "requests/errors/latency_*_ms)")
    region: str | None = None
    period: int = Field(60, ge=1, description="the period of the metrics, in seconds")


class CommandSource(_Section):
    source: Literal["command"]
    command: list[str] = Field(min_length=1, description="prints the window's metrics as "
                               "JSON; placeholders {start} {end} {variant_stable} ...")
    timeout: Duration = 120.0


def _source_of(value: Any) -> str | None:
    source = value.get("source") if isinstance(value, dict) else getattr(value, "source", None)
    # the tag is bracketed so that mlci's error messages leave it out of the key they name
    return f"source[{source}]" if source in SOURCES else None


SOURCES = ("nginx-log", "prometheus", "cloudwatch", "command")
MetricsConfig = Annotated[
    Annotated[NginxLogSource, Tag("source[nginx-log]")]
    | Annotated[PrometheusSource, Tag("source[prometheus]")]
    | Annotated[CloudWatchSource, Tag("source[cloudwatch]")]
    | Annotated[CommandSource, Tag("source[command]")],
    Discriminator(_source_of, custom_error_type="invalid_source",
                  custom_error_message="expected source: nginx-log, prometheus, cloudwatch "
                  "or command")]

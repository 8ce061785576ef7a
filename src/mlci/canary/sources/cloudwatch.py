"""CloudWatch as a metric source, through boto3's GetMetricData (one call per window).

Defaults read a SageMaker endpoint's per-variant metrics (namespace AWS/SageMaker, dimensions
EndpointName and VariantName): `requests` = Invocations (Sum), `errors` = Invocation4XXErrors
+ Invocation5XXErrors (Sum), `latency_p50_ms`/`p90`/`p99` = ModelLatency percentiles
(microseconds, scaled to ms). `metrics:` adds business metrics or overrides these. One period
covers the whole window (rounded up to a minute), so each query has one datapoint; if
CloudWatch returns several, Sum adds them and any other statistic takes the largest.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from mlci.canary.interfaces import CANARY, STABLE, SourceError, VariantSample, Window
from mlci.canary.sources.config import CloudWatchMetric
from mlci.canary.sources.config import CloudWatchSource as CloudWatchConfig
from mlci.errors import ConfigError

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)  # not HTML
SAGEMAKER = "AWS/SageMaker"


def sagemaker_metrics(endpoint: str) -> dict[str, list[CloudWatchMetric]]:
    dims = {"EndpointName": endpoint, "VariantName": "{{ variant }}"}

    def metric(name: str, stat: str = "Sum", scale: float = 1.0) -> CloudWatchMetric:
        return CloudWatchMetric(namespace=SAGEMAKER, metric=name, stat=stat, dimensions=dims,
                                scale=scale)

    return {"requests": [metric("Invocations")],
            "errors": [metric("Invocation4XXErrors"), metric("Invocation5XXErrors")],
            **{f"latency_{p}_ms": [metric("ModelLatency", p, 0.001)]
               for p in ("p50", "p90", "p99")}}


class CloudWatchSource:
    def __init__(self, config: CloudWatchConfig, sagemaker: Any = None) -> None:
        endpoint = config.endpoint or getattr(sagemaker, "endpoint", None)
        if config.variants is not None:
            names = {STABLE: config.variants.stable, CANARY: config.variants.canary}
        else:
            names = {STABLE: getattr(sagemaker, "stable_variant", STABLE),
                     CANARY: getattr(sagemaker, "canary_variant", CANARY)}
        self.metrics: dict[str, list[CloudWatchMetric]] = (
            sagemaker_metrics(endpoint) if endpoint else {})
        self.metrics.update({name: [metric] for name, metric in config.metrics.items()})
        if "requests" not in self.metrics or "errors" not in self.metrics:
            raise ConfigError("set `endpoint` (a SageMaker endpoint) or give `requests` and "
                              "`errors` under `metrics`", key="deploy.metrics")
        self.names = names
        self.settings = config
        self.period = config.period
        try:
            import boto3
        except ImportError:
            raise ConfigError("the cloudwatch source needs boto3: pip install 'mlci[s3]'",
                              key="deploy.metrics.source") from None
        self.client = boto3.client("cloudwatch", region_name=config.region)

    def _queries(self) -> tuple[list[dict[str, Any]],
                                dict[str, tuple[str, str, CloudWatchMetric]]]:
        queries: list[dict[str, Any]] = []
        index: dict[str, tuple[str, str, CloudWatchMetric]] = {}
        for variant, label in self.names.items():
            for name, metrics in self.metrics.items():
                for metric in metrics:
                    qid = f"q{len(queries)}"
                    try:
                        dims = [{"Name": k, "Value": _ENV.from_string(v).render(variant=label)}
                                for k, v in metric.dimensions.items()]
                    except TemplateError as error:
                        raise SourceError(f"metric {name}: dimension template: "
                                          f"{error}") from None
                    queries.append({"Id": qid, "ReturnData": True, "MetricStat": {
                        "Metric": {"Namespace": metric.namespace, "MetricName": metric.metric,
                                   "Dimensions": dims},
                        "Period": self.period, "Stat": metric.stat}})
                    index[qid] = (variant, name, metric)
        return queries, index

    def read(self, cursor: dict[str, Any], start: float,
             end: float) -> tuple[Window, dict[str, Any]]:
        self.period = max(self.settings.period, 60 * math.ceil((end - start) / 60))
        queries, index = self._queries()
        results: list[dict[str, Any]] = []
        try:
            pages = self.client.get_paginator("get_metric_data").paginate(
                MetricDataQueries=queries,
                StartTime=datetime.fromtimestamp(start, timezone.utc),
                EndTime=datetime.fromtimestamp(max(end, start + 1), timezone.utc))
            for page in pages:
                results.extend(page.get("MetricDataResults", []))
        except Exception as error:  # noqa: BLE001 - botocore's errors share no base we import
            raise SourceError(f"cannot read CloudWatch metrics: {error}") from None
        samples = {STABLE: VariantSample(), CANARY: VariantSample()}
        totals: dict[tuple[str, str], float] = {}
        for result in results:
            if result.get("Id") not in index:
                continue
            variant, name, metric = index[result["Id"]]
            values = [float(v) for v in result.get("Values") or [] if v is not None]
            if not values:
                continue
            value = (sum(values) if metric.stat == "Sum" else max(values)) * metric.scale
            totals[(variant, name)] = totals.get((variant, name), 0.0) + value
        for (variant, name), value in totals.items():
            sample = samples[variant]
            if name in ("requests", "errors"):
                setattr(sample, name, round(value))
            else:
                sample.business[name] = value
        for sample in samples.values():
            sample.errors = min(sample.errors, sample.requests)
        return Window(start=start, end=end, stable=samples[STABLE],
                      canary=samples[CANARY]), cursor

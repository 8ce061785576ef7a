"""The `sagemaker` target and the `cloudwatch` source against moto's server, spoken to by boto3
as a real endpoint. moto implements endpoints, endpoint configurations, weight changes and
GetMetricData with Sum/Average/Minimum/Maximum/SampleCount; it does not implement
UpdateEndpoint (the `canary_model` way, tested below as configuration building only) nor
percentile statistics (its server answers 500 to a p99 query; documented in
docs/canary-targets.md)."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import pytest

from mlci.canary.interfaces import ModelRef, SourceError, TargetError
from mlci.canary.sources.cloudwatch import CloudWatchSource
from mlci.canary.sources.config import CloudWatchSource as CloudWatchConfig
from mlci.canary.targets.config import SagemakerTarget as SagemakerConfig
from mlci.canary.targets.sagemaker import SagemakerTarget, with_canary, without_canary
from tests.registry_support import unique

pytestmark = pytest.mark.integration

REFS = (ModelRef("churn", "1", "models:/churn/1"), ModelRef("churn", "2", "models:/churn/2"))


def endpoint(variants: tuple[str, ...] = ("stable", "canary")) -> str:
    import boto3

    sagemaker = boto3.client("sagemaker")
    name = unique("churn")
    for variant in variants:
        sagemaker.create_model(ModelName=f"{name}-{variant}", ExecutionRoleArn=
                               "arn:aws:iam::123456789012:role/sm", PrimaryContainer={
                                   "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"})
    sagemaker.create_endpoint_config(EndpointConfigName=f"{name}-config", ProductionVariants=[
        {"VariantName": v, "ModelName": f"{name}-{v}", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0 if v == "stable" else 0.0}
        for v in variants])
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
    return name


def weights(name: str) -> dict[str, float]:
    import boto3

    found = boto3.client("sagemaker").describe_endpoint(EndpointName=name)
    return {v["VariantName"]: v["CurrentWeight"] for v in found["ProductionVariants"]}


def test_weights_shift_between_the_production_variants(s3_env: dict[str, str]) -> None:
    name = endpoint()
    target = SagemakerTarget(SagemakerConfig(endpoint=name))
    saved = target.prepare(*REFS, {})
    assert saved["variants"] == {"stable": "stable", "canary": "canary"}
    assert weights(name) == {"stable": 100.0, "canary": 0.0}
    target.set_weight(0.5)
    assert weights(name) == {"stable": 99.5, "canary": 0.5}
    assert target.health() is None
    target.finish("promoted")
    assert weights(name) == {"stable": 0.0, "canary": 100.0}


def test_a_missing_variant_or_endpoint_is_a_clear_error(s3_env: dict[str, str]) -> None:
    name = endpoint(("stable",))
    with pytest.raises(TargetError, match=r"no variant 'canary'.*canary_model"):
        SagemakerTarget(SagemakerConfig(endpoint=name)).prepare(*REFS, {})
    with pytest.raises(TargetError, match="Could not find endpoint"):
        SagemakerTarget(SagemakerConfig(endpoint=unique("absent"))).prepare(*REFS, {})


def test_canary_variant_configurations_are_built_from_the_current_ones() -> None:
    current: list[dict[str, Any]] = [
        {"VariantName": "stable", "ModelName": "churn-1", "InitialInstanceCount": 2,
         "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0},
        {"VariantName": "shadow", "ModelName": "x", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large", "InitialVariantWeight": 0.0}]
    added = with_canary(current, stable="stable", canary="canary", model="churn-2",
                        instance_type="ml.c5.large", instance_count=1)
    assert [v["VariantName"] for v in added] == ["stable", "shadow", "canary"]
    assert added[-1] == {"VariantName": "canary", "ModelName": "churn-2",
                         "InitialVariantWeight": 0.0, "InitialInstanceCount": 1,
                         "InstanceType": "ml.c5.large"}
    promoted = without_canary(added, stable="stable", canary="canary", promoted=True)
    assert [(v["VariantName"], v["ModelName"]) for v in promoted] == [("stable", "churn-2"),
                                                                      ("shadow", "x")]
    rolled = without_canary(added, stable="stable", canary="canary", promoted=False)
    assert rolled[0]["ModelName"] == "churn-1" and len(rolled) == 2
    with pytest.raises(TargetError, match="no variant 'main'"):
        with_canary(current, stable="main", canary="canary", model="m", instance_type="t",
                    instance_count=1)


def put(name: str, variant: str, metric: str, value: float, namespace: str = "AWS/SageMaker",
        unit: str = "Count") -> None:
    import boto3

    boto3.client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=[{
        "MetricName": metric, "Value": value, "Unit": unit,
        "Timestamp": datetime.now(timezone.utc),
        "Dimensions": [{"Name": "EndpointName", "Value": name},
                       {"Name": "VariantName", "Value": variant}]}])


def test_cloudwatch_reads_the_endpoint_metrics_per_variant(s3_env: dict[str, str]) -> None:
    name = unique("churn")
    for variant, calls, client_errors, server_errors in (("stable", 200, 1, 1),
                                                         ("canary", 20, 3, 0)):
        put(name, variant, "Invocations", calls)
        put(name, variant, "Invocation4XXErrors", client_errors)
        put(name, variant, "Invocation5XXErrors", server_errors)
        put(name, variant, "ModelLatency", 12000.0 if variant == "stable" else 30000.0,
            unit="Microseconds")
        put(name, variant, "Conversions", 0.25 if variant == "canary" else 0.5,
            namespace="Shop")
    dimensions = {"EndpointName": name, "VariantName": "{{ variant }}"}
    # moto's server fails (500) on percentile statistics: the test reads Maximum/Average
    latency = {f"latency_{p}_ms": {"namespace": "AWS/SageMaker", "metric": "ModelLatency",
                                   "stat": "Average" if p == "p50" else "Maximum",
                                   "scale": 0.001, "dimensions": dimensions}
               for p in ("p50", "p90", "p99")}
    config = CloudWatchConfig.model_validate({
        "source": "cloudwatch", "metrics": {
            **latency,
            "conversion": {"namespace": "Shop", "metric": "Conversions", "stat": "Average",
                           "dimensions": {"EndpointName": name,
                                          "VariantName": "{{ variant }}"}}}})
    source = CloudWatchSource(config, SagemakerConfig(endpoint=name))
    now = time.time()
    window, cursor = source.read({"kept": 1}, now - 120, now + 60)
    assert (window.stable.requests, window.stable.errors) == (200, 2)
    assert (window.canary.requests, window.canary.errors) == (20, 3)
    assert window.stable.business["latency_p99_ms"] == pytest.approx(12.0)
    assert window.canary.business["latency_p99_ms"] == pytest.approx(30.0)
    assert window.canary.business["conversion"] == pytest.approx(0.25)
    assert window.canary.business["latency_p50_ms"] == pytest.approx(30.0)
    assert cursor == {"kept": 1}


def test_unreachable_cloudwatch_is_a_source_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
                       "AWS_MAX_ATTEMPTS": "1"}.items():
        monkeypatch.setenv(key, value)
    source = CloudWatchSource(CloudWatchConfig(source="cloudwatch", endpoint="churn"))
    with pytest.raises(SourceError, match="cannot read CloudWatch metrics"):
        source.read({}, time.time() - 60, time.time())

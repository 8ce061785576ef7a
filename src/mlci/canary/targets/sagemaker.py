"""The `sagemaker` target: production variants of one SageMaker endpoint, through boto3.

Two ways to hold the canary:
- the endpoint already carries both variants (`canary_model` unset; infrastructure as code
  made them): mlci only shifts traffic with UpdateEndpointWeightsAndCapacities; promotion
  leaves the canary variant at 100%, rollback the stable one;
- `canary_model` is set: prepare adds the canary variant (a new endpoint configuration with
  the current variants plus the canary at weight 0, then UpdateEndpoint), weights shift as
  above, promotion moves the canary's model into the stable variant and rollback removes the
  canary variant (each one more endpoint configuration and UpdateEndpoint).
Every change waits until the endpoint is InService again.
"""

from __future__ import annotations

import time
from typing import Any

from mlci.canary.interfaces import ModelRef, TargetError
from mlci.canary.targets.config import SagemakerTarget as SagemakerConfig
from mlci.errors import ConfigError


def with_canary(variants: list[dict[str, Any]], *, stable: str, canary: str, model: str,
                instance_type: str, instance_count: int) -> list[dict[str, Any]]:
    """The production variants of a configuration that adds (or re-points) the canary at 0."""
    kept = [_config_variant(v) for v in variants if v["VariantName"] != canary]
    if not any(v["VariantName"] == stable for v in kept):
        raise TargetError(f"the endpoint has no variant {stable!r}")
    return [*kept, {"VariantName": canary, "ModelName": model, "InitialVariantWeight": 0.0,
                    "InitialInstanceCount": instance_count, "InstanceType": instance_type}]


def without_canary(variants: list[dict[str, Any]], *, stable: str, canary: str,
                   promoted: bool) -> list[dict[str, Any]]:
    """The variants once the rollout is over: the canary gone; after a promotion the stable
    variant serves the canary's model."""
    by_name = {v["VariantName"]: _config_variant(v) for v in variants}
    if stable not in by_name:
        raise TargetError(f"the endpoint has no variant {stable!r}")
    result = by_name[stable]
    if promoted and canary in by_name:
        result = {**result, "ModelName": by_name[canary]["ModelName"]}
    others = [v for name, v in by_name.items() if name not in (stable, canary)]
    return [{**result, "InitialVariantWeight": 1.0}, *others]


def _config_variant(variant: dict[str, Any]) -> dict[str, Any]:
    keys = ("VariantName", "ModelName", "InitialInstanceCount", "InstanceType",
            "InitialVariantWeight", "AcceleratorType", "ServerlessConfig")
    return {k: variant[k] for k in keys if k in variant}


class SagemakerTarget:
    name = "sagemaker"

    def __init__(self, config: SagemakerConfig) -> None:
        self.settings = config
        try:
            import boto3
        except ImportError:
            raise ConfigError("the sagemaker target needs boto3: pip install 'mlci[s3]'",
                              key="deploy.target") from None
        self.client = boto3.client("sagemaker", region_name=config.region)
        self.canary_model: str | None = None

    def _call(self, what: str, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(**kwargs)
        except Exception as error:  # noqa: BLE001 - botocore's errors share no base we import
            raise TargetError(f"SageMaker {what} ({method}) failed for endpoint "
                              f"{self.settings.endpoint}: {error}") from None

    def _endpoint(self) -> dict[str, Any]:
        return dict(self._call("describe", "describe_endpoint",
                               EndpointName=self.settings.endpoint))

    def _wait(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.settings.wait_timeout
        pause = 0.5
        while True:
            endpoint = self._endpoint()
            status = endpoint.get("EndpointStatus")
            if status == "InService":
                return endpoint
            if status in ("Failed", "OutOfService", "Deleting"):
                raise TargetError(f"endpoint {self.settings.endpoint} is {status}: "
                                  f"{endpoint.get('FailureReason', '')}")
            if time.monotonic() > deadline:
                raise TargetError(f"endpoint {self.settings.endpoint} still {status} after "
                                  f"{self.settings.wait_timeout:.0f}s")
            time.sleep(pause)
            pause = min(pause * 2, 15.0)

    def _reconfigure(self, variants: list[dict[str, Any]], tag: str) -> None:
        name = f"{self.settings.endpoint}-mlci-{tag}-{int(time.time())}"[:63]
        self._call("endpoint configuration", "create_endpoint_config",
                   EndpointConfigName=name, ProductionVariants=variants)
        self._call("update", "update_endpoint", EndpointName=self.settings.endpoint,
                   EndpointConfigName=name)
        self._wait()

    def _variants(self) -> list[dict[str, Any]]:
        endpoint = self._wait()
        config = self._call("describe configuration", "describe_endpoint_config",
                            EndpointConfigName=endpoint["EndpointConfigName"])
        return list(config["ProductionVariants"])

    def prepare(self, stable: ModelRef, canary: ModelRef, saved: dict[str, Any]) -> dict[str, Any]:
        variants = {v["VariantName"]: v for v in self._variants()}
        s, c = self.settings.stable_variant, self.settings.canary_variant
        if s not in variants:
            raise TargetError(f"endpoint {self.settings.endpoint} has no variant {s!r} "
                              f"(it has {', '.join(sorted(variants)) or 'none'})")
        if self.settings.canary_model:
            self.canary_model = self.settings.canary_model.replace("{version}", canary.version)
            if variants.get(c, {}).get("ModelName") != self.canary_model:
                # (also when a crash cut an earlier prepare short)
                self._reconfigure(with_canary(
                    list(variants.values()), stable=s, canary=c, model=self.canary_model,
                    instance_type=self.settings.instance_type,
                    instance_count=self.settings.instance_count), f"canary-{canary.version}")
                saved = {}
        elif c not in variants:
            raise TargetError(f"endpoint {self.settings.endpoint} has no variant {c!r}: create "
                              f"it (weight 0) or set deploy.sagemaker.canary_model so mlci "
                              f"adds it")
        if not saved:
            self.set_weight(0.0)
        return {"target": self.name, "endpoint": self.settings.endpoint,
                "variants": {"stable": s, "canary": c}, "canary_model": self.canary_model}

    def set_weight(self, weight: float) -> None:
        self._call("weight change", "update_endpoint_weights_and_capacities",
                   EndpointName=self.settings.endpoint, DesiredWeightsAndCapacities=[
                       {"VariantName": self.settings.stable_variant,
                        "DesiredWeight": float(100 - weight)},
                       {"VariantName": self.settings.canary_variant,
                        "DesiredWeight": float(weight)}])
        self._wait()

    def health(self) -> str | None:
        try:
            endpoint = self._endpoint()
        except TargetError as error:
            return str(error)
        status = endpoint.get("EndpointStatus")
        return None if status in ("InService", "Updating") else \
            f"endpoint {self.settings.endpoint} is {status}"

    def finish(self, outcome: str) -> None:
        if outcome not in ("promoted", "rolled-back"):
            raise TargetError(f"unknown outcome {outcome!r}")
        promoted = outcome == "promoted"
        variants = self._variants()
        if not any(v["VariantName"] == self.settings.canary_variant for v in variants):
            return  # an earlier finish removed it already
        self.set_weight(100.0 if promoted else 0.0)
        if self.settings.canary_model:
            self._reconfigure(without_canary(
                variants, stable=self.settings.stable_variant,
                canary=self.settings.canary_variant, promoted=promoted), outcome)

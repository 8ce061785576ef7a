"""The Prometheus HTTP API as a metric source: one instant query per metric and variant.

Each query is a jinja2 template (sandboxed, undefined names are errors) of `{{ variant }}`
(the variant's label value, `variants.stable`/`variants.canary`) and `{{ window }}` (the
window's length as a PromQL duration, e.g. `60s`), evaluated at the window's end:

    requests: sum(increase(http_requests_total{model_variant="{{ variant }}"}[{{ window }}]))

A query must return one number (a scalar, or a vector of one sample: aggregate with sum()).
`requests` and `errors` are required; an empty result there means no traffic (0). Any other
query with an empty or NaN result is left out of the window, so a check on it has no value
(and fails: never a pass on no data). Anything unreadable is a SourceError.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from mlci.canary.interfaces import CANARY, STABLE, SourceError, VariantSample, Window
from mlci.canary.sources.config import PrometheusSource as PrometheusConfig
from mlci.errors import ConfigError

COUNTS = ("requests", "errors")
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)  # PromQL, not HTML


def promql_duration(seconds: float) -> str:
    return f"{max(1, round(seconds))}s"


class PrometheusSource:
    def __init__(self, config: PrometheusConfig) -> None:
        missing = [name for name in COUNTS if name not in config.queries]
        if missing:
            raise ConfigError(f"queries {' and '.join(missing)} are required",
                              key="deploy.metrics.queries")
        self.settings = config
        self.templates = {}
        for name, text in config.queries.items():
            try:
                self.templates[name] = _ENV.from_string(text)
            except TemplateError as error:
                raise ConfigError(f"not a valid template: {error}",
                                  key=f"deploy.metrics.queries.{name}") from None

    def read(self, cursor: dict[str, Any], start: float,
             end: float) -> tuple[Window, dict[str, Any]]:
        samples = {STABLE: VariantSample(), CANARY: VariantSample()}
        labels = {STABLE: self.settings.variants.stable, CANARY: self.settings.variants.canary}
        for variant, sample in samples.items():
            for name, template in self.templates.items():
                try:
                    query = template.render(variant=labels[variant],
                                            window=promql_duration(end - start))
                except TemplateError as error:
                    raise SourceError(f"query {name}: {error}") from None
                value = self._query(name, query, end)
                if name in COUNTS:
                    setattr(sample, name, round(value) if value is not None else 0)
                elif value is not None:
                    sample.business[name] = value
            sample.errors = min(sample.errors, sample.requests)
        return Window(start=start, end=end, stable=samples[STABLE],
                      canary=samples[CANARY]), cursor

    def _query(self, name: str, query: str, at: float) -> float | None:
        url = (self.settings.url.rstrip("/") + "/api/v1/query?" +
               urllib.parse.urlencode({"query": query, "time": f"{at:.3f}"}))
        try:
            with urllib.request.urlopen(url, timeout=self.settings.timeout) as reply:  # noqa: S310
                body = json.loads(reply.read())
        except urllib.error.HTTPError as error:
            detail = _error_of(error)
            raise SourceError(f"Prometheus refused query {name} ({query}): {detail}") from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise SourceError(f"cannot query Prometheus at {self.settings.url}: "
                              f"{reason}") from None
        return _number(name, query, body)


def _error_of(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read()).get("error") or error)
    except (ValueError, AttributeError, OSError):
        return f"HTTP {error.code}"


def _number(name: str, query: str, body: Any) -> float | None:
    if not isinstance(body, dict) or body.get("status") != "success":
        raise SourceError(f"query {name} ({query}) failed: "
                          f"{body.get('error') if isinstance(body, dict) else body!r}")
    data = body.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        value = result[1]
    elif kind == "vector" and isinstance(result, list):
        if not result:
            return None
        if len(result) > 1:
            raise SourceError(f"query {name} ({query}) returned {len(result)} series; it must "
                              f"return one number (aggregate with sum() or by the variant)")
        try:
            value = result[0]["value"][1]
        except (KeyError, IndexError, TypeError):
            raise SourceError(f"query {name} ({query}): unexpected answer {result!r}") from None
    else:
        raise SourceError(f"query {name} ({query}) returned a {kind}; expected one number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SourceError(f"query {name} ({query}): not a number: {value!r}") from None
    return None if math.isnan(number) else number

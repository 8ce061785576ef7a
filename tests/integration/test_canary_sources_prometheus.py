"""The Prometheus source against Debian's `prometheus` scraping a small exporter."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlci.canary.interfaces import SourceError, Window
from mlci.canary.sources.config import PrometheusSource as PrometheusConfig
from mlci.canary.sources.prometheus import PrometheusSource
from mlci.errors import ConfigError
from tests.canary_support import Exporter, PrometheusServer
from tests.services import refused_url

pytestmark = pytest.mark.integration

SELECT = '{variant="{{ variant }}"'
QUERIES = {
    "requests": "sum(model_requests_total" + SELECT + "})",
    "errors": "sum(model_requests_total" + SELECT + ',code!~"2.."})',
    "latency_p99_ms": "histogram_quantile(0.99, sum by (le) (model_latency_seconds_bucket"
                      + SELECT + "})) * 1000",
    "recent": "sum(increase(model_requests_total" + SELECT + "}[{{ window }}]))",
    "conversion": "max(model_conversion" + SELECT + "})",
}


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    exporter = Exporter(
        requests={("v1", "200"): 90, ("v1", "500"): 10, ("v2", "200"): 45, ("v2", "400"): 5},
        latency_buckets={"v1": {"0.1": 0, "0.2": 100, "0.5": 100, "+Inf": 100},
                         "v2": {"0.1": 0, "0.2": 0, "0.5": 50, "+Inf": 50}},
        gauges={"v1": 0.031, "v2": 0.027})
    exporter.start()
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"),
                              target=f"127.0.0.1:{exporter.port}", exporter=exporter)
    server.start()
    yield server
    server.stop()
    exporter.stop()


def source(url: str, **queries: str) -> PrometheusSource:
    return PrometheusSource(PrometheusConfig(source="prometheus", url=url,
                                             variants={"stable": "v1", "canary": "v2"},
                                             queries=queries or QUERIES, timeout=10))


def scraped(metrics: PrometheusSource) -> Window:
    """Prometheus has a sample of the exporter (it scrapes every second)."""
    deadline = time.monotonic() + 120
    while True:
        now = time.time()
        try:
            window, _ = metrics.read({}, now - 30, now)
        except SourceError:
            window = None       # not ready yet (503 while it starts)
        if window is not None and window.stable.requests == 100:
            return window
        if time.monotonic() > deadline:
            raise AssertionError(f"Prometheus never scraped the exporter: {window}")
        time.sleep(0.2)


def test_queries_are_templated_per_variant(prometheus: PrometheusServer) -> None:
    window = scraped(source(prometheus.url))
    assert (window.stable.requests, window.stable.errors) == (100, 10)
    assert (window.canary.requests, window.canary.errors) == (50, 5)
    assert window.stable.business["latency_p99_ms"] == pytest.approx(199.0)
    assert window.canary.business["latency_p99_ms"] == pytest.approx(497.0)
    assert window.stable.business["conversion"] == pytest.approx(0.031)
    assert window.stable.latencies_ms == []
    # {{ window }}: an increase over the window shows traffic that arrives now
    assert prometheus.exporter is not None
    prometheus.exporter.requests[("v2", "200")] += 20
    deadline = time.monotonic() + 60
    while window.canary.business.get("recent", 0.0) <= 0:
        assert time.monotonic() < deadline, window
        time.sleep(0.2)
        window, _ = source(prometheus.url).read({}, time.time() - 30, time.time())
    assert window.canary.requests == 70


def test_a_query_of_several_series_is_refused(prometheus: PrometheusServer) -> None:
    scraped(source(prometheus.url))
    several = source(prometheus.url, requests="model_requests_total" + SELECT + "}",
                     errors="vector(0)")
    with pytest.raises(SourceError, match="returned 2 series"):
        several.read({}, time.time() - 30, time.time())


def test_a_bad_query_reports_prometheus_error(prometheus: PrometheusServer) -> None:
    broken = source(prometheus.url, requests="sum(rate(x[{{ window }}])", errors="vector(0)")
    with pytest.raises(SourceError, match=r"Prometheus refused query requests.*parse error"):
        broken.read({}, time.time() - 30, time.time())


def test_an_unreachable_prometheus_is_a_source_error() -> None:
    with refused_url() as url, pytest.raises(SourceError, match="cannot query Prometheus"):
        source(url).read({}, 0, 60)


def test_requests_and_errors_queries_are_required(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="errors are required"):
        source("http://127.0.0.1:9", requests="vector(1)")
    with pytest.raises(ConfigError, match="not a valid template"):
        source("http://127.0.0.1:9", requests="{{ variant", errors="vector(0)")

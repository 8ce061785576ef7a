"""`make_source`: the source `deploy.metrics` names, else the one the target provides; the
`deploy:` section as mlci.yml spells it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from mlci.canary.sources import make_source
from mlci.canary.sources.cloudwatch import CloudWatchSource
from mlci.canary.sources.command import CommandSource
from mlci.canary.sources.nginx_log import NginxLogSource
from mlci.canary.sources.prometheus import PrometheusSource
from mlci.config.model import Deploy
from mlci.errors import ConfigError

pytestmark = pytest.mark.unit


def deploy(**data: object) -> Deploy:
    return Deploy.model_validate(data)


def test_local_and_nginx_default_to_the_router_access_log(tmp_path: Path) -> None:
    source = make_source(deploy(target="local"), base_dir=tmp_path,
                         saved={"access_log": "/srv/serve/nginx/logs/access.json.log"})
    assert isinstance(source, NginxLogSource)
    assert source.path == Path("/srv/serve/nginx/logs/access.json.log")


def test_a_relative_log_path_is_relative_to_mlci_yml(tmp_path: Path) -> None:
    source = make_source(deploy(target="local", metrics={"source": "nginx-log",
                                                         "path": "logs/a.log"}),
                         base_dir=tmp_path, saved={})
    assert isinstance(source, NginxLogSource) and source.path == tmp_path / "logs/a.log"


def test_the_command_target_metrics_command_is_its_default_source(tmp_path: Path) -> None:
    config = deploy(target="command", command={"set_weight": ["true"],
                                               "metrics": [sys.executable, "m.py", "{start}"]})
    assert isinstance(make_source(config, base_dir=tmp_path, saved={}), CommandSource)
    without = deploy(target="command", command={"set_weight": ["true"]})
    with pytest.raises(ConfigError, match="no metrics of its own") as caught:
        make_source(without, base_dir=tmp_path, saved={})
    assert caught.value.key == "deploy.metrics"


def test_sagemaker_defaults_to_cloudwatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    source = make_source(deploy(target="sagemaker", sagemaker={"endpoint": "churn"}),
                         base_dir=tmp_path, saved={})
    assert isinstance(source, CloudWatchSource)
    assert set(source.metrics) == {"requests", "errors", "latency_p50_ms", "latency_p90_ms",
                                   "latency_p99_ms"}


def test_prometheus_is_built_from_its_section(tmp_path: Path) -> None:
    config = deploy(target="local", metrics={
        "source": "prometheus", "url": "http://127.0.0.1:9090",
        "queries": {"requests": "sum(r{v='{{ variant }}'})", "errors": "sum(e)"}})
    assert isinstance(make_source(config, base_dir=tmp_path, saved={}), PrometheusSource)


@pytest.mark.parametrize("metrics", [
    {"source": "graphite"},
    {"source": "prometheus", "url": "ftp://x", "queries": {}},
    {"source": "nginx-log", "path": "a.log", "offset": 3},
    {"source": "prometheus", "url": "http://p", "queries": {"bad name": "x"}},
])
def test_bad_metrics_sections_are_refused(metrics: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as caught:
        deploy(target="local", metrics=metrics)
    assert caught.value.errors()[0]["loc"][0] == "metrics"

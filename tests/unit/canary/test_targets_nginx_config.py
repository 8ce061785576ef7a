"""The router's configuration: values from mlci.yml cannot inject nginx directives, weights
render as nginx takes them, and the factory names a missing section."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from mlci.canary.interfaces import TargetError
from mlci.canary.targets import make_target
from mlci.canary.targets.config import LocalTarget, NginxTarget
from mlci.canary.targets.router import nginx_percent, render
from mlci.errors import ConfigError

pytestmark = pytest.mark.unit

GOOD = {"config": "/etc/nginx/conf.d/mlci.conf", "stable": "127.0.0.1:8001",
        "canary": "model-b.internal:8002"}


@pytest.mark.parametrize(("key", "value"), [
    ("stable", "127.0.0.1:80; } server { listen 9999"),
    ("stable", "127.0.0.1:80\nlisten 9999"),
    ("canary", "host:99999"),
    ("canary", "unix:/tmp/x.sock"),
    ("listen", "0.0.0.0:80 ssl; include /etc/passwd"),
    ("route_by", "header:X-User;Id"),
    ("route_by", "header:X User"),
    ("route_by", "cookie:a-b"),
    ("route_by", "query:user"),
    ("config", '/etc/nginx/x.conf"; include "/etc/passwd'),
    ("access_log", "/var/log/$host.log"),
    ("access_log", "/var/log/a.log;\nserver {"),
    ("access_log", "/var/log/a\\.log"),
])
def test_hostile_values_are_refused(key: str, value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        NginxTarget.model_validate({**GOOD, key: value})
    assert caught.value.errors()[0]["loc"][0] == key


def test_a_path_with_spaces_is_quoted() -> None:
    settings = NginxTarget.model_validate({**GOOD, "access_log": "/var/log/my logs/a.log"})
    text, _ = render(stable=settings.stable, canary=settings.canary, weight=5,
                     listen=settings.listen, access_log=Path(str(settings.access_log)),
                     route_by="header:X-User-Id")
    assert 'access_log "/var/log/my logs/a.log" mlci_json;' in text
    assert "map $http_x_user_id $mlci_key" in text
    assert 'split_clients "$mlci_key" $mlci_variant' in text


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        LocalTarget.model_validate({"listen": "127.0.0.1:8080", "lisen": "x"})


@pytest.mark.parametrize(("weight", "text"), [(0.5, "0.5"), (5, "5"), (12.345, "12.35"),
                                              (99.99, "99.99"), (100, "100"), (0, "0")])
def test_weights_render_with_nginx_resolution(weight: float, text: str) -> None:
    assert nginx_percent(weight) == text


@pytest.mark.parametrize("weight", [0.001, -1, 100.5])
def test_weights_nginx_cannot_express_are_refused(weight: float) -> None:
    with pytest.raises(TargetError):
        nginx_percent(weight)


def test_zero_takes_the_canary_out_and_full_weight_sends_everything_to_it() -> None:
    zero, _ = render(stable="a:1", canary="b:2", weight=0, listen="127.0.0.1:1",
                     access_log=Path("/l"), route_by=None)
    assert "mlci_canary" not in zero and "split_clients" not in zero
    full, _ = render(stable="a:1", canary="b:2", weight=100, listen="127.0.0.1:1",
                     access_log=Path("/l"), route_by=None)
    assert "default canary;" in full and "split_clients" not in full
    assert "proxy_next_upstream off;" in full


def test_the_factory_names_the_missing_section(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        make_target(SimpleNamespace(target="nginx", nginx=None), base_dir=tmp_path,
                    tracking_uri=None)
    assert caught.value.key == "deploy.nginx"
    local = make_target(SimpleNamespace(target="local", local=None), base_dir=tmp_path,
                        tracking_uri=None)
    assert local.name == "local"


@pytest.mark.parametrize(("deploy", "key", "message"), [
    ({"target": "nginx", "nginx": {**GOOD, "stable": "1.2.3.4:80; }"}}, "deploy.nginx.stable",
     "expected host:port"),
    ({"target": "local", "local": {"route_by": "header:a b"}}, "deploy.local.route_by",
     "expected header:NAME"),
    ({"target": "local", "metrics": {"source": "graphite"}}, "deploy.metrics",
     "expected source: nginx-log, prometheus, cloudwatch or command"),
    ({"target": "local", "metrics": {"source": "prometheus", "url": "ftp://x",
                                     "queries": {}}}, "deploy.metrics.url", "https?"),
])
def test_mlci_yml_errors_name_the_key_and_what_was_expected(
        deploy: dict[str, object], key: str, message: str) -> None:
    from mlci.config import validate

    with pytest.raises(ConfigError) as caught:
        validate({"deploy": deploy}, file="mlci.yml")
    assert caught.value.key == key
    assert message in caught.value.message

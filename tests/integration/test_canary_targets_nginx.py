"""The `nginx` target against Debian's nginx, run as a user runs it (its own nginx.conf
includes the one file mlci owns), with small HTTP model servers behind it."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlci.canary.interfaces import CANARY, STABLE, ModelRef, TargetError
from mlci.canary.sources.nginx_log import NginxLogSource
from mlci.canary.targets.config import NginxTarget as NginxConfig
from mlci.canary.targets.nginx import NginxTarget
from tests.canary_support import Backend, UserNginx, backends, send, wait_for_lines
from tests.services import free_port

pytestmark = pytest.mark.integration

STABLE_REF = ModelRef("churn", "1", "models:/churn/1")
CANARY_REF = ModelRef("churn", "2", "models:/churn/2")


@pytest.fixture
def pair() -> Iterator[list[Backend]]:
    with backends("stable", "canary") as started:
        yield started


@pytest.fixture
def user_nginx(tmp_path: Path) -> Iterator[UserNginx]:
    include = tmp_path / "conf.d" / "mlci-canary.conf"
    include.parent.mkdir()
    include.write_text("")          # the user's nginx runs before mlci writes its file
    nginx = UserNginx(tmp_path / "nginx", include)
    nginx.start()
    yield nginx
    nginx.stop()


def make(nginx: UserNginx, pair: list[Backend], **overrides: object) -> NginxTarget:
    settings = {"config": str(nginx.include), "stable": pair[0].address,
                "canary": pair[1].address, "listen": f"127.0.0.1:{free_port()}",
                "test": nginx.test_argv, "reload": nginx.reload_argv, **overrides}
    return NginxTarget(NginxConfig.model_validate(settings), base_dir=nginx.root)


def url(target: NginxTarget) -> str:
    return f"http://{target.settings.listen}/invocations"


def variants(target: NginxTarget, count: int, **kwargs: object) -> Counter[str]:
    return Counter(reply.variant or "?" for reply in send(url(target), count, **kwargs))


def test_weights_move_traffic_and_zero_takes_the_canary_out(
        user_nginx: UserNginx, pair: list[Backend]) -> None:
    target = make(user_nginx, pair)
    saved = target.prepare(STABLE_REF, CANARY_REF, {})
    assert saved["access_log"] == str(target.access_log)
    assert "mlci_canary" not in user_nginx.include.read_text()   # 0%: not in the router
    assert variants(target, 40) == Counter({STABLE: 40})
    target.set_weight(50)
    assert set(variants(target, 60)) == {STABLE, CANARY}
    assert pair[0].hits + pair[1].hits == 100
    target.set_weight(0.5)
    assert "0.5% canary;" in user_nginx.include.read_text()
    target.set_weight(100)
    assert variants(target, 20) == Counter({CANARY: 20})
    assert target.health() is None
    target.finish("rolled-back")
    assert variants(target, 20) == Counter({STABLE: 20})


def test_sticky_assignment_by_header_keeps_a_user_on_one_variant(
        user_nginx: UserNginx, pair: list[Backend]) -> None:
    target = make(user_nginx, pair, route_by="header:X-User-Id")
    target.prepare(STABLE_REF, CANARY_REF, {})
    target.set_weight(50)
    seen: dict[str, set[str]] = {}
    for user in range(30):
        for reply in send(url(target), 4, headers={"X-User-Id": f"user-{user}"}):
            seen.setdefault(f"user-{user}", set()).add(reply.variant or "?")
    assert all(len(chosen) == 1 for chosen in seen.values())
    assert {next(iter(chosen)) for chosen in seen.values()} == {STABLE, CANARY}


def test_an_invalid_configuration_keeps_the_last_good_one(
        user_nginx: UserNginx, pair: list[Backend]) -> None:
    target = make(user_nginx, pair)
    target.prepare(STABLE_REF, CANARY_REF, {})
    good = user_nginx.include.read_text()
    broken = make(user_nginx, pair, canary="no-such-host.invalid:80")
    broken.settings = broken.settings.model_copy(update={"listen": target.settings.listen})
    with pytest.raises(TargetError, match=r"configuration test failed.*host not found"):
        broken.set_weight(50)
    assert user_nginx.include.read_text() == good
    assert variants(target, 20) == Counter({STABLE: 20})


@pytest.mark.parametrize("reload", [["false"], ["true"]], ids=["reload-fails", "silent-no-op"])
def test_a_failed_reload_keeps_traffic_on_the_last_good_configuration(
        user_nginx: UserNginx, pair: list[Backend], reload: list[str]) -> None:
    target = make(user_nginx, pair)
    target.prepare(STABLE_REF, CANARY_REF, {})
    target.set_weight(10)
    good = user_nginx.include.read_text()
    failing = make(user_nginx, pair, reload=reload, reload_timeout=2,
                   listen=target.settings.listen)
    with pytest.raises(TargetError, match="reload"):
        failing.set_weight(100)
    assert user_nginx.include.read_text() == good
    counts = variants(target, 40)
    assert counts[STABLE] > 0 and counts[STABLE] + counts[CANARY] == 40


def test_a_canary_that_refuses_connections_is_counted_against_the_canary(
        user_nginx: UserNginx, pair: list[Backend]) -> None:
    target = make(user_nginx, pair)
    target.prepare(STABLE_REF, CANARY_REF, {})
    target.set_weight(50)
    pair[1].stop()
    assert "canary model server" in (target.health() or "")
    start = time.time()
    replies = send(url(target), 60)
    by_variant = Counter((r.variant, r.status) for r in replies)
    assert by_variant[(CANARY, 502)] > 0            # the client saw the failure: no retry
    assert by_variant[(CANARY, 200)] == 0
    wait_for_lines(target.access_log, 60)
    window, cursor = NginxLogSource(target.access_log).read({}, start - 1, time.time() + 1)
    assert window.canary.requests == window.canary.errors == by_variant[(CANARY, 502)]
    assert window.stable.errors == 0 and window.stable.requests == by_variant[(STABLE, 200)]
    assert cursor["offset"] == target.access_log.stat().st_size
    assert '"upstream_status":"502"' in target.access_log.read_text()

"""The `command` target and source with a small user script that drives a real nginx: it
writes its own split configuration, reloads nginx and waits for it, and prints metrics from
its own access log as JSON (as a KServe/Istio script would from its own API)."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlci.canary.interfaces import CANARY, STABLE, ModelRef, SourceError, TargetError
from mlci.canary.sources.command import CommandSource
from mlci.canary.sources.config import CommandSource as CommandSourceConfig
from mlci.canary.targets.command import CommandTarget
from mlci.canary.targets.config import CommandTarget as CommandConfig
from mlci.errors import ConfigError
from tests.canary_support import Backend, UserNginx, backends, send, wait_for_lines
from tests.services import free_port

pytestmark = pytest.mark.integration

SCRIPT = r'''
import json, pathlib, subprocess, sys, time, urllib.request
settings = json.loads((pathlib.Path(__file__).parent / "settings.json").read_text())

def accepting_workers():
    master = pathlib.Path(settings["nginx"][2], "nginx.pid").read_text().strip()
    count = 0
    for proc in pathlib.Path("/proc").iterdir():
        try:
            ppid = (proc / "stat").read_text().rsplit(")", 1)[1].split()[1]
            title = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        count += ppid == master and title.rstrip(b"\0") == b"nginx: worker process"
    return count

def set_weight(weight, stable_weight):
    w = float(weight)
    split = ("map $request_id $v { default %s; }" % ("canary" if w >= 100 else "stable")
             if w in (0, 100) else
             'split_clients "$request_id" $v { %s%% canary; * stable; }' % weight)
    pathlib.Path(settings["include"]).write_text(
        "log_format plain '$msec $v $status $upstream_response_time';\n"
        "upstream stable { server %s; }\nupstream canary { server %s; }\n%s\n"
        "server { listen %s; access_log %s plain;\n"
        "  location = /weight { return 200 '%s'; }\n"
        "  location / { proxy_pass http://$v; proxy_next_upstream off;\n"
        "               add_header X-Mlci-Variant $v always; } }\n"
        % (settings["stable"], settings["canary"], split, settings["listen"],
           settings["log"], weight))
    subprocess.run(settings["nginx"] + ["-t", "-q"], check=True)
    subprocess.run(settings["nginx"] + ["-s", "reload"], check=True)
    for _ in range(600):
        try:
            got = urllib.request.urlopen("http://%s/weight" % settings["listen"]).read()
            if got.decode() == weight and accepting_workers() == 1:
                return  # (worker_processes 1) the old worker no longer accepts
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit("nginx did not take weight %s" % weight)

def metrics(start, end):
    out = {v: {"requests": 0, "errors": 0, "latencies_ms": []} for v in ("stable", "canary")}
    for line in pathlib.Path(settings["log"]).read_text().splitlines():
        msec, variant, status, upstream = line.split(" ")
        if float(start) <= float(msec) < float(end) and variant in out and upstream != "-":
            out[variant]["requests"] += 1
            out[variant]["errors"] += not status.startswith("2")
            out[variant]["latencies_ms"].append(float(upstream.split(",")[0]) * 1000)
    out["canary"]["conversion"] = 0.25
    print(json.dumps(out))

{"set": set_weight, "metrics": metrics}[sys.argv[1]](*sys.argv[2:])
'''


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], list[Backend]]]:
    include = tmp_path / "split.conf"
    include.write_text("")
    nginx = UserNginx(tmp_path / "nginx", include)
    nginx.start()
    with backends("stable", "canary") as pair:
        settings = {"include": str(include), "stable": pair[0].address,
                    "canary": pair[1].address, "listen": f"127.0.0.1:{free_port()}",
                    "log": str(tmp_path / "access.log"), "nginx": nginx.base}
        (tmp_path / "settings.json").write_text(json.dumps(settings))
        (tmp_path / "split.py").write_text(SCRIPT)
        yield tmp_path, settings, pair
    nginx.stop()


def test_user_commands_drive_the_split_and_report_metrics(
        setup: tuple[Path, dict[str, str], list[Backend]]) -> None:
    root, settings, _ = setup
    script = [sys.executable, str(root / "split.py")]
    target = CommandTarget(CommandConfig(set_weight=[*script, "set", "{weight}",
                                                     "{stable_weight}"]), base_dir=root)
    ref = ModelRef("churn", "1", "models:/churn/1")
    target.prepare(ref, ModelRef("churn", "2", "models:/churn/2"), {})
    url = f"http://{settings['listen']}/invocations"
    start = time.time()
    assert Counter(r.variant for r in send(url, 10)) == Counter({STABLE: 10})
    target.set_weight(50)
    assert set(Counter(r.variant for r in send(url, 40))) == {STABLE, CANARY}
    target.finish("promoted")
    assert Counter(r.variant for r in send(url, 10)) == Counter({CANARY: 10})
    wait_for_lines(Path(settings["log"]), 60)

    source = CommandSource(CommandSourceConfig(
        source="command", command=[*script, "metrics", "{start}", "{end}"]), base_dir=root)
    window, cursor = source.read({}, start, time.time() + 1)
    assert window.stable.requests + window.canary.requests == 60
    assert window.canary.errors == 0 and len(window.canary.latencies_ms) == window.canary.requests
    assert window.canary.business == {"conversion": 0.25}
    assert cursor == {}


def test_a_failing_command_is_a_refused_change(tmp_path: Path) -> None:
    target = CommandTarget(CommandConfig(set_weight=[sys.executable, "-c",
                                                     "import sys; sys.exit('no such route')"]),
                           base_dir=tmp_path)
    ref = ModelRef("churn", "1", "models:/churn/1")
    with pytest.raises(TargetError, match=r"set_weight: .*exited with 1: no such route"):
        target.prepare(ref, ref, {})


def test_unknown_placeholders_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown placeholder"):
        CommandTarget(CommandConfig(set_weight=["kubectl", "{wieght}"]), base_dir=tmp_path)


@pytest.mark.parametrize("output", ["not json", '{"stable": {"requests": 3}}',
                                    ('{"stable": {"requests": 1, "errors": 2}, '
                                    '"canary": {"requests": 1, "errors": 0}}'),
                                    ('{"stable": {"requests": 1, "errors": 0}, '
                                    '"canary": {"requests": 1, "errors": 0, "x": "high"}}')])
def test_metrics_that_cannot_be_read_are_a_source_error(tmp_path: Path, output: str) -> None:
    source = CommandSource(CommandSourceConfig(
        source="command", command=[sys.executable, "-c", f"print({output!r})"]),
        base_dir=tmp_path)
    with pytest.raises(SourceError):
        source.read({}, 0, 1)

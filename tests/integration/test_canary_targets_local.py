"""The `local` target end to end: real model versions on a real `mlflow server`, each served by
MLflow's scoring server (what `mlflow models serve` runs), Debian's nginx in front, driven as
`canary step` drives it (a new target object per tick, finding the servers again from the
saved state)."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from mlci.canary.interfaces import CANARY, STABLE, ModelRef
from mlci.canary.sources.nginx_log import NginxLogSource
from mlci.canary.targets.config import LocalTarget as LocalConfig
from mlci.canary.targets.local import LocalTarget
from mlci.canary.targets.processes import MARKER, alive
from tests.canary_support import register_pyfunc, send, serving, wait_for_lines
from tests.registry_support import unique
from tests.services import MlflowServer

pytestmark = pytest.mark.integration
__all__ = ["serving"]      # the fixture this module uses


def answers(listen: str, count: int) -> Counter[tuple[str | None, str]]:
    replies = send(f"http://{listen}/invocations", count)
    assert all(reply.status == 200 for reply in replies), replies
    return Counter((reply.variant, json.loads(reply.body)["predictions"][0]) for reply in replies)


def test_serves_both_versions_resumes_and_promotes(
        mlflow_server: MlflowServer, serving: LocalConfig, tmp_path: Path) -> None:
    model = unique("local-target")
    versions = [register_pyfunc(mlflow_server.url, model, answer=n) for n in (1, 2, 3)]
    refs = [ModelRef(model, v, f"models:/{model}/{v}") for v in versions]

    target = LocalTarget(serving, base_dir=tmp_path, tracking_uri=mlflow_server.url)
    saved = target.prepare(refs[0], refs[1], {})
    assert answers(serving.listen, 10) == Counter({(STABLE, 1): 10})
    models = tmp_path / "serve" / "models"
    assert sorted(p.name for p in models.iterdir()) == [f"{model}-1", f"{model}-2"]
    assert alive(saved["servers"]["canary"]["pid"], MARKER)
    target.set_weight(50)
    assert set(answers(serving.listen, 40)) == {(STABLE, 1), (CANARY, 2)}

    # the next tick is another process: it finds both servers and the split as they were
    again = LocalTarget(serving, base_dir=tmp_path, tracking_uri=mlflow_server.url)
    resumed = again.prepare(refs[0], refs[1], json.loads(json.dumps(saved)))
    assert resumed["servers"] == saved["servers"]
    assert again.health() is None
    assert set(answers(serving.listen, 40)) == {(STABLE, 1), (CANARY, 2)}
    wait_for_lines(Path(saved["access_log"]), 90)
    window, _ = NginxLogSource(Path(saved["access_log"])).read({}, 0, 2e9)
    assert window.stable.requests + window.canary.requests == 90
    assert window.canary.errors == window.stable.errors == 0

    # a model server that died is restarted by the next tick, the split kept
    os.killpg(saved["servers"]["canary"]["pid"], signal.SIGKILL)
    assert "canary model server" in (again.health() or "")
    third = LocalTarget(serving, base_dir=tmp_path, tracking_uri=mlflow_server.url)
    restarted = third.prepare(refs[0], refs[1], resumed)
    assert restarted["servers"]["canary"]["pid"] != saved["servers"]["canary"]["pid"]
    assert restarted["servers"]["stable"] == saved["servers"]["stable"]
    assert set(answers(serving.listen, 40)) == {(STABLE, 1), (CANARY, 2)}
    saved = restarted
    again = third

    again.finish("promoted")
    old_stable = saved["servers"]["stable"]
    assert not alive(old_stable["pid"], MARKER)
    assert answers(serving.listen, 10) == Counter({(STABLE, 2): 10})
    # the retired version's download is removed; the one served stays
    assert sorted(p.name for p in models.iterdir()) == [f"{model}-2"]
    again.finish("promoted")                            # idempotent
    assert answers(serving.listen, 5) == Counter({(STABLE, 2): 5})

    # the next rollout reuses the server the promotion left serving
    following = LocalTarget(serving, base_dir=tmp_path, tracking_uri=mlflow_server.url)
    nxt = following.prepare(refs[1], refs[2], {})
    assert nxt["servers"]["stable"]["pid"] == saved["servers"]["canary"]["pid"]
    following.set_weight(100)
    assert answers(serving.listen, 5) == Counter({(CANARY, 3): 5})
    following.finish("rolled-back")
    assert answers(serving.listen, 5) == Counter({(STABLE, 2): 5})
    assert not alive(nxt["servers"]["canary"]["pid"], MARKER)
    assert sorted(p.name for p in models.iterdir()) == [f"{model}-2"]


def test_a_canary_that_fails_predict_answers_400_and_is_counted(
        mlflow_server: MlflowServer, serving: LocalConfig, tmp_path: Path) -> None:
    model = unique("local-fault")
    good = register_pyfunc(mlflow_server.url, model, answer=1)
    bad = register_pyfunc(mlflow_server.url, model, answer=2, fail_at=0)
    target = LocalTarget(serving.model_copy(update={"on_finish": "stop"}), base_dir=tmp_path,
                         tracking_uri=mlflow_server.url)
    saved = target.prepare(ModelRef(model, good, f"models:/{model}/{good}"),
                           ModelRef(model, bad, f"models:/{model}/{bad}"), {})
    target.set_weight(50)
    replies = send(f"http://{serving.listen}/invocations", 40)
    statuses = Counter((reply.variant, reply.status) for reply in replies)
    assert set(statuses) == {(STABLE, 200), (CANARY, 400)}
    wait_for_lines(Path(saved["access_log"]), 40)
    window, _ = NginxLogSource(Path(saved["access_log"])).read({}, 0, 2e9)
    assert window.canary.errors == window.canary.requests == statuses[(CANARY, 400)]
    target.finish("rolled-back")
    assert target.health() is not None                 # on_finish: stop stopped everything
    assert not list((tmp_path / "serve" / "models").iterdir())

"""docs/canary-targets.md: every configuration example is valid `deploy:` input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from mlci.config.model import Deploy

pytestmark = pytest.mark.unit
PAGE = Path(__file__).resolve().parents[3] / "docs" / "canary-targets.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.DOTALL)


def test_the_page_shows_every_target_and_source() -> None:
    text = "".join(BLOCKS)
    for name in ("target: local", "target: nginx", "target: command", "target: sagemaker",
                 "source: nginx-log", "source: prometheus", "source: cloudwatch",
                 "source: command"):
        assert name in text


@pytest.mark.parametrize("block", BLOCKS, ids=[b.splitlines()[0].strip()[:30] for b in BLOCKS])
def test_each_example_is_a_valid_deploy_section(block: str) -> None:
    text = block if block.startswith("deploy:") else "deploy:\n  target: local\n" + block
    Deploy.model_validate(yaml.safe_load(text)["deploy"])


def test_the_command_example_renders_to_json() -> None:
    import json

    from mlci.canary.targets.argv import substitute

    deploy = yaml.safe_load(next(b for b in BLOCKS if "target: command" in b))["deploy"]
    argv = substitute(deploy["command"]["set_weight"], {"weight": "5"})
    assert json.loads(argv[-1]) == {"spec": {"predictor": {"canaryTrafficPercent": 5}}}

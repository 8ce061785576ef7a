"""`mlci pipeline stop`: stop what the `local` target left serving (model servers, nginx).

The local target keeps the winner serving after a rollout (`on_finish: keep-serving`), so
the demo and the tests need one way to stop it that reads the same record it wrote.
"""

from __future__ import annotations

from typing import Any


def stop_local(config: Any) -> str:
    """Stop the local target's processes; say what was done."""
    from mlci.canary.targets import make_target
    from mlci.canary.targets.local import LocalTarget

    deploy = config.deploy
    if deploy is None or deploy.target != "local":
        return "nothing to stop: deploy.target is not local"
    target = make_target(deploy, base_dir=config.base_dir, tracking_uri=None)
    if isinstance(target, LocalTarget):
        target.stop_all()
    return "stopped the local target's model servers and nginx"

"""A fault-injection hook for the crash tests of promote and rollback. Not for production.

``MLCI_FAULT=<point>:<action>`` makes the process stop at one step of the move protocol
(`mlci.registry.moves`):

points   ``after-register``  promote only: the candidate is registered and tagged
         ``after-intent``    the intent event exists, not yet linked into the chain
         ``after-claim``     linked (the move is ours to make), no decision yet
         ``after-decision``  decided to move (final), alias not moved yet
         ``after-move``      alias moved, not yet confirmed
actions  ``exit``   ``os._exit(75)`` at once: a runner killed mid-promotion
         ``pause``  create the file ``$MLCI_FAULT_FILE``, then wait until it is removed
                    (a test kills and restarts the registry meanwhile; at most 10 minutes)

An unset or empty variable costs one dictionary lookup per step.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

POINTS = ("after-register", "after-intent", "after-claim", "after-decision", "after-move")
EXIT_CODE = 75


def point(name: str) -> None:
    spec = os.environ.get("MLCI_FAULT", "").strip()
    if not spec:
        return
    where, _, action = spec.partition(":")
    if where not in POINTS or action not in ("exit", "pause"):
        # a misspelt fault would never fire, and a crash test would pass without crashing
        raise ValueError(f"MLCI_FAULT={spec!r}: expected <point>:exit|pause, point one of "
                         f"{', '.join(POINTS)}")
    if where != name:
        return
    if action == "exit":
        os._exit(EXIT_CODE)
    if action == "pause":
        marker = Path(os.environ["MLCI_FAULT_FILE"])
        marker.write_text(f"{os.getpid()} {name}\n", encoding="utf-8")
        deadline = time.monotonic() + 600
        while marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

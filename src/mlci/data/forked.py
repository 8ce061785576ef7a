"""Run a piece of work in a forked child while this process does its own share.

The walk of a large tree is bound by stat calls and per-file Python work; threads do not
help (the GIL), but a forked child walking half the directories does: 100,000 files take
0.2 s instead of 0.37 s on two cores. Only where fork is safe and cheap: Linux, two or
more usable CPUs, and a single thread in this process (forking a threaded process can
deadlock the child). Anywhere else, or if the child fails in any way, the caller does the
work itself, so the child can only ever save time, never change a result.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


def available() -> bool:
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    if os.environ.get("MLCI_WALK_FORK", "1") == "0":
        return False
    try:
        return len(os.sched_getaffinity(0)) >= 2 and len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


class Child:
    """A forked process computing `work()`; `result()` is its bytes, or None on failure."""

    def __init__(self, work: Callable[[], bytes]) -> None:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns, never runs the parent's exit handlers
            code = 1
            try:
                os.close(read_fd)
                data = memoryview(work())
                while data:
                    data = data[os.write(write_fd, data):]
                code = 0
            except BaseException:  # noqa: BLE001, S110 - the parent redoes the work and reports
                pass
            finally:
                os._exit(code)
        os.close(write_fd)
        self.pid, self.read_fd = pid, read_fd

    def abandon(self) -> None:
        """Stop waiting (the caller failed): the child's next write fails and it exits."""
        os.close(self.read_fd)
        os.waitpid(self.pid, 0)

    def result(self) -> bytes | None:
        chunks = []
        try:
            while chunk := os.read(self.read_fd, 1 << 20):
                chunks.append(chunk)
        finally:
            os.close(self.read_fd)
            _, status = os.waitpid(self.pid, 0)
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            return None
        return b"".join(chunks)

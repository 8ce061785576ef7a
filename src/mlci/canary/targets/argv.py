"""User commands of the `command` target and source: argument lists, never a shell, with
`{name}` placeholders substituted inside each argument (so a value with spaces or quotes
stays one argument and is never parsed by a shell)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def unknown_placeholders(argv: Sequence[str], known: set[str]) -> list[str]:
    return sorted({name for arg in argv for name in _PLACEHOLDER.findall(arg)} - known)


def substitute(argv: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """Each `{name}` replaced by its value; `{{` and `}}` stay literal braces."""
    def one(arg: str) -> str:
        parts = re.split(r"(\{\{|\}\})", arg)
        return "".join({"{{": "{", "}}": "}"}.get(part) or
                       _PLACEHOLDER.sub(lambda m: values[m.group(1)], part) for part in parts)
    return [one(arg) for arg in argv]


def run(argv: Sequence[str], *, cwd: Path, timeout: float,
        env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run and return the finished process; OSError/TimeoutExpired are left to the caller."""
    return subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, check=False,
                          env={**os.environ, **(env or {})})


def failure(argv: Sequence[str], done: subprocess.CompletedProcess[str]) -> str:
    output = (done.stderr.strip() or done.stdout.strip())[-2000:]
    return f"`{' '.join(argv)}` exited with {done.returncode}" + (f": {output}" if output
                                                                   else "")

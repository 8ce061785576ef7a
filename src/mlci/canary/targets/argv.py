"""User commands of the `command` target and source: argument lists, never a shell, with
`{name}` placeholders substituted inside each argument (so a value with spaces or quotes
stays one argument and is never parsed by a shell)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

# one left-to-right scan, as str.format reads it: `{{` and `}}` are literal braces
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def unknown_placeholders(argv: Sequence[str], known: set[str]) -> list[str]:
    names = {match.group(1) for arg in argv for match in _TOKEN.finditer(arg)}
    return sorted(names - known - {None})


def substitute(argv: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """Each `{name}` replaced by its value (never substituted again)."""
    def token(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return match.group(0)[0]
        return values[match.group(1)]
    return [_TOKEN.sub(token, arg) for arg in argv]


def run(argv: Sequence[str], *, cwd: Path, timeout: float,
        env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run and return the finished process; OSError/TimeoutExpired are left to the caller."""
    return subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, check=False,
                          env={**os.environ, **(env or {})})


def run_checked(argv: Sequence[str], *, cwd: Path, timeout: float, what: str,
                error: type[Exception]) -> subprocess.CompletedProcess[str]:
    """Run a user command; anything but a clean exit raises `error` whose message starts with
    `what` (how the caller names the command) and says what happened."""
    try:
        done = run(argv, cwd=cwd, timeout=timeout)
    except OSError as exc:
        raise error(f"{what}: cannot run {argv[0]!r}: {exc.strerror or exc}") from None
    except subprocess.TimeoutExpired:
        raise error(f"{what}: `{' '.join(argv)}` did not finish in {timeout:.0f}s") from None
    if done.returncode != 0:
        raise error(f"{what}: {failure(argv, done)}")
    return done


def failure(argv: Sequence[str], done: subprocess.CompletedProcess[str]) -> str:
    output = (done.stderr.strip() or done.stdout.strip())[-2000:]
    return f"`{' '.join(argv)}` exited with {done.returncode}" + (f": {output}" if output
                                                                   else "")

"""Writing files that users name on the command line (`--write`, `--cache`, `schema -o`,
reports): atomically, and with a clear error instead of a traceback when the path is bad.

A file is written beside its target (`<name>.<pid>.tmp`) and renamed into place, so a reader
never sees half a file; when anything fails, the temporary file is removed, never left behind.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from mlci.errors import InputError


def write_atomic(path: str | Path, content: str | Iterable[str] | Callable[[TextIO], None], *,
                 what: str, key: str | None = None) -> None:
    """Write `content` (text, lines, or a function writing to the open file) to `path`."""
    target = Path(path)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as out:
            if isinstance(content, str):
                out.write(content)
            elif callable(content):
                content(out)
            else:
                out.writelines(content)
        os.replace(tmp, target)
    except OSError as error:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise InputError(f"cannot write {what}: {error.strerror or error}", file=str(path),
                         key=key) from None

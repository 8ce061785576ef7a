"""Run one stage command in this process and capture its `--json` document.

The stage commands are the one place where flags, mlci.yml and the stage packages meet;
calling them here (not a subprocess) keeps one process, one registry client and the same
error messages as `mlci <stage>`.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field
from typing import Any

from mlci.errors import MlciError


@dataclass
class Invocation:
    code: int
    doc: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def _last_document(text: str) -> dict[str, Any]:
    """The JSON object a command printed with --json (the last one, if it printed more)."""
    text = text.strip()
    if not text:
        return {}
    try:
        found = json.loads(text)
        return found if isinstance(found, dict) else {}
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    starts = [i for i, ch in enumerate(text) if ch == "{" and (i == 0 or text[i - 1] == "\n")]
    for start in reversed(starts):
        try:
            found, end = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(found, dict) and not text[end:].strip():
            return found
    return {}


def invoke(argv: list[str]) -> Invocation:
    """`invoke(["gate", "--json", ...])`: the exit code `mlci` would return, the document."""
    from mlci import ci, cli

    parser, loaded = cli.build_parser(argv)
    args = parser.parse_args(argv)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            code = loaded[argv[0]].run(args)
    except MlciError as error:
        ci.current().error(f"{argv[0]}: {error}", file=error.file, line=error.line)
        return Invocation(error.exit_code, _last_document(out.getvalue()), str(error))
    return Invocation(code, _last_document(out.getvalue()))

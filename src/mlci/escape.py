"""Escaping values that came from users' files (file names, column names, metric names) for
where they go: a CI log line, Markdown, an HTML attribute. The one place that knows the rules.

Log lines: GitHub's runner executes any line of a step's output that starts (after leading
whitespace) with `::` (`::warning::`, `::add-mask::`, `::stop-commands::`) or `##[`. A file
named `b\\n::warning::data is clean` printed as-is is a command. `guard_streams` wraps stdout
and stderr once per process (in `mlci.cli.main`) so that no line mlci prints can start a
workflow command unless the platform layer itself issued it (through `raw_stream`), and control
characters (escape sequences that could fake GitLab's collapsible sections or rewrite a
terminal) are shown, not sent. `shown` renders one value on one line for messages.

Markdown: `md_code` is a code span that no backtick in the value can close; `md_text` is inert
text (no HTML, no links, no @mentions, no emphasis, no table-cell break).
"""

from __future__ import annotations

import html
import io
import re
from typing import TextIO

_COMMAND_LINE = re.compile(r"^[^\S\n]*(::|##\[)")
# C0 controls except tab and newline, DEL, C1 controls, and Unicode line/paragraph separators.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_DEFUSED = "[mlci: escaped] "


def _control(match: re.Match[str]) -> str:
    char = match.group()
    return {"\r": "\\r", "\x1b": "\\e"}.get(char, f"\\x{ord(char):02x}" if ord(char) < 256
                                              else f"\\u{ord(char):04x}")


def shown(value: object) -> str:
    """A value from a user's file as it may appear inside one log line: control characters and
    line breaks are made visible (`\\n`), so the value cannot start a line of its own."""
    text = str(value).replace("\n", "\\n").replace("\t", "\\t")
    text = _CONTROL.sub(_control, text)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def defuse(text: str) -> str:
    """Text for the log: no line of it can be read as a workflow command."""
    text = _CONTROL.sub(_control, text).encode("utf-8", "backslashreplace").decode("utf-8")
    if "::" not in text and "##[" not in text:
        return text
    return "\n".join(_DEFUSED + line if _COMMAND_LINE.match(line) else line
                     for line in text.split("\n"))


class GuardedStream(io.TextIOBase):
    """A text stream whose lines can never be workflow commands; `raw_stream` is for the
    platform layer's own commands."""

    def __init__(self, raw: TextIO) -> None:
        self.raw_stream = raw
        self._line_start = True

    def write(self, text: str) -> int:
        if not text:
            return 0
        from mlci.redact import redact

        out = defuse(redact(text))   # no line mlci prints carries a credential either
        if not self._line_start and _COMMAND_LINE.match(out):
            # the first segment continues a line already begun: it cannot start a command
            first, sep, rest = out.partition("\n")
            first = first.removeprefix(_DEFUSED)
            out = first + sep + rest
        self.raw_stream.write(out)
        self._line_start = text.endswith("\n")
        return len(text)

    def flush(self) -> None:
        self.raw_stream.flush()

    def isatty(self) -> bool:
        return self.raw_stream.isatty()

    def fileno(self) -> int:
        return self.raw_stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.raw_stream, "encoding", "utf-8")

    def writable(self) -> bool:
        return True


def raw(stream: TextIO) -> TextIO:
    """The unguarded stream under `stream` (for the platform layer's own commands)."""
    return stream.raw_stream if isinstance(stream, GuardedStream) else stream


def guard_streams() -> None:
    """Guard sys.stdout and sys.stderr (idempotent)."""
    import sys

    if not isinstance(sys.stdout, GuardedStream):
        sys.stdout = GuardedStream(sys.stdout)
    if not isinstance(sys.stderr, GuardedStream):
        sys.stderr = GuardedStream(sys.stderr)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def md_text(value: object) -> str:
    """Inert Markdown/HTML text on one line: no tags, links, @mentions, emphasis or cell breaks."""
    text = html.escape(shown(value), quote=True)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # No notifications and no autolinks from data: break `@name` and `scheme://`.
    return text.replace("@", "&#64;").replace(":", "&#58;")


def md_code(value: object) -> str:
    """A Markdown code span that shows the value literally, whatever backticks it holds."""
    text = shown(value)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"

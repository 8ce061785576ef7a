"""The pure CSV reader's fast path: a chunk of lines parsed by numpy's C reader (`loadtxt`
with one typed field per wanted column), about 3x faster than the `csv` module plus a
conversion per column.

It only takes what it reads exactly as the `csv` module path would: null spellings are
rewritten to `nan` first (a null in any column type, see columns.py), quoting is the same
(`"` with `""` escapes), and anything numpy refuses (a bad cell, a null in an integer
column, a ragged row) sends the chunk to the `csv` module path, which gives the verdict and
the message. A chunk where a quoted field spans lines is never handed here.
"""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np

from mlci.data.validate.columns import ColumnBuilder

_FIELD = {"number": "f8", "integer": "i8"}


class NullRewriter:
    """Rewrites every unquoted field that is exactly a null spelling to `nan`: the empty
    spelling by finding the delimiters that an empty field follows, the others with a
    regular expression built from the spellings that occur in the chunk at all."""

    def __init__(self, nulls: set[str], delimiter: str) -> None:
        self.empty = "" in nulls
        # Spellings numpy reads as NaN need no rewrite (and text columns see them as null).
        self.others = sorted((n for n in nulls if n and n.strip().lower() not in
                              ("nan", "+nan", "-nan")), key=len, reverse=True)
        self.d = delimiter
        d = re.escape(delimiter)
        self._empty = re.compile(rf"{d}(?=[{d}\r\n])")  # a delimiter before an empty field
        self._patterns: dict[tuple[str, ...], re.Pattern[str]] = {}

    def __call__(self, text: str, full: bool = True) -> str:
        """`full=False`: the empty spelling only (the common case, tried first)."""
        present = tuple(n for n in self.others if n in text) if full else ()
        if present:
            pattern = self._patterns.get(present)
            if pattern is None:
                d = re.escape(self.d)
                alternatives = "|".join(re.escape(n) for n in present)
                pattern = re.compile(rf"(?<![^{d}\n])(?:{alternatives})(?=[{d}\r\n])")
                self._patterns[present] = pattern
            text = pattern.sub("nan", text)
        if self.empty:
            d = self.d
            text = self._empty.sub(d + "nan", "\n" + text)
            text = text.replace("\n" + d, "\nnan" + d)[1:]  # an empty first field
        return text


def layout(text: str, delimiter: str, width: int) -> tuple[bool, bool, bool]:
    """(a quoted field runs past the chunk's end, a delimiter may be inside a quoted field,
    the chunk is not plain: a line without `width` fields, a quoted field over lines, a
    blank line). numpy's reader checks that a row has the last column (it is always asked
    for it) but not that it has no more: the count of unquoted delimiters does."""
    if len(delimiter.encode("utf-8")) != 1 or text.startswith(("\n", "\r\n")) or \
            "\n\n" in text or "\n\r\n" in text:
        return False, True, True
    quotes = text.count('"')
    if quotes % 2:
        return True, True, True  # a quoted field runs past the chunk
    lines, delimiters = text.count("\n"), text.count(delimiter)
    if delimiters == (width - 1) * lines:
        # Exactly the delimiters of full rows: a quoted one would leave its row short of
        # the last column, which numpy's reader refuses.
        return False, False, False
    if not quotes:
        return False, False, True
    buf = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    quote_at = np.flatnonzero(buf == ord('"'))
    if (np.searchsorted(quote_at, np.flatnonzero(buf == ord("\n"))) & 1).any():
        return False, True, True  # a quoted field over lines, inside the chunk
    where = np.flatnonzero(buf == ord(delimiter))
    quoted = int(np.sum(np.searchsorted(where, quote_at[1::2]) -
                        np.searchsorted(where, quote_at[0::2])))
    return False, quoted > 0, delimiters - quoted != (width - 1) * lines


def parse_chunk(text: str, quoted_delimiters: bool, keep: list[tuple[int, str]], width: int,
                builders: dict[str, ColumnBuilder], delimiter: str,
                rewrite: NullRewriter, source: str) -> int | None:
    """Rows parsed into the builders, or None (nothing added) when numpy refuses the chunk
    (or nulls would have to be rewritten where a quoted field holds the delimiter). `text`
    ends with a newline and every line has the header's number of fields (see `layout`)."""
    dtype = [(f"c{i}", _FIELD.get(builders[name].want, "O")) for i, name in keep]
    columns = [i for i, _ in keep]
    if columns[-1] != width - 1:  # always the last column: a short row is then an error
        columns.append(width - 1)
        dtype.append(("last", "O"))
    table: Any = None
    tried = text
    for full in (False, True):
        rewritten = rewrite(text, full)
        if quoted_delimiters and rewritten != text:
            return None
        if full and rewritten == tried:
            return None  # nothing more to rewrite: numpy refuses a cell
        tried = rewritten
        try:
            table = np.loadtxt(io.StringIO(rewritten), delimiter=delimiter, quotechar='"',
                               comments=None, dtype=dtype, usecols=columns, ndmin=1)
            break
        except (ValueError, OverflowError):
            continue
    if table is None or table.shape[0] != text.count("\n"):
        return None  # (a row count short of the lines: a quoted field over lines)
    for i, name in keep:
        builder = builders[name]
        values = table[f"c{i}"]
        if builder.want in _FIELD:
            values = np.ascontiguousarray(values)
            null = np.isnan(values) if builder.want == "number" else \
                np.zeros(values.size, dtype=bool)
            builder.add_values(builder.want, values, null, source)
        else:
            builder.add_text(values.tolist(), source)
    return int(table.shape[0])

"""The pure CSV reader's fastest path: a plain chunk split and its numbers parsed by whole-
array numpy operations, with no work per cell in Python and no text reader.

"Plain": no carriage return; every line has the header's number of fields when split at
every delimiter; every field that holds a quote is quoted whole (`"north"`, no quote or
delimiter inside), so that split is the `csv` module's. A number or integer column takes
only `[+-]digits[.digits]` of at most 15 characters (an empty field is null when the empty
spelling is a null one): its digits as an integer (below 10**15, exact in a float64)
divided by 10**decimals (exact too) is the correctly rounded value, the one Python's
`float()` and numpy's reader give. Anything else (an exponent, `nan`, a null spelling,
a longer number, a field a quote does not wrap) returns None and the chunk takes the
general path (csvfast.py), which gives the same values and the messages.
"""

from __future__ import annotations

import numpy as np

from mlci.data.validate.columns import ColumnBuilder, Piece

WIDEST = 15
_POW10F = 10.0 ** np.arange(WIDEST + 1)  # exact: 10**15 < 2**53


def parse_plain(text: str, keep: list[tuple[int, str]], width: int,
                builders: dict[str, ColumnBuilder], delimiter: str, source: str) -> int | None:
    """Rows parsed into the builders, or None (nothing added). `text` ends with a newline."""
    data = text.encode("utf-8")
    if len(delimiter.encode("utf-8")) != 1 or b"\r" in data:
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    seps = np.flatnonzero((buf == ord(delimiter)) | (buf == 10))
    if buf.size < 2 ** 31:
        seps = seps.astype(np.int32)  # half the memory traffic of the gathers below
    rows = seps.size // width
    if rows == 0 or seps.size != rows * width:
        return None
    ends = seps.reshape(rows, width)
    # Every width-th separator a newline, and no other: each line has `width` fields.
    if not (buf[ends[:, -1]] == 10).all() or int(np.count_nonzero(buf[seps] == 10)) != rows:
        return None
    first = np.empty_like(seps)
    first[0], first[1:] = 0, seps[:-1] + 1
    if b'"' in data and not _quotes_wrap_fields(buf, seps, first):
        return None
    starts = first.reshape(rows, width)
    parsed: list[tuple[ColumnBuilder, str, np.ndarray, np.ndarray]] = []
    for i, name in keep:
        builder = builders[name]
        if builder.want in ("number", "integer"):
            got = _numbers(buf, starts[:, i], ends[:, i], builder)
            if got is None:
                return None
            parsed.append((builder, builder.want, *got))
    for builder, kind, values, null in parsed:  # nothing is added before all columns parse
        builder.add_values(kind, values, null, source)
    for i, name in keep:
        if builders[name].want not in ("number", "integer"):
            _text(data, starts[:, i], ends[:, i], builders[name], source)
    return rows


def _quotes_wrap_fields(buf: np.ndarray, seps: np.ndarray, starts: np.ndarray) -> bool:
    """Each field holds no quote, or exactly two: its first and its last character."""
    quotes = np.flatnonzero(buf == ord('"'))
    field = np.searchsorted(seps, quotes)  # the field a quote is in (a field ends at a sep)
    at_edge = (quotes == starts[field]) | (quotes == seps[field] - 1)
    per_field = np.bincount(field)
    return bool(at_edge.all()) and not np.any(per_field[per_field > 0] != 2)


def _numbers(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray,
             builder: ColumnBuilder) -> tuple[np.ndarray, np.ndarray] | None:
    length = ends - starts
    widest = int(length.max())
    empty = length == 0
    if widest > WIDEST or builder.numeric_nulls or (empty.any() and "" not in builder.nulls):
        return None
    size = length.size
    if widest == 0:
        return (np.full(size, np.nan) if builder.want == "number" else
                np.zeros(size, dtype=np.int64)), empty
    # One row per character position, right-aligned (each a contiguous vector): position k
    # of a field is chars[k] where k >= widest - length, else it is before the field.
    position = np.arange(widest)[:, None]
    chars = buf[np.maximum(ends - widest + position, 0)]
    outside = position < (widest - length)
    digit = chars - np.uint8(ord("0"))  # wraps: anything but a digit is > 9
    digit[outside] = 0
    is_digit = digit <= 9
    is_dot = chars == ord(".")
    is_dot[outside] = False
    first = chars[np.minimum(widest - length, widest - 1), np.arange(size)]
    signed = ~empty & ((first == ord("-")) | (first == ord("+")))
    dots = is_dot.sum(axis=0)
    digits = is_digit.sum(axis=0) - (widest - length)  # (outside counted as digits)
    if np.any(digits + dots + signed != length) or \
            int(dots.max()) > (1 if builder.want == "number" else 0) or \
            np.any(~empty & (digits == 0)):
        return None
    # Horner over the positions, a dot skipped; the digits after a dot are the decimals.
    whole = np.zeros(size, dtype=np.int64)
    decimals = np.zeros(size, dtype=np.int64)
    seen_dot = np.zeros(size, dtype=bool)
    for k in range(widest):
        step = np.where(is_digit[k], 10, 1)
        whole *= step
        whole += np.where(is_digit[k], digit[k], 0)
        if builder.want == "number":
            seen_dot |= is_dot[k]
            decimals += seen_dot & is_digit[k] & ~outside[k]
    negative = signed & (first == ord("-"))
    if builder.want == "integer":
        return np.where(negative, -whole, whole), empty
    # Both exact in a float64 (below 2**53): one correctly rounded division.
    magnitude = whole.astype(np.float64) / _POW10F[decimals]
    values = np.where(negative, -magnitude, magnitude)
    values[empty] = np.nan
    return values, empty


def _text(data: bytes, starts: np.ndarray, ends: np.ndarray, builder: ColumnBuilder,
          source: str) -> None:
    """Text cells as codes: each distinct field decoded (and unquoted) once."""
    cells = [data[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
    codes = builder.codes
    lookup: dict[bytes, int] = {}
    for raw in dict.fromkeys(cells):  # first-appearance order, as ColumnBuilder.add_text
        value = raw[1:-1] if raw[:1] == b'"' else raw
        lookup[raw] = codes.setdefault(value.decode("utf-8"), len(codes))
    values = np.fromiter(map(lookup.__getitem__, cells), dtype=np.int32, count=len(cells))
    builder.pieces.append(Piece("codes", values, np.zeros(values.size, dtype=bool), source))

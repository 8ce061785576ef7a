"""The pure CSV reader's fastest path: a plain chunk split and its numbers parsed by whole-
array numpy operations, with no work per cell in Python and no text reader.

"Plain": lines end with LF or CR LF (no other CR); every line has the header's number of
fields when split at every delimiter; every field that holds a quote is quoted whole
(`"north"`, no quote or delimiter inside), so that split is the `csv` module's. A number or
integer column takes only `[+-]digits[.digits]` of at most 15 characters (an empty field is
null when the empty spelling is a null one): its digits as an integer (below 10**15, exact
in a float64) divided by 10**decimals (exact too) is the correctly rounded value, the one
Python's `float()` and numpy's reader give; a field that is exactly a null spelling (or
`nan`, `NaN`, ...) is null. Anything else (an exponent, `inf`, a longer number, a field a
quote does not wrap) returns None and the chunk takes the general path (csvfast.py), which
gives the same values and the messages.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from mlci.data.validate.columns import ColumnBuilder, Piece

WIDEST = 15
NAN_SPELLINGS = tuple(sign + nan for sign in ("", "+", "-") for nan in ("nan", "NaN", "NAN"))
_POW10 = 10 ** np.arange(WIDEST + 1, dtype=np.int64)


def parse_plain(text: str, keep: list[tuple[int, str]], width: int,
                builders: dict[str, ColumnBuilder], delimiter: str, source: str) -> int | None:
    """Rows parsed into the builders, or None (nothing added). `text` ends with a newline."""
    data = text.encode("utf-8")
    if len(delimiter.encode("utf-8")) != 1 or b"\0" in data:
        return None  # (a NUL byte: text keys below are NUL-padded)
    crlf = data.count(b"\r")  # only as line ends (\r\n), checked below
    buf = np.frombuffer(data, dtype=np.uint8)
    seps = np.flatnonzero((buf == ord(delimiter)) | (buf == 10))
    if buf.size < 2 ** 31:
        seps = seps.astype(np.int32)  # half the memory traffic of the gathers below
    rows = seps.size // width
    if rows == 0 or seps.size != rows * width:
        return None
    # Every width-th separator a newline, and no other: each line has `width` fields.
    if not (buf[seps[width - 1::width]] == 10).all() or \
            int(np.count_nonzero(buf[seps] == 10)) != rows:
        return None
    first = np.empty_like(seps)
    first[0], first[1:] = 0, seps[:-1] + 1
    last = seps
    if crlf:  # every line ends with \r\n (and no other \r): the last field ends before it
        if crlf != rows or data.count(b"\r\n") != rows:
            return None
        last = seps.copy()
        last[width - 1::width] -= 1
    if b'"' in data and not _quotes_wrap_fields(buf, seps, first, last):
        return None
    # One contiguous vector per column: where its fields start, and end.
    starts, ends = first.reshape(rows, width).T.copy(), last.reshape(rows, width).T.copy()
    parsed: list[tuple[ColumnBuilder, str, np.ndarray, np.ndarray]] = []
    # WIDEST newlines before the chunk (numbers are read backwards from their end), 8 NULs
    # after it (short text is read forwards from its start).
    padded = np.concatenate([np.full(WIDEST, 10, dtype=np.uint8), buf,
                             np.zeros(8, dtype=np.uint8)])
    for i, name in keep:
        builder = builders[name]
        if builder.want in ("number", "integer"):
            got = _numbers(padded, starts[i], ends[i], builder)
            if got is None:
                return None
            parsed.append((builder, builder.want, *got))
    for builder, kind, values, null in parsed:  # nothing is added before all columns parse
        builder.add_values(kind, values, null, source)
    for i, name in keep:
        if builders[name].want not in ("number", "integer"):
            _text(padded, data, starts[i], ends[i], builders[name], source)
    return rows


def _quotes_wrap_fields(buf: np.ndarray, seps: np.ndarray, starts: np.ndarray,
                        ends: np.ndarray) -> bool:
    """Each field holds no quote, or exactly two: its first and its last character."""
    quotes = np.flatnonzero(buf == ord('"'))
    field = np.searchsorted(seps, quotes)  # the field a quote is in (a field ends at a sep)
    at_edge = (quotes == starts[field]) | (quotes == ends[field] - 1)
    per_field = np.bincount(field)
    return bool(at_edge.all()) and not np.any(per_field[per_field > 0] != 2)


def _numbers(padded: np.ndarray, starts: np.ndarray, ends: np.ndarray,
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
    # One row per character position, right-aligned (each a contiguous vector): the
    # `widest` bytes before each field's end (`padded` has WIDEST newlines in front), the
    # positions before the field's start set to a delimiter (not a digit, adds nothing).
    window = sliding_window_view(padded, widest)[ends + (WIDEST - widest)]
    chars = np.ascontiguousarray(window.T)
    chars[np.arange(widest)[:, None] < (widest - length)] = ord(",")
    digit = chars - np.uint8(ord("0"))  # wraps: anything but a digit is > 9
    is_digit = digit <= 9
    is_dot = chars == ord(".")
    lead = padded[starts + WIDEST]  # a field's first byte (an empty one's: its separator)
    signed = ~empty & ((lead == ord("-")) | (lead == ord("+")))
    dots = is_dot.view(np.uint8).sum(axis=0, dtype=np.int32)
    digits = is_digit.view(np.uint8).sum(axis=0, dtype=np.int32)
    number = (digits + dots + signed == length) & ((digits > 0) | empty)
    null = empty
    if not number.all():  # the rest must be null spellings (R writes NA, say)
        null = empty | _spelled_nulls(chars, length, builder)
        if not (number | null).all():
            return None
    if int(np.where(null, 0, dots).max()) > (1 if builder.want == "number" else 0):
        return None
    # Every position a decimal digit (a non-digit as 0): below 10**15, exact.
    digit *= is_digit
    whole = digit[0].astype(np.int64)
    for k in range(1, widest):
        whole *= 10
        whole += digit[k]
    negative = signed & (lead == ord("-"))
    if builder.want == "integer":
        return np.where(null, 0, np.where(negative, -whole, whole)), null
    # Drop the dot's 0: the digits left of it are 10x too large.
    decimals = np.zeros(size, dtype=np.intp)
    for k in range(widest - 1):
        np.copyto(decimals, widest - 1 - k, where=is_dot[k])
    scale = _POW10[decimals]
    mantissa = np.where(dots > 0, whole // (scale * 10) * scale + whole % scale, whole)
    # Both exact in a float64 (below 2**53): one correctly rounded division.
    magnitude = mantissa / scale.astype(np.float64)
    values = np.where(negative, -magnitude, magnitude)
    values[null] = np.nan
    return values, null


def _spelled_nulls(chars: np.ndarray, length: np.ndarray, builder: ColumnBuilder) -> np.ndarray:
    """The fields that are exactly a null spelling of the contract, or a spelling of NaN
    (null in any column, see columns.py); any other spelling is left to the general path."""
    widest = chars.shape[0]
    found = np.zeros(length.size, dtype=bool)
    for spelling in {*builder.nulls, *NAN_SPELLINGS} - {""}:
        raw = spelling.encode("utf-8")
        size = len(raw)
        if size > widest or not (length == size).any():
            continue
        same = np.all(chars[widest - size:] == np.frombuffer(raw, dtype=np.uint8)[:, None],
                      axis=0)
        found |= same & (length == size)
    return found


def _text(padded: np.ndarray, data: bytes, starts: np.ndarray, ends: np.ndarray,
          builder: ColumnBuilder, source: str) -> None:
    """Text cells as codes into the builder's texts, in first-appearance order (as
    ColumnBuilder.add_text): each distinct field decoded (and unquoted) once."""
    length = ends - starts
    if int(length.max()) <= 8:
        # Short fields: their bytes, NUL-padded, as one 8-byte key each, sorted in C.
        window = sliding_window_view(padded, 8)[starts + WIDEST]
        keys = np.where(np.arange(8) < length[:, None], window, 0).view(np.uint64).ravel()
        distinct, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        order = np.argsort(first)
        rank = np.empty(order.size, dtype=np.int32)
        rank[order] = np.arange(order.size, dtype=np.int32)
        raws = [distinct[j:j + 1].view(np.uint8).tobytes().rstrip(b"\0") for j in order]
        codes = np.array([_code(builder, raw) for raw in raws], dtype=np.int32)
        values = codes[rank[inverse.ravel()]]
    else:
        cells = [data[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
        lookup = {raw: _code(builder, raw) for raw in dict.fromkeys(cells)}
        values = np.fromiter(map(lookup.__getitem__, cells), dtype=np.int32,
                             count=len(cells))
    builder.pieces.append(Piece("codes", values, np.zeros(values.size, dtype=bool), source))


def _code(builder: ColumnBuilder, raw: bytes) -> int:
    value = raw[1:-1] if raw[:1] == b'"' else raw  # (quotes wrap a field whole, see above)
    return builder.codes.setdefault(value.decode("utf-8"), len(builder.codes))

"""Messages of the gate spec's validation: the file, the key path and what was expected.

`spec_error` turns pydantic's first error into an `InputError` (an unknown key lists the keys
allowed there); `check_unicode` refuses a key or text holding a lone surrogate, which YAML
and JSON escapes can spell but no report can be written with.
"""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from mlci.errors import InputError


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) in (Union, types.UnionType):
        tp = next(a for a in get_args(tp) if a is not type(None))
    return tp


def _allowed_keys(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys the mapping at `loc` accepts, for an 'unknown key' message."""
    tp: Any = root
    for part in loc[:-1]:
        tp = _unwrap(tp)
        if get_origin(tp) is dict:
            tp = get_args(tp)[1]
        elif isinstance(tp, type) and issubclass(tp, BaseModel) and str(part) in tp.model_fields:
            tp = tp.model_fields[str(part)].annotation
        else:
            return []
    tp = _unwrap(tp)
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def spec_error(exc: ValidationError, *, file: str, prefix: str = "",
               root: type[BaseModel]) -> InputError:
    """The first pydantic error as an InputError naming the file and the key path."""
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    key = prefix + ".".join(str(p) for p in loc) if loc else (prefix.rstrip(".") or None)
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(root, loc)
        message = "unknown key" + (f" (expected one of: {', '.join(allowed)})" if allowed else "")
    elif kind == "missing":
        message = "required key is missing"
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
        if "got " not in message and not isinstance(error.get("input"), (dict, list)):
            message += f", got {error.get('input')!r}"
    more = len(exc.errors()) - 1
    if more:
        message += f" (and {more} more problem(s))"
    return InputError(message, file=file, key=key)


def not_unicode(data: Any, path: str) -> tuple[str, str] | None:
    """(key path, repr) of the first key or string that is not valid Unicode (a lone
    surrogate, which YAML and JSON escapes can spell but no report can be written with)."""
    if isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            return path, ascii(data)
        return None
    items: list[tuple[Any, Any]] = list(data.items()) if isinstance(data, dict) else \
        list(enumerate(data)) if isinstance(data, list) else []
    for key, value in items:
        where = f"{path}.{ascii(key)[1:-1] if isinstance(key, str) else key}".lstrip(".")
        found = not_unicode(key, where) if isinstance(key, str) else None
        found = found or not_unicode(value, where)
        if found:
            return found
    return None


def check_unicode(data: Any, *, file: str | None, prefix: str = "") -> None:
    """An InputError naming the key when a name or text in `data` is not valid Unicode."""
    found = not_unicode(data, prefix.rstrip("."))
    if found:
        raise InputError(f"{found[1]} is not valid Unicode text (it holds a lone surrogate)",
                         file=file, key=found[0] or None)

"""Reading YAML from users' files: the one safe loader every file mlci reads goes through
(mlci.yml, gate specs, data contracts, dvc.lock).

Safe means: PyYAML's SafeLoader (no Python objects), text that must be UTF-8 (a binary file is
a clear error, not a traceback), a budget on alias expansion (a 360-byte "billion laughs"
document expands to billions of nodes for any code that walks it: refused before anything
walks it), and nesting, integer size and recursion limits reported as input errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlci.errors import InputError

# Nodes a document may expand to once aliases are followed: generous for any real config or
# lock file, tiny next to an alias bomb.
EXPANSION_BUDGET = 200_000
MAX_DEPTH = 100


def read_text(path: str | Path, *, what: str = "file",
              error: type[InputError] = InputError) -> str:
    shown = str(path)
    try:
        if not Path(path).is_file():
            if Path(path).exists():
                raise error(f"cannot read {what}: not a regular file", file=shown)
            raise error(f"cannot read {what}: no such file", file=shown)
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise error(f"cannot read {what}: {exc.strerror or exc}", file=shown) from None
    except UnicodeDecodeError as exc:
        raise error(f"{what} is not UTF-8 text (byte {exc.start}): is it a binary file?",
                    file=shown) from None


def _expanded_size(node: yaml.Node, file: str, error: type[InputError]) -> int:
    """Nodes the document has when every alias is expanded: linear time on the node graph."""
    sizes: dict[int, int] = {}
    # Iterative post-order walk; `depth` bounds nesting (and recursion of later consumers).
    stack: list[tuple[yaml.Node, int, bool]] = [(node, 1, False)]
    while stack:
        current, depth, done = stack.pop()
        if depth > MAX_DEPTH:
            line = current.start_mark.line + 1
            raise error(f"nested more than {MAX_DEPTH} levels deep", file=file, line=line)
        key = id(current)
        children = _children(current)
        if done:
            total = 1 + sum(sizes[id(child)] for child in children)
            if total > EXPANSION_BUDGET:
                raise error(f"YAML aliases expand this document to more than "
                            f"{EXPANSION_BUDGET:,} nodes (an alias bomb?); refused", file=file)
            sizes[key] = total
            continue
        if key in sizes:
            continue
        stack.append((current, depth, True))
        stack.extend((child, depth + 1, False) for child in children if id(child) not in sizes)
    return sizes[id(node)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def compose(text: str, *, file: str, error: type[InputError] = InputError,
            loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> yaml.Node | None:
    """Parse `text` into its node graph (checked against the budget), or None when empty."""
    try:
        node = yaml.compose(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise error(f"not valid YAML: {getattr(exc, 'problem', None) or exc}", file=file,
                    line=mark.line + 1 if mark else None) from None
    except RecursionError:   # PyYAML's parser recurses once per nesting level
        raise error(f"nested more than {MAX_DEPTH} levels deep", file=file) from None
    if node is not None:
        _expanded_size(node, file, error)
    return node


def construct(node: yaml.Node | None, text: str, *, file: str,
              error: type[InputError] = InputError,
              loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> Any:
    """The Python value of a composed (and checked) document."""
    if node is None:
        return None
    instance = loader(text)
    try:
        return instance.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise error(f"not valid YAML: {getattr(exc, 'problem', None) or exc}", file=file,
                    line=mark.line + 1 if mark else None) from None
    except ValueError as exc:   # e.g. an integer beyond Python's digit limit
        raise error(f"a value cannot be read: {exc}", file=file) from None
    except RecursionError:
        raise error("nested too deeply", file=file) from None
    finally:
        instance.dispose()


def load(text: str, *, file: str, error: type[InputError] = InputError) -> Any:
    return construct(compose(text, file=file, error=error), text, file=file, error=error)


def load_file(path: str | Path, *, what: str = "file",
              error: type[InputError] = InputError) -> Any:
    return load(read_text(path, what=what, error=error), file=str(path), error=error)

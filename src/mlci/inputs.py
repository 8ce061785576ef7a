"""CI inputs as flags: any flag a command was not given is read from `MLCI_INPUT_<COMMAND>_<FLAG>`.

This is the one path from an action input or a template input to the command line. The
composite actions and the GitLab templates put each input in the environment under this name
and run `mlci <command>` with no arguments; the mapping, the type checks and the messages
live here, once, for GitHub, GitLab and a terminal alike.

    mlci gate --fail-on review        same as  MLCI_INPUT_GATE_FAIL_ON=review mlci gate
    mlci canary step --model churn    same as  MLCI_INPUT_CANARY_MODEL=churn mlci canary step

Rules:
- the name is `MLCI_INPUT_` + the command (its first word: `canary` for `canary step`) + `_`
  + the flag without its dashes, upper-cased, `-` read as `_`. No `__` appears in it, so it
  can never be mistaken for an `MLCI_<SECTION>__<KEY>` override of mlci.yml;
- an empty value is "not given" (an action input left at its empty default);
- an explicit flag beats the environment (and, in a group of exclusive flags such as
  `--image | --containerfile`, an explicit member drops the environment's values of the others);
- a switch (`--comment`) reads `true|false|yes|no|on|off|1|0`, case-insensitive;
- a list flag (`--paths a b`) reads one item per line, so items may contain spaces; nothing is
  expanded by a shell (mlci expands its own globs, identically on every platform);
- values are converted and checked as the flag would be; a bad one exits 2 naming the
  variable, the flag and what was expected.
"""

from __future__ import annotations

import argparse
import copy
import os
from collections.abc import Mapping
from typing import Any

from mlci.errors import InputError

PREFIX = "MLCI_INPUT_"
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def env_name(command: str, flag: str) -> str:
    """`env_name("gate", "--fail-on")` -> `MLCI_INPUT_GATE_FAIL_ON`."""
    return PREFIX + f"{command}_{flag.lstrip('-')}".upper().replace("-", "_")


def long_flag(action: argparse.Action) -> str | None:
    longs = [o for o in action.option_strings if o.startswith("--")]
    return longs[0] if longs else None


def input_flags(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The flags of one (sub)parser that an environment variable may set."""
    skip = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)
    return [a for a in parser._actions
            if a.option_strings and long_flag(a) and not isinstance(a, skip)]


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def _is_switch(action: argparse.Action) -> bool:
    return action.nargs == 0 and isinstance(action.const, bool) or \
        isinstance(action, argparse.BooleanOptionalAction)


def _is_list(action: argparse.Action) -> bool:
    return action.nargs in ("+", "*") or isinstance(action, argparse._AppendAction)


def _convert(action: argparse.Action, raw: str, name: str) -> Any:
    flag = long_flag(action)

    def bad(expected: str, got: str) -> InputError:
        return InputError(f"expected {expected}, got {got!r} (from ${name})", key=flag)

    def one(text: str) -> Any:
        value: Any = text
        if action.type is not None:
            try:
                value = action.type(text)  # type: ignore[operator]
            except (TypeError, ValueError, argparse.ArgumentTypeError) as error:
                raise bad(str(error) or f"a value {flag} accepts", text) from None
        if action.choices is not None and value not in action.choices:
            raise bad("one of " + ", ".join(map(str, action.choices)), text)
        return value

    if _is_switch(action):
        word = raw.strip().lower()
        if word in _TRUE:
            return True if isinstance(action, argparse.BooleanOptionalAction) else action.const
        if word in _FALSE:
            return False if isinstance(action, argparse.BooleanOptionalAction) \
                else action.default
        raise bad("true or false", raw)
    if _is_list(action):
        items = [line.strip() for line in raw.replace("\r\n", "\n").split("\n")]
        values = [one(item) for item in items if item]
        return values or None
    return one(raw)


def apply(parser: argparse.ArgumentParser, command: str,
          env: Mapping[str, str] | None = None) -> set[str]:
    """Make the environment the default of every flag of `parser` (and its subcommands).

    Returns the set where explicit flags are recorded during parsing; pass it and the parsed
    namespace to `settle` afterwards.
    """
    env = os.environ if env is None else env
    seen: set[str] = set()
    _apply(parser, command, env, seen)
    return seen


def _apply(parser: argparse.ArgumentParser, command: str, env: Mapping[str, str],
           seen: set[str]) -> None:
    for action in input_flags(parser):
        _record_explicit(action, seen)
        name = env_name(command, long_flag(action) or action.dest)
        raw = env.get(name, "")
        if not raw.strip():
            continue
        value = _convert(action, raw, name)
        if value is None:
            continue
        action.default = value
        action.required = False
        for group in parser._mutually_exclusive_groups:
            if action in group._group_actions:
                group.required = False
    for child in subparsers(parser).values():
        _apply(child, command, env, seen)


def _record_explicit(action: argparse.Action, seen: set[str]) -> None:
    """Wrap the action so that, when given on the command line, it starts from its original
    default (an explicit `--paths x` replaces the environment's list, never extends it)."""
    base = type(action)
    original = copy.copy(action.default)
    if getattr(base, "_mlci_wrapped", False):
        return

    class Explicit(base):  # type: ignore[valid-type, misc]
        _mlci_wrapped = True

        def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                     values: Any, option_string: str | None = None) -> None:
            if self.dest not in seen:
                seen.add(self.dest)
                setattr(namespace, self.dest, copy.copy(original))
            super().__call__(parser, namespace, values, option_string)

    Explicit.__name__ = base.__name__
    action.__class__ = Explicit
    action._mlci_original_default = original  # type: ignore[attr-defined]


def settle(parser: argparse.ArgumentParser, args: argparse.Namespace, seen: set[str]) -> None:
    """In a group of exclusive flags, one given explicitly drops the environment's others."""
    parsers = [parser, *subparsers(parser).values()]
    while parsers:
        current = parsers.pop()
        parsers.extend(subparsers(current).values())
        for group in current._mutually_exclusive_groups:
            members = group._group_actions
            if any(a.dest in seen for a in members):
                for action in members:
                    if action.dest not in seen:
                        setattr(args, action.dest,
                                getattr(action, "_mlci_original_default", None))

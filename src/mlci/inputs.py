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
    return (action.nargs == 0 and isinstance(action.const, bool)) or \
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
            except argparse.ArgumentTypeError as error:   # its message says what was expected
                raise InputError(f"{error} (from ${name})", key=flag) from None
            except (TypeError, ValueError):
                kind = getattr(action.type, "__name__", "value")
                raise bad(f"a value of type {kind}", text) from None
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
        action._mlci_env = name  # type: ignore[attr-defined]
        # Required flags are checked by `settle`, after the environment had its say, with a
        # message naming the variable too (argparse's own would not, nor be an annotation).
        if action.required:
            action.required = False
            action._mlci_required = True  # type: ignore[attr-defined]
        raw = env.get(name, "")
        if not raw.strip():
            continue
        try:
            value = _convert(action, raw, name)
        except InputError as error:
            # Raised by `settle` unless the flag is given explicitly (the flag wins).
            action._mlci_error = error  # type: ignore[attr-defined]
            continue
        if value is None or value == action.default:   # e.g. a switch set to false
            continue
        action.default = value
        action._mlci_from_env = True  # type: ignore[attr-defined]
    for group in parser._mutually_exclusive_groups:
        if group.required:
            group.required = False
            group._mlci_required = True  # type: ignore[attr-defined]
    for child in subparsers(parser).values():
        _apply(child, command, env, seen)


def _record_explicit(action: argparse.Action, seen: set[str]) -> None:
    """Wrap the action so that, when given on the command line, it starts from its original
    default (an explicit `--paths x` replaces the environment's list, never extends it)."""
    action._mlci_seen = seen  # type: ignore[attr-defined]
    base = type(action)
    if getattr(base, "_mlci_wrapped", False):
        return
    action._mlci_original_default = copy.copy(action.default)  # type: ignore[attr-defined]

    class Explicit(base):  # type: ignore[valid-type, misc]
        _mlci_wrapped = True

        def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                     values: Any, option_string: str | None = None) -> None:
            explicit: set[str] = self._mlci_seen
            if self.dest not in explicit:
                explicit.add(self.dest)
                setattr(namespace, self.dest, copy.copy(self._mlci_original_default))
            super().__call__(parser, namespace, values, option_string)

    Explicit.__name__ = base.__name__
    action.__class__ = Explicit


def _chosen(parser: argparse.ArgumentParser, args: argparse.Namespace
            ) -> list[argparse.ArgumentParser]:
    """`parser` and the subcommand parsers the command line actually selected."""
    chosen = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            name = getattr(args, action.dest, None)
            if name in action.choices:
                chosen += _chosen(action.choices[name], args)
    return chosen


def _described(action: argparse.Action) -> str:
    return f"{long_flag(action)} (or ${getattr(action, '_mlci_env', '?')})"


def settle(parser: argparse.ArgumentParser, args: argparse.Namespace, seen: set[str]) -> None:
    """After parsing: in a group of exclusive flags, one given explicitly drops the
    environment's others, and two from the environment are refused; then every required
    flag (or group) must have a value, from the command line or the environment."""
    for current in _chosen(parser, args):
        for action in input_flags(current):
            error = getattr(action, "_mlci_error", None)
            if error is not None and action.dest not in seen:
                raise error
        for group in current._mutually_exclusive_groups:
            members = [a for a in group._group_actions if long_flag(a)]
            if any(a.dest in seen for a in members):
                for action in members:
                    if action.dest not in seen:
                        setattr(args, action.dest,
                                getattr(action, "_mlci_original_default", None))
                continue
            from_env = [a for a in members if getattr(a, "_mlci_from_env", False)]
            if len(from_env) > 1:
                raise InputError("give one of them, not both: "
                                 + ", ".join(f"${a._mlci_env}" for a in from_env),  # type: ignore[attr-defined]
                                 key=" / ".join(str(long_flag(a)) for a in from_env))
            if getattr(group, "_mlci_required", False) and \
                    all(getattr(args, a.dest, None) in (None, [], False) for a in members):
                raise InputError("one of them is required: "
                                 + ", ".join(_described(a) for a in members),
                                 key=" / ".join(str(long_flag(a)) for a in members))
        for action in input_flags(current):
            if getattr(action, "_mlci_required", False) and \
                    getattr(args, action.dest, None) in (None, []):
                raise InputError("required: give the flag, or set "
                                 f"${getattr(action, '_mlci_env', '?')}", key=long_flag(action))

"""The `mlci` command line: argument parsing, dispatch, and the one place errors become exit codes.

Start-up stays light: a command's module is imported only when that command runs (or its
own `--help` is asked for), so `mlci --help` imports no MLflow, numpy or pydantic.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol

from mlci import __version__
from mlci.errors import MlciError

# name -> (module, one-line help). A module defines `add_arguments(parser)` and `run(args) -> int`.
# Only commands that exist are listed: nothing here is a stub.
COMMANDS: dict[str, tuple[str, str]] = {
    "schema": ("mlci.commands.schema", "print the JSON Schema of mlci.yml"),
    "config": ("mlci.commands.config", "validate mlci.yml and print the resolved configuration"),
    "promote": ("mlci.commands.promote", "move the production alias to a candidate, audited"),
    "rollback": ("mlci.commands.rollback", "move the alias back to its previous holder, audited"),
    "history": ("mlci.commands.history", "show the audit trail of a model, newest first"),
    "train": ("mlci.commands.train", ("build or pull the training image, run the training "
                                      "command in it, log an MLflow run with its lineage record")),
    "reproduce": ("mlci.commands.reproduce", ("re-run a recorded training run and compare its "
                                              "artifacts and metrics: equal, within-tolerance "
                                              "or different")),
    "data-change": ("mlci.commands.data_change",
                    "fingerprint the data and report whether it changed since a baseline"),
    "validate-data": ("mlci.commands.validate_data",
                      "check a data snapshot against its contract (schema, nulls, ranges, drift)"),
    "gate": ("mlci.commands.gate", ("compare a candidate with a baseline on a gate spec; "
                                    "exit 0 promote, 1 reject, 3 review")),
    "evaluate": ("mlci.commands.evaluate",
                 "score a registered model on a dataset: a predictions file for the gate"),
    "canary": ("mlci.commands.canary", ("roll a candidate out by a growing share of traffic, "
               "checked every interval; roll back on a failed check (run|step|status|abort)")),
    "pipeline": ("mlci.commands.pipeline", ("run every stage of mlci.yml in order: data-change, "
                 "validate-data, train, gate, promote, canary")),
}


class CommandModule(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def common_options() -> argparse.ArgumentParser:
    """Options every command accepts (--config, --tracking-uri, --json)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", metavar="FILE", default=None,
        help="path of mlci.yml (default: $MLCI_CONFIG, else ./mlci.yml when it exists)",
    )
    common.add_argument(
        "--tracking-uri", metavar="URI", default=None,
        help="MLflow tracking URI (overrides $MLFLOW_TRACKING_URI and registry.tracking_uri)",
    )
    common.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    return common


def _selected_command(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if arg in COMMANDS:
            return arg
        if not arg.startswith("-"):
            return None
    return None


def build_parser(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, dict[str, CommandModule]]:
    parser = argparse.ArgumentParser(
        prog="mlci",
        description="CI/CD for machine learning. Exit codes: 0 success, 1 the check said no, "
        "2 bad input or configuration, 3 review needed.",
    )
    parser.add_argument("--version", action="version", version=f"mlci {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = common_options()
    loaded: dict[str, CommandModule] = {}
    wanted = _selected_command(argv)
    for name, (module_name, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(
            name, help=help_text, description=help_text, parents=[common],
        )
        # Only the command being run has its arguments defined (and its module imported).
        if name == wanted:
            module: CommandModule = importlib.import_module(module_name)
            module.add_arguments(sub_parser)
            loaded[name] = module
            note = ("Every flag can also be set in the environment as "
                    f"MLCI_INPUT_{name.upper().replace('-', '_')}_<FLAG> (flag without dashes, "
                    "upper-cased, '-' as '_'; a list one item per line); an explicit flag wins.")
            sub_parser.epilog = f"{sub_parser.epilog}\n\n{note}" if sub_parser.epilog else note
    return parser, loaded


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]  # type: ignore[no-any-return]
    raise KeyError(name)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from mlci.escape import guard_streams

    guard_streams()   # no line mlci prints can act as a CI workflow command (mlci.escape)
    from mlci import ci

    try:
        # Inside the try: a command module that fails to import is a crash (exit 2), never
        # an exit code that reads as a verdict.
        parser, loaded = build_parser(argv)
        command = _selected_command(argv)
        seen: set[str] = set()
        if command is not None:
            # CI inputs: any flag not given is read from MLCI_INPUT_<COMMAND>_<FLAG>.
            from mlci import inputs

            seen = inputs.apply(_subparser(parser, command), command)
        args = parser.parse_args(argv)
        if command is not None:
            inputs.settle(_subparser(parser, command), args, seen)
        return loaded[args.command].run(args)
    except MlciError as error:
        ci.current().error(str(error), file=error.file, line=error.line)
        return error.exit_code
    except KeyboardInterrupt:
        print("mlci: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader closed our stdout (`mlci history --json | head`): not a bug. Exit as a
        # process killed by SIGPIPE would (128 + 13), with nothing more written to the pipe.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception:  # noqa: BLE001 - a bug is not a verdict: never exit 0 (go) or 1 (no)
        import traceback

        traceback.print_exc()
        ci.current().error(f"internal error in mlci {__version__} (a bug: please report it "
                           "with the traceback above)")
        return 2

"""The exception hierarchy. A message is what the user reads; the exit code is fixed per class.

Exit codes: 0 success, 1 the check said no, 2 bad input or configuration, 3 review.
`mlci.cli.main` is the one place that turns an exception into an exit code.
"""

from __future__ import annotations


class MlciError(Exception):
    """Base of every error mlci reports to the user."""

    exit_code = 2

    def __init__(
        self, message: str, *, file: str | None = None, key: str | None = None,
        line: int | None = None,
    ) -> None:
        from mlci.redact import redact

        message = redact(message)   # no error message ever carries a credential
        super().__init__(message)
        self.message = message
        self.file = redact(file) if file else file
        self.key = key
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        if self.key:
            where += f"{self.key}: "
        return where + self.message


class InputError(MlciError):
    """Bad input or configuration: a file, key or value that is not what was expected."""


class ConfigError(InputError):
    """mlci.yml (or an override of it) is invalid."""


class ServiceError(MlciError):
    """A service mlci depends on (registry, object store, container engine) failed or is
    unreachable.

    Exit 2: it is not a verdict, and it never lets anything through.
    """


class CheckFailed(MlciError):
    """The check said no (gate: reject; canary: rolled back; promote: lost a race)."""

    exit_code = 1

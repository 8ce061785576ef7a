"""The CI-platform layer: the one place that knows whether mlci runs on GitHub Actions,
GitLab CI or in a terminal.

Everything a stage hands back to its pipeline goes through here: step outputs, the job
summary, error and warning annotations, collapsible log sections and secret masking.
Annotations and log sections go to stderr so that `--json` keeps stdout parseable (both
runners read workflow commands from either stream).
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

from mlci.escape import defuse, raw

GITLAB_DOTENV_DEFAULT = "mlci.env"
SUMMARY_DEFAULT = "mlci-summary.md"
_DOTENV_KEY = re.compile(r"[^A-Z0-9_]")


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def dotenv_key(name: str) -> str:
    """`report-json` -> `MLCI_REPORT_JSON`: the variable a later GitLab job sees."""
    return "MLCI_" + _DOTENV_KEY.sub("_", name.upper())


@dataclass
class Platform:
    """A terminal. Subclasses override what their runner understands."""

    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    name = "terminal"

    # -- facts about the run -------------------------------------------------------------
    @property
    def run_url(self) -> str | None:
        return None

    @property
    def actor(self) -> str | None:
        return self.env.get("USER")

    @property
    def commit(self) -> str | None:
        return None

    # -- what a step hands back -------------------------------------------------------------
    def set_output(self, name: str, value: str) -> None:
        path = self.env.get("MLCI_OUTPUT_FILE")
        if path:
            with open(path, "a", encoding="utf-8") as out:
                out.write(f"{name}={value}\n")

    def set_outputs(self, outputs: Mapping[str, str]) -> None:
        for name, value in outputs.items():
            self.set_output(name, value)

    def summary(self, markdown: str) -> None:
        path = self.env.get("MLCI_SUMMARY_FILE")
        if path:
            with open(path, "a", encoding="utf-8") as out:
                out.write(markdown.rstrip("\n") + "\n\n")

    # -- what the log shows ------------------------------------------------------------------
    def _print(self, text: str) -> None:
        """A log line; nothing in it can act as a workflow command (see mlci.escape)."""
        self._command(defuse(text))

    def _command(self, text: str) -> None:
        """A line of mlci's own (a workflow command, a section marker), written unguarded."""
        stream = raw(self.stream)
        stream.write(text + "\n")
        stream.flush()

    def info(self, message: str) -> None:
        """A plain log line: no annotation on any platform."""
        self._print(f"mlci: {message}")

    def error(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self._print(f"mlci: error: {message}")

    def warning(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self._print(f"mlci: warning: {message}")

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        self._print(f"== {title}")
        yield

    def mask(self, secret: str) -> None:
        """Ask the runner to hide `secret` in logs. Callers still never print secrets."""


class GitHub(Platform):
    name = "github"

    @property
    def run_url(self) -> str | None:
        server, repo, run = (self.env.get(k) for k in
                             ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
        return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None

    @property
    def actor(self) -> str | None:
        return self.env.get("GITHUB_TRIGGERING_ACTOR") or self.env.get("GITHUB_ACTOR")

    @property
    def commit(self) -> str | None:
        return self.env.get("GITHUB_SHA")

    def set_output(self, name: str, value: str) -> None:
        path = self.env.get("GITHUB_OUTPUT")
        if not path:
            return super().set_output(name, value)
        # A random delimiter: a value can never end the heredoc early, whatever it holds.
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        while delimiter in value:  # pragma: no cover - 128 random bits
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")

    def summary(self, markdown: str) -> None:
        path = self.env.get("GITHUB_STEP_SUMMARY")
        if not path:
            return super().summary(markdown)
        with open(path, "a", encoding="utf-8") as out:
            out.write(markdown.rstrip("\n") + "\n\n")

    def _annotate(self, kind: str, message: str, file: str | None, line: int | None) -> None:
        props = []
        if file:
            # GitHub links an annotation to a file only by a path relative to the workspace.
            workspace = self.env.get("GITHUB_WORKSPACE")
            if workspace and os.path.isabs(file):
                relative = os.path.relpath(file, workspace)
                file = file if relative.startswith("..") else relative
            props.append(f"file={_escape_property(file)}")
        if line:
            props.append(f"line={line}")
        head = f"::{kind} {','.join(props)}" if props else f"::{kind}"
        self._command(f"{head}::{_escape_data(message)}")

    def error(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self._annotate("error", message, file, line)

    def warning(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self._annotate("warning", message, file, line)

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        self._command(f"::group::{_escape_data(title)}")
        try:
            yield
        finally:
            self._command("::endgroup::")

    def mask(self, secret: str) -> None:
        for part in secret.splitlines():
            if part.strip():
                self._command(f"::add-mask::{_escape_data(part)}")


class GitLab(Platform):
    name = "gitlab"

    @property
    def run_url(self) -> str | None:
        return self.env.get("CI_JOB_URL") or self.env.get("CI_PIPELINE_URL")

    @property
    def actor(self) -> str | None:
        return self.env.get("GITLAB_USER_LOGIN")

    @property
    def commit(self) -> str | None:
        return self.env.get("CI_COMMIT_SHA")

    def set_output(self, name: str, value: str) -> None:
        # A dotenv report holds one line per variable; a multi-line value stays in the
        # JSON/Markdown reports and is not exported.
        if "\n" in value or "\r" in value:
            self.warning(f"output {name!r} spans several lines; not exported to dotenv")
            return
        path = self.env.get("MLCI_DOTENV", GITLAB_DOTENV_DEFAULT)
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{dotenv_key(name)}={value}\n")

    def summary(self, markdown: str) -> None:
        path = self.env.get("MLCI_SUMMARY_FILE", SUMMARY_DEFAULT)
        with open(path, "a", encoding="utf-8") as out:
            out.write(markdown.rstrip("\n") + "\n\n")

    def error(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        where = f"{file}:{line}: " if file and line and file not in message else ""
        self._command(f"\x1b[31;1mERROR: {defuse(where + message)}\x1b[0m")

    def warning(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self._command(f"\x1b[33;1mWARNING: {defuse(message)}\x1b[0m")

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        section = "mlci_" + re.sub(r"[^a-z0-9_]", "_", title.lower())[:40]
        self._command(f"\x1b[0Ksection_start:{int(time.time())}:{section}[collapsed=true]"
                      f"\r\x1b[0K{defuse(title)}")
        try:
            yield
        finally:
            self._command(f"\x1b[0Ksection_end:{int(time.time())}:{section}\r\x1b[0K")


def detect(env: Mapping[str, str] | None = None, stream: TextIO | None = None) -> Platform:
    env = os.environ if env is None else env
    stream = sys.stderr if stream is None else stream
    # An explicit override: the GitLab templates set MLCI_PLATFORM=gitlab, because runners
    # that emulate GitLab (gitlab-ci-local) set GITLAB_CI=false.
    forced = {"github": GitHub, "gitlab": GitLab, "terminal": Platform}.get(
        env.get("MLCI_PLATFORM", "").strip().lower())
    if forced is not None:
        return forced(env, stream)
    if env.get("GITHUB_ACTIONS") == "true":
        return GitHub(env, stream)
    if env.get("GITLAB_CI") == "true":
        return GitLab(env, stream)
    return Platform(env, stream)


def current() -> Platform:
    """The platform of this process, detected from its environment at call time."""
    return detect()

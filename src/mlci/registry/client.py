"""The registry client: `mlflow.MlflowClient` behind one retry policy and one error vocabulary.

Every registry call of promote, rollback and history goes through `Registry.call`, which

- retries what is transient -- connection refused/reset, timeouts, HTTP 408/429 and 5xx --
  with exponential backoff (0.5 s, 1 s, 2 s, ... capped at 8 s, with jitter) for a bounded
  total time: ``$MLCI_REGISTRY_TIMEOUT`` seconds (default 60), after which the call fails
  with a `ServiceError` (exit 2) that names the registry (credentials stripped) and the
  last error;
- never retries a 4xx: "does not exist" becomes `NotFound`, "already exists" and
  "Changing param values is not allowed" become `Conflict` (the two are what the audit
  log's compare-and-set is built on, see `mlci.registry.audit`), anything else a
  `ServiceError` carrying the registry's own message.

MLflow's own HTTP retries are switched off for this process (``MLFLOW_HTTP_REQUEST_MAX_RETRIES
=0``: its default retries for minutes, and would hide the status a policy needs); the
per-request timeout is the smaller of 30 s and the time left.

A retried call that is not idempotent (creating a run or a model version) may have
succeeded before its answer was lost; the callers are written for that (a duplicate
intent run is never linked into the audit chain, see `audit`; a model version is looked
up by its run before a new one is registered).

`mlflow` is imported lazily (in `Registry.__init__`): only the commands that talk to a
registry pay for it. At runtime it is `mlflow-skinny`; nothing here needs SQLAlchemy.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mlci.errors import ConfigError, MlciError, ServiceError
from mlci.tracking import strip_credentials

T = TypeVar("T")

DEFAULT_TIMEOUT = 60.0
TIMEOUT_ENV = "MLCI_REGISTRY_TIMEOUT"
REQUEST_TIMEOUT_CAP = 30.0
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class NotFound(MlciError):
    """The registry answered that the thing does not exist (not retried)."""


class Conflict(MlciError):
    """The registry refused a write because a different value is already there (not retried)."""


def seconds_from_env(name: str, default: float,
                     env: Mapping[str, str] | None = None) -> float:
    """A duration in seconds from environment variable `name` (unset or empty: `default`)."""
    from mlci.errors import InputError

    raw = (os.environ if env is None else env).get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"expected a number of seconds, got {raw!r}",
                         file=f"environment {name}") from None
    if value < 0:
        raise InputError(f"expected a non-negative number of seconds, got {raw!r}",
                         file=f"environment {name}")
    return value


def timeout_from_env(env: Mapping[str, str] | None = None) -> float:
    return seconds_from_env(TIMEOUT_ENV, DEFAULT_TIMEOUT, env)


def classify(error: BaseException) -> str:
    """'transient', 'not-found', 'conflict' or 'fatal', from an MLflow or requests exception."""
    try:
        from mlflow.exceptions import MlflowException
    except ImportError:  # pragma: no cover - mlflow is a runtime dependency
        MlflowException = ()  # type: ignore[assignment,misc]  # noqa: N806
    if isinstance(error, MlflowException):
        code = str(getattr(error, "error_code", "") or "")
        message = str(getattr(error, "message", error))
        try:
            status = int(error.get_http_status_code())  # type: ignore[no-untyped-call]
        except Exception:  # noqa: BLE001 - a foreign subclass
            status = 500
        if code == "RESOURCE_DOES_NOT_EXIST" or status == 404:
            return "not-found"
        if code in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS", "RESOURCE_CONFLICT") or (
                code == "INVALID_PARAMETER_VALUE" and "Changing param values is not allowed"
                in message):
            return "conflict"
        if code == "INVALID_PARAMETER_VALUE" and re.search(r"alias .* not found", message):
            return "not-found"
        if status in TRANSIENT_STATUS or status >= 500:
            return "transient"
        return "fatal"
    try:
        import requests

        if isinstance(error, (requests.ConnectionError, requests.Timeout)):
            return "transient"
    except ImportError:  # pragma: no cover
        pass
    if isinstance(error, (ConnectionError, TimeoutError)):
        return "transient"
    return "fatal"


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter inside a total time budget."""

    timeout: float = DEFAULT_TIMEOUT
    base: float = 0.5
    cap: float = 8.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    attempts_made: int = 0   # of the last `run`, for messages and tests

    def delays(self) -> Any:
        delay = self.base
        while True:
            yield min(self.cap, delay) * (0.75 + 0.5 * self.rng.random())
            delay *= 2

    def run(self, fn: Callable[[], T], *, what: str, where: str,
            on_attempt: Callable[[float], None] | None = None) -> T:
        """Call `fn` until it succeeds, fails for good, or the budget is spent.

        `on_attempt(remaining)` is called before each attempt (to size request timeouts).
        """
        start = self.clock()
        deadline = start + self.timeout
        delays = self.delays()
        self.attempts_made = 0
        while True:
            remaining = deadline - self.clock()
            if on_attempt is not None:
                on_attempt(max(remaining, 0.0))
            self.attempts_made += 1
            try:
                return fn()
            except Exception as error:
                kind = classify(error)
                if kind == "not-found":
                    raise NotFound(_message(error)) from error
                if kind == "conflict":
                    raise Conflict(_message(error)) from error
                if kind == "fatal":
                    raise ServiceError(f"registry {where} refused {what}: {_message(error)}") \
                        from error
                delay = next(delays)
                remaining = deadline - self.clock()
                if remaining <= 0 or delay > remaining:
                    waited = self.clock() - start
                    raise ServiceError(
                        f"registry {where} unavailable: {what} failed {self.attempts_made} "
                        f"time(s) over {waited:.1f}s (limit {self.timeout:g}s, "
                        f"${TIMEOUT_ENV}): {_message(error)}") from error
                self.sleep(delay)


def _message(error: BaseException) -> str:
    text = str(getattr(error, "message", None) or error)
    text = re.sub(r"//[^/@\s]*@", "//", text)   # no credentials from URLs in messages
    return text if len(text) <= 600 else text[:600] + "..."


class Registry:
    """A `MlflowClient` for one tracking/registry URI, with `call` as the only way in."""

    def __init__(self, tracking_uri: str | None, *, timeout: float | None = None,
                 policy: RetryPolicy | None = None, client: Any = None) -> None:
        self.tracking_uri = tracking_uri
        self.where = strip_credentials(tracking_uri)
        self.policy = policy or RetryPolicy(timeout=timeout_from_env() if timeout is None
                                            else timeout)
        if client is None:
            # Our policy does the retrying; MLflow's own (minutes, by default) is switched off.
            os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
            # stdout belongs to mlci (--json): no "View run at" lines from set_terminated.
            os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
            from mlflow import MlflowClient

            from mlci.tracking import resolve_tracking_uri

            tracking_uri = self.tracking_uri = resolve_tracking_uri(tracking_uri)
            self.where = strip_credentials(tracking_uri)
            try:
                client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
            except Exception as error:  # noqa: BLE001 - MLflow raises its own types for unusable stores
                raise ConfigError(f"cannot use tracking URI {self.where}: {error}",
                                  key="registry.tracking_uri") from None
        self.client = client

    def _size_request_timeout(self, remaining: float) -> None:
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(
            max(1, int(min(REQUEST_TIMEOUT_CAP, remaining + 1))))

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        fn = getattr(self.client, method)
        return self.policy.run(lambda: fn(*args, **kwargs), what=method, where=self.where,
                               on_attempt=self._size_request_timeout)

    # -- small typed helpers used by promote / rollback / history ---------------------------
    def alias_version(self, model: str, alias: str) -> str | None:
        """The version `alias` points to, or None when the alias (or the model) is not set."""
        try:
            return str(self.call("get_model_version_by_alias", model, alias).version)
        except NotFound:
            return None

    def model_version(self, model: str, version: str) -> Any | None:
        try:
            return self.call("get_model_version", model, version)
        except NotFound:
            return None

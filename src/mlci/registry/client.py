"""The one way to MLflow: `MlflowClient` (and mlci's own REST calls) behind one retry policy,
one error vocabulary, one timeout and one credential stripper.

Every MLflow call of every stage -- promote, rollback, history, the gate's metric
references, `data-change --against models:/`, `reproduce`, `evaluate`, `train`'s tracking --
goes through `Registry.call` or, for train's fast REST path, through `RetryPolicy.run` with
`classify`. That policy

- retries what is transient -- connection refused/reset, timeouts, HTTP 5xx -- with
  exponential backoff (0.5 s, 1 s, 2 s, ... capped at 8 s, with jitter) for a bounded total
  time: ``$MLCI_REGISTRY_TIMEOUT`` seconds (default 60); each request's own timeout is the
  smaller of 30 s and the time left. Past the budget the call fails with `Unreachable`;
- never retries anything else. The vocabulary:

  ``NotFound``     the registry answered that the thing does not exist (RESOURCE_DOES_NOT_EXIST,
                   or a missing alias);
  ``Conflict``     a write refused because a different value is already there ("already
                   exists", "Changing param values is not allowed": the audit log's
                   compare-and-set is built on these, see `mlci.registry.audit`);
  ``Refused``      any other answer of the registry (4xx: bad request, permission, an endpoint
                   that is not MLflow's) -- a `ServiceError`, exit 2, with the registry's text;
  ``Unreachable``  no answer within the budget -- a `ServiceError`, exit 2.

Every message names the registry without credentials (`mlci.redact`, also applied to every
`MlciError`). MLflow's own HTTP retries are switched off for this process
(``MLFLOW_HTTP_REQUEST_MAX_RETRIES=0``): its defaults retry for minutes and would hide the
status the policy needs.

A retried call that is not idempotent (creating a run or a model version) may have
succeeded before its answer was lost; the callers are written for that (a duplicate
intent run is never linked into the audit chain, see `audit`; a model version is looked
up by its run before a new one is registered).

`mlflow` is imported lazily (in `Registry.__init__`): only the commands that talk to a
registry pay for it. At runtime it is `mlflow-skinny`; nothing here needs SQLAlchemy.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import time
import urllib.error
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from mlci.errors import ConfigError, InputError, MlciError, ServiceError
from mlci.redact import redact, strip_credentials

T = TypeVar("T")

DEFAULT_TIMEOUT = 60.0
TIMEOUT_ENV = "MLCI_REGISTRY_TIMEOUT"
REQUEST_TIMEOUT_CAP = 30.0
_REQUEST_TIMEOUT_ENV = "MLFLOW_HTTP_REQUEST_TIMEOUT"
_NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"})
_CONFLICT_CODES = frozenset({"RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS", "RESOURCE_CONFLICT"})


class NotFound(MlciError):
    """The registry answered that the thing does not exist (not retried)."""


class Conflict(MlciError):
    """The registry refused a write because a different value is already there (not retried)."""


class Refused(ServiceError):
    """The registry answered with an error that is neither "not found" nor a conflict."""


class Unreachable(ServiceError):
    """No answer (connection errors, timeouts, 5xx) within ``$MLCI_REGISTRY_TIMEOUT``."""


class HttpError(Exception):
    """An error answer to one of mlci's own REST calls (train's fast path), for `classify`."""

    def __init__(self, status: int, body: str) -> None:
        self.status = status
        self.body = body[:500]
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        self.error_code = str(parsed.get("error_code") or "") if isinstance(parsed, dict) else ""
        self.text = (str(parsed.get("message") or "") if isinstance(parsed, dict) else "") \
            or self.body
        super().__init__(f"HTTP {status}: {self.text}")


def seconds_from_env(name: str, default: float,
                     env: Mapping[str, str] | None = None) -> float:
    """A duration in seconds from environment variable `name` (unset or empty: `default`)."""
    raw = (os.environ if env is None else env).get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"expected a number of seconds, got {raw!r}",
                         file=f"environment {name}") from None
    if not value >= 0 or value == float("inf"):
        raise InputError(f"expected a finite, non-negative number of seconds, got {raw!r}",
                         file=f"environment {name}")
    return value


def timeout_from_env(env: Mapping[str, str] | None = None) -> float:
    return seconds_from_env(TIMEOUT_ENV, DEFAULT_TIMEOUT, env)


def _by_answer(code: str, message: str, status: int) -> str:
    if code in _NOT_FOUND_CODES:
        return "not-found"
    if code == "INVALID_PARAMETER_VALUE" and re.search(r"alias .* not found", message):
        return "not-found"   # MLflow's answer for a missing alias
    if code in _CONFLICT_CODES or (code == "INVALID_PARAMETER_VALUE" and
                                   "Changing param values is not allowed" in message):
        return "conflict"
    return "transient" if status >= 500 else "refused"


def classify(error: BaseException) -> str:
    """'transient', 'not-found', 'conflict' or 'refused', from an MLflow, requests or urllib
    exception. Only connection errors, timeouts and 5xx answers are transient."""
    if isinstance(error, HttpError):
        return _by_answer(error.error_code, error.text, error.status)
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
        return _by_answer(code, message, status)
    try:
        import requests

        if isinstance(error, (requests.ConnectionError, requests.Timeout)):
            return "transient"
    except ImportError:  # pragma: no cover
        pass
    if isinstance(error, urllib.error.HTTPError):
        return "transient" if error.code >= 500 else "refused"
    if isinstance(error, (urllib.error.URLError, ConnectionError, TimeoutError)):
        return "transient"
    return "refused"


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

    def delays(self) -> Iterator[float]:
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
            except MlciError:
                raise
            except Exception as error:
                kind = classify(error)
                if kind == "not-found":
                    raise NotFound(message_of(error)) from error
                if kind == "conflict":
                    raise Conflict(message_of(error)) from error
                if kind == "refused":
                    raise Refused(f"registry {where} refused {what}: {message_of(error)}") \
                        from error
                delay = next(delays)
                remaining = deadline - self.clock()
                if remaining <= 0 or delay > remaining:
                    waited = self.clock() - start
                    raise Unreachable(
                        f"registry {where} unavailable: {what} failed {self.attempts_made} "
                        f"time(s) over {waited:.1f}s (limit {self.timeout:g}s, "
                        f"${TIMEOUT_ENV}): {message_of(error)}") from error
                self.sleep(delay)

    def request_timeout(self, remaining: float) -> float:
        """The timeout of one request when `remaining` seconds of the budget are left."""
        return max(1.0, min(REQUEST_TIMEOUT_CAP, remaining + 1))


def message_of(error: BaseException) -> str:
    """An exception's text for a message: one line, credentials stripped, at most 600
    characters."""
    text = str(getattr(error, "message", None) or error) or type(error).__name__
    text = redact(" ".join(text.split()))
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
            client = self._client()
        self.client = client

    def _client(self) -> Any:
        # Our policy does the retrying; MLflow's own (minutes, by default) is switched off.
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
        # stdout belongs to mlci (--json): no "View run at" lines from set_terminated.
        os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
        try:
            from mlflow import MlflowClient
        except ImportError:
            raise InputError("this command talks to MLflow and needs its client: pip install "
                             "mlflow-skinny (or mlflow)", key="registry.tracking_uri") from None

        from mlci.tracking import resolve_tracking_uri

        uri = self.tracking_uri = resolve_tracking_uri(self.tracking_uri)
        self.where = strip_credentials(uri)
        try:
            return MlflowClient(tracking_uri=uri, registry_uri=self.registry_uri)
        except Exception as error:  # noqa: BLE001 - MLflow raises its own types for bad stores
            raise ConfigError(f"cannot use tracking URI {self.where}: {message_of(error)}",
                              key="registry.tracking_uri") from None

    def _size_request_timeout(self, remaining: float) -> None:
        os.environ[_REQUEST_TIMEOUT_ENV] = str(int(self.policy.request_timeout(remaining)))

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        fn = getattr(self.client, method)
        return self.run(lambda: fn(*args, **kwargs), what=method)

    def run(self, fn: Callable[[], T], *, what: str) -> T:
        """`fn` (MLflow calls) under the policy. The per-request timeout is set for these
        calls only: the caller's own MLflow calls afterwards see the value they had."""
        before = os.environ.get(_REQUEST_TIMEOUT_ENV)
        try:
            return self.policy.run(fn, what=what, where=self.where,
                                   on_attempt=self._size_request_timeout)
        finally:
            if before is None:
                os.environ.pop(_REQUEST_TIMEOUT_ENV, None)
            else:
                os.environ[_REQUEST_TIMEOUT_ENV] = before

    # -- small typed helpers ---------------------------------------------------------------
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

    @property
    def registry_uri(self) -> str | None:
        from mlci.tracking import registry_uri

        return registry_uri(self.tracking_uri)

    @contextlib.contextmanager
    def fluent_uris(self) -> Iterator[None]:
        """MLflow's process-wide tracking and registry URIs aimed at this registry for the
        block only, for MLflow calls that read nothing else (`mlflow.pyfunc.load_model` of a
        `models:/` URI). `mlflow.set_tracking_uri` also exports MLFLOW_TRACKING_URI: left
        set, every later MLflow call of this process, and its children, would use it."""
        import mlflow
        from mlflow.tracking._model_registry import utils as registry_utils
        from mlflow.tracking._tracking_service import utils as tracking_utils

        names = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
        saved_env = {name: os.environ.get(name) for name in names}
        saved = (tracking_utils._tracking_uri, registry_utils._registry_uri)
        registry = str(self.registry_uri)
        mlflow.set_tracking_uri(str(self.tracking_uri))   # (resolved when the client was made)
        mlflow.set_registry_uri(registry)
        try:
            yield
        finally:
            tracking_utils._tracking_uri, registry_utils._registry_uri = saved
            for name, value in saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def download(self, uri: str, dst: str) -> str:
        """The artifacts at `uri` (`models:/`, `runs:/` or an artifact URI) copied under
        `dst`; the local path. MLflow resolves a `models:/` URI with its process-wide
        registry URI whatever it is given, so those are downloaded inside `fluent_uris`."""
        from mlflow.artifacts import download_artifacts

        registry_uri = self.registry_uri
        scope = self.fluent_uris() if uri.startswith("models:/") else contextlib.nullcontext()
        with scope:
            return str(self.run(lambda: download_artifacts(
                artifact_uri=uri, dst_path=dst, tracking_uri=self.tracking_uri,
                registry_uri=registry_uri), what=f"downloading {uri}"))

    def artifact_text(self, run_id: str, path: str) -> str | None:
        """The text of artifact `path` of a run; None when the run has no such artifact."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="mlci-artifact-") as tmp:
            try:
                local = self.call("download_artifacts", run_id, path, tmp)
            except NotFound:
                return None
            except Refused as error:
                # Artifact stores answer a missing file in their own words (a proxy's 404,
                # an OSError): "no such file" is all that can be concluded.
                if _missing_file(error):
                    return None
                raise
            try:
                return Path(local).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                return None


def _missing_file(error: Refused) -> bool:
    cause = error.__cause__
    if isinstance(cause, (FileNotFoundError, IsADirectoryError)):
        return True
    text = str(error).lower()
    return "not found" in text or "no such file" in text or "does not exist" in text

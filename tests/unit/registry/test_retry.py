"""The registry retry policy, against a fake transport: what is retried, for how long, and how
failures read."""

from __future__ import annotations

import pytest
import requests
from mlflow.exceptions import MlflowException, RestException

from mlci.errors import InputError, ServiceError
from mlci.registry.client import (
    Conflict,
    NotFound,
    Registry,
    RetryPolicy,
    classify,
    timeout_from_env,
)
from mlci.tracking import strip_credentials

pytestmark = pytest.mark.unit


def rest(code: str, message: str) -> RestException:
    """What MLflow's REST client raises for an error answer of the server."""
    return RestException({"error_code": code, "message": message})


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Transport:
    """Fails with the given exceptions in turn, then answers `result`."""

    def __init__(self, failures: list[BaseException], result: object = "ok") -> None:
        self.failures = list(failures)
        self.result = result
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.result


def policy(timeout: float = 10.0) -> tuple[RetryPolicy, FakeTime]:
    fake = FakeTime()
    return RetryPolicy(timeout=timeout, sleep=fake.sleep, clock=fake.clock), fake


def refused() -> MlflowException:
    return MlflowException("API request to http://127.0.0.1:1/api/2.0/mlflow/runs/get failed "
                           "with exception HTTPConnectionPool(...): Connection refused")


def test_transient_errors_are_retried_with_growing_backoff() -> None:
    retry, fake = policy()
    transport = Transport([refused(), refused(),
                           rest("TEMPORARILY_UNAVAILABLE", "boom"),
                           requests.ConnectionError("reset")])
    assert retry.run(transport, what="get_run", where="http://r") == "ok"
    assert transport.calls == 5
    assert len(fake.sleeps) == 4
    # exponential: each delay is 0.75..1.25 x base * 2^n, so they grow
    assert fake.sleeps[0] < fake.sleeps[2] < fake.sleeps[3]
    assert 0.375 <= fake.sleeps[0] <= 0.625


def test_total_time_is_bounded_and_the_message_says_why() -> None:
    retry, fake = policy(timeout=5.0)
    transport = Transport([refused() for _ in range(1000)])
    with pytest.raises(ServiceError) as caught:
        retry.run(transport, what="set_registered_model_alias", where="http://reg:5000")
    assert fake.now <= 5.0
    assert 1 < transport.calls < 20
    text = str(caught.value)
    assert "registry http://reg:5000 unavailable" in text
    assert "set_registered_model_alias" in text
    assert "Connection refused" in text
    assert "MLCI_REGISTRY_TIMEOUT" in text


def test_zero_budget_means_one_attempt() -> None:
    retry, fake = policy(timeout=0.0)
    transport = Transport([refused()])
    with pytest.raises(ServiceError):
        retry.run(transport, what="x", where="w")
    assert transport.calls == 1 and fake.sleeps == []


@pytest.mark.parametrize("error, expected", [
    (rest("RESOURCE_DOES_NOT_EXIST", "no such run"), NotFound),
    (rest("INVALID_PARAMETER_VALUE", "Registered model alias champion not found."), NotFound),
    (rest("RESOURCE_ALREADY_EXISTS", "Experiment(name=x) already exists."), Conflict),
    (rest("INVALID_PARAMETER_VALUE",
          "Changing param values is not allowed. Param with key='mlci.next'"), Conflict),
    (rest("INVALID_PARAMETER_VALUE", "bad filter"), ServiceError),
    (rest("PERMISSION_DENIED", "nope"), ServiceError),
])
def test_client_errors_are_not_retried(error: BaseException, expected: type) -> None:
    retry, fake = policy()
    transport = Transport([error])
    with pytest.raises(expected):
        retry.run(transport, what="call", where="w")
    assert transport.calls == 1 and fake.sleeps == []


def test_classification() -> None:
    assert classify(refused()) == "transient"
    assert classify(rest("INTERNAL_ERROR", "x")) == "transient"
    # only connection errors, timeouts and 5xx are retried: a 429 is an answer
    assert classify(rest("REQUEST_LIMIT_EXCEEDED", "x")) == "refused"
    assert classify(rest("ENDPOINT_NOT_FOUND", "a proxy's 404")) == "refused"
    assert classify(requests.Timeout("slow")) == "transient"
    assert classify(ConnectionRefusedError()) == "transient"
    assert classify(ValueError("a bug")) == "refused"


def test_credentials_never_reach_a_message() -> None:
    assert strip_credentials("http://alice:s3cret@reg:5000/x") == "http://reg:5000/x"
    retry, _ = policy(timeout=0.0)
    error = MlflowException("API request to https://bob:hunter2@reg/api failed with exception x")
    with pytest.raises(ServiceError) as caught:
        retry.run(Transport([error]), what="x", where=strip_credentials("https://bob:hunter2@reg"))
    assert "hunter2" not in str(caught.value)


def test_timeout_from_env() -> None:
    assert timeout_from_env({}) == 60.0
    assert timeout_from_env({"MLCI_REGISTRY_TIMEOUT": "2.5"}) == 2.5
    with pytest.raises(InputError, match="MLCI_REGISTRY_TIMEOUT"):
        timeout_from_env({"MLCI_REGISTRY_TIMEOUT": "soon"})


def test_registry_call_goes_through_the_policy() -> None:
    class Client:
        def __init__(self) -> None:
            self.calls = 0

        def get_model_version_by_alias(self, name: str, alias: str) -> object:
            self.calls += 1
            if self.calls == 1:
                raise refused()
            raise rest("INVALID_PARAMETER_VALUE", f"Registered model alias {alias} not found.")

    retry, _ = policy()
    client = Client()
    registry = Registry("http://u:p@reg", policy=retry, client=client)
    assert registry.where == "http://reg"
    assert registry.alias_version("m", "champion") is None
    assert client.calls == 2


def test_the_request_timeout_is_set_for_mlci_calls_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The policy sizes MLflow's per-request timeout to the budget left; afterwards the
    process's own MLflow calls see their value again (a 1 s leftover failed the next call)."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "120")
    seen: list[str] = []

    class Client:
        def get_run(self, run_id: str) -> str:
            import os

            seen.append(os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"])
            return run_id

    retry, _ = policy(timeout=2.0)
    registry = Registry("http://reg", policy=retry, client=Client())
    assert registry.call("get_run", "r1") == "r1"
    assert seen == ["3"]   # 2 s left + 1
    import os

    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "120"

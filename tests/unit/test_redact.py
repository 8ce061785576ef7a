"""The one credential stripper (`mlci.redact`), and that every error message goes through it."""

from __future__ import annotations

import pytest

from mlci.errors import InputError, ServiceError
from mlci.redact import redact, strip_credentials

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("text, expected", [
    ("http://alice:s3cret@reg:5000/x", "http://reg:5000/x"),
    ("https://tok@reg/api?q=1", "https://reg/api?q=1"),
    ("a p@ss with an @: https://u:p@ss@reg/x", "a p@ss with an @: https://reg/x"),
    ("two: http://a:b@one/ and 'https://c:d@two'", "two: http://one/ and 'https://two'"),
    ("git@github.com:acme/churn.git", "git@github.com:acme/churn.git"),   # no secret in it
    ("user@example.com wrote", "user@example.com wrote"),
    ("", ""),
])
def test_user_info_is_removed_from_every_url(text: str, expected: str) -> None:
    assert redact(text, env={}) == expected


def test_secret_variables_are_masked_wherever_they_appear() -> None:
    env = {"MLFLOW_TRACKING_PASSWORD": "hunter22", "MLFLOW_TRACKING_TOKEN": "tok-123456"}
    assert redact("login hunter22 failed with tok-123456", env=env) == \
        "login *** failed with ***"


def test_strip_credentials_names_an_unset_uri() -> None:
    assert strip_credentials(None) == "(MLflow's default tracking URI)"
    assert strip_credentials("sqlite:///mlruns.db") == "sqlite:///mlruns.db"


def test_every_error_message_is_stripped() -> None:
    error = ServiceError("registry at http://bob:hunter2@reg:5000 unreachable")
    assert "hunter2" not in str(error) and "hunter2" not in error.message
    assert "reg:5000" in str(error)
    assert "pw" not in str(InputError("bad", file="https://u:pw@host/f.json"))


def test_every_line_mlci_prints_is_stripped(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guarded streams (`mlci.escape`) pass every write through the stripper."""
    import io

    from mlci.escape import GuardedStream

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-secret-42")
    raw = io.StringIO()
    stream = GuardedStream(raw)
    stream.write("using https://bob:hunter2@reg:5000 with tok-secret-42\n")
    assert raw.getvalue() == "using https://reg:5000 with ***\n"

"""Who approved a promotion: $MLCI_APPROVER, GitHub's review history of the run (read from a
local HTTP server that answers as the Actions API does), else the run's actor."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from mlci.ci import GitHub, GitLab, Platform
from mlci.registry.approvers import approver_of
from tests.registry_support import ALICE, TOKEN, ApprovalsApi, approvals_api

pytestmark = pytest.mark.unit

Api = ApprovalsApi


@pytest.fixture
def api() -> Iterator[Api]:
    with approvals_api() as server:
        yield server


def github(api: Api, **extra: str) -> tuple[Platform, io.StringIO]:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/churn", "GITHUB_RUN_ID": "77",
           "GITHUB_API_URL": f"http://127.0.0.1:{api.server_address[1]}",
           "GITHUB_TOKEN": TOKEN, **extra}
    log = io.StringIO()
    return GitHub(env=env, stream=log), log


def test_the_reviewers_who_approved_are_recorded(api: Api) -> None:
    api.history = [
        {"state": "rejected", "user": {"login": "mallory"}, "environments": []},
        ALICE,
        {"state": "approved", "user": {"login": "bob"},
         "environments": [{"name": "production"}, {"name": "staging"}]},
        ALICE,                                   # the same approval twice: recorded once
    ]
    platform, log = github(api)
    assert approver_of(platform, "release-bot") == "alice (production), bob (production, staging)"
    assert api.seen == [("/repos/acme/churn/actions/runs/77/approvals", f"Bearer {TOKEN}")]
    assert f"::add-mask::{TOKEN}" in log.getvalue()


def test_mlci_approver_names_someone_outright(api: Api) -> None:
    api.history = [ALICE]
    platform, _ = github(api, MLCI_APPROVER="carol")
    assert approver_of(platform, "release-bot") == "carol"
    assert api.seen == []


def test_no_approval_in_the_history_records_the_actor(api: Api) -> None:
    api.history = [{"state": "rejected", "user": {"login": "mallory"}, "environments": []}]
    platform, log = github(api)
    assert approver_of(platform, "release-bot") == "release-bot"
    assert "protected environment" in log.getvalue()


def test_without_a_token_the_actor_is_recorded_and_the_log_says_why(api: Api) -> None:
    platform, log = github(api, GITHUB_TOKEN="")
    assert approver_of(platform, "release-bot") == "release-bot"
    assert "no token" in log.getvalue() and api.seen == []


@pytest.mark.parametrize("status", [403, 500])
def test_an_unreadable_history_is_a_warning_never_the_token(api: Api, status: int) -> None:
    api.status = status
    platform, log = github(api)
    assert approver_of(platform, "release-bot") == "release-bot"
    text = log.getvalue()
    # 403 is answered at once; 500 is retried, then reported
    assert "::warning" in text and (f"HTTP {status}" in text or "failed after" in text)
    assert TOKEN not in text.replace(f"::add-mask::{TOKEN}", "")


def test_a_history_that_is_not_a_list_records_the_actor(api: Api) -> None:
    api.history = {"unexpected": True}
    platform, _ = github(api)
    assert approver_of(platform, "release-bot") == "release-bot"


def test_on_gitlab_the_actor_is_the_approver() -> None:
    platform = GitLab(env={"GITLAB_CI": "true", "GITLAB_USER_LOGIN": "alice"},
                      stream=io.StringIO())
    assert approver_of(platform, "alice") == "alice"

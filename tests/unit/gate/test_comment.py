"""PR comments and MR notes: create, then update the same one (never a duplicate), paginate,
skip when not on a PR/MR, and never show the token.

There is no GitHub or GitLab here, so a small HTTP server on 127.0.0.1 emulates the endpoints
mlci uses (GitHub REST: issue comments; GitLab v4: merge request notes), with their
authentication headers and pagination (GitHub's `Link` header, GitLab's `X-Next-Page`).
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from mlci.ci import GitHub, GitLab, Platform
from mlci.errors import InputError, ServiceError
from mlci.gate import comment as comment_module
from mlci.gate.comment import GITHUB_BODY_LIMIT, marker, post_comment

pytestmark = pytest.mark.unit

GH_TOKEN = "ghs_SECRETgithubTOKEN123"          # an installation token, like GITHUB_TOKEN
GH_PAT = "ghp_SECRETpersonalTOKEN789"          # a person's (or a machine user's) token
GL_TOKEN = "glpat-SECRETgitlabTOKEN456"
BOT = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}
RELEASE_BOT = {"login": "release-bot", "id": 77, "type": "User"}
MALLORY = {"login": "mallory", "id": 666, "type": "User"}
GL_ME = {"id": 12, "username": "project_42_bot"}
GL_MALLORY = {"id": 13, "username": "mallory"}


@dataclass
class State:
    token_header: str
    token: str
    page_size: int = 100
    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    next_id: int = 1000
    # token -> the user it writes as; None: an installation token (GET /user answers 403)
    identities: dict[str, Any] = field(default_factory=dict)


class Api(ThreadingHTTPServer):
    state: State
    kind: str  # "github" | "gitlab"


class Handler(BaseHTTPRequestHandler):
    server: Api

    def log_message(self, *args: object) -> None:
        pass

    def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)

    def handle_any(self, method: str) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        state.requests.append((method, url.path))
        if state.fail_next:
            self.reply(state.fail_next.pop(0), {"message": "try later"})
            return
        sent = self.headers.get(state.token_header) or ""
        token = sent.removeprefix("Bearer ") if self.server.kind == "github" else sent
        if token not in state.identities:
            self.reply(401, {"message": "Bad credentials"})
            return
        self.user = state.identities[token]
        if method == "GET" and url.path.endswith("/user"):
            if self.user is None:
                self.reply(403, {"message": "Resource not accessible by integration"})
            else:
                self.reply(200, self.user)
            return
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length)) if length else None
        if self.server.kind == "github":
            self.github(method, url.path, parse_qs(url.query), payload)
        else:
            self.gitlab(method, url.path, parse_qs(url.query), payload)

    def page(self, query: dict[str, list[str]]) -> tuple[int, int]:
        per_page = min(int(query.get("per_page", ["30"])[0]), self.server.state.page_size)
        return int(query.get("page", ["1"])[0]), per_page

    def github(self, method: str, path: str, query: dict[str, list[str]], payload: Any) -> None:
        state = self.server.state
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if m := re.fullmatch(r"/repos/acme/churn/issues/(\d+)/comments", path):
            number = int(m.group(1))
            if method == "GET":
                page, per_page = self.page(query)
                mine = [c for c in state.comments if c["issue"] == number]
                chunk = mine[(page - 1) * per_page: page * per_page]
                headers = {}
                if page * per_page < len(mine):
                    headers["Link"] = (f'<{base}{path}?per_page=100&page={page + 1}>; rel="next", '
                                       f'<{base}{path}?per_page=100&page=9>; rel="last"')
                self.reply(200, chunk, headers)
                return
            if method == "POST":
                state.next_id += 1
                item = {"id": state.next_id, "issue": number, "body": payload["body"],
                        "user": self.user or BOT,
                        "html_url": f"https://github.example/acme/churn/pull/{number}"
                                    f"#issuecomment-{state.next_id}"}
                state.comments.append(item)
                self.reply(201, item)
                return
        if (m := re.fullmatch(r"/repos/acme/churn/issues/comments/(\d+)", path)) and \
                method == "PATCH":
            for item in state.comments:
                if item["id"] == int(m.group(1)):
                    item["body"] = payload["body"]
                    self.reply(200, item)
                    return
        self.reply(404, {"message": "Not Found"})

    def gitlab(self, method: str, path: str, query: dict[str, list[str]], payload: Any) -> None:
        state = self.server.state
        if m := re.fullmatch(r"/api/v4/projects/42/merge_requests/(\d+)/notes", path):
            iid = int(m.group(1))
            if method == "GET":
                page, per_page = self.page(query)
                mine = [n for n in state.comments if n["issue"] == iid]
                chunk = mine[(page - 1) * per_page: page * per_page]
                more = page * per_page < len(mine)
                self.reply(200, chunk, {"X-Next-Page": str(page + 1) if more else "",
                                        "X-Page": str(page)})
                return
            if method == "POST":
                state.next_id += 1
                item = {"id": state.next_id, "issue": iid, "body": payload["body"],
                        "system": False, "author": self.user}
                state.comments.append(item)
                self.reply(201, item)
                return
        if (m := re.fullmatch(r"/api/v4/projects/42/merge_requests/\d+/notes/(\d+)", path)) and \
                method == "PUT":
            for item in state.comments:
                if item["id"] == int(m.group(1)):
                    if item.get("author") != self.user:   # GitLab: only the author edits
                        self.reply(403, {"message": "403 Forbidden"})
                        return
                    item["body"] = payload["body"]
                    self.reply(200, item)
                    return
        self.reply(404, {"message": "404 Not found"})

    def do_GET(self) -> None:
        self.handle_any("GET")

    def do_POST(self) -> None:
        self.handle_any("POST")

    def do_PATCH(self) -> None:
        self.handle_any("PATCH")

    def do_PUT(self) -> None:
        self.handle_any("PUT")


def serve(kind: str, state: State) -> Iterator[Api]:
    server = Api(("127.0.0.1", 0), Handler)
    server.state, server.kind = state, kind
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def github_api() -> Iterator[Api]:
    yield from serve("github", State(token_header="Authorization", token=GH_TOKEN,
                                     identities={GH_TOKEN: None, GH_PAT: RELEASE_BOT}))


@pytest.fixture
def gitlab_api() -> Iterator[Api]:
    yield from serve("gitlab", State(token_header="PRIVATE-TOKEN", token=GL_TOKEN,
                                     identities={GL_TOKEN: GL_ME, "glpat-MALLORY": GL_MALLORY}))


def base_url(api: Api) -> str:
    return f"http://127.0.0.1:{api.server_address[1]}"


@pytest.fixture
def pr_event(tmp_path: Path) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"action": "synchronize", "number": 7,
                                "pull_request": {"number": 7}}))
    return str(path)


def github(api: Api, event: str, **extra: str) -> tuple[GitHub, io.StringIO]:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_API_URL": base_url(api),
           "GITHUB_REPOSITORY": "acme/churn", "GITHUB_EVENT_PATH": event,
           "GITHUB_EVENT_NAME": "pull_request", "GITHUB_TOKEN": GH_TOKEN, **extra}
    stream = io.StringIO()
    return GitHub({k: v for k, v in env.items() if v is not None}, stream), stream


def gitlab(api: Api, **extra: str) -> tuple[GitLab, io.StringIO]:
    env = {"GITLAB_CI": "true", "CI_API_V4_URL": base_url(api) + "/api/v4",
           "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "5",
           "CI_PROJECT_URL": "https://gitlab.example/acme/churn",
           "MLCI_GITLAB_TOKEN": GL_TOKEN, **extra}
    stream = io.StringIO()
    return GitLab({k: v for k, v in env.items() if v}, stream), stream


def ours(api: Api, key: str = "gate") -> list[dict[str, Any]]:
    return [c for c in api.state.comments if marker(key) in c["body"]]


# -- GitHub -----------------------------------------------------------------------------------------

def test_github_creates_then_updates_the_same_comment(
        github_api: Api, pr_event: str, capsys: pytest.CaptureFixture[str]) -> None:
    platform, stream = github(github_api, pr_event)
    first = post_comment("## Gate: promote\n", platform=platform)
    assert first.endswith("#issuecomment-1001") and "/pull/7" in first
    second = post_comment("## Gate: reject\n", platform=platform)
    assert second == first
    assert len(github_api.state.comments) == 1
    body = github_api.state.comments[0]["body"]
    assert body.startswith(marker("gate")) and "Gate: reject" in body and "promote" not in body
    methods = [m for m, _ in github_api.state.requests]
    assert methods == ["GET", "POST", "GET", "PATCH"]
    # the token: only ever inside the runner's add-mask command, never anywhere else
    log = stream.getvalue()
    assert f"::add-mask::{GH_TOKEN}" in log
    assert GH_TOKEN not in log.replace(f"::add-mask::{GH_TOKEN}", "")
    out = capsys.readouterr()
    assert GH_TOKEN not in out.out + out.err


def test_github_paginates_to_find_its_comment(github_api: Api, pr_event: str) -> None:
    state = github_api.state
    state.page_size = 2
    for i in range(5):
        state.comments.append({"id": i + 1, "issue": 7, "body": f"review comment {i}"})
    state.comments.append({"id": 6, "issue": 8, "body": marker("gate") + " other PR",
                           "user": BOT})
    state.comments.append({"id": 7, "issue": 7, "body": marker("gate") + "\nold report",
                           "user": BOT,
                           "html_url": "https://github.example/acme/churn/pull/7#issuecomment-7"})
    platform, _ = github(github_api, pr_event)
    url = post_comment("new report", platform=platform)
    assert url.endswith("#issuecomment-7")
    assert next(c["body"] for c in state.comments if c["id"] == 7).endswith("new report\n")
    assert next(c["body"] for c in state.comments if c["id"] == 6).endswith("other PR")
    gets = [p for m, p in state.requests if m == "GET"]
    assert len(gets) == 3  # pages 1, 2, 3 (ours is the sixth comment of PR 7)
    assert ("PATCH", "/repos/acme/churn/issues/comments/7") in state.requests
    assert not any(m == "POST" for m, _ in state.requests)


def test_two_gates_in_one_pr_keep_their_own_comments(github_api: Api, pr_event: str) -> None:
    platform, _ = github(github_api, pr_event)
    post_comment("model A", platform=platform, key="churn-a")
    post_comment("model B", platform=platform, key="churn-b")
    platform_env_key, _ = github(github_api, pr_event, MLCI_COMMENT_KEY="churn-a")
    post_comment("model A again", platform=platform_env_key)
    assert len(github_api.state.comments) == 2
    assert "model A again" in ours(github_api, "churn-a")[0]["body"]
    assert "model B" in ours(github_api, "churn-b")[0]["body"]


def test_github_push_build_skips_with_a_warning(github_api: Api, tmp_path: Path) -> None:
    event = tmp_path / "push.json"
    event.write_text(json.dumps({"ref": "refs/heads/main", "after": "abc"}))
    platform, stream = github(github_api, str(event), GITHUB_EVENT_NAME="push")
    assert post_comment("report", platform=platform) == ""
    assert github_api.state.requests == []
    assert "::warning::" in stream.getvalue() and "not for a pull request" in stream.getvalue()


def test_github_pr_without_token_is_an_input_error(github_api: Api, pr_event: str) -> None:
    platform, _ = github(github_api, pr_event)
    env = dict(platform.env)
    del env["GITHUB_TOKEN"]
    with pytest.raises(InputError) as caught:
        post_comment("report", platform=GitHub(env, io.StringIO()))
    assert caught.value.exit_code == 2
    assert "GITHUB_TOKEN" in caught.value.message and "pull-requests: write" in caught.value.message
    assert github_api.state.requests == []


def test_github_pr_number_override_and_issue_comment_event(github_api: Api,
                                                           tmp_path: Path) -> None:
    event = tmp_path / "issue_comment.json"
    event.write_text(json.dumps({"issue": {"number": 9, "pull_request": {"url": "x"}}}))
    platform, _ = github(github_api, str(event))
    assert "/pull/9#" in post_comment("on 9", platform=platform)
    platform, _ = github(github_api, str(tmp_path / "missing.json"), MLCI_PR_NUMBER="11")
    assert "/pull/11#" in post_comment("on 11", platform=platform)


def test_github_wrong_token_fails_without_showing_it(github_api: Api, pr_event: str) -> None:
    platform, _stream = github(github_api, pr_event, GITHUB_TOKEN="ghs_WRONGtoken999")
    with pytest.raises(ServiceError) as caught:
        post_comment("report", platform=platform)
    assert "401" in str(caught.value) and "ghs_WRONGtoken999" not in str(caught.value)


def test_github_transient_errors_are_retried(github_api: Api, pr_event: str) -> None:
    github_api.state.fail_next = [502]
    platform, _ = github(github_api, pr_event)
    assert post_comment("report", platform=platform)
    assert len(ours(github_api)) == 1


def test_long_report_is_truncated_below_the_limit_keeping_the_marker(
        github_api: Api, pr_event: str) -> None:
    platform, _ = github(github_api, pr_event)
    post_comment("x" * (GITHUB_BODY_LIMIT + 5000), platform=platform)
    body = github_api.state.comments[0]["body"]
    assert len(body) <= GITHUB_BODY_LIMIT and body.startswith(marker("gate"))
    assert "truncated" in body
    post_comment("short now", platform=platform)
    assert len(github_api.state.comments) == 1


def test_a_next_link_to_another_host_is_not_followed(github_api: Api, pr_event: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(comment_module, "next_link", lambda headers: "http://evil.invalid/x")
    github_api.state.page_size = 1
    github_api.state.comments.append({"id": 1, "issue": 7, "body": "someone else"})
    github_api.state.comments.append({"id": 2, "issue": 7, "body": "and again"})
    platform, _ = github(github_api, pr_event)
    with pytest.raises(ServiceError, match="another host"):
        post_comment("report", platform=platform)


# -- GitLab -----------------------------------------------------------------------------------------

def test_gitlab_creates_then_updates_the_same_note(
        gitlab_api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    platform, stream = gitlab(gitlab_api)
    first = post_comment("## Gate: review\n", platform=platform)
    assert first == "https://gitlab.example/acme/churn/-/merge_requests/5#note_1001"
    assert post_comment("## Gate: promote\n", platform=platform) == first
    assert len(gitlab_api.state.comments) == 1
    assert "Gate: promote" in gitlab_api.state.comments[0]["body"]
    assert gitlab_api.state.requests[3] == ("GET", "/api/v4/user")   # only once ours may exist
    assert [m for m, _ in gitlab_api.state.requests] == ["GET", "POST", "GET", "GET", "PUT"]
    out = capsys.readouterr()
    assert GL_TOKEN not in stream.getvalue() + out.out + out.err


def test_gitlab_paginates_with_x_next_page(gitlab_api: Api) -> None:
    state = gitlab_api.state
    state.page_size = 2
    for i in range(4):
        state.comments.append({"id": i + 1, "issue": 5, "body": f"note {i}", "system": False})
    state.comments.append({"id": 50, "issue": 5, "body": marker("gate") + " mentioned",
                           "system": True})  # a system note is never ours
    state.comments.append({"id": 60, "issue": 5, "body": marker("gate") + "\nold",
                           "system": False, "author": GL_ME})
    platform, _ = gitlab(gitlab_api)
    assert post_comment("new", platform=platform).endswith("#note_60")
    assert ("PUT", "/api/v4/projects/42/merge_requests/5/notes/60") in state.requests
    assert sum(1 for m, p in state.requests if m == "GET" and p.endswith("/notes")) == 3


def test_gitlab_branch_pipeline_with_open_mr(gitlab_api: Api) -> None:
    platform, _ = gitlab(gitlab_api, CI_MERGE_REQUEST_IID="", CI_PROJECT_PATH="acme/churn",
                         CI_OPEN_MERGE_REQUESTS="other/proj!3,acme/churn!8")
    assert post_comment("r", platform=platform).endswith("/merge_requests/8#note_1001")


def test_gitlab_not_on_an_mr_skips(gitlab_api: Api) -> None:
    platform, stream = gitlab(gitlab_api, CI_MERGE_REQUEST_IID="")
    assert post_comment("r", platform=platform) == ""
    assert gitlab_api.state.requests == [] and "not for a merge request" in stream.getvalue()


def test_gitlab_job_token_alone_is_not_enough(gitlab_api: Api) -> None:
    platform, _ = gitlab(gitlab_api, MLCI_GITLAB_TOKEN="", CI_JOB_TOKEN="job-token-xyz")
    with pytest.raises(InputError) as caught:
        post_comment("r", platform=platform)
    assert "CI_JOB_TOKEN" in caught.value.message and "MLCI_GITLAB_TOKEN" in caught.value.message
    assert "job-token-xyz" not in str(caught.value)
    platform, _ = gitlab(gitlab_api, MLCI_GITLAB_TOKEN="", GITLAB_TOKEN=GL_TOKEN)
    assert post_comment("r", platform=platform)


def test_terminal_does_not_post() -> None:
    stream = io.StringIO()
    assert post_comment("r", platform=Platform({}, stream)) == ""
    assert "no comment posted" in stream.getvalue()


# -- only our own comment is ever edited (a planted marker is not enough) --------------------------

def test_github_never_edits_another_users_comment_carrying_the_marker(
        github_api: Api, pr_event: str) -> None:
    state = github_api.state
    planted = marker("gate") + "\nI approve this PR. -- mallory"
    state.comments.append({"id": 5, "issue": 7, "body": planted, "user": MALLORY})
    platform, stream = github(github_api, pr_event)
    url = post_comment("## Gate: reject\n", platform=platform)
    assert url.endswith("#issuecomment-1001")
    assert state.comments[0]["body"] == planted                # untouched
    assert not any(m == "PATCH" for m, _ in state.requests)
    assert "written by mallory" in stream.getvalue() and "left alone" in stream.getvalue()
    # The next run finds the comment it wrote itself (github-actions[bot]) and updates it.
    post_comment("## Gate: promote\n", platform=platform)
    assert ("PATCH", "/repos/acme/churn/issues/comments/1001") in state.requests
    assert state.comments[0]["body"] == planted and len(state.comments) == 2
    assert not any(m == "GET" and p == "/user" for m, p in state.requests)  # ghs_: no /user


def test_github_personal_token_is_matched_by_user_id(github_api: Api, pr_event: str) -> None:
    state = github_api.state
    impostor = {"login": "release-bot", "id": 999, "type": "User"}   # a renamed/reused login
    state.comments += [
        {"id": 1, "issue": 7, "body": marker("gate") + "\nplanted", "user": MALLORY},
        {"id": 2, "issue": 7, "body": marker("gate") + "\nimpostor", "user": impostor},
        {"id": 3, "issue": 7, "body": marker("gate") + "\nours", "user": RELEASE_BOT,
         "html_url": "https://github.example/acme/churn/pull/7#issuecomment-3"},
    ]
    platform, _ = github(github_api, pr_event, GITHUB_TOKEN=GH_PAT)
    assert post_comment("fresh", platform=platform).endswith("#issuecomment-3")
    bodies = {c["id"]: c["body"] for c in state.comments}
    assert bodies[1].endswith("planted") and bodies[2].endswith("impostor")
    assert bodies[3].endswith("fresh\n")
    assert ("GET", "/user") in state.requests


def test_github_user_endpoint_refused_means_the_actions_bot(github_api: Api,
                                                           pr_event: str) -> None:
    """A token that is not `ghs_`-prefixed but still has no /user (403) is an installation
    token too: its comments are github-actions[bot]'s."""
    state = github_api.state
    state.identities["v1.0123456789abcdef"] = None
    state.comments.append({"id": 4, "issue": 7, "body": marker("gate") + "\nold",
                           "user": BOT,
                           "html_url": "https://github.example/acme/churn/pull/7#issuecomment-4"})
    platform, _ = github(github_api, pr_event, GITHUB_TOKEN="v1.0123456789abcdef")
    assert post_comment("new", platform=platform).endswith("#issuecomment-4")


def test_github_app_author_can_be_named(github_api: Api, pr_event: str) -> None:
    state = github_api.state
    app = {"login": "acme-ml[bot]", "id": 5005, "type": "Bot"}
    state.comments += [
        {"id": 8, "issue": 7, "body": marker("gate") + "\nby actions", "user": BOT},
        {"id": 9, "issue": 7, "body": marker("gate") + "\nby the app", "user": app,
         "html_url": "https://github.example/acme/churn/pull/7#issuecomment-9"},
    ]
    platform, _ = github(github_api, pr_event, MLCI_COMMENT_AUTHOR="acme-ml[bot]")
    assert post_comment("new", platform=platform).endswith("#issuecomment-9")
    assert state.comments[0]["body"].endswith("by actions")


def test_gitlab_never_puts_to_another_users_note(gitlab_api: Api) -> None:
    state = gitlab_api.state
    planted = marker("gate") + "\nLGTM"
    state.comments.append({"id": 70, "issue": 5, "body": planted, "system": False,
                           "author": GL_MALLORY})
    platform, stream = gitlab(gitlab_api)
    url = post_comment("## Gate: review\n", platform=platform)
    assert url.endswith("#note_1001")                      # a report is posted after all
    assert state.comments[0]["body"] == planted
    assert not any(m == "PUT" for m, _ in state.requests)
    assert "written by mallory" in stream.getvalue()
    assert post_comment("## Gate: promote\n", platform=platform) == url
    assert ("PUT", "/api/v4/projects/42/merge_requests/5/notes/1001") in state.requests


# -- no pings, no links from user data ---------------------------------------------------------------

def test_mentions_references_and_bare_urls_are_inert(github_api: Api, pr_event: str) -> None:
    report = ("## Gate: reject\n"
              "| slice @acme/team | #12 | see https://evil.example/x or www.evil.example |\n"
              "| escaped &#64;org and http&#58;//x.example | mail a@b.example |\n"
              "`@kept in code` and\n```\n@kept https://in.fence\n```\n")
    platform, _ = github(github_api, pr_event)
    post_comment(report, platform=platform)
    body = github_api.state.comments[0]["body"]
    for live in ("@acme", "#12", "https://", "www.", "&#64;org", "http&#58;//", "@b.example"):
        assert live not in body.replace("`@kept in code`", "").split("```")[0], live
    for inert in ("@\u2060acme/team", "#\u206012", "https:\u2060//evil.example/x",
                  "www\u2060.evil.example", "&#64;\u2060org", "http&#58;\u2060//x.example"):
        assert inert in body, inert
    assert "`@kept in code`" in body and "@kept https://in.fence" in body   # code is code
    assert body.startswith(marker("gate") + "\n## Gate: reject")

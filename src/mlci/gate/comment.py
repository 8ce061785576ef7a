"""Post the gate's Markdown report as a pull-request comment (GitHub) or merge-request note
(GitLab), updating mlci's own earlier comment instead of adding one per run.

Our comment is one that starts with a hidden marker, ``<!-- mlci-gate-report:KEY -->``, *and*
whose author is the token's own identity: anyone who can comment can paste the marker, and
mlci never edits another author's comment (it posts a new one and warns). KEY
(``$MLCI_COMMENT_KEY``, or the `key` argument; default ``gate``) keeps two gates of one pull
request (two models, say) from overwriting each other.

Whose comments are ours
    GitHub: ``GET /user`` names the owner of a personal access token (compared by user id).
    An installation token -- the workflow's ``GITHUB_TOKEN`` or a GitHub App's, both
    ``ghs_...`` -- has no ``/user`` (403); the comments it writes are authored by the bot
    ``github-actions[bot]`` (a login no person can register). A GitHub App's own installation
    token writes as ``<app-slug>[bot]``, which the token cannot reveal: set
    ``$MLCI_COMMENT_AUTHOR`` to that login (otherwise mlci finds no comment of its own and
    posts a new one each run -- never someone else's). GitLab: ``GET /user`` (a project,
    group or personal access token all have a user; compared by user id).
    The identity is looked up only when a comment carrying the marker exists.

User data cannot ping or link: outside code spans and blocks, ``@name`` (a mention on both
forges), ``#123`` (a cross-reference) and bare URLs (``scheme://``, ``www.``, autolinked) get a
WORD JOINER (U+2060) after the ``@``/``#``/``:``/``www``: they read the same and do nothing.
mlci's own report contains no mention or link, so this is applied to the whole body.

GitHub
    PR number from ``$MLCI_PR_NUMBER``, else the event payload (``$GITHUB_EVENT_PATH``:
    ``pull_request`` / ``pull_request_target`` events, or an ``issue_comment`` on a PR).
    ``$GITHUB_API_URL`` (default https://api.github.com), ``$GITHUB_REPOSITORY``, token from
    ``$MLCI_GITHUB_TOKEN`` or ``$GITHUB_TOKEN``; the job needs ``permissions:
    pull-requests: write`` (issue comments of a PR). Lists the PR's issue comments (following
    the ``Link: rel="next"`` pages), PATCHes ours, else POSTs a new one.
GitLab
    MR from ``$MLCI_MR_IID``, else ``$CI_MERGE_REQUEST_IID`` (merge-request pipelines), else
    this project's first entry of ``$CI_OPEN_MERGE_REQUESTS`` (branch pipelines with an open
    MR). ``$CI_API_V4_URL``, ``$CI_PROJECT_ID``; token from ``$MLCI_GITLAB_TOKEN`` or
    ``$GITLAB_TOKEN`` sent as ``PRIVATE-TOKEN`` (a project or personal access token with the
    ``api`` scope and at least Reporter role). ``$CI_JOB_TOKEN`` cannot be used: GitLab does
    not let a job token write MR notes. Lists the MR's notes (``X-Next-Page``), PUTs ours,
    else POSTs.

Not on a pull/merge request (a push or scheduled build) is not an error: a warning, nothing
is posted, and the function returns ``""``. On a pull/merge request without a token it is an
`InputError` (exit 2): the user asked for a comment and it cannot be written. An HTTP error
of the API is a `ServiceError` (exit 2) naming the status, never the token. The token is
masked in the runner's log (`Platform.mask`) and never printed.

Standard library only (urllib).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlci.ci import Platform
from mlci.errors import InputError, ServiceError
from mlci.forge import ForgeApi, HttpError, next_link, token_from

MARKER_PREFIX = "mlci-gate-report"
DEFAULT_KEY = "gate"
GITHUB_BODY_LIMIT = 65_536          # GitHub rejects longer comment bodies
GITLAB_BODY_LIMIT = 1_000_000
TRUNCATED_NOTE = ("\n\n_… report truncated to fit a comment; the full report is in the job "
                  "summary and the job's artifacts._\n")
MAX_PAGES = 100
GITHUB_ACTIONS_BOT = "github-actions[bot]"
AUTHOR_ENV = "MLCI_COMMENT_AUTHOR"
_JOIN = "\u2060"   # WORD JOINER: invisible, and breaks a mention, a reference or an autolink
_INERT = re.compile(r"(?:@|&#0*64;|&#x0*40;)(?=[A-Za-z0-9_])"           # @mention
                    r"|(?<!&)#(?=\d)"                                   # #123, not &#64;
                    r"|(?<=[A-Za-z0-9])(?::|&#0*58;|&#x0*3a;)(?=//)"     # scheme://
                    r"|\bwww(?=\.)", re.IGNORECASE)                      # www.
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?:.+?)(?<!`)\1(?!`)")


def inert(markdown: str) -> str:
    """`markdown` with no mention, reference or autolink outside code (see the module doc)."""
    out, fence = [], ""
    for line in markdown.split("\n"):
        opened = _FENCE.match(line)
        if fence:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = ""
            out.append(line)
            continue
        if opened:
            fence = opened.group(1)
            out.append(line)
            continue
        parts, last = [], 0
        for span in _CODE_SPAN.finditer(line):
            parts.append(_INERT.sub(lambda m: m.group() + _JOIN, line[last:span.start()]))
            parts.append(span.group())
            last = span.end()
        parts.append(_INERT.sub(lambda m: m.group() + _JOIN, line[last:]))
        out.append("".join(parts))
    return "\n".join(out)


@dataclass(frozen=True)
class Identity:
    """Who the token writes as: a login and, when the API tells, a numeric user id."""

    login: str
    user_id: int | None = None

    def wrote(self, author: Any) -> bool:
        if not isinstance(author, dict):
            return False
        if self.user_id is not None:
            return author.get("id") == self.user_id
        login = author.get("login") or author.get("username")
        return isinstance(login, str) and login.lower() == self.login.lower()


def marker(key: str | None = None) -> str:
    key = key or DEFAULT_KEY
    safe = re.sub(r"[^A-Za-z0-9._:/-]", "-", key)[:100]
    return f"<!-- {MARKER_PREFIX}:{safe} -->"


def render_body(markdown: str, key: str | None, limit: int) -> str:
    """The comment body: marker first (so truncation never loses it), then the report."""
    head = marker(key) + "\n"
    markdown = inert(markdown)
    body = head + markdown.rstrip("\n") + "\n"
    if len(body) <= limit:
        return body
    keep = limit - len(head) - len(TRUNCATED_NOTE)
    return head + markdown[:max(keep, 0)] + TRUNCATED_NOTE


def post_comment(markdown: str, *, platform: Platform, key: str | None = None) -> str:
    """Create or update mlci's comment on the current PR/MR; return its URL ("" if skipped)."""
    env = platform.env
    key = key or env.get("MLCI_COMMENT_KEY") or DEFAULT_KEY
    if platform.name == "github":
        return _GitHub(env, platform, key).post(markdown)
    if platform.name == "gitlab":
        return _GitLab(env, platform, key).post(markdown)
    platform.warning("--comment: not running on GitHub Actions or GitLab CI; no comment posted")
    return ""


# -- GitHub --------------------------------------------------------------------------------------

class _GitHub:
    def __init__(self, env: Mapping[str, str], platform: Platform, key: str) -> None:
        self.env, self.platform, self.key = env, platform, key

    def pr_number(self) -> int | None:
        explicit = self.env.get("MLCI_PR_NUMBER", "").strip()
        if explicit:
            if not explicit.isdigit():
                raise InputError(f"expected a pull request number, got {explicit!r}",
                                 file="environment MLCI_PR_NUMBER")
            return int(explicit)
        path = self.env.get("GITHUB_EVENT_PATH")
        if not path:
            return None
        try:
            with open(path, encoding="utf-8") as handle:
                event = json.load(handle)
        except (OSError, ValueError):
            return None
        if not isinstance(event, dict):
            return None
        pull = event.get("pull_request")
        if isinstance(pull, dict) and isinstance(pull.get("number"), int):
            return int(pull["number"])
        issue = event.get("issue")
        if isinstance(issue, dict) and issue.get("pull_request") and \
                isinstance(issue.get("number"), int):
            return int(issue["number"])
        return None

    def post(self, markdown: str) -> str:
        number = self.pr_number()
        if number is None:
            self.platform.warning("--comment: this run is not for a pull request "
                                  f"({self.env.get('GITHUB_EVENT_NAME') or 'no event'}); "
                                  "no comment posted (set MLCI_PR_NUMBER to force one)")
            return ""
        token = token_from(self.env, ("MLCI_GITHUB_TOKEN", "GITHUB_TOKEN"))
        if not token:
            raise InputError(
                f"--comment on pull request #{number} needs a token: set GITHUB_TOKEN (in a "
                "workflow: `env: GITHUB_TOKEN: ${{ github.token }}`, with `permissions: "
                "pull-requests: write`) or MLCI_GITHUB_TOKEN", key="comment")
        self.platform.mask(token)
        repo = self.env.get("GITHUB_REPOSITORY", "").strip()
        if not re.fullmatch(r"[^/\s]+/[^/\s]+", repo):
            raise InputError(f"--comment: GITHUB_REPOSITORY must be owner/name, got {repo!r}",
                             key="comment")
        api = ForgeApi(self.platform, self.env.get("GITHUB_API_URL") or "https://api.github.com",
                   {"Authorization": f"Bearer {token}",
                    "Accept": "application/vnd.github+json",
                    "X-GitHub-Api-Version": "2022-11-28"})
        api.service = "GitHub API"
        body = render_body(markdown, self.key, GITHUB_BODY_LIMIT)
        mark = marker(self.key)
        existing = self._find(api, repo, number, mark, token)
        if existing is not None:
            response = api.request("PATCH", f"/repos/{repo}/issues/comments/{existing}",
                                   {"body": body})
        else:
            response = api.request("POST", f"/repos/{repo}/issues/{number}/comments",
                                   {"body": body})
        result = response.body if isinstance(response.body, dict) else {}
        return str(result.get("html_url") or result.get("url") or "")

    def identity(self, api: ForgeApi, token: str) -> Identity:
        override = self.env.get(AUTHOR_ENV, "").strip()
        if override:
            return Identity(override)
        if token.startswith("ghs_"):   # an installation token: no /user (see the module doc)
            return Identity(GITHUB_ACTIONS_BOT)
        try:
            user = api.request("GET", "/user").body
        except HttpError as error:
            if error.status != 403:
                raise
            return Identity(GITHUB_ACTIONS_BOT)   # "Resource not accessible by integration"
        if not isinstance(user, dict) or not isinstance(user.get("id"), int):
            raise ServiceError("GitHub API: GET /user did not say who the token belongs to")
        return Identity(str(user.get("login") or ""), int(user["id"]))

    def _find(self, api: ForgeApi, repo: str, number: int, mark: str,
              token: str) -> int | None:
        url: str | None = f"/repos/{repo}/issues/{number}/comments?per_page=100"
        me: Identity | None = None
        for _ in range(MAX_PAGES):
            if url is None:
                return None
            response = api.request("GET", url)
            for comment in response.body or []:
                if not (isinstance(comment, dict) and
                        str(comment.get("body") or "").startswith(mark)):
                    continue
                me = me or self.identity(api, token)
                if me.wrote(comment.get("user")):
                    return int(comment["id"])
                _not_ours(self.platform, comment.get("user"), comment.get("id"), me)
            url = next_link(response.headers)
        return None


# -- GitLab --------------------------------------------------------------------------------------

class _GitLab:
    def __init__(self, env: Mapping[str, str], platform: Platform, key: str) -> None:
        self.env, self.platform, self.key = env, platform, key

    def mr_iid(self) -> int | None:
        for name in ("MLCI_MR_IID", "CI_MERGE_REQUEST_IID"):
            value = self.env.get(name, "").strip()
            if value:
                if not value.isdigit():
                    raise InputError(f"expected a merge request IID, got {value!r}",
                                     file=f"environment {name}")
                return int(value)
        project = self.env.get("CI_PROJECT_PATH", "")
        for entry in self.env.get("CI_OPEN_MERGE_REQUESTS", "").split(","):
            path, _, iid = entry.strip().rpartition("!")
            if iid.isdigit() and (not project or path == project):
                return int(iid)
        return None

    def post(self, markdown: str) -> str:
        iid = self.mr_iid()
        if iid is None:
            self.platform.warning("--comment: this pipeline is not for a merge request; no "
                                  "note posted (set MLCI_MR_IID to force one)")
            return ""
        token = token_from(self.env, ("MLCI_GITLAB_TOKEN", "GITLAB_TOKEN"))
        if not token:
            raise InputError(
                f"--comment on merge request !{iid} needs a token with the api scope in "
                "MLCI_GITLAB_TOKEN (or GITLAB_TOKEN), as a masked CI/CD variable; the job's "
                "CI_JOB_TOKEN cannot write merge request notes", key="comment")
        self.platform.mask(token)
        base = self.env.get("CI_API_V4_URL", "").strip()
        project = self.env.get("CI_PROJECT_ID", "").strip()
        if not base or not project:
            raise InputError("--comment on GitLab needs CI_API_V4_URL and CI_PROJECT_ID "
                             "(set by GitLab CI)", key="comment")
        api = ForgeApi(self.platform, base, {"PRIVATE-TOKEN": token})
        api.service = "GitLab API"
        body = render_body(markdown, self.key, GITLAB_BODY_LIMIT)
        mark = marker(self.key)
        notes = f"/projects/{urllib.parse.quote(project, safe='')}/merge_requests/{iid}/notes"
        existing = self._find(api, notes, mark)
        if existing is not None:
            response = api.request("PUT", f"{notes}/{existing}", {"body": body})
        else:
            response = api.request("POST", notes, {"body": body})
        result = response.body if isinstance(response.body, dict) else {}
        note_id = result.get("id", existing)
        web = (self.env.get("CI_MERGE_REQUEST_PROJECT_URL") or self.env.get("CI_PROJECT_URL")
               or "").rstrip("/")
        return f"{web}/-/merge_requests/{iid}#note_{note_id}" if web and note_id else ""

    def identity(self, api: ForgeApi) -> Identity:
        user = api.request("GET", "/user").body
        if not isinstance(user, dict) or not isinstance(user.get("id"), int):
            raise ServiceError("GitLab API: GET /user did not say who the token belongs to")
        return Identity(str(user.get("username") or ""), int(user["id"]))

    def _find(self, api: ForgeApi, notes: str, mark: str) -> int | None:
        page: str | None = "1"
        me: Identity | None = None
        for _ in range(MAX_PAGES):
            if not page:
                return None
            response = api.request("GET", f"{notes}?per_page=100&sort=asc&order_by=created_at"
                                          f"&page={page}")
            for note in response.body or []:
                if not (isinstance(note, dict) and not note.get("system") and
                        str(note.get("body") or "").startswith(mark)):
                    continue
                me = me or self.identity(api)
                if me.wrote(note.get("author")):
                    return int(note["id"])
                _not_ours(self.platform, note.get("author"), note.get("id"), me)
            headers = {k.lower(): v for k, v in response.headers.items()}
            page = headers.get("x-next-page", "").strip() or None
            if page is None and (link := next_link(response.headers)):
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
                page = (query.get("page") or [""])[0] or None
        return None


def _not_ours(platform: Platform, author: Any, comment_id: Any, me: Identity) -> None:
    who = author.get("login") or author.get("username") if isinstance(author, dict) else None
    platform.warning(f"--comment: comment {comment_id} carries mlci's marker but was written "
                     f"by {who or 'someone else'}, not by this token's identity ({me.login}); "
                     f"it is left alone (set {AUTHOR_ENV} if mlci posts as another bot)")

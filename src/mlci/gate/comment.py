"""Post the gate's Markdown report as a pull-request comment (GitHub) or merge-request note
(GitLab), updating mlci's own earlier comment instead of adding one per run.

Our comment is found by a hidden marker on its first line, ``<!-- mlci-gate-report:KEY -->``.
KEY (``$MLCI_COMMENT_KEY``, or the `key` argument; default ``gate``) keeps two gates of one
pull request (two models, say) from overwriting each other.

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

from mlci.ci import Platform
from mlci.errors import InputError, ServiceError
from mlci.forge import ForgeApi, next_link, token_from

MARKER_PREFIX = "mlci-gate-report"
DEFAULT_KEY = "gate"
GITHUB_BODY_LIMIT = 65_536          # GitHub rejects longer comment bodies
GITLAB_BODY_LIMIT = 1_000_000
TRUNCATED_NOTE = ("\n\n_… report truncated to fit a comment; the full report is in the job "
                  "summary and the job's artifacts._\n")
MAX_PAGES = 100


def marker(key: str | None = None) -> str:
    key = key or DEFAULT_KEY
    safe = re.sub(r"[^A-Za-z0-9._:/-]", "-", key)[:100]
    return f"<!-- {MARKER_PREFIX}:{safe} -->"


def render_body(markdown: str, key: str | None, limit: int) -> str:
    """The comment body: marker first (so truncation never loses it), then the report."""
    head = marker(key) + "\n"
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
        existing = self._find(api, repo, number, mark)
        if existing is not None:
            response = api.request("PATCH", f"/repos/{repo}/issues/comments/{existing}",
                                   {"body": body})
        else:
            response = api.request("POST", f"/repos/{repo}/issues/{number}/comments",
                                   {"body": body})
        result = response.body if isinstance(response.body, dict) else {}
        return str(result.get("html_url") or result.get("url") or "")

    def _find(self, api: ForgeApi, repo: str, number: int, mark: str) -> int | None:
        url: str | None = f"/repos/{repo}/issues/{number}/comments?per_page=100"
        for _ in range(MAX_PAGES):
            if url is None:
                return None
            response = api.request("GET", url)
            for comment in response.body or []:
                if isinstance(comment, dict) and mark in str(comment.get("body") or ""):
                    return int(comment["id"])
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

    def _find(self, api: ForgeApi, notes: str, mark: str) -> int | None:
        page: str | None = "1"
        for _ in range(MAX_PAGES):
            if not page:
                return None
            response = api.request("GET", f"{notes}?per_page=100&sort=asc&order_by=created_at"
                                          f"&page={page}")
            for note in response.body or []:
                if isinstance(note, dict) and mark in str(note.get("body") or "") and \
                        not note.get("system"):
                    return int(note["id"])
            headers = {k.lower(): v for k, v in response.headers.items()}
            page = headers.get("x-next-page", "").strip() or None
            if page is None and (link := next_link(response.headers)):
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
                page = (query.get("page") or [None])[0]
        return None

"""Who approved a promotion, for the audit record (`mlci.approved_by`).

- ``$MLCI_APPROVER``, when set, names the approver outright.
- GitHub: a job bound to a protected environment runs only after a required reviewer
  approved it, but the job's environment does not say who: the run's actor is whoever
  pushed. So mlci asks the Actions API for the run's review history
  (``GET /repos/{repo}/actions/runs/{run_id}/approvals``) and records the reviewers who
  approved, with their environments: ``alice (production)``. It needs a token
  (``$MLCI_GITHUB_TOKEN`` or ``$GITHUB_TOKEN``; the promote action passes ``github.token``)
  with ``actions: read``. Without a token, with no approval in the history (a job not bound
  to a protected environment), or when the API cannot be read, the run's actor is recorded
  and the log says why: the promotion itself was already allowed by ``--approved``, and the
  record is never dropped.
- GitLab: the actor already is the approver (``GITLAB_USER_LOGIN`` of a manual job is the
  person who started it).
"""

from __future__ import annotations

import re

from mlci.ci import Platform
from mlci.errors import ServiceError
from mlci.forge import ForgeApi, token_from


def approver_of(platform: Platform, actor: str) -> str:
    env = platform.env
    named = env.get("MLCI_APPROVER", "").strip()
    if named:
        return named
    if platform.name != "github":
        return actor
    token = token_from(env, ("MLCI_GITHUB_TOKEN", "GITHUB_TOKEN"))
    repo = env.get("GITHUB_REPOSITORY", "").strip()
    run_id = env.get("GITHUB_RUN_ID", "").strip()
    if not token or not re.fullmatch(r"[^/\s]+/[^/\s]+", repo) or not run_id.isdigit():
        platform.info("approved_by: the run's actor (no token to read who approved the "
                        "deployment; give the promote step github-token with actions: read)")
        return actor
    platform.mask(token)
    api = ForgeApi(platform, env.get("GITHUB_API_URL") or "https://api.github.com",
                   {"Authorization": f"Bearer {token}",
                    "Accept": "application/vnd.github+json",
                    "X-GitHub-Api-Version": "2022-11-28"})
    api.service = "GitHub API"
    try:
        history = api.request("GET", f"/repos/{repo}/actions/runs/{run_id}/approvals").body
    except ServiceError as error:
        platform.warning(f"approved_by: the run's actor; could not read who approved the "
                         f"deployment: {error}")
        return actor
    reviewers = _approved(history)
    if not reviewers:
        platform.info("approved_by: the run's actor (no deployment approval in this run's "
                        "review history: is the job bound to a protected environment?)")
        return actor
    return ", ".join(reviewers)


def _approved(history: object) -> list[str]:
    """'login (env, env)' for each approval in the review history, oldest first, once each."""
    out: list[str] = []
    for review in history if isinstance(history, list) else []:
        if not isinstance(review, dict) or review.get("state") != "approved":
            continue
        user = review.get("user")
        login = user.get("login") if isinstance(user, dict) else None
        if not isinstance(login, str) or not login:
            continue
        names = [str(e["name"]) for e in review.get("environments") or []
                 if isinstance(e, dict) and isinstance(e.get("name"), str)]
        entry = f"{login} ({', '.join(names)})" if names else login
        if entry not in out:
            out.append(entry)
    return out

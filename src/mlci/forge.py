"""A small REST client for the forges' APIs (GitHub, GitLab): what the gate's pull-request
comment and the promotion's approver lookup share. Standard library only (urllib).
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlci.errors import ServiceError

if TYPE_CHECKING:
    from mlci.ci import Platform

TIMEOUT = 30.0
ATTEMPTS = 3                        # transient failures (connection, 5xx, 429): 1 s, 2 s backoff


class HttpError(ServiceError):
    """The API answered with an HTTP error status (`status`) that is not worth retrying."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    body: Any


class ForgeApi:
    """JSON over HTTPS with a token: retries transient failures, never follows a link to
    another host (the token would go with it), and names the status, never the token."""

    service = "API"

    def __init__(self, platform: Platform, base: str, headers: dict[str, str]) -> None:
        self.platform = platform
        self.base = base.rstrip("/")
        self.headers = {"User-Agent": "mlci", "Accept": "application/json", **headers}
        self.origin = _origin(self.base)

    def request(self, method: str, url: str, payload: Any = None) -> Response:
        if not url.startswith(("http://", "https://")):
            url = self.base + url
        if _origin(url) != self.origin:  # never send the token to another host
            raise ServiceError(f"{self.service}: refusing to follow a link to another host "
                               f"({_origin(url)})")
        data = None
        headers = dict(self.headers)
        if payload is not None:
            data = json.dumps(payload).encode("utf-8")
            headers["Content-Type"] = "application/json"
        last = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(2 ** (attempt - 1))
            request = urllib.request.Request(  # noqa: S310 - the base URL is http(s)
                url, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                    raw = response.read()
                    return Response(response.status, dict(response.headers.items()),
                                     json.loads(raw) if raw.strip() else None)
            except urllib.error.HTTPError as error:
                detail = _error_detail(error)
                if error.code in (429, 500, 502, 503, 504):
                    last = f"HTTP {error.code} {detail}"
                    continue
                raise self._http_error(method, url, error.code, detail) from None
            except (urllib.error.URLError, OSError, TimeoutError) as error:
                reason = getattr(error, "reason", None) or error
                last = f"cannot connect: {reason}"
                continue
            except json.JSONDecodeError:
                raise ServiceError(f"{self.service}: {method} {_path(url)} answered with a "
                                   "body that is not JSON") from None
        raise ServiceError(f"{self.service}: {method} {_path(url)} failed after {ATTEMPTS} "
                           f"attempts: {last}")

    def _http_error(self, method: str, url: str, code: int, detail: str) -> HttpError:
        hint = ""
        if code in (401, 403):
            hint = " (the token is missing a permission or scope)"
        elif code == 404:
            hint = " (wrong project/PR, or the token cannot see it)"
        return HttpError(f"{self.service}: {method} {_path(url)} answered HTTP {code}"
                         f"{': ' + detail if detail else ''}{hint}", code)


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _path(url: str) -> str:
    return urllib.parse.urlsplit(url).path


def _error_detail(error: urllib.error.HTTPError) -> str:
    try:
        raw = error.read(2000).decode("utf-8", "replace")
        body = json.loads(raw)
        message = body.get("message") or body.get("error") if isinstance(body, dict) else None
        return " ".join(str(message or raw).split())[:300]
    except Exception:  # noqa: BLE001 - best effort, for the message only
        return ""


def next_link(headers: Mapping[str, str]) -> str | None:
    link = next((v for k, v in headers.items() if k.lower() == "link"), "")
    for part in link.split(","):
        match = re.match(r'\s*<([^>]+)>\s*;(.*)', part)
        if match and re.search(r'rel="?next"?', match.group(2)):
            return match.group(1)
    return None


def token_from(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value
    return None

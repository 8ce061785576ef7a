"""The nginx router of a canary: render its configuration, validate, reload, verify.

A change is applied as: write the new file, `nginx -t`, reload, then wait until nginx answers
the new generation on `/-/mlci/generation` (a reload nginx's master refuses is otherwise
silent: it keeps the old configuration and only writes to its error log). Whatever fails, the
last good file is put back, so what is on disk is what serves, and TargetError says why.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2

from mlci.canary.interfaces import TargetError

TEMPLATES = Path(__file__).parent / "templates"
GENERATION_PATH = "/-/mlci/generation"
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                          undefined=jinja2.StrictUndefined,
                          # nginx syntax, not HTML: every value is validated before rendering
                          autoescape=False,  # noqa: S701
                          keep_trailing_newline=True, trim_blocks=True,
                          lstrip_blocks=True)


def nginx_percent(weight: float) -> str:
    """nginx's split_clients takes percentages with at most two decimals (0.5% = 1:199)."""
    if not 0 <= weight <= 100:
        raise TargetError(f"weight {weight}% is not between 0 and 100")
    text = f"{weight:.2f}".rstrip("0").rstrip(".")
    if weight > 0 and text == "0":
        raise TargetError(f"weight {weight}% is below nginx's resolution of 0.01%")
    return text


def _route_variable(route_by: str) -> dict[str, str]:
    kind, name = route_by.split(":", 1)
    if kind == "header":
        return {"kind": "header", "variable": "$http_" + name.lower().replace("-", "_")}
    return {"kind": "cookie", "variable": "$cookie_" + name}


def render(*, stable: str, canary: str, weight: float, listen: str, access_log: Path,
           route_by: str | None) -> tuple[str, str]:
    """The router's configuration and its generation (a digest of what it does)."""
    percent = nginx_percent(weight)
    split = 0 < weight < 100
    values = {"stable": stable, "canary": canary, "weight": percent, "listen": listen,
              "access_log": str(access_log), "canary_in": weight > 0, "split": split,
              "only": "canary" if weight >= 100 else "stable",
              "route_by": _route_variable(route_by) if route_by else None,
              "split_key": "$mlci_key" if route_by else "$request_id"}
    body = _ENV.get_template("router.conf.j2").render(generation="-", **values)
    generation = hashlib.sha256(body.encode()).hexdigest()[:16]
    return _ENV.get_template("router.conf.j2").render(generation=generation, **values), generation


def render_main(*, prefix: Path, router: Path) -> str:
    """A whole nginx.conf for an nginx mlci runs itself (the local target)."""
    # Workers run as the invoking user: as root nginx would switch them to `nobody`, which
    # cannot write the temporary files under a private work directory.
    user = "root" if os.geteuid() == 0 else None
    return _ENV.get_template("nginx.conf.j2").render(prefix=str(prefix), router=str(router),
                                                     user=user)


def _run(argv: Sequence[str], what: str, timeout: float) -> None:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError:
        raise TargetError(f"{what}: {argv[0]!r} not found") from None
    except subprocess.TimeoutExpired:
        raise TargetError(f"{what}: {' '.join(argv)} did not finish in {timeout:.0f}s") from None
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()[-2000:]
        raise TargetError(f"{what} failed (exit {done.returncode}): {output}")


def probe_url(listen: str) -> str:
    host, port = listen.rsplit(":", 1)
    if host in ("0.0.0.0", "*"):  # noqa: S104 - a listen address, probed on loopback
        host = "127.0.0.1"
    elif host == "[::]":
        host = "[::1]"
    return f"http://{host}:{port}{GENERATION_PATH}"


def serving_generation(listen: str) -> str | None:
    """The generation nginx serves now, or None when it does not answer."""
    try:
        with urllib.request.urlopen(probe_url(listen), timeout=2) as answer:  # noqa: S310
            return str(answer.read().decode().strip())
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == "0A" and \
                    int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    return inodes


def listening_workers(listen: str) -> set[int]:
    """nginx worker processes that accept on `listen`'s port (those we may inspect)."""
    sockets = _listening_inodes(int(listen.rsplit(":", 1)[1]))
    workers = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if not (entry / "cmdline").read_bytes().startswith(b"nginx: worker process"):
                continue
            if any(os.readlink(fd) in sockets for fd in (entry / "fd").iterdir()):
                workers.add(int(entry.name))
        except OSError:
            continue
    return workers


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".mlci-tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


@dataclass
class Router:
    """One nginx configuration file mlci owns, and the commands that check and reload it."""

    config: Path
    listen: str
    test: Sequence[str]
    reload: Sequence[str]
    reload_timeout: float = 30.0

    def apply(self, text: str, generation: str) -> None:
        """Make `text` the serving configuration, or keep the last good one and raise."""
        previous = self.config.read_text(encoding="utf-8") if self.config.exists() else None
        if previous == text and serving_generation(self.listen) == generation:
            return  # already serving: a repeated call changes nothing
        self.config.parent.mkdir(parents=True, exist_ok=True)
        _write(self.config, text)
        try:
            _run(self.test, "nginx configuration test", self.reload_timeout)
            old_workers = listening_workers(self.listen)
            _run(self.reload, "nginx reload", self.reload_timeout)
            self.wait_for(generation)
            self._wait_retired(old_workers)
        except TargetError:
            self._restore(previous)
            raise
        _write(self.config.with_name(self.config.name + ".last-good"), text)

    def wait_for(self, generation: str) -> None:
        deadline = time.monotonic() + self.reload_timeout
        while time.monotonic() < deadline:
            if serving_generation(self.listen) == generation:
                return
            time.sleep(0.05)
        raise TargetError(f"nginx did not take the new configuration within "
                          f"{self.reload_timeout:.0f}s of the reload (see its error log); "
                          f"{probe_url(self.listen)} does not answer {generation}")

    def _wait_retired(self, old_workers: set[int]) -> None:
        """Until the old workers stop accepting (a gracefully exiting worker closes its
        listening sockets at once), a new connection may still meet the old split."""
        deadline = time.monotonic() + self.reload_timeout
        while old_workers & listening_workers(self.listen) and time.monotonic() < deadline:
            time.sleep(0.02)

    def _restore(self, previous: str | None) -> None:
        if previous is None:
            self.config.unlink(missing_ok=True)
            return
        _write(self.config, previous)
        # the running nginx already serves `previous` unless the reload half-happened; a
        # second reload of a configuration that passed before makes sure of it
        with contextlib.suppress(TargetError):
            _run(self.reload, "nginx reload of the last good configuration",
                 self.reload_timeout)

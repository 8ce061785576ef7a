"""Real CI clients for end-to-end tests: `act` (GitHub Actions) and `gitlab-ci-local` (GitLab CI).

Every stage's e2e test uses this module: build a throwaway git repository holding a copy of
the mlci action tree plus the test's own files, run a real CI client on it, and assert on
what the job printed and handed back. No mocks; nothing is pulled from the network (act runs
every job on this host, `-P ubuntu-latest=-self-hosted`; gitlab-ci-local runs every job with
its shell executor).

Building a repo
---------------
``make_repo(dest, files=None, *, extra_paths=(), remote_url=DEFAULT_REMOTE) -> Path``
    Creates ``dest`` as a git repo (branch ``main``, one commit) with a copy of ``action.yml``,
    ``actions/``, ``gitlab-templates/``, ``scripts/``, ``src/``, ``pyproject.toml`` and
    ``README.md`` from this checkout, plus ``extra_paths`` (project-relative, e.g.
    ``".github/workflows/ml-pipeline.yml"``, ``"examples/churn"``) and ``files``: a mapping of
    repo-relative path -> ``str`` (text), ``bytes``, a ``dict``/``list`` (dumped as YAML) or a
    ``Path`` (a file or directory copied in). ``remote_url`` becomes ``origin`` (never fetched:
    act derives ``github.repository`` from it, gitlab-ci-local ``CI_PROJECT_PATH``).
    ``commit_all(repo, message)`` commits later changes.

    The ``make_repo`` *fixture* (tests/e2e/conftest.py) is the same function with ``dest``
    chosen under ``tmp_path``: ``repo = make_repo({"data/a.csv": "x\\n1\\n"})``.

Running GitHub Actions: ``run_act``
----------------------------------
``run_act(repo, workflow, *, event="push", job=None, env=None, secrets=None, inputs=None,
vars=None, event_payload=None, actor=None, timeout=600) -> ActResult``
    ``workflow`` is a path (relative to ``repo`` or absolute) to a workflow file, or the
    workflow itself as YAML text or a ``dict``; text/dicts are written (and committed) as
    ``.github/workflows/<name>.yml``. ``env`` goes to every job's environment (``--env``),
    ``secrets`` to ``secrets.*``, ``inputs`` to ``inputs.*`` (``workflow_dispatch``), ``vars``
    to ``vars.*``, ``event_payload`` (dict) is the event JSON, ``actor`` sets ``github.actor``
    (act's default: ``nektos/act``). act runs with ``--json`` logs,
    which carry every step's ``::set-output``/``$GITHUB_OUTPUT`` values, ``$GITHUB_STEP_SUMMARY``
    content and annotations as structured records; ``ActResult`` exposes them:

    - ``returncode``; ``ok`` (returncode == 0); ``log`` (readable text: ``[job] message``,
      step output lines as ``[job]   | line``); ``records`` (the parsed JSON records)
    - ``outputs[job_id][step_id][name]`` for top-level steps with an ``id``; shortcut
      ``result.step_outputs("setup")`` (job optional when only one job ran)
    - ``summary(job=None)``: the job summary Markdown
    - ``step_result(step_id, job=None)``: ``"success"``/``"failure"``/``"skipped"``
    - ``step_log(step_id, job=None)``: what the step printed (stdout+stderr, unprefixed)
    - ``job_results[job_id]``: ``"success"``/``"failure"``
    - ``annotations``: list of ``Annotation(level, message, properties, job, step_id)`` for
      ``::error``/``::warning``/``::notice`` lines; ``errors()`` gives the error messages.

Running GitLab CI: ``run_gitlab_ci_local``
-----------------------------------------
``run_gitlab_ci_local(repo, *, job=None, variables=None, inputs=None, needs=False,
isolation=True, timeout=600) -> GitLabResult``
    Runs ``gitlab-ci-local --force-shell-executor`` on ``repo/.gitlab-ci.yml`` (all jobs, or
    ``job``: a name or list of names; ``needs=True`` also runs what they need). ``variables``
    are pipeline variables (``--variable``, above job-level YAML variables). With
    ``isolation`` (``--shell-isolation``) each job runs in its own copy of the repo's
    *committed* files, ``.gitlab-ci-local/builds/<job>``, as on a real runner (jobs of one
    stage run concurrently: without it they would share the repo dir), and gets earlier
    jobs' artifacts through ``needs``/``dependencies``. ``GitLabResult``:

    - ``returncode``, ``ok``, ``log`` (gitlab-ci-local's output; config errors appear here)
    - ``jobs[name]``: ``"PASS"``/``"FAIL"``/``"WARN"`` (from the summary lines)
    - ``job_log(name)``: ``.gitlab-ci-local/output/<name>.log``
    - ``dotenv[name]``: variables of the job's ``artifacts:reports:dotenv`` files
    - ``artifacts_dir(name)``: the job's exported artifacts (``paths:`` keep their layout)

    Quirks: for a job that names an ``image:``, gitlab-ci-local's shell executor sets
    ``CI_PROJECT_DIR`` to ``/builds/<group>/<project>`` although the job runs elsewhere, so
    templates must use paths relative to the job's start dir (``$PWD``), never
    ``$CI_PROJECT_DIR`` (a job writing there would create ``/builds`` on the host).
    ``--home`` points at an empty dir so ``~/.gitlab-ci-local/variables.yml`` cannot leak in.
    Files the test adds after ``make_repo`` must be committed (``commit_all``) to be seen.

Fixtures (tests/e2e/conftest.py)
--------------------------------
- ``mlci_cache_dir`` (session): the shared ``MLCI_CACHE_DIR``, so the setup action's cold
  install happens once per session (set ``MLCI_TEST_CACHE_DIR`` to keep it across sessions).
- ``make_repo`` (function): factory ``make_repo(files=None, *, extra_paths=(), name=None)``.
- ``act`` (function): ``run_act`` with ``MLCI_CACHE_DIR`` (and the pip cache) passed in.
- ``gitlab`` (function): ``run_gitlab_ci_local`` with ``PIP_CACHE_DIR`` passed in.
- ``mlci_wheel`` (session): a wheel of this checkout, built once; use it as the GitLab
  ``mlci-install`` input (``f"{mlci_wheel}[s3]"`` for extras) to skip a source build per job.

Example::

    WORKFLOW = '''
    on: push
    jobs:
      t:
        runs-on: ubuntu-latest
        steps:
          - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683  # v4.2.2, skipped by act
            with: {persist-credentials: false}
          - uses: ./
          - id: gate
            uses: ./actions/gate
            with: {spec: gate.yml, candidate: cand.json}
    '''

    @pytest.mark.e2e
    def test_gate(make_repo, act):
        repo = make_repo({"gate.yml": SPEC, "cand.json": '{"f1": 0.9}'})
        result = act(repo, WORKFLOW)
        assert result.ok, result.log
        assert result.step_outputs("gate")["verdict"] == "promote"
        assert "promote" in result.summary()

Under act the ``actions/checkout`` step of the workflow's own repository is skipped (act
copies the repo into the job's workspace itself), so a SHA-pinned checkout costs nothing and
needs no network; any other remote action would be fetched from GitHub and must not be used.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ACTION_TREE = ("action.yml", "actions", "gitlab-templates", "scripts", "src", "pyproject.toml",
               "README.md")
DEFAULT_REMOTE = "https://github.com/mlci-e2e/project.git"
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "mlci e2e", "GIT_AUTHOR_EMAIL": "e2e@mlci.invalid",
    "GIT_COMMITTER_NAME": "mlci e2e", "GIT_COMMITTER_EMAIL": "e2e@mlci.invalid",
}
# act runs these labels on this host; anything else would need a container image.
ACT_PLATFORMS = ("ubuntu-latest", "ubuntu-24.04", "ubuntu-22.04", "self-hosted", "linux")
_COPY_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".mypy_cache",
                                      ".pytest_cache", ".ruff_cache")
# Variables of a surrounding CI run that must not leak into the nested one.
_CI_ENV = re.compile(r"^(GITHUB_|RUNNER_|ACTIONS_|INPUT_|CI_|GITLAB_|MLCI_)|^(CI|GITLAB_CI)$")


class CITimeout(AssertionError):
    """A CI client ran past its timeout; the message ends with the tail of its log."""


# --------------------------------------------------------------------------------------------
# tools and repos
# --------------------------------------------------------------------------------------------
def tools_path() -> str:
    """PATH with the dev tools dir (gitlab-ci-local wrapper) and this venv's bin (act, zizmor)."""
    tools = os.environ.get("MLCI_DEV_TOOLS") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mlci-dev", "tools")
    parts = [os.path.join(tools, "bin"), str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    return os.pathsep.join(parts)


def which(tool: str) -> str:
    found = shutil.which(tool, path=tools_path())
    if not found:
        raise RuntimeError(f"{tool} not found: run scripts/install-test-tools.sh (scripts/test.sh does)")
    return found


@functools.cache
def _plain_python_dir(path: str) -> str | None:
    """A directory whose `python3`/`python` are the interpreter behind a pyenv shim, or None
    when `python3` on `path` is no shim. pyenv runs `pyenv rehash` after each
    `python -m pip install`, and rehashes running at once fail at random (one empties the
    shims directory while another probes it), so parallel jobs installing mlci would fail
    for the host's sake. A runner image's python3 is a plain binary: the jobs get that."""
    shim = shutil.which("python3", path=path)
    if not shim or Path(shim).parent.name != "shims" or "pyenv" not in shim:
        return None
    real = subprocess.run([shim, "-c", "import sys; print(sys.executable)"], text=True,
                          capture_output=True, check=True).stdout.strip()
    plain = Path(tempfile.mkdtemp(prefix="mlci-e2e-python-"))
    for name in ("python3", "python"):
        # exec, not a symlink: a venv made from it must record the real interpreter's home
        (plain / name).write_text(f'#!/bin/sh\nexec "{real}" "$@"\n')
        (plain / name).chmod(0o755)
    return str(plain)


def _clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The nested CI run's environment: no outer-CI variables, and no test venv on PATH (a
    job's `python3` is the machine's, as on a runner, not the venv running pytest)."""
    env = {k: v for k, v in os.environ.items()
           if not _CI_ENV.match(k) and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    venv_bins = {os.path.realpath(Path(sys.executable).parent), os.path.realpath(Path(sys.prefix) / "bin")}
    if os.environ.get("VIRTUAL_ENV"):
        venv_bins.add(os.path.realpath(Path(os.environ["VIRTUAL_ENV"]) / "bin"))
    env["PATH"] = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                                  if p and os.path.realpath(p) not in venv_bins)
    plain = _plain_python_dir(env["PATH"])
    if plain:
        env["PATH"] = plain + os.pathsep + env["PATH"]
    env.update(GIT_IDENTITY)
    if extra:
        env.update(extra)
    return env


def _git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], env=_clean_env(), text=True,
                          capture_output=True, stdin=subprocess.DEVNULL, check=False)
    if proc.returncode:
        raise RuntimeError(f"git {' '.join(args)} failed in {repo}:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def _write(path: Path, content: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, Path):
        if content.is_dir():
            shutil.copytree(content, path, ignore=_COPY_IGNORE, dirs_exist_ok=True)
        else:
            shutil.copy2(content, path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, (dict, list)):
        path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    else:
        path.write_text(str(content), encoding="utf-8")


# `uses: $/...` (GitHub's self-repository reference: the repository and commit of the YAML
# file that holds it) is what ml-pipeline.yml uses, so that it works when called from another
# repository. act rejects `$/` (nektos/act#6189); in a test repository mlci's actions sit at
# the workspace root, so `./` names the very same files. The one place this is rewritten.
_SELF_REPOSITORY = re.compile(r"""^(\s*(?:-\s+)?uses:\s*["']?)\$/""", re.MULTILINE)


def for_act(text: str) -> str:
    """A workflow's text with every `uses: $/<path>` turned into `uses: ./<path>` for act."""
    return _SELF_REPOSITORY.sub(r"\1./", text)


def _act_workflows(repo: Path) -> None:
    for path in sorted((repo / ".github" / "workflows").glob("*.y*ml")):
        text = path.read_text(encoding="utf-8")
        if for_act(text) != text:
            path.write_text(for_act(text), encoding="utf-8")


def commit_all(repo: Path, message: str = "update") -> None:
    _git(repo, "add", "-A")
    if _git(repo, "status", "--porcelain").strip():
        _git(repo, "commit", "-q", "--no-verify", "-m", message)


def make_repo(dest: Path, files: Mapping[str, Any] | None = None, *,
              extra_paths: Iterable[str] = (), remote_url: str = DEFAULT_REMOTE) -> Path:
    """A committed git repo at ``dest``: the mlci action tree, ``extra_paths``, then ``files``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for rel in (*ACTION_TREE, *extra_paths):
        src = PROJECT_ROOT / rel
        if src.exists():
            _write(dest / rel, src)
        elif rel in extra_paths:
            raise FileNotFoundError(f"extra path {rel!r} not found in {PROJECT_ROOT}")
    for rel, content in (files or {}).items():
        _write(dest / rel, content)
    _act_workflows(dest)
    _git(dest, "init", "-q", "-b", "main")
    _git(dest, "config", "commit.gpgsign", "false")
    commit_all(dest, "e2e fixture")
    # A remote that is never fetched, with origin/HEAD, so both clients find what they parse.
    _git(dest, "remote", "add", "origin", remote_url)
    _git(dest, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(dest, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    return dest


def _run(cmd: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float) -> tuple[int, str]:
    """Run in its own process group; on timeout kill the whole group and raise CITimeout."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            out.seek(0)
            tail = out.read().decode("utf-8", "replace")[-6000:]
            raise CITimeout(f"{cmd[0]} timed out after {timeout}s; log tail:\n{tail}") from None
        out.seek(0)
        return proc.returncode, out.read().decode("utf-8", "replace")


def _dotenv_line(key: str, value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", key):
        raise ValueError(f"invalid variable name {key!r}")
    if "'" not in value and "\n" not in value:
        return f"{key}='{value}'\n"      # single quotes: literal, no escapes, no $expansion
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("$", "\\$"))
    return f'{key}="{escaped}"\n'


# --------------------------------------------------------------------------------------------
# act
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Annotation:
    level: str                      # error | warning | notice
    message: str
    properties: dict[str, str]      # title, file, line, ...
    job: str
    step_id: tuple[str, ...]


@dataclass
class ActResult:
    returncode: int
    log: str
    records: list[dict[str, Any]]
    outputs: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    summaries: dict[str, str] = field(default_factory=dict)
    step_results: dict[str, dict[str, str]] = field(default_factory=dict)
    job_results: dict[str, str] = field(default_factory=dict)
    annotations: list[Annotation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def _job(self, job: str | None) -> str:
        if job is not None:
            return job
        jobs = sorted({r["jobID"] for r in self.records if "jobID" in r})
        if len(jobs) != 1:
            raise ValueError(f"several jobs ran ({jobs}); pass job=")
        return jobs[0]

    def step_outputs(self, step_id: str, job: str | None = None) -> dict[str, str]:
        return self.outputs.get(self._job(job), {}).get(step_id, {})

    def summary(self, job: str | None = None) -> str:
        return self.summaries.get(self._job(job), "")

    def step_result(self, step_id: str, job: str | None = None) -> str | None:
        return self.step_results.get(self._job(job), {}).get(step_id)

    def step_log(self, step_id: str, job: str | None = None) -> str:
        job = self._job(job)
        return "".join(r["msg"] for r in self.records
                       if r.get("raw_output") and r.get("jobID") == job
                       and (r.get("stepID") or [None])[0] == step_id)

    def errors(self) -> list[str]:
        return [a.message for a in self.annotations if a.level == "error"]


def _parse_act(returncode: int, text: str) -> ActResult:
    records: list[dict[str, Any]] = []
    lines: list[str] = []
    for line in text.splitlines():
        record = None
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = None
        if not isinstance(record, dict):
            lines.append(line)
            continue
        records.append(record)
        job = record.get("jobID", "")
        msg = str(record.get("msg", ""))
        if record.get("raw_output"):
            lines.extend(f"[{job}]   | {part}" for part in msg.rstrip("\n").split("\n"))
        else:
            lines.append(f"[{job}] {msg.rstrip()}" if job else msg.rstrip())
    result = ActResult(returncode, "\n".join(lines) + "\n", records)
    for r in records:
        job = r.get("jobID")
        if not job:
            continue
        step = r.get("stepID") or []
        command = r.get("command")
        if command == "set-output" and len(step) == 1:
            result.outputs.setdefault(job, {}).setdefault(step[0], {})[r.get("name", "")] = str(r.get("arg", ""))
        elif command == "summary":
            result.summaries[job] = result.summaries.get(job, "") + str(r.get("content", ""))
        elif command in ("error", "warning", "notice"):
            result.annotations.append(Annotation(command, str(r.get("arg", "")),
                                                 dict(r.get("kvPairs") or {}), job, tuple(step)))
        if "stepResult" in r and len(step) == 1 and r.get("stage") == "Main":
            result.step_results.setdefault(job, {})[step[0]] = r["stepResult"]
        if "jobResult" in r:
            result.job_results[job] = r["jobResult"]
    return result


def _workflow_file(repo: Path, workflow: str | Path | Mapping[str, Any]) -> Path:
    if isinstance(workflow, Mapping) or (isinstance(workflow, str) and "\n" in workflow):
        text = workflow if isinstance(workflow, str) else yaml.safe_dump(dict(workflow), sort_keys=False)
        wf_dir = repo / ".github" / "workflows"
        wf_dir.mkdir(parents=True, exist_ok=True)
        n = len(list(wf_dir.glob("e2e-*.yml")))
        path = wf_dir / f"e2e-{n}.yml"
        path.write_text(for_act(text), encoding="utf-8")
        commit_all(repo, f"workflow {path.name}")
        return path
    path = Path(workflow)
    path = path if path.is_absolute() else repo / path
    if not path.is_file():
        raise FileNotFoundError(f"workflow {path} not found")
    return path


def run_act(repo: Path, workflow: str | Path | Mapping[str, Any], *, event: str = "push",
            job: str | None = None, env: Mapping[str, str] | None = None,
            secrets: Mapping[str, str] | None = None, inputs: Mapping[str, str] | None = None,
            vars: Mapping[str, str] | None = None,
            event_payload: Mapping[str, Any] | None = None, actor: str | None = None,
            timeout: float = 600) -> ActResult:
    repo = Path(repo)
    wf = _workflow_file(repo, workflow)
    with tempfile.TemporaryDirectory(prefix="act-") as tmp_name:
        tmp = Path(tmp_name)
        files = {"env": env, "secrets": secrets, "vars": vars}
        for name, values in files.items():
            (tmp / name).write_text("".join(_dotenv_line(k, str(v)) for k, v in (values or {}).items()))
        (tmp / "inputs").write_text("".join(_dotenv_line(k, str(v)) for k, v in (inputs or {}).items()))
        payload = dict(event_payload or {})
        if inputs and "inputs" not in payload:
            payload["inputs"] = dict(inputs)
        (tmp / "event.json").write_text(json.dumps(payload))
        cmd = [which("act"), event, "-W", str(wf), "--json",
               "--pull=false", "--action-offline-mode", "--no-cache-server",
               "--container-daemon-socket", "-", "--action-cache-path", str(tmp / "cache"),
               "--env-file", str(tmp / "env"), "--secret-file", str(tmp / "secrets"),
               "--var-file", str(tmp / "vars"), "--input-file", str(tmp / "inputs"),
               "--eventpath", str(tmp / "event.json"), "--defaultbranch", "main"]
        for label in ACT_PLATFORMS:
            cmd += ["-P", f"{label}=-self-hosted"]
        if job:
            cmd += ["-j", job]
        if actor:
            cmd += ["--actor", actor]
        # act looks for ~/.actrc and $XDG_CONFIG_HOME/act/actrc: point it at an empty config.
        (tmp / "config" / "act").mkdir(parents=True)
        (tmp / "config" / "act" / "actrc").write_text("")
        run_env = _clean_env({"XDG_CONFIG_HOME": str(tmp / "config")})
        code, text = _run(cmd, cwd=repo, env=run_env, timeout=timeout)
    return _parse_act(code, text)


# --------------------------------------------------------------------------------------------
# gitlab-ci-local
# --------------------------------------------------------------------------------------------
@dataclass
class GitLabResult:
    returncode: int
    log: str
    repo: Path
    jobs: dict[str, str] = field(default_factory=dict)
    dotenv: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def state_dir(self) -> Path:
        return self.repo / ".gitlab-ci-local"

    def job_log(self, name: str) -> str:
        path = self.state_dir / "output" / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def artifacts_dir(self, name: str) -> Path:
        return self.state_dir / "artifacts" / name


def parse_dotenv(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


_JOB_STATUS = re.compile(r"^\s*(PASS|FAIL|WARN)\s+(\S.*?)\s*$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def run_gitlab_ci_local(repo: Path, *, job: str | Sequence[str] | None = None,
                        variables: Mapping[str, str] | None = None,
                        inputs: Mapping[str, str] | None = None, needs: bool = False,
                        isolation: bool = True, timeout: float = 600) -> GitLabResult:
    repo = Path(repo)
    with tempfile.TemporaryDirectory(prefix="gcl-home-") as home:
        cmd = [which("gitlab-ci-local"), "--force-shell-executor", "--no-color",
               "--max-job-name-padding", "0", "--home", home]
        if isolation:
            cmd.append("--shell-isolation")
        for key, value in (variables or {}).items():
            cmd += ["--variable", f"{key}={value}"]
        for key, value in (inputs or {}).items():
            cmd += ["--input", f"{key}={value}"]
        if needs:
            cmd.append("--needs")
        if job is not None:
            cmd += [job] if isinstance(job, str) else list(job)
        code, text = _run(cmd, cwd=repo, env=_clean_env(), timeout=timeout)
    text = _ANSI.sub("", text)
    result = GitLabResult(code, text, repo)
    for line in text.splitlines():
        m = _JOB_STATUS.match(line)
        if m:
            result.jobs[m.group(2)] = m.group(1)
    artifacts = result.state_dir / "artifacts"
    if artifacts.is_dir():
        for job_dir in sorted(p for p in artifacts.iterdir() if p.is_dir()):
            dotenv_dir = job_dir / ".gitlab-ci-reports" / "dotenv"
            if dotenv_dir.is_dir():
                merged: dict[str, str] = {}
                for f in sorted(dotenv_dir.rglob("*")):
                    if f.is_file():
                        merged.update(parse_dotenv(f.read_text(encoding="utf-8", errors="replace")))
                result.dotenv[job_dir.name] = merged
    return result

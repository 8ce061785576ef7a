"""Container engines: choose one, build or resolve the image, run the training command.

Docker and podman take the same flags for everything mlci uses, except GPUs (docker
`--gpus SPEC`; podman CDI devices `--device nvidia.com/gpu=N`) and the format of image IDs
(docker prints `sha256:<hex>`, podman `<hex>`; mlci always records `sha256:<hex>`).

`local` runs the command in a subprocess on the host, without a container: the data is not
read-only and nothing is isolated. It is used only when asked for, and the record says so.

The command runs as `/bin/sh -c COMMAND` (in a container: `--entrypoint /bin/sh IMAGE -c
COMMAND`, so an image's own ENTRYPOINT does not wrap it). Environment values are handed to
the engine through its own environment (`-e NAME`), never on its command line, so they do
not show in `ps`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlci.errors import InputError, ServiceError

ENGINES = ("docker", "podman")
PROBE_TIMEOUT = 15.0
KILL_GRACE = 30.0

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_HEX_ID = re.compile(r"^[0-9a-f]{64}$")
_GPU_IDS = re.compile(r"^\d+(,\d+)*$")


@dataclass(frozen=True)
class Image:
    """A resolved image: what ran, pinned.

    `digest` is what the record calls the image digest: the registry (repo) digest
    `sha256:...` when the image came from a registry, else the local image ID — a locally
    built or imported image has no registry digest (`digest_kind` says which).
    """

    ref: str                 # what the user gave, or the tag mlci built
    id: str                  # sha256:<hex>, the local image ID (what is run)
    digest: str              # sha256:<hex>
    digest_kind: str         # "repo-digest" | "image-id"
    repo_digest: str | None = None   # name@sha256:... when known

    def to_json(self) -> dict[str, str | None]:
        return {"ref": self.ref, "id": self.id, "digest": self.digest,
                "digest_kind": self.digest_kind, "repo_digest": self.repo_digest}


@dataclass
class Mount:
    host: Path
    container: str
    read_only: bool = True


@dataclass
class RunSpec:
    image: str | None        # image ID to run (None for the local engine)
    command: str
    name: str                # container name, used to kill it on timeout
    mounts: list[Mount] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    network: str = "default"  # "none" | "default"
    cpus: str | None = None
    memory: str | None = None
    gpus: str | None = None
    timeout: float | None = None
    workdir: Path | None = None   # local engine only


@dataclass
class RunResult:
    returncode: int
    timed_out: bool
    seconds: float
    argv: list[str]


def normalize_id(raw: str) -> str:
    raw = raw.strip()
    if _HEX_ID.match(raw):
        return "sha256:" + raw
    if _DIGEST.match(raw):
        return raw
    raise ServiceError(f"the engine reported an image ID that is not sha256:<hex>: {raw!r}")


def gpu_flags(engine: str, spec: str | None) -> list[str]:
    """`--gpus SPEC` in each engine's own words.

    SPEC: `all`, a count (`2`), device indices (`0,1`), or docker's `device=0,1`.
    Podman uses CDI (`nvidia.com/gpu=<index>|all`), which has no count: a count N means
    devices 0..N-1 there.
    """
    if not spec:
        return []
    spec = spec.strip()
    ids: list[str] | None = None
    count: int | None = None
    if spec == "all":
        pass
    elif spec.startswith("device="):
        ids = spec[len("device="):].split(",")
    elif spec.isdigit() and "," not in spec:
        count = int(spec)
        if count == 0:
            raise InputError("a count of 0 GPUs; for the first GPU give device=0",
                             key="--gpus")
    elif _GPU_IDS.match(spec):
        ids = spec.split(",")
    else:
        raise InputError("expected all, a count (2), device indices (0,1) or device=0,1",
                         key="--gpus")
    if ids is not None and not all(i.strip().isdigit() for i in ids):
        raise InputError(f"expected device indices, got {spec!r}", key="--gpus")
    if engine == "docker":
        if ids is not None:
            return ["--gpus", "device=" + ",".join(i.strip() for i in ids)]
        return ["--gpus", spec]
    if engine == "podman":
        if spec == "all":
            return ["--device", "nvidia.com/gpu=all"]
        if count is not None:
            ids = [str(i) for i in range(count)]
        return [flag for i in ids or [] for flag in ("--device", f"nvidia.com/gpu={i.strip()}")]
    return []


def _gpu_env(spec: str | None) -> dict[str, str]:
    """The local engine cannot isolate GPUs; it narrows what CUDA sees."""
    if not spec or spec == "all":
        return {}
    spec = spec.removeprefix("device=")
    if spec.isdigit():
        return {"CUDA_VISIBLE_DEVICES": ",".join(str(i) for i in range(int(spec)))}
    return {"CUDA_VISIBLE_DEVICES": spec}


class _Streamer:
    """Copies a child's output to our stderr line by line, live, and to a log file."""

    def __init__(self, pipe: object, log: Path | None, sink: Callable[[str], None]) -> None:
        self.pipe = pipe
        self.log = log
        self.sink = sink
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        out = open(self.log, "a", encoding="utf-8") if self.log else None  # noqa: SIM115
        try:
            for raw in iter(self.pipe.readline, b""):  # type: ignore[attr-defined]
                line = raw.decode("utf-8", errors="replace")
                self.sink(line)
                if out:
                    out.write(line)
                    out.flush()
        finally:
            if out:
                out.close()

    def join(self) -> None:
        self.thread.join(timeout=KILL_GRACE)


def _stderr_sink(line: str) -> None:
    sys.stderr.write(line)
    sys.stderr.flush()


class Engine:
    """A container engine on this machine (`docker` or `podman`)."""

    def __init__(self, name: str, binary: str, version: str) -> None:
        self.name = name
        self.binary = binary
        self.version = version

    def __repr__(self) -> str:
        return f"Engine({self.name} {self.version})"

    @property
    def containerized(self) -> bool:
        return True

    # -- helpers -------------------------------------------------------------------------------
    def _run(self, args: Sequence[str], *, timeout: float | None = 600.0,
             env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run([self.binary, *args], capture_output=True, text=True,
                                  timeout=timeout, env=dict(env) if env is not None else None,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise ServiceError(f"{self.name} {' '.join(args[:2])} did not answer within "
                               f"{timeout:.0f}s") from None

    # -- images --------------------------------------------------------------------------------
    def build(self, containerfile: Path, context: Path, tag: str, *,
              log: Path | None = None, sink: Callable[[str], None] = _stderr_sink) -> Image:
        """Build the image; its output streams live. Returns the built image, pinned by ID."""
        with tempfile.TemporaryDirectory(prefix="mlci-build-") as tmp:
            iidfile = Path(tmp) / "iid"
            argv = [self.binary, "build", "-f", str(containerfile), "-t", tag,
                    "--iidfile", str(iidfile), str(context)]
            env = dict(os.environ)
            if self.name == "docker":
                env.setdefault("DOCKER_BUILDKIT", "1")
                env.setdefault("BUILDKIT_PROGRESS", "plain")
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env)
            streamer = _Streamer(proc.stdout, log, sink)
            code = proc.wait()
            streamer.join()
            if code != 0:
                raise InputError(f"{self.name} build failed with exit code {code} (see the "
                                 "build log above)", file=str(containerfile))
            image_id = normalize_id(iidfile.read_text(encoding="utf-8"))
        return Image(ref=tag, id=image_id, digest=image_id, digest_kind="image-id")

    def exists(self, ref: str) -> bool:
        result = self._run(["image", "inspect", "--format", "{{.Id}}", ref], timeout=60)
        return result.returncode == 0

    def pull(self, ref: str) -> None:
        proc = self._run(["pull", ref], timeout=3600)
        if proc.returncode != 0:
            raise ServiceError(f"cannot pull image {ref!r} with {self.name}: "
                               f"{(proc.stderr or proc.stdout).strip()[-500:]}")

    def resolve(self, ref: str, *, pull: bool = True) -> Image:
        """Pin an image reference to what will run: pull when absent, then its ID and digest."""
        inspect = ["image", "inspect", "--format", "{{.Id}}|{{range .RepoDigests}}{{.}} {{end}}",
                   ref]
        proc = self._run(inspect, timeout=60)
        if proc.returncode != 0:
            if not pull:
                raise InputError(f"image {ref!r} is not present for {self.name}", key="--image")
            self.pull(ref)
            proc = self._run(inspect, timeout=60)
        if proc.returncode != 0:
            raise ServiceError(f"{self.name} image inspect {ref}: {proc.stderr.strip()[-500:]}")
        raw_id, _, repo_digests = proc.stdout.strip().partition("|")
        image_id = normalize_id(raw_id)
        repo_digest = _registry_digest(ref, repo_digests.split())
        if repo_digest:
            return Image(ref=ref, id=image_id, digest=repo_digest.rpartition("@")[2],
                         digest_kind="repo-digest", repo_digest=repo_digest)
        return Image(ref=ref, id=image_id, digest=image_id, digest_kind="image-id")

    # -- running -------------------------------------------------------------------------------
    def run_argv(self, spec: RunSpec) -> list[str]:
        argv = [self.binary, "run", "--rm", "--name", spec.name, "--pull", "never"]
        if spec.network == "none":
            argv += ["--network", "none"]
        if spec.cpus:
            argv += ["--cpus", spec.cpus]
        if spec.memory:
            argv += ["--memory", spec.memory]
        argv += gpu_flags(self.name, spec.gpus)
        for mount in spec.mounts:
            host = mount.host.resolve()  # a relative source would name a volume
            argv += ["-v", f"{host}:{mount.container}:{'ro' if mount.read_only else 'rw'}"]
        for name in sorted(spec.env):
            argv += ["-e", name]
        assert spec.image is not None
        argv += ["--entrypoint", "/bin/sh", spec.image, "-c", spec.command]
        return argv

    def kill(self, name: str) -> None:
        self._run(["kill", name], timeout=60)
        self._run(["rm", "-f", name], timeout=60)

    def run(self, spec: RunSpec, *, log: Path | None = None,
            sink: Callable[[str], None] = _stderr_sink) -> RunResult:
        argv = self.run_argv(spec)
        env = {**os.environ, **spec.env}
        return _supervise(argv, env, spec.timeout, log, sink, kill=lambda proc:
                          self.kill(spec.name), cwd=None)


class LocalEngine(Engine):
    """No container: the command runs in a subprocess on this host (only when asked)."""

    def __init__(self) -> None:
        super().__init__("local", shutil.which("sh") or "/bin/sh", _host_shell_version())

    @property
    def containerized(self) -> bool:
        return False

    def run(self, spec: RunSpec, *, log: Path | None = None,
            sink: Callable[[str], None] = _stderr_sink) -> RunResult:
        argv = [self.binary, "-c", spec.command]
        env = {**os.environ, **_gpu_env(spec.gpus), **spec.env}

        def kill(proc: subprocess.Popen[bytes]) -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        return _supervise(argv, env, spec.timeout, log, sink, kill=kill, cwd=spec.workdir,
                          new_session=True)


def _supervise(argv: list[str], env: Mapping[str, str], timeout: float | None, log: Path | None,
               sink: Callable[[str], None], *, kill: Callable[[subprocess.Popen[bytes]], None],
               cwd: Path | None, new_session: bool = False) -> RunResult:
    start = time.monotonic()
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=dict(env), cwd=cwd,
                                start_new_session=new_session)
    except OSError as error:
        raise ServiceError(f"cannot start {argv[0]}: {error.strerror or error}") from None
    streamer = _Streamer(proc.stdout, log, sink)
    timed_out = False
    try:
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill(proc)
            try:
                code = proc.wait(timeout=KILL_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
    except BaseException:  # KeyboardInterrupt, SIGTERM: never leave the container running
        kill(proc)
        proc.kill()
        proc.wait()
        raise
    streamer.join()
    return RunResult(code, timed_out, time.monotonic() - start, argv)


def _registry_digest(ref: str, repo_digests: Sequence[str]) -> str | None:
    """The repo digest that pins `ref`, when it came from a registry.

    A digest reference (`name@sha256:...`) pins itself. Otherwise the RepoDigest of the
    same repository counts, unless the repository is `localhost/...`: podman gives a locally
    built or imported image a digest of its local manifest, which no registry serves.
    """
    if "@sha256:" in ref:
        return ref
    repo = _repository(ref)
    for item in repo_digests:
        name, _, digest = item.partition("@")
        if name == repo and _DIGEST.match(digest) and not name.startswith("localhost/"):
            return item
    return None


def _repository(ref: str) -> str:
    name = ref.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    return name


def _host_shell_version() -> str:
    import platform

    return f"{platform.system()} {platform.release()}"


def probe(name: str, timeout: float = PROBE_TIMEOUT) -> tuple[str | None, str]:
    """(version, problem): the engine's version when it works, else why not."""
    binary = shutil.which(name)
    if binary is None:
        return None, f"{name} is not installed (not found on PATH)"
    # docker: the server's version, so a CLI without a reachable daemon does not count.
    # podman is daemonless: its client version (`podman info` would cost ~1 s per run).
    fmt = "{{.Client.Version}}" if name == "podman" else "{{.Server.Version}}"
    args = ["version", "--format", fmt]
    try:
        proc = subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout,
                              check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, f"{name} is installed but did not answer within {timeout:.0f}s"
    except OSError as error:
        return None, f"{name} cannot run: {error.strerror or error}"
    version = proc.stdout.strip()
    if proc.returncode != 0 or not version or "<no value>" in version:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        why = detail[-1] if detail else f"exit code {proc.returncode}"
        what = "its daemon is not reachable" if name == "docker" else "it does not work"
        return None, f"{name} is installed but {what}: {why}"
    return version, ""


def choose(requested: str) -> Engine:
    """The engine to use: the one asked for, or for `auto` the first that works (docker, podman).

    An engine that is missing or does not work is an input error (exit 2) naming it.
    """
    if requested == "local":
        return LocalEngine()
    if requested in ENGINES:
        version, problem = probe(requested)
        if version is None:
            raise InputError(problem + "; install it, or choose another with --engine "
                             "(auto|docker|podman|local)", key="--engine")
        return Engine(requested, shutil.which(requested) or requested, version)
    if requested != "auto":
        raise InputError(f"unknown engine {requested!r}: expected auto, docker, podman or local",
                         key="--engine")
    problems = []
    for name in ENGINES:
        version, problem = probe(name)
        if version is not None:
            return Engine(name, shutil.which(name) or name, version)
        problems.append(problem)
    raise InputError("no working container engine: " + "; ".join(problems) +
                     ". Install docker or podman, or run without a container with "
                     "--engine local", key="--engine")

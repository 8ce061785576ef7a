"""Engine choice, flags and image pinning (no container runs here: fake engines on PATH)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mlci.errors import InputError, ServiceError
from mlci.train.engine import (
    Engine,
    LocalEngine,
    Mount,
    RunSpec,
    _registry_digest,
    _repository,
    choose,
    gpu_flags,
    normalize_id,
    probe,
)

pytestmark = pytest.mark.unit


def fake(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "bin"
    d.mkdir()
    monkeypatch.setenv("PATH", str(d))
    return d


@pytest.mark.parametrize(("engine", "spec", "flags"), [
    ("docker", "all", ["--gpus", "all"]),
    ("docker", "2", ["--gpus", "2"]),
    ("docker", "0,1", ["--gpus", "device=0,1"]),
    ("docker", "device=1", ["--gpus", "device=1"]),
    ("podman", "all", ["--device", "nvidia.com/gpu=all"]),
    ("podman", "0,1", ["--device", "nvidia.com/gpu=0", "--device", "nvidia.com/gpu=1"]),
    ("podman", "2", ["--device", "nvidia.com/gpu=0", "--device", "nvidia.com/gpu=1"]),
    ("podman", "device=3", ["--device", "nvidia.com/gpu=3"]),
    ("podman", None, []),
    ("local", "all", []),
])
def test_gpu_flags_per_engine(engine: str, spec: str | None, flags: list[str]) -> None:
    assert gpu_flags(engine, spec) == flags


@pytest.mark.parametrize("spec", ["many", "0;1", "device=a", "-1", "0"])
def test_gpu_flags_reject_nonsense(spec: str) -> None:
    with pytest.raises(InputError, match="--gpus"):
        gpu_flags("docker", spec)


def test_normalize_id() -> None:
    hexid = "ab" * 32
    assert normalize_id(hexid + "\n") == "sha256:" + hexid
    assert normalize_id("sha256:" + hexid) == "sha256:" + hexid
    with pytest.raises(ServiceError):
        normalize_id("latest")


def test_registry_digest_only_for_registry_images() -> None:
    digest = "sha256:" + "cd" * 32
    assert _registry_digest(f"ghcr.io/o/t@{digest}", []) == f"ghcr.io/o/t@{digest}"
    assert _registry_digest("ghcr.io/o/t:1.0", [f"ghcr.io/o/t@{digest}"]) == \
        f"ghcr.io/o/t@{digest}"
    # podman gives local images a digest of their local manifest: not a registry digest.
    assert _registry_digest("localhost/base", [f"localhost/base@{digest}"]) is None
    assert _registry_digest("ghcr.io/o/t:1.0", [f"ghcr.io/o/other@{digest}"]) is None
    assert _repository("registry:5000/a/b:tag") == "registry:5000/a/b"
    assert _repository("registry:5000/a/b") == "registry:5000/a/b"


def spec(**kw: object) -> RunSpec:
    base: dict[str, object] = {"image": "sha256:" + "ab" * 32, "command": "python3 t.py",
                               "name": "mlci-x"}
    base.update(kw)
    return RunSpec(**base)  # type: ignore[arg-type]


def test_run_argv_has_the_contract_and_no_env_values() -> None:
    engine = Engine("podman", "/usr/bin/podman", "4.3.1")
    argv = engine.run_argv(spec(mounts=[Mount(Path("/d"), "/data"),
                                        Mount(Path("/o"), "/outputs", read_only=False)],
                                env={"SECRET_TOKEN": "s3cr3t", "MLCI_SEED": "1"},
                                network="none", cpus="2", memory="1g", gpus="device=0"))
    assert argv[:7] == ["/usr/bin/podman", "run", "--rm", "--name", "mlci-x", "--pull", "never"]
    joined = " ".join(argv)
    assert "--network none" in joined and "--cpus 2" in joined and "--memory 1g" in joined
    assert "-v /d:/data:ro" in joined and "-v /o:/outputs:rw" in joined
    assert "--device nvidia.com/gpu=0" in joined
    assert "-e MLCI_SEED" in joined and "-e SECRET_TOKEN" in joined
    assert "s3cr3t" not in joined                     # values travel in the environment
    assert argv[-5:] == ["--entrypoint", "/bin/sh", "sha256:" + "ab" * 32, "-c", "python3 t.py"]
    default = engine.run_argv(spec())
    assert "--network" not in default and "--cpus" not in default


def test_probe_missing_and_broken_engines(bin_dir: Path) -> None:
    assert probe("docker") == (None, "docker is not installed (not found on PATH)")
    fake(bin_dir, "docker", "echo 'Cannot connect to the Docker daemon' >&2; exit 1")
    version, problem = probe("docker")
    assert version is None
    assert problem == ("docker is installed but its daemon is not reachable: Cannot connect "
                       "to the Docker daemon")
    fake(bin_dir, "podman", 'echo "4.9.0"')
    assert probe("podman") == ("4.9.0", "")


def test_choose_auto_prefers_a_working_engine(bin_dir: Path) -> None:
    fake(bin_dir, "docker", "exit 1")
    fake(bin_dir, "podman", 'echo "4.3.1"')
    engine = choose("auto")
    assert (engine.name, engine.version) == ("podman", "4.3.1")
    fake(bin_dir, "docker", 'echo "27.1.0"')
    assert choose("auto").name == "docker"


def test_choose_explicit_engine_errors_name_it(bin_dir: Path) -> None:
    with pytest.raises(InputError, match="podman is not installed") as info:
        choose("podman")
    assert info.value.key == "--engine"
    with pytest.raises(InputError, match=r"no working container engine: docker is not "
                       r"installed.*podman is not installed.*--engine local"):
        choose("auto")
    with pytest.raises(InputError, match="unknown engine"):
        choose("kubernetes")
    assert isinstance(choose("local"), LocalEngine)


def test_probe_timeout(bin_dir: Path) -> None:
    fake(bin_dir, "podman", "exec /bin/sleep 5")
    assert probe("podman", timeout=0.3) == (None, ("podman is installed but did not answer "
                                                   "within 0s"))


def test_local_engine_streams_and_times_out(tmp_path: Path) -> None:
    lines: list[str] = []
    log = tmp_path / "log"
    engine = LocalEngine()
    result = engine.run(spec(image=None, command="echo one; echo two >&2; exit 4",
                             env={"X": "1"}, workdir=tmp_path), log=log, sink=lines.append)
    assert (result.returncode, result.timed_out) == (4, False)
    assert lines == ["one\n", "two\n"]
    assert log.read_text() == "one\ntwo\n"
    child = tmp_path / "child.pid"
    result = engine.run(spec(image=None, command=f"sleep 60 & echo $! > {child}; wait",
                             timeout=0.5, workdir=tmp_path), sink=lines.append)
    assert result.timed_out is True
    pid = int(child.read_text())
    # the whole process group was killed, not just the shell
    assert gone(pid)


def gone(pid: int) -> bool:
    import time

    for _ in range(200):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return True  # killed; waiting for its reaper
        time.sleep(0.05)
    return False


def test_local_engine_gpu_env(tmp_path: Path) -> None:
    out: list[str] = []
    LocalEngine().run(spec(image=None, command="echo ${CUDA_VISIBLE_DEVICES:-unset}", gpus="2",
                           workdir=tmp_path), sink=out.append)
    assert out == ["0,1\n"]


def test_engine_build_failure_is_input_error(bin_dir: Path, tmp_path: Path) -> None:
    fake(bin_dir, "podman", "echo 'STEP 1/1: FROM nothing'; echo 'Error: no such image' >&2; "
                            "exit 125")
    cf = tmp_path / "Containerfile"
    cf.write_text("FROM nothing\n")
    lines: list[str] = []
    with pytest.raises(InputError, match="podman build failed with exit code 125") as info:
        Engine("podman", str(bin_dir / "podman"), "x").build(cf, tmp_path, "t", sink=lines.append)
    assert info.value.file == str(cf)
    assert "Error: no such image\n" in lines


def test_engine_build_reads_the_iidfile(bin_dir: Path, tmp_path: Path) -> None:
    # A fake engine that writes the image id where --iidfile says.
    fake(bin_dir, "docker", 'while [ $# -gt 0 ]; do if [ "$1" = --iidfile ]; then '
                            'printf "sha256:%064d" 7 > "$2"; fi; shift; done')
    cf = tmp_path / "Dockerfile"
    cf.write_text("FROM x\n")
    image = Engine("docker", str(bin_dir / "docker"), "27").build(cf, tmp_path, "mlci-train:1",
                                                                  sink=lambda _: None)
    assert image.id == image.digest == "sha256:" + "0" * 63 + "7"
    assert image.digest_kind == "image-id" and image.ref == "mlci-train:1"


def test_relative_mount_sources_become_absolute(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """`-v rel:/outputs` would name a podman/docker volume, not the directory."""
    monkeypatch.chdir(tmp_path)
    argv = Engine("podman", "podman", "4").run_argv(
        spec(mounts=[Mount(Path("mlci-outputs"), "/outputs", read_only=False)]))
    assert f"{tmp_path / 'mlci-outputs'}:/outputs:rw" in argv

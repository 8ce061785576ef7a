"""The warm path of `mlci data-change`: the tree summary that lets an unchanged tree skip
the stat-cache rows, and the walk split with a forked child."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlci.cli import main
from mlci.data import cache as cache_mod
from mlci.data import forked, local
from mlci.data.local import fingerprint_paths
from mlci.data.manifest import Manifest
from mlci.errors import InputError

pytestmark = pytest.mark.unit


def write(path: Path, data: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    return path


def age(root: Path, seconds: int = 60) -> None:
    """Backdate every file: the cache never trusts one modified in the last two seconds."""
    for path in root.rglob("*"):
        st = path.lstat()
        os.utime(path, ns=(st.st_atime_ns - seconds * 10**9, st.st_mtime_ns - seconds * 10**9),
                 follow_symlinks=False)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for i in range(40):
        write(tmp_path / f"data/d{i % 5}/s{i % 3}/f{i}.csv", f"x\n{i}\n")
    write(tmp_path / "data/top.csv", "top\n")
    (tmp_path / "data/link").symlink_to("d1", target_is_directory=True)
    write(tmp_path / "data/d2/caf\u00e9.csv", "accent\n")
    age(tmp_path)
    return tmp_path


def walk(root: Path, fork: bool, monkeypatch: pytest.MonkeyPatch) -> local.Walker:
    monkeypatch.setattr(forked, "available", lambda: fork)
    walker = local.Walker(root)
    walker.add_pattern("data")
    return walker


def test_the_forked_walk_finds_the_same_files_in_the_same_order(
        tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    children: list[forked.Child] = []
    real_child = forked.Child

    def counting_child(work):  # type: ignore[no-untyped-def]
        child = real_child(work)
        children.append(child)
        return child

    monkeypatch.setattr(forked, "Child", counting_child)
    alone = walk(tree, False, monkeypatch)
    split = walk(tree, True, monkeypatch)
    assert len(children) == 1          # the child really walked a share
    assert list(split.found.items()) == list(alone.found.items())
    assert split.paths == alone.paths and split.digest() == alone.digest()
    assert len(alone.found) == 40 + 1 + 1 + 8    # + top.csv, café.csv, the link's files (d1)
    assert "data/link/s1/f1.csv" in split.found
    assert split.path_of("data/d2/caf\u00e9.csv").endswith("caf\u00e9.csv")


def test_a_failing_child_only_costs_time(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    alone = walk(tree, False, monkeypatch)
    monkeypatch.setattr(local.Walker, "_walk_apart", lambda self, pending: 1 / 0)
    split = walk(tree, True, monkeypatch)
    assert list(split.found.items()) == list(alone.found.items())


def test_an_error_in_the_childs_share_is_still_reported(tree: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    os.mkfifo(tree / "data/d4/pipe")    # d4 is in the second half: the child's share
    with pytest.raises(InputError, match=r"data/d4/pipe.*not a regular file"):
        walk(tree, True, monkeypatch)


def test_an_unchanged_tree_is_known_from_the_summary_alone(
        tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tree / ".cache"
    first = fingerprint_paths(["data"], tree, cache_dir=cache, show_progress=False)
    assert (cache / cache_mod.SUMMARY_NAME).is_file()

    def no_rows(*args: object) -> None:
        raise AssertionError("the stat cache rows were loaded")

    monkeypatch.setattr(local, "StatCache", no_rows)
    second = fingerprint_paths(["data"], tree, cache_dir=cache, show_progress=False)
    assert second.manifest.fingerprint == first.manifest.fingerprint \
        == Manifest(first.entries).fingerprint
    assert (second.manifest.files, second.manifest.total_size) \
        == (first.manifest.files, first.manifest.total_size)
    assert second.cached_files == first.manifest.files and second.hashed_files == 0
    with pytest.raises(AssertionError, match="rows were loaded"):
        second.entries  # noqa: B018 - built only on demand, from the rows
    monkeypatch.undo()
    assert second.entries == first.entries


@pytest.mark.parametrize("change", ["content", "same-size-same-mtime", "add", "remove",
                                    "rename"])
def test_any_change_misses_the_summary(tree: Path, change: str) -> None:
    cache = tree / ".cache"
    before = fingerprint_paths(["data"], tree, cache_dir=cache, show_progress=False)
    target = tree / "data/d0/s0/f0.csv"
    st = target.stat()
    if change == "content":
        target.write_text("x\nchanged\n")
    elif change == "same-size-same-mtime":
        target.write_text("x\n9\n")
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif change == "add":
        write(tree / "data/d0/new.csv", "new\n")
    elif change == "remove":
        target.unlink()
    else:
        target.rename(tree / "data/d0/renamed.csv")
    after = fingerprint_paths(["data"], tree, cache_dir=cache, show_progress=False)
    fresh = fingerprint_paths(["data"], tree, show_progress=False)
    assert after.manifest.fingerprint == fresh.manifest.fingerprint \
        != before.manifest.fingerprint
    # rows are by path: a renamed file is read again, a removed one is not
    assert after.hashed_files == (0 if change == "remove" else 1)


def test_no_summary_while_a_file_is_racily_recent(tree: Path) -> None:
    cache = tree / ".cache"
    write(tree / "data/fresh.csv", "just written\n")
    fingerprint_paths(["data"], tree, cache_dir=cache, show_progress=False)
    assert not (cache / cache_mod.SUMMARY_NAME).exists()
    age(tree / "data")
    fingerprint_paths(["data"], tree, cache_dir=cache, show_progress=False)
    assert (cache / cache_mod.SUMMARY_NAME).exists()


@pytest.mark.parametrize("damage", ["garbage", "other-root", "bad-fingerprint", "bool-files"])
def test_a_damaged_summary_only_costs_the_slow_path(tree: Path, damage: str) -> None:
    cache = tree / ".cache"
    expected = fingerprint_paths(["data"], tree, cache_dir=cache, show_progress=False)
    path = cache / cache_mod.SUMMARY_NAME
    data = json.loads(path.read_text())
    if damage == "garbage":
        path.write_text("{not json")
    else:
        data.update({"other-root": {"root": "/elsewhere"},
                     "bad-fingerprint": {"fingerprint": "md5:00"},
                     "bool-files": {"files": True}}[damage])
        path.write_text(json.dumps(data))
    again = fingerprint_paths(["data"], tree, cache_dir=cache, show_progress=False)
    assert again.manifest._entries is not None   # built by the slow path, not deferred
    assert again.manifest.fingerprint == expected.manifest.fingerprint
    assert json.loads(path.read_text())["fingerprint"] == expected.manifest.fingerprint


def test_a_summary_that_disagrees_with_the_rows_is_refused_when_entries_are_needed(
        tree: Path) -> None:
    cache = tree / ".cache"
    fingerprint_paths(["data"], tree, cache_dir=cache, show_progress=False)
    path = cache / cache_mod.SUMMARY_NAME
    data = json.loads(path.read_text())
    data["fingerprint"] = "sha256:" + "0" * 64
    path.write_text(json.dumps(data))
    result = fingerprint_paths(["data"], tree, cache_dir=cache, show_progress=False)
    assert result.manifest.fingerprint == data["fingerprint"]   # taken on trust, as rows are
    with pytest.raises(InputError, match="cache is damaged"):
        result.entries  # noqa: B018


def test_cli_warm_run_writes_and_diffs_the_same_as_a_cold_one(
        tree: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tree)
    for name in [k for k in os.environ if k.startswith(("GITHUB_", "GITLAB_", "MLCI_"))]:
        monkeypatch.delenv(name)

    def run(*argv: str) -> dict:
        assert main(["data-change", "--paths", "data", "--json", *argv]) == 0
        return json.loads(capsys.readouterr().out)

    cold = run("--write", "cold.json")
    run("--cache", ".cache")                            # fills the cache and the summary
    warm = run("--cache", ".cache", "--write", "warm.json", "--against", "cold.json")
    assert warm["hashed"] == {"files": 0, "bytes": 0, "from_cache": cold["files"]}
    assert not warm["changed"] and warm["fingerprint"] == cold["fingerprint"]
    assert json.loads((tree / "warm.json").read_text()) == json.loads(
        (tree / "cold.json").read_text())
    write(tree / "data/d3/s0/f3.csv", "x\nnew value\n")
    changed = run("--cache", ".cache", "--against", "warm.json")
    assert changed["changed"] and changed["counts"]["modified"] == 1
    assert changed["modified"][0]["path"] == "data/d3/s0/f3.csv"


def test_the_fork_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCI_WALK_FORK", "0")
    assert forked.available() is False

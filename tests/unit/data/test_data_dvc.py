"""DVC-tracked data, read from .dvc files and dvc.lock without DVC."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mlci.data.diff import diff
from mlci.data.dvc import dvc_entries
from mlci.data.manifest import Manifest
from mlci.errors import InputError

pytestmark = pytest.mark.unit


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def dir_object(root: Path, md5: str, listing: dict[str, str], legacy: bool = False) -> None:
    base = root / ".dvc/cache" if legacy else root / ".dvc/cache/files/md5"
    md5 = md5.removesuffix(".dir")
    write(base / md5[:2] / (md5[2:] + ".dir"),
          json.dumps([{"md5": v, "relpath": k} for k, v in sorted(listing.items())]))


def test_a_file_output_of_a_dvc_file(tmp_path: Path) -> None:
    write(tmp_path / "data/raw.csv.dvc",
          "outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 1234\n  hash: md5\n"
          "  path: raw.csv\n")
    [entry] = dvc_entries(tmp_path)
    assert entry.path == "data/raw.csv"
    assert entry.size == 1234 and entry.hash == "md5:0123456789abcdef0123456789abcdef"


def test_a_dvc2_file_is_marked_as_such(tmp_path: Path) -> None:
    write(tmp_path / "raw.csv.dvc", "outs:\n- md5: abcd\n  size: 9\n  path: raw.csv\n")
    [entry] = dvc_entries(tmp_path)
    assert entry.hash == "md5-dos2unix:abcd"


def test_a_directory_output_is_one_entry_with_nfiles(tmp_path: Path) -> None:
    write(tmp_path / "data/train.dvc",
          "outs:\n- md5: 22a1a2931c8370d3aeedd7183606fd7f.dir\n  size: 14445097\n"
          "  nfiles: 7\n  hash: md5\n  path: train\n")
    [entry] = dvc_entries(tmp_path)
    assert entry.path == "data/train"
    assert entry.hash == "md5:22a1a2931c8370d3aeedd7183606fd7f.dir"
    assert entry.extra and entry.extra["nfiles"] == 7
    assert "dir" not in entry.extra   # the .dir listing is not in a local cache


def test_the_fingerprint_does_not_depend_on_the_dvc_cache(tmp_path: Path) -> None:
    md5 = "22a1a2931c8370d3aeedd7183606fd7f.dir"
    write(tmp_path / "train.dvc", f"outs:\n- md5: {md5}\n  size: 10\n  nfiles: 2\n"
          "  hash: md5\n  path: train\n")
    without = Manifest(dvc_entries(tmp_path)).fingerprint
    dir_object(tmp_path, md5, {"a.csv": "11", "b.csv": "22"})
    [entry] = dvc_entries(tmp_path)
    assert entry.extra and entry.extra["dir"] == {"a.csv": "11", "b.csv": "22"}
    assert Manifest([entry]).fingerprint == without


def test_a_changed_directory_output_is_detailed_file_by_file(tmp_path: Path) -> None:
    old_md5, new_md5 = "a" * 32 + ".dir", "b" * 32 + ".dir"
    dir_object(tmp_path, old_md5, {"a.csv": "11", "b.csv": "22", "c.csv": "33"})
    dir_object(tmp_path, new_md5, {"a.csv": "11", "b.csv": "2X", "d.csv": "44"})
    dvcfile = tmp_path / "train.dvc"
    write(dvcfile, f"outs:\n- md5: {old_md5}\n  size: 10\n  nfiles: 3\n  hash: md5\n"
          "  path: train\n")
    before = Manifest(dvc_entries(tmp_path))
    write(dvcfile, f"outs:\n- md5: {new_md5}\n  size: 11\n  nfiles: 3\n  hash: md5\n"
          "  path: train\n")
    d = diff(before, Manifest(dvc_entries(tmp_path)))
    [change] = d.modified
    assert change["path"] == "train"
    assert change["files"] == {"added": ["d.csv"], "removed": ["c.csv"], "modified": ["b.csv"]}


def test_dvc_lock_outputs_relative_to_the_stage_wdir(tmp_path: Path) -> None:
    write(tmp_path / "pipe/dvc.yaml",
          "stages:\n  prepare:\n    cmd: python prep.py\n    wdir: ..\n"
          "    outs: [data/prepared]\n  featurize:\n    cmd: python feat.py\n"
          "    outs: [features.pkl]\n")
    write(tmp_path / "pipe/dvc.lock",
          "schema: '2.0'\nstages:\n  prepare:\n    cmd: python prep.py\n    deps:\n"
          "    - path: data/data.xml\n      hash: md5\n      md5: 22a1\n      size: 1\n"
          "    outs:\n    - path: data/prepared\n      hash: md5\n"
          "      md5: 153aad06d376b6595932470e459ef42a.dir\n      size: 8437363\n"
          "      nfiles: 2\n  featurize:\n    cmd: python feat.py\n    outs:\n"
          "    - path: features.pkl\n      hash: md5\n      md5: ffff\n      size: 5\n")
    entries = {e.path: e for e in dvc_entries(tmp_path)}
    assert set(entries) == {"data/prepared", "pipe/features.pkl"}
    assert entries["data/prepared"].hash == "md5:153aad06d376b6595932470e459ef42a.dir"


def test_legacy_cache_layout_is_read(tmp_path: Path) -> None:
    md5 = "c" * 32 + ".dir"
    dir_object(tmp_path, md5, {"x": "1"}, legacy=True)
    write(tmp_path / "d.dvc", f"outs:\n- md5: {md5}\n  size: 1\n  nfiles: 1\n  path: d\n")
    [entry] = dvc_entries(tmp_path)
    assert entry.extra and entry.extra["dir"] == {"x": "1"}


def test_git_lists_the_dvc_files_when_in_a_work_tree(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    write(tmp_path / ".gitignore", "ignored/\n")
    write(tmp_path / "a.dvc", "outs:\n- md5: aa\n  size: 1\n  hash: md5\n  path: a\n")
    write(tmp_path / "ignored/b.dvc", "outs:\n- md5: bb\n  size: 1\n  hash: md5\n  path: b\n")
    assert [e.path for e in dvc_entries(tmp_path)] == ["a"]


def test_an_output_without_a_hash_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "a.dvc", "outs:\n- path: a\n")
    with pytest.raises(InputError) as err:
        dvc_entries(tmp_path)
    assert err.value.file == "a.dvc" and err.value.key == "outs[0]"
    assert "dvc commit" in str(err.value)


def test_an_output_outside_the_root_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "a.dvc", "outs:\n- md5: aa\n  size: 1\n  path: ../../elsewhere\n")
    with pytest.raises(InputError, match="outside the project root"):
        dvc_entries(tmp_path)


def test_invalid_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    write(tmp_path / "a.dvc", "outs:\n- md5: [unclosed\n")
    with pytest.raises(InputError) as err:
        dvc_entries(tmp_path)
    assert err.value.file == "a.dvc" and err.value.line


def test_no_dvc_metadata_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no \.dvc file or dvc\.lock"):
        dvc_entries(tmp_path)

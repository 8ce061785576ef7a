"""Manifests and fingerprints: stable across order, separators and machines; diffs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlci.data.diff import diff
from mlci.data.manifest import Entry, Manifest, fingerprint, normalize_path
from mlci.errors import InputError

pytestmark = pytest.mark.unit

A = Entry("data/a.csv", 3, "sha256:aa")
B = Entry("data/b.csv", 4, "sha256:bb")
C = Entry("data/sub/c.csv", 5, "sha256:cc")


def test_fingerprint_ignores_order() -> None:
    assert fingerprint([A, B, C]) == fingerprint([C, A, B]) == Manifest([B, C, A]).fingerprint


def test_fingerprint_is_a_fixed_function_of_the_entries() -> None:
    # Pinned: the same entries give this value on every machine and every mlci version
    # that writes manifest version 1.
    import hashlib

    records = b"".join(f"{e.path}\0{e.size}\0{e.hash}\n".encode() for e in (A, B, C))
    assert fingerprint([C, B, A]) == "sha256:" + hashlib.sha256(records).hexdigest()


def test_fingerprint_depends_on_path_size_and_hash() -> None:
    base = fingerprint([A, B])
    assert fingerprint([A, Entry("data/b2.csv", 4, "sha256:bb")]) != base
    assert fingerprint([A, Entry("data/b.csv", 5, "sha256:bb")]) != base
    assert fingerprint([A, Entry("data/b.csv", 4, "sha256:bX")]) != base
    # Extra facts (S3 version ids, DVC nfiles) are kept but not fingerprinted.
    assert fingerprint([A, Entry("data/b.csv", 4, "sha256:bb", {"version_id": "v9"})]) == base


def test_paths_are_normalized() -> None:
    assert normalize_path("./data//train/./a.csv") == "data/train/a.csv"
    # NFD (as macOS writes names) and NFC spell one path.
    assert normalize_path("caf\u0065\u0301.csv") == normalize_path("caf\u00e9.csv")


def test_manifest_round_trip(tmp_path: Path) -> None:
    manifest = Manifest([C, A, B], ["data"])
    path = tmp_path / "m.json"
    manifest.write(path)
    again = Manifest.read(path)
    assert again.fingerprint == manifest.fingerprint
    assert [e.path for e in again.entries] == ["data/a.csv", "data/b.csv", "data/sub/c.csv"]


def test_a_tampered_manifest_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    Manifest([A, B]).write(path)
    data = json.loads(path.read_text())
    data["entries"][0]["hash"] = "sha256:forged"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="does not match its entries"):
        Manifest.read(path)


def test_a_malformed_manifest_names_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"version": 1, "entries": [{"path": "a", "size": "3"}]}))
    with pytest.raises(InputError) as err:
        Manifest.read(path)
    assert err.value.key == "entries[0]" and err.value.file == str(path)


def test_the_same_path_from_two_sources_is_an_error() -> None:
    with pytest.raises(InputError, match="listed twice"):
        Manifest([A, Entry("data/a.csv", 3, "md5:x", {"source": "dvc:a.dvc"})])


def test_diff_reports_added_removed_modified() -> None:
    old = Manifest([A, B])
    new = Manifest([A, Entry("data/b.csv", 9, "sha256:b2"), C])
    d = diff(old, new)
    assert d.added == ["data/sub/c.csv"]
    assert d.removed == []
    assert [m["path"] for m in d.modified] == ["data/b.csv"]
    assert d.renamed == []


def test_diff_detects_renames_by_content() -> None:
    old = Manifest([A, B])
    new = Manifest([A, Entry("data/moved/b.csv", 4, "sha256:bb")])
    d = diff(old, new)
    assert d.renamed == [{"from": "data/b.csv", "to": "data/moved/b.csv"}]
    assert d.added == d.removed == [] and d.modified == []


def test_rename_pairing_of_identical_files_is_deterministic() -> None:
    same = "sha256:same"
    old = Manifest([Entry("x/1", 1, same), Entry("x/2", 1, same)])
    new = Manifest([Entry("y/1", 1, same), Entry("y/2", 1, same), Entry("y/3", 1, same)])
    d = diff(old, new)
    assert d.renamed == [{"from": "x/1", "to": "y/1"}, {"from": "x/2", "to": "y/2"}]
    assert d.added == ["y/3"]

"""`mlci data-change --s3` against moto's S3 server (a real separate process), over boto3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from mlci.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture
def s3(s3_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    import boto3

    for name in list(os.environ):
        if name.startswith(("GITHUB_", "GITLAB", "CI_", "MLCI_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return boto3.client("s3")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"data-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def data_change(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["data-change", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_new_changed_and_deleted_objects(s3: Any, bucket: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    s3.put_object(Bucket=bucket, Key="raw/a.csv", Body=b"a\n1\n")
    s3.put_object(Bucket=bucket, Key="raw/b.csv", Body=b"b\n2\n")
    s3.put_object(Bucket=bucket, Key="other/ignored.csv", Body=b"x")
    uri = f"s3://{bucket}/raw/"
    first = data_change(capsys, "--s3", uri, "--write", "m.json")
    assert first["files"] == 2
    entries = json.loads(Path("m.json").read_text())["entries"]
    assert [e["path"] for e in entries] == [f"s3://{bucket}/raw/a.csv", f"s3://{bucket}/raw/b.csv"]
    assert all(e["hash"].startswith("etag:") and e["size"] == 4 for e in entries)

    assert data_change(capsys, "--s3", uri, "--against", "m.json")["changed"] is False

    s3.put_object(Bucket=bucket, Key="raw/c.csv", Body=b"c\n3\n")
    report = data_change(capsys, "--s3", uri, "--against", "m.json", "--write", "m.json")
    assert report["changed"] is True and report["added"] == [f"s3://{bucket}/raw/c.csv"]

    s3.put_object(Bucket=bucket, Key="raw/a.csv", Body=b"a\n1\n9\n")
    report = data_change(capsys, "--s3", uri, "--against", "m.json", "--write", "m.json")
    assert [m["path"] for m in report["modified"]] == [f"s3://{bucket}/raw/a.csv"]
    assert report["added"] == report["removed"] == []

    s3.delete_object(Bucket=bucket, Key="raw/b.csv")
    report = data_change(capsys, "--s3", uri, "--against", "m.json")
    assert report["removed"] == [f"s3://{bucket}/raw/b.csv"]
    assert report["counts"] == {"added": 0, "removed": 1, "modified": 0, "renamed": 0}


def test_versioned_bucket_records_version_ids(s3: Any, bucket: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="d/a.csv", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="d/b.csv", Body=b"two")
    uri = f"s3://{bucket}/d"
    data_change(capsys, "--s3", uri, "--write", "m.json")
    entries = {e["path"]: e for e in json.loads(Path("m.json").read_text())["entries"]}
    assert entries[f"s3://{bucket}/d/a.csv"]["version_id"] == v1

    # New bytes: a new version, and a modified entry.
    v2 = s3.put_object(Bucket=bucket, Key="d/a.csv", Body=b"one, edited")["VersionId"]
    report = data_change(capsys, "--s3", uri, "--against", "m.json", "--write", "m2.json")
    assert [m["path"] for m in report["modified"]] == [f"s3://{bucket}/d/a.csv"]
    entries = {e["path"]: e for e in json.loads(Path("m2.json").read_text())["entries"]}
    assert entries[f"s3://{bucket}/d/a.csv"]["version_id"] == v2 != v1

    # The same bytes uploaded again: a new version id, the same content: unchanged.
    s3.put_object(Bucket=bucket, Key="d/b.csv", Body=b"two")
    assert data_change(capsys, "--s3", uri, "--against", "m2.json")["changed"] is False

    # A delete marker hides the object: removed, though older versions remain.
    s3.delete_object(Bucket=bucket, Key="d/b.csv")
    report = data_change(capsys, "--s3", uri, "--against", "m2.json")
    assert report["removed"] == [f"s3://{bucket}/d/b.csv"]
    versions = s3.list_object_versions(Bucket=bucket, Prefix="d/b.csv")
    assert len(versions["Versions"]) == 2 and versions["DeleteMarkers"]


def test_pagination_past_1000_keys(s3: Any, bucket: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    def put(i: int) -> None:
        s3.put_object(Bucket=bucket, Key=f"many/{i:05d}.txt", Body=str(i).encode())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(1050)))
    report = data_change(capsys, "--s3", f"s3://{bucket}/many/", "--write", "m.json")
    assert report["files"] == 1050
    paths = [e["path"] for e in json.loads(Path("m.json").read_text())["entries"]]
    assert paths[0].endswith("/many/00000.txt") and paths[-1].endswith("/many/01049.txt")
    assert len(set(paths)) == 1050


def test_versioned_pagination_past_1000_keys(s3: Any, bucket: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

    def put(i: int) -> None:
        s3.put_object(Bucket=bucket, Key=f"v/{i:05d}.txt", Body=str(i).encode())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(1050)))
    assert data_change(capsys, "--s3", f"s3://{bucket}/v/")["files"] == 1050


def test_a_missing_bucket_is_exit_2(s3: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data-change", "--s3", "s3://no-such-bucket-mlci/x"]) == 2
    assert "no such bucket" in capsys.readouterr().err


def test_mlci_s3_endpoint_url_wins_and_a_separate_process_works(
        s3: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path) -> None:
    s3.put_object(Bucket=bucket, Key="p/a.csv", Body=b"a")
    env = {**os.environ, **s3_env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing there
           "MLCI_S3_ENDPOINT_URL": s3_env["AWS_ENDPOINT_URL"]}
    env.pop("GITHUB_ACTIONS", None)
    env.pop("GITLAB_CI", None)
    proc = subprocess.run([sys.executable, "-m", "mlci", "data-change", "--s3",
                           f"s3://{bucket}/p", "--json"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["files"] == 1


def test_an_unreachable_endpoint_is_exit_2(s3: Any, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MLCI_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    assert main(["data-change", "--s3", "s3://bucket/x"]) == 2
    assert "cannot reach S3" in capsys.readouterr().err


def test_s3_and_local_paths_together(s3: Any, bucket: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    s3.put_object(Bucket=bucket, Key="raw/a.csv", Body=b"a")
    (tmp_path / "local").mkdir()
    (tmp_path / "local/x.csv").write_text("x")
    report = data_change(capsys, "--paths", "local", "--s3", f"s3://{bucket}/raw")
    assert report["files"] == 2
    assert report["sources"] == ["local", f"s3://{bucket}/raw"]

"""The nginx JSON access log source: incremental reads by offset, attribution to the first
upstream attempt, every non-2xx an error, rotation and truncation."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlci.canary.interfaces import SourceError
from mlci.canary.sources.nginx_log import HEAD, NginxLogSource

pytestmark = pytest.mark.unit


def line(time: float, variant: str, status: int = 200, upstream_status: str | None = None,
         upstream_time: str = "0.010") -> str:
    return json.dumps({"time": time, "variant": variant, "status": status,
                       "upstream_addr": "127.0.0.1:1", "upstream_status":
                       upstream_status if upstream_status is not None else str(status),
                       "upstream_response_time": upstream_time,
                       "request_time": 0.011}) + "\n"


def write(path: Path, *lines: str) -> None:
    with open(path, "a") as log:
        log.writelines(lines)


def test_counts_per_variant_and_every_non_2xx_is_an_error(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    write(log, line(100, "stable"), line(101, "canary", 400), line(102, "canary", 200),
          line(103, "stable", 503), line(104, "canary", 201, upstream_time="0.250"))
    window, cursor = NginxLogSource(log).read({}, 100, 200)
    assert (window.stable.requests, window.stable.errors) == (2, 1)
    assert (window.canary.requests, window.canary.errors) == (3, 1)
    assert window.canary.latencies_ms == [10.0, 10.0, 250.0]
    assert cursor == {"offset": log.stat().st_size, "inode": log.stat().st_ino,
                      "head": log.read_bytes()[:HEAD].hex()}


def test_a_retried_request_counts_for_its_first_attempt(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    # the client got 200 after nginx retried elsewhere: the first attempt failed
    write(log, line(100, "canary", 200, upstream_status="502, 200",
                    upstream_time="0.001, 0.020"),
          line(101, "canary", 502, upstream_status="502", upstream_time="0.000"),
          line(102, "stable", 200, upstream_status="504 : 200"))
    window, _ = NginxLogSource(log).read({}, 0, 200)
    assert (window.canary.requests, window.canary.errors) == (2, 2)
    assert window.canary.latencies_ms == [1.0, 0.0]
    assert window.stable.errors == 1


def test_reads_only_what_was_appended_and_stops_at_the_window_end(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    write(log, *(line(100 + i, "stable") for i in range(10)))
    source = NginxLogSource(log)
    window, cursor = source.read({}, 100, 105)
    assert window.stable.requests == 5          # 100..104; 105 is the next window's
    first_size = log.stat().st_size
    window, cursor = source.read(cursor, 105, 200)
    assert window.stable.requests == 5
    # what is new, plus the log's first bytes (a rewritten log starts differently)
    assert source.bytes_read == HEAD + first_size - len("".join(line(100 + i, "stable")
                                                                for i in range(5)))
    write(log, line(120, "canary", 500))
    window, cursor = source.read(cursor, 110, 200)
    assert source.bytes_read == HEAD + len(line(120, "canary", 500))
    assert (window.canary.requests, window.stable.requests) == (1, 0)


def test_an_incomplete_last_line_waits_for_the_next_tick(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    whole = line(100, "canary", 400)
    write(log, line(99, "stable"), whole[:20])
    source = NginxLogSource(log)
    window, cursor = source.read({}, 0, 200)
    assert (window.stable.requests, window.canary.requests) == (1, 0)
    write(log, whole[20:])
    window, cursor = source.read(cursor, 0, 200)
    assert (window.canary.requests, window.canary.errors) == (1, 1)


def test_without_a_cursor_the_window_start_is_found_by_bisection(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    write(log, *(line(1000 + i, "stable") for i in range(20000)))
    source = NginxLogSource(log)
    window, _ = source.read({}, 20990, 30000)
    assert window.stable.requests == 10
    assert source.bytes_read < log.stat().st_size // 20


def test_rotation_finishes_the_old_file_then_reads_the_new_one(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    write(log, line(100, "stable"))
    source = NginxLogSource(log)
    _, cursor = source.read({}, 0, 1000)
    write(log, line(101, "canary", 500))
    os.rename(log, tmp_path / "access.log.1")       # logrotate, then nginx reopens
    write(log, line(102, "canary"))
    window, cursor = source.read(cursor, 0, 1000)
    assert (window.canary.requests, window.canary.errors) == (2, 1)
    assert cursor["inode"] == log.stat().st_ino


def test_truncation_reads_from_the_start(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    write(log, line(100, "stable"), line(101, "stable"))
    source = NginxLogSource(log)
    _, cursor = source.read({}, 0, 1000)
    log.write_text(line(102, "canary"))             # copytruncate, then one new line
    window, _ = source.read(cursor, 0, 1000)
    assert (window.canary.requests, window.stable.requests) == (1, 0)


def test_truncation_and_regrowth_past_the_offset_is_noticed(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    write(log, line(100, "stable"))
    source = NginxLogSource(log)
    _, cursor = source.read({}, 0, 1000)
    with open(log, "r+") as rewritten:      # copytruncate, then more than before is written
        rewritten.truncate(0)
    write(log, line(101, "canary", 500), line(102, "canary"))
    assert log.stat().st_size > cursor["offset"] and log.stat().st_ino == cursor["inode"]
    window, _ = source.read(cursor, 0, 1000)
    assert (window.canary.requests, window.canary.errors, window.stable.requests) == (2, 1, 0)


def test_an_unreadable_log_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot read the access log"):
        NginxLogSource(tmp_path / "missing.log").read({}, 0, 1)


def test_lines_outside_the_split_and_garbage_are_ignored(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    write(log, "not json\n", line(100, "-"), line(101, "canary"))
    window, _ = NginxLogSource(log).read({}, 0, 1000)
    assert (window.canary.requests, window.stable.requests) == (1, 0)

#!/usr/bin/env python3
"""A small, bounded traffic generator for the rollout (stdlib only; 127.0.0.1 only).

    python3 traffic.py [--url http://127.0.0.1:8765/invocations] [--rate 20]
                       [--duration 600] [--stop-file FILE] [--data data/holdout.csv]

Sends one customer per request (MLflow's `dataframe_split` JSON) at about `rate` requests a
second until `duration` seconds have passed or `stop-file` exists. A refused connection
(the router is not up yet) is counted and retried at the next tick, never fatal. Prints the
counts of answers by status at the end.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

FEATURES = ("tenure_months", "monthly_charges", "support_calls", "contract", "region",
            "last_login_days")


def payload(row: dict[str, str]) -> bytes:
    values: list[object] = []
    for name in FEATURES:
        text = row.get(name, "")
        values.append(text if name in ("contract", "region") else
                      (float(text) if text else None))
    return json.dumps({"dataframe_split": {"columns": list(FEATURES),
                                           "data": [values]}}).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8765/invocations")
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument("--stop-file", type=Path)
    parser.add_argument("--data", type=Path, default=Path(__file__).parent / "data" /
                        "holdout.csv")
    args = parser.parse_args()
    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "https") or parts.hostname not in ("127.0.0.1", "localhost"):
        print(f"traffic.py: only 127.0.0.1 or localhost, not {args.url}", file=sys.stderr)
        return 2
    with open(args.data, newline="", encoding="utf-8") as handle:
        bodies = [payload(row) for row in csv.DictReader(handle)][:500]
    counts: Counter[str] = Counter()
    end = time.monotonic() + args.duration
    gap = 1.0 / max(args.rate, 0.1)
    index = 0
    while time.monotonic() < end and not (args.stop_file and args.stop_file.exists()):
        tick = time.monotonic()
        # the URL was checked above: http(s) on the loopback interface only
        request = urllib.request.Request(args.url, data=bodies[index % len(bodies)],  # noqa: S310
                                         headers={"Content-Type": "application/json"})
        index += 1
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                answer.read()
                counts[str(answer.status)] += 1
        except urllib.error.HTTPError as error:
            counts[str(error.code)] += 1
        except (urllib.error.URLError, OSError):
            counts["refused"] += 1
        time.sleep(max(0.0, gap - (time.monotonic() - tick)))
    print("traffic.py: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

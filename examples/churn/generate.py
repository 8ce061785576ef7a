#!/usr/bin/env python3
"""Write the three data snapshots of the churn example, deterministically (stdlib only).

    python3 generate.py [OUT_DIR]        # default: ./snapshots next to this file

Each snapshot is a directory with `train.csv` (the training extract) and `holdout.csv` (the
examples every model is scored on). Columns: id, tenure_months, monthly_charges,
support_calls, contract, region, gender (the sensitive attribute: never a model input),
last_login_days (empty until the app started recording it) and churned (the label).

- v1  the first extract: a logging bug recorded support_calls as 0 for 90% of customers.
- v2  the bug fixed: the model learns what support calls say about churn (it improves).
- v3  last_login_days is recorded now (the average improves a lot), but the training
      extract lost most cancellations of the south region (a join against the southern
      billing system dropped them): the model quietly stops predicting churn there.
      The holdout is labelled from the CRM, which still has them, so the gate sees it.
"""

from __future__ import annotations

import csv
import math
import random
import sys
from pathlib import Path

REGIONS = ("north", "south", "east", "west")
CONTRACTS = ("monthly", "annual", "two_year")
COLUMNS = ("id", "tenure_months", "monthly_charges", "support_calls", "contract", "region",
           "gender", "last_login_days", "churned")
TRAIN_ROWS, HOLDOUT_ROWS = 3000, 1500


def _customer(rng: random.Random, ident: int) -> dict[str, object]:
    contract = rng.choices(CONTRACTS, weights=(5, 3, 2))[0]
    tenure = max(1, min(72, int(rng.expovariate(1 / 24)) + 1))
    charges = round(min(120.0, max(20.0, rng.gauss(70, 22))), 2)
    support = min(10, int(rng.expovariate(1 / 2.0)))
    login = round(min(60.0, rng.expovariate(1 / 12)), 1)
    region = rng.choices(REGIONS, weights=(3, 1.2, 3, 3))[0]
    logit = (-0.4 - 0.045 * (tenure - 24) + 0.02 * (charges - 70) + 0.9 * (support - 2)
             + {"monthly": 0.9, "annual": -0.5, "two_year": -1.5}[contract]
             + 0.15 * (login - 12)
             + {"north": 0.0, "south": 0.3, "east": -0.2, "west": 0.0}[region])
    churned = int(rng.random() < 1 / (1 + math.exp(-logit)))
    return {"id": f"c{ident:06d}", "tenure_months": tenure, "monthly_charges": charges,
            "support_calls": support, "contract": contract, "region": region,
            "gender": rng.choice("FM"), "last_login_days": login, "churned": churned}


def snapshot(version: int, part: str) -> list[dict[str, object]]:
    """The rows of one file: the same seed gives the same rows on every machine."""
    rng = random.Random(f"churn-v{version}-{part}")  # noqa: S311 - data, not secrets
    count = TRAIN_ROWS if part == "train" else HOLDOUT_ROWS
    start = {"train": 0, "holdout": 500_000}[part] + version * 100_000
    rows = [_customer(rng, start + i) for i in range(count)]
    for row in rows:
        if version < 3:
            row["last_login_days"] = ""           # not recorded before v3
        if version == 1 and rng.random() < 0.9:
            row["support_calls"] = 0              # the v1 logging bug
        if (version == 3 and part == "train" and row["region"] == "south"
                and row["churned"] == 1 and rng.random() < 0.85):
            row["churned"] = 0                    # the lost southern cancellations
    return rows


def write(out: Path) -> None:
    for version in (1, 2, 3):
        folder = out / f"v{version}"
        folder.mkdir(parents=True, exist_ok=True)
        for part in ("train", "holdout"):
            with open(folder / f"{part}.csv", "w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
                writer.writeheader()
                writer.writerows(snapshot(version, part))


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "snapshots")

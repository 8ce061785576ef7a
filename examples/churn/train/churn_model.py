"""The churn model's features and its MLflow pyfunc loader (numpy and pandas only).

The training script fits a logistic regression with scikit-learn and stores its
coefficients in `model.json`; this module turns a table into features the same way at
training and at serving time, so `mlflow models serve` needs no scikit-learn and no pickle
(nothing that breaks between the image's Debian packages and the server's versions).
"""

from __future__ import annotations

import json
import math
from typing import Any

NUMERIC = ("tenure_months", "monthly_charges", "support_calls", "last_login_days")
CATEGORICAL = {"contract": ("monthly", "annual", "two_year"),
               "region": ("north", "south", "east", "west")}
# gender is the sensitive attribute: it is never a model input.


def feature_names() -> list[str]:
    names = list(NUMERIC) + [f"{n}_missing" for n in NUMERIC]
    for column, values in CATEGORICAL.items():
        names += [f"{column}={v}" for v in values]
    return names


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def features(rows: list[dict[str, Any]]) -> list[list[float]]:
    """One row of raw features per record: numbers (missing as 0 plus an indicator) and one-hot
    categories (an unknown category is all zeros)."""
    out = []
    for row in rows:
        numbers = [_number(row.get(name)) for name in NUMERIC]
        line = [n if n is not None else 0.0 for n in numbers]
        line += [1.0 if n is None else 0.0 for n in numbers]
        for column, values in CATEGORICAL.items():
            line += [1.0 if str(row.get(column)) == v else 0.0 for v in values]
        out.append(line)
    return out


class ChurnModel:
    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def predict_proba(self, rows: list[dict[str, Any]]) -> list[float]:
        p = self.params
        scores = []
        for line in features(rows):
            z = p["intercept"] + sum(c * (x - m) / s for c, x, m, s in
                                     zip(p["coef"], line, p["mean"], p["scale"], strict=True))
            scores.append(1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z)))))
        return scores

    def predict(self, model_input: Any, params: Any = None) -> list[int]:
        rows = (model_input.to_dict("records") if hasattr(model_input, "to_dict")
                else list(model_input))
        return [int(s >= 0.5) for s in self.predict_proba(rows)]


def _load_pyfunc(path: str) -> ChurnModel:
    """MLflow's `loader_module` entry point: `path` is the model's `data` file."""
    with open(path, encoding="utf-8") as handle:
        return ChurnModel(json.load(handle))

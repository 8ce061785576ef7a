"""Train the churn model inside the training container (mlci's training contract).

Reads /data/train.csv and /data/holdout.csv (MLCI_DATA_DIR), writes to MLCI_OUTPUT_DIR:
metrics.json (holdout accuracy, precision, recall, f1), params.json, predictions.csv (one
row per holdout example, with the region and gender columns the gate slices by) and
model/, an MLflow pyfunc model (MLmodel + churn_model.py + model.json) that
`mlflow models serve` loads without scikit-learn.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).parent))
from churn_model import ChurnModel, feature_names, features


def read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def main() -> None:
    data = Path(os.environ.get("MLCI_DATA_DIR", "/data"))
    out = Path(os.environ.get("MLCI_OUTPUT_DIR", "/outputs"))
    seed = int(os.environ.get("MLCI_SEED", "0"))
    train, holdout = read(data / "train.csv"), read(data / "holdout.csv")
    x = np.array(features(train))
    y = np.array([int(r["churned"]) for r in train])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0          # a constant column (a feature not recorded yet)
    fit = LogisticRegression(C=1.0, max_iter=1000, random_state=seed).fit((x - mean) / scale, y)
    params = {"features": feature_names(), "coef": fit.coef_[0].tolist(),
              "intercept": float(fit.intercept_[0]), "mean": mean.tolist(),
              "scale": scale.tolist()}
    model = ChurnModel(params)
    scores = model.predict_proba(holdout)
    labels = [int(r["churned"]) for r in holdout]
    predicted = [int(s >= 0.5) for s in scores]
    tp = sum(p and t for p, t in zip(predicted, labels, strict=True))
    precision = tp / max(1, sum(predicted))
    recall = tp / max(1, sum(labels))
    right = sum(p == t for p, t in zip(predicted, labels, strict=True))
    metrics = {"accuracy": right / len(labels),
               "precision": precision, "recall": recall,
               "f1": 2 * precision * recall / max(1e-12, precision + recall),
               "train_rows": float(len(train))}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (out / "params.json").write_text(json.dumps({"C": 1.0, "seed": seed}))
    with open(out / "predictions.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "churned", "prediction", "score", "region", "gender"])
        for row, p, s in zip(holdout, predicted, scores, strict=True):
            writer.writerow([row["id"], row["churned"], p, f"{s:.6f}", row["region"],
                             row["gender"]])
    folder = out / "model"
    (folder / "code").mkdir(parents=True)
    shutil.copy(Path(__file__).parent / "churn_model.py", folder / "code" / "churn_model.py")
    (folder / "model.json").write_text(json.dumps(params, indent=2))
    python = ".".join(map(str, sys.version_info[:3]))
    # No signature: the model picks its own columns from whatever table it is given (the
    # id, the label and the sensitive attribute are never used), so the same model scores a
    # holdout file (mlci evaluate) and a request of feature columns (mlflow models serve).
    (folder / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: churn_model\n    code: code\n"
        f"    data: model.json\n    python_version: {python}\n")
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()

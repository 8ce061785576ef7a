"""`mlci evaluate`: score a registered model on a dataset and write a predictions file for the gate.

    mlci evaluate --model models:/churn@champion --data holdout.csv --out baseline-preds.csv \\
                  [--id-column id] [--label-column label] [--score] [--keep region gender]

This is how the production model is scored on *today's* holdout, so that the gate compares
candidate and baseline on exactly the same examples (paired intervals, slices, fairness).

Where it is scored (``--engine``): by default in the training run's own image when the
model's run recorded one (``mlci train`` in a container): the model's ``python_function``
``loader_module`` is loaded there by a standard-library scorer, so the image needs python3
and the model's own imports, not MLflow (`mlci.gate.inimage`). A recorded image that is not
here and has no registry digest is exit 2. Otherwise, and with ``--engine local``, the model
(``models:/<name>@<alias>``, ``models:/<name>/<version>``, ``runs:/<id>/<path>``, or a local
model directory) is loaded on this host with ``mlflow.pyfunc``; this needs the full
``mlflow`` package with pandas (``pip install mlflow``), not just mlci's ``mlflow-skinny``.

Input columns given to the model: the model signature's input names when it has a signature,
else every column except the id, the label and ``--exclude`` columns.

The output file (CSV, or Parquet when ``--out`` ends in ``.parquet``/``.pq``) has, in order:

- the id column and the label column, under their names in the data;
- ``prediction`` (``--prediction-column``): the pyfunc ``predict`` output, one value a row;
- ``score`` (``--score-column``) with ``--score``: the probability of the positive class,
  from the underlying model's ``predict_proba`` (the sklearn flavor's raw model, or a custom
  ``PythonModel`` that defines ``predict_proba``). The positive class is ``--positive-label``,
  else the second of the model's two ``classes_`` (sklearn's convention: 1 for 0/1 labels).
  A model without ``predict_proba`` or with more than two classes is an input error: a score
  is never guessed;
- the ``--keep`` columns, copied from the data (slice and fairness columns for the gate).

With ``--spec gate.yml``, the four column names default to the spec's ``predictions:``
block, so the file always matches what the gate will read. Exit 0 on success, 2 on bad input
or an unreachable registry.
"""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="URI",
                        help="models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/PATH or a "
                        "local model directory")
    parser.add_argument("--data", required=True, metavar="FILE",
                        help="dataset to score: CSV, or Parquet (.parquet/.pq)")
    parser.add_argument("--out", required=True, metavar="FILE",
                        help="predictions file to write: CSV, or Parquet (.parquet/.pq)")
    parser.add_argument("--spec", metavar="FILE", default=None,
                        help="gate spec whose predictions: block names the columns")
    parser.add_argument("--id-column", metavar="NAME", default=None,
                        help="example id column (default: the spec's, else 'id')")
    parser.add_argument("--label-column", metavar="NAME", default=None,
                        help="true label column (default: the spec's, else 'label')")
    parser.add_argument("--prediction-column", metavar="NAME", default=None,
                        help="output column of predictions (default: the spec's, else "
                        "'prediction')")
    parser.add_argument("--score-column", metavar="NAME", default=None,
                        help="output column of scores (default: the spec's, else 'score')")
    parser.add_argument("--score", action="store_true",
                        help="also write the positive-class probability (predict_proba)")
    parser.add_argument("--positive-label", metavar="VALUE", default=None,
                        help="class whose probability is the score (default: the second of "
                        "the model's two classes)")
    parser.add_argument("--keep", nargs="+", metavar="COLUMN", default=[],
                        help="columns copied to the output (e.g. slice and fairness columns)")
    parser.add_argument("--exclude", nargs="+", metavar="COLUMN", default=[],
                        help="columns never given to the model (when it has no signature)")
    parser.add_argument("--engine", choices=["auto", "docker", "podman", "local"],
                        default="auto",
                        help="auto (default): score in the training run's own image when the "
                        "run recorded one (mlci train), else on this host; docker/podman: in "
                        "that image with this engine; local: with this host's libraries")


def run(args: argparse.Namespace) -> int:
    from mlci import ci
    from mlci.config import load_config
    from mlci.gate.scoring import Scoring, column_names, evaluate

    names = column_names(args.spec, {key: getattr(args, f"{key}_column")
                                     for key in ("id", "label", "prediction", "score")})
    config = load_config(args)
    result = evaluate(Scoring(model=args.model, data=args.data, out=args.out, names=names,
                              keep=list(args.keep), exclude=list(args.exclude), score=args.score,
                              positive_label=args.positive_label,
                              tracking_uri=config.registry.tracking_uri, engine=args.engine))
    platform = ci.current()
    platform.set_outputs({"predictions": str(args.out), "rows": str(len(result))})
    if args.json:
        print(json.dumps({"model": args.model, "data": args.data, "out": str(args.out),
                          "rows": len(result), "columns": list(result.columns)}, indent=2))
    else:
        count = f"{len(result)} prediction" + ("" if len(result) == 1 else "s")
        print(f"mlci evaluate: {count} of {args.model} -> {args.out}")
    return 0

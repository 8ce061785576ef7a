"""Prediction files: CSV and Parquet, the id join, and errors that name the ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlci.errors import InputError
from mlci.gate import predictions as P
from mlci.gate import tables as T
from mlci.gate.spec import PredictionColumns
from tests.unit.gate.gate_helpers import write_predictions

pytestmark = pytest.mark.unit
COLS = PredictionColumns(score="score")


def test_csv_loads_and_aligns_by_id(tmp_path: Path) -> None:
    cand = write_predictions(tmp_path / "c.csv", [1, 2, 3], [1, 0, 1], [1, 0, 0],
                             [0.9, 0.2, 0.4], region=["n", "s", ""])
    base = write_predictions(tmp_path / "b.csv", [3, 1, 2], [1, 1, 0], [1, 0, 1],
                             [0.8, 0.3, 0.6])
    c = P.load_predictions(str(cand), COLS, ["region"])
    b = P.align(c, P.load_predictions(str(base), COLS, [], task=c.task), "id")
    assert c.task == "classification"
    assert list(b.prediction) == [0, 1, 1] and list(b.score) == [0.3, 0.6, 0.8]  # type: ignore[arg-type]
    codes, names = c.categories["region"]
    assert [names[i] if i >= 0 else None for i in codes] == ["n", "s", None]


@pytest.mark.parametrize("ids", [["a", "b", "c", "d"], ["1", "2", "3", "04"], [1, 2, 3, 4]])
def test_stdlib_reader_matches_pyarrow(tmp_path: Path, ids: list[object]) -> None:
    path = write_predictions(tmp_path / "c.csv", ids, [1, 0, 1, 1], [1, 0, 0, 1],
                             [0.9, 0.2, 0.4, ""], region=["x", "NA", "y", ""])
    wanted = ["id", "label", "prediction", "score", "region"]
    plain = T._read_csv(path, wanted, {"region"}, "id")
    arrow = T._read_arrow(path, wanted, {"region"}, "id")
    for name in ("label", "prediction"):
        assert np.array_equal(plain[name], arrow[name])
    assert np.array_equal(plain["score"], arrow["score"], equal_nan=True)
    assert plain["id"].tolist() == arrow["id"].tolist() == ids
    assert plain["id"].dtype == arrow["id"].dtype
    # only an empty field is missing: "NA" is a value (North America)
    assert plain["region"][0].tolist() == arrow["region"][0].tolist() == [0, 1, 2, -1]
    assert plain["region"][1] == arrow["region"][1] == ["x", "NA", "y"]


def test_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": ["x", "y"], "label": [0, 1], "prediction": [0, 1],
                             "score": [0.1, 0.9], "g": ["a", None]}), tmp_path / "p.parquet")
    p = P.load_predictions(str(tmp_path / "p.parquet"), COLS, ["g"])
    assert list(p.ids) == ["x", "y"] and list(p.label) == [0, 1]
    assert p.categories["g"][0].tolist() == [0, -1]


def test_parquet_without_pyarrow_is_a_clear_error(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def no_pyarrow(name: str, *args: object, **kwargs: object) -> object:
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError(name)
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    (tmp_path / "p.parquet").write_bytes(b"PAR1")
    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(InputError, match=r"mlci\[parquet\]"):
        P.read_table(str(tmp_path / "p.parquet"), ["id"], set(), "id")
    csv_path = write_predictions(tmp_path / "c.csv", [1], [1], [1])
    assert P.read_table(str(csv_path), ["id"], set(), "id")["id"].tolist() == [1]


@pytest.mark.parametrize(("cand_ids", "base_ids", "words"), [
    ([1, 2, 3], [1, 2], "candidate's file but not the baseline's: 3"),
    ([1, 2], [1, 2, 9], "baseline's file but not the candidate's: 9"),
    ([1, 2, 4], [1, 2, 5], "not the candidate's: 5"),
])
def test_rows_missing_on_either_side(tmp_path: Path, cand_ids: list[int], base_ids: list[int],
                                     words: str) -> None:
    c = P.load_predictions(str(write_predictions(tmp_path / "c.csv", cand_ids,
                                                 [1] * len(cand_ids), [1] * len(cand_ids))),
                           COLS.model_copy(update={"score": None}), [])
    b = P.load_predictions(str(write_predictions(tmp_path / "b.csv", base_ids,
                                                 [1] * len(base_ids), [1] * len(base_ids))),
                           COLS.model_copy(update={"score": None}), [])
    with pytest.raises(InputError, match=words) as caught:
        P.align(c, b, "id")
    assert caught.value.key == "id"


def test_duplicate_ids(tmp_path: Path) -> None:
    cols = PredictionColumns()
    c = P.load_predictions(str(write_predictions(tmp_path / "c.csv", [1, 2, 2, 7, 7],
                                                 [1] * 5, [1] * 5)), cols, [])
    b = P.load_predictions(str(write_predictions(tmp_path / "b.csv", [1, 2, 3, 4, 5],
                                                 [1] * 5, [1] * 5)), cols, [])
    with pytest.raises(InputError, match="duplicate ids 2, 7"):
        P.align(c, b, "id")


def test_label_mismatch_names_ids(tmp_path: Path) -> None:
    cols = PredictionColumns()
    c = P.load_predictions(str(write_predictions(tmp_path / "c.csv", ["a", "b", "c"],
                                                 [1, 0, 1], [1, 1, 1])), cols, [])
    b = P.load_predictions(str(write_predictions(tmp_path / "b.csv", ["c", "b", "a"],
                                                 [1, 1, 1], [1, 1, 1])), cols, [])
    with pytest.raises(InputError, match=r"labels differ.*'b'"):
        P.align(c, b, "id")


@pytest.mark.parametrize(("labels", "preds", "scores", "words"), [
    ([0, 1, 2], [0, 1, 1], None, "set predictions.task"),  # not 0/1, not fractional
    ([0.5, 1, 2], [0, 1, 1], None, None),  # a fractional label: regression (auto)
    ([0, 1, 1], [0, 1, 2], None, "expected binary labels"),
    ([0, 1, ""], [0, 1, 1], None, "missing or non-finite"),
    ([0, 1, 1], [0, 1, 1], [0.1, 1.5, 0.3], "probabilities"),
    ([0, 1, 1], [0, 1, 1], [0.1, "x", 0.3], "not a number"),
])
def test_bad_values(tmp_path: Path, labels: list[object], preds: list[object],
                    scores: list[object] | None, words: str | None) -> None:
    path = write_predictions(tmp_path / "c.csv", [1, 2, 3], labels, preds, scores)
    cols = PredictionColumns(score="score" if scores else None)
    if words is None:
        assert P.load_predictions(str(path), cols, []).task == "regression"
        return
    with pytest.raises(InputError, match=words):
        P.load_predictions(str(path), cols, [])


def test_missing_column_and_file(tmp_path: Path) -> None:
    path = write_predictions(tmp_path / "c.csv", [1], [1], [1])
    with pytest.raises(InputError, match="column 'score' not found") as caught:
        P.load_predictions(str(path), COLS, [])
    assert caught.value.file == str(path)
    with pytest.raises(InputError, match="not found"):
        P.load_predictions(str(tmp_path / "nope.csv"), COLS, [])


def test_positive_label_and_regression(tmp_path: Path) -> None:
    path = write_predictions(tmp_path / "c.csv", [1, 2, 3], ["yes", "no", "yes"],
                             ["yes", "yes", "no"])
    p = P.load_predictions(str(path), PredictionColumns(positive_label="yes"), [])
    assert p.task == "classification" and list(p.label) == [1, 0, 1]
    assert list(p.prediction) == [1, 1, 0]
    path = write_predictions(tmp_path / "r.csv", [1, 2], [1.5, 2.0], [1.0, 2.5])
    assert P.load_predictions(str(path), PredictionColumns(), []).task == "regression"

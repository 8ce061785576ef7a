"""Issue 16 items 4, 6 and 8: drift chosen by type, defaults that do not fire on noise, the
share of drifted columns as a rule, untyped numeric columns compared as numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.unit.data.contract_helpers import clean_environment, rules, validate, write_parquet

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_environment(monkeypatch, tmp_path)


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
        current: dict[str, Any], reference: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    write_parquet(tmp_path / "ref.parquet", reference)
    spec = tmp_path / "contract.yml"
    spec.write_text(text, encoding="utf-8")
    return validate(capsys, spec, [write_parquet(tmp_path / "cur.parquet", current)])


def frame(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, Any]:
    probs = [0.5, 0.3, 0.2] if not shift else [0.3, 0.3, 0.4]
    return {"x": rng.normal(shift, 1, n), "g": rng.choice(["a", "b", "c"], n, p=probs).tolist()}


TYPED = "columns:\n  x: {type: float}\n  g: {type: category}\ndrift: {reference: ref.parquet}\n"


@pytest.mark.parametrize("n, numeric, categorical", [
    (500, "ks", "chi2"), (5000, "wasserstein", "jensenshannon")])
def test_auto_picks_a_test_on_small_data_and_a_distance_on_large(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], n: int, numeric: str,
        categorical: str) -> None:
    rng = np.random.default_rng(1)
    code, report = run(tmp_path, capsys, TYPED, frame(rng, n), frame(rng, n))
    assert code == 0, report
    assert report["drift"]["x"]["method"] == numeric
    assert report["drift"]["g"]["method"] == categorical
    code, report = run(tmp_path, capsys, TYPED, frame(rng, n, shift=0.6), frame(rng, n))
    assert code == 1
    assert {rule for _, rule in rules(report)} == {
        {"ks": "drift.ks_pvalue", "wasserstein": "drift.wasserstein"}[numeric],
        {"chi2": "drift.chi2_pvalue", "jensenshannon": "drift.jensenshannon"}[categorical]}


@pytest.mark.parametrize("method", ["ks", "wasserstein", "psi", "both"])
def test_each_numeric_method_can_be_chosen(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           method: str) -> None:
    rng = np.random.default_rng(2)
    text = TYPED.replace("ref.parquet}", f"ref.parquet, method: {{numeric: {method}, "
                         "categorical: psi}}")
    assert run(tmp_path, capsys, text, frame(rng, 3000), frame(rng, 3000))[0] == 0
    code, report = run(tmp_path, capsys, text, frame(rng, 3000, 1.0), frame(rng, 3000))
    assert code == 1 and ("g", "drift.psi") in rules(report)
    assert report["drift"]["x"]["method"] == {"both": "ks+psi"}.get(method, method)


def test_defaults_do_not_fire_on_noise(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 16.6: a random 89/89 split of the wine data flagged 11 of 14 columns through a
    default KS-statistic limit the contract never asked for."""
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True).frame
    order = np.random.default_rng(0).permutation(len(wine))
    half = len(wine) // 2
    cur = wine.iloc[order[:half]].reset_index(drop=True)
    ref = wine.iloc[order[half:2 * half]].reset_index(drop=True)
    names = [c for c in wine.columns if c != "target"]
    text = "columns:\n" + "".join(f"  {c}: {{type: float}}\n" for c in names) + \
        "drift: {reference: ref.parquet, method: ks, ks_pvalue_min: 0.01}\n"
    code, report = run(tmp_path, capsys, text, {c: cur[c].to_numpy() for c in names},
                       {c: ref[c].to_numpy() for c in names})
    assert code == 0, report["violations"]
    assert all("ks_statistic" in report["drift"][c] for c in names)


def test_the_share_of_drifted_columns_is_a_rule(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(3)
    ref = {f"c{i}": rng.normal(0, 1, 2000) for i in range(4)}
    cur = {f"c{i}": rng.normal(1.0 if i == 0 else 0, 1, 2000) for i in range(4)}
    text = "columns:\n" + "".join(f"  c{i}: {{type: float}}\n" for i in range(4)) + \
        "drift: {reference: ref.parquet, max_drifted_share: 0.3}\n"
    code, report = run(tmp_path, capsys, text, cur, ref)
    # One column of four drifted: a warning; the share, 0.25, is within the rule.
    assert code == 0 and rules(report, "warnings") == {("c0", "drift.wasserstein")}
    cur["c1"] = rng.normal(1.0, 1, 2000)
    code, report = run(tmp_path, capsys, text, cur, ref)
    assert code == 1
    [share] = report["violations"]
    assert share["rule"] == "drift.max_drifted_share"
    assert share["observed"] == "0.5 (2 of 4 columns: c0, c1)"


def test_an_untyped_numeric_column_drifts_as_a_number(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 16.4: untyped, each float was its own category: PSI 6.74 on two halves."""
    values = np.random.default_rng(4).normal(size=4000)
    text = "columns:\n  x: {}\ndrift: {reference: ref.parquet, method: psi, columns: [x]}\n"
    code, report = run(tmp_path, capsys, text, {"x": values[:2000]}, {"x": values[2000:]})
    assert code == 0, report
    assert report["drift"]["x"]["psi"] < 0.05


def test_psi_rule_sees_missing_values(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    values = np.random.default_rng(5).normal(size=2000)
    holes = values.copy()
    holes[::2] = np.nan
    text = "columns:\n  x: {type: float}\ndrift: {reference: ref.parquet, method: psi}\n"
    code, report = run(tmp_path, capsys, text, {"x": holes}, {"x": values})
    assert code == 1 and rules(report) == {("x", "drift.psi")}


def test_a_column_picks_its_own_method(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(6)
    text = TYPED.replace("{type: float}", "{type: float, drift: psi}").replace(
        "{type: category}", "{type: category, drift: false}")
    code, report = run(tmp_path, capsys, text, frame(rng, 3000), frame(rng, 3000))
    assert code == 0 and set(report["drift"]) == {"x"}
    assert report["drift"]["x"]["method"] == "psi"

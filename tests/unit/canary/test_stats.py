"""The canary's statistics against scipy on known cases."""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats as sp

from mlci.canary import stats


@pytest.mark.parametrize(("ec", "nc", "es", "ns"), [
    (1, 40, 0, 400), (3, 40, 1, 400), (0, 50, 2, 500), (5, 30, 0, 300), (2, 10, 1, 10)])
def test_fisher_matches_scipy_when_counts_are_small(ec: int, nc: int, es: int, ns: int) -> None:
    expected = sp.fisher_exact([[ec, nc - ec], [es, ns - es]], alternative="greater").pvalue
    assert stats.fisher_greater(ec, nc, es, ns) == pytest.approx(expected, rel=1e-9)
    assert stats.proportion_worse(ec, nc, es, ns) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("ec", "nc", "es", "ns"), [
    (30, 400, 20, 4000), (50, 1000, 40, 1000), (12, 200, 90, 2000)])
def test_pooled_z_test_matches_the_normal_formula(ec: int, nc: int, es: int, ns: int) -> None:
    pooled = (ec + es) / (nc + ns)
    z = (ec / nc - es / ns) / math.sqrt(pooled * (1 - pooled) * (1 / nc + 1 / ns))
    assert stats.proportion_worse(ec, nc, es, ns) == pytest.approx(sp.norm.sf(z), rel=1e-9)


def test_margin_uses_agresti_caffo() -> None:
    pc, ps = 21 / 402, 11 / 4002
    se = math.sqrt(pc * (1 - pc) / 402 + ps * (1 - ps) / 4002)
    expected = sp.norm.sf((pc - ps - 0.01) / se)
    assert stats.proportion_worse(20, 400, 10, 4000, margin=0.01) == pytest.approx(expected)


def test_one_error_in_forty_is_not_evidence_but_a_real_regression_is() -> None:
    assert stats.proportion_worse(1, 40, 4, 400) > 0.05
    assert stats.proportion_worse(12, 100, 10, 1000) < 0.001


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mann_whitney_matches_scipy_asymptotic(seed: int) -> None:
    rng = random.Random(seed)
    canary = [round(rng.gauss(12, 3), 1) for _ in range(60)]     # rounded: ties
    stable = [round(rng.gauss(10, 3), 1) for _ in range(300)]
    expected = sp.mannwhitneyu(canary, stable, alternative="greater", method="asymptotic",
                               use_continuity=True).pvalue
    assert stats.mann_whitney_greater(canary, stable) == pytest.approx(expected, rel=1e-9)


def test_mann_whitney_heavy_ties_matches_scipy() -> None:
    canary = [1, 1, 2, 2, 2, 3, 3, 3, 3, 4]
    stable = [1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 1, 2]
    expected = sp.mannwhitneyu(canary, stable, alternative="greater", method="asymptotic").pvalue
    assert stats.mann_whitney_greater(canary, stable) == pytest.approx(expected, rel=1e-9)
    assert stats.mann_whitney_greater([5.0] * 5, [5.0] * 5) == 1.0


def test_latency_regression_margin_shifts_the_stable_sample() -> None:
    rng = random.Random(7)
    stable = [rng.uniform(10, 20) for _ in range(400)]
    slower = [v * 1.1 for v in (rng.uniform(10, 20) for _ in range(400))]
    assert stats.latency_worse(slower, stable) < 0.05                       # 10% slower: seen
    assert stats.latency_worse(slower, stable, margin=0.2, relative=True) > 0.5   # allowed 20%
    expected = sp.mannwhitneyu(slower, [v + 1.0 for v in stable], alternative="greater",
                               method="asymptotic").pvalue
    assert stats.latency_worse(slower, stable, margin=1.0) == pytest.approx(expected, rel=1e-9)


def test_percentile_matches_numpy_linear() -> None:
    import numpy as np

    values = [random.Random(3).random() * 100 for _ in range(101)]
    for q in (50, 90, 99):
        assert stats.percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert math.isnan(stats.percentile([], 50))

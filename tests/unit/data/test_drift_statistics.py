"""The drift statistics against scipy (a test dependency only) across their whole range."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from mlci.data import drift
from mlci.data.distributions import chi2_sf, kolmogorov_sf, ks_2samp_exact_sf

pytestmark = pytest.mark.unit


def test_kolmogorov_distribution_matches_scipy_everywhere() -> None:
    # The old series stopped after 100 terms for 0.001 < x < 0.035 and returned a partial sum.
    grid = np.concatenate([np.geomspace(1e-4, 0.2, 400), np.linspace(0.2, 3, 600),
                           np.linspace(3, 9, 100)])
    for x in grid:
        expected = stats.kstwobign.sf(x)
        assert kolmogorov_sf(float(x)) == pytest.approx(expected, rel=1e-10, abs=1e-300), x


@pytest.mark.parametrize("n, m", [(5, 7), (10, 10), (30, 40), (89, 89), (200, 150),
                                  (1000, 1000), (37, 999)])
def test_exact_two_sample_p_value_matches_scipy(n: int, m: int) -> None:
    rng = np.random.default_rng(n * m)
    for shift in (0.0, 0.3, 1.0):
        a, b = rng.normal(size=n), rng.normal(shift, size=m)
        ref = stats.ks_2samp(a, b, method="exact")
        d, p = drift.ks_2samp(a, b)
        assert d == pytest.approx(ref.statistic, abs=5e-7)
        if ref.pvalue > 1e-6:
            assert p == pytest.approx(ref.pvalue, rel=1e-6)
            assert ks_2samp_exact_sf(ref.statistic, n, m) == pytest.approx(ref.pvalue, rel=1e-6)
        else:  # the far tail: the limiting distribution
            assert p < 1e-6


@pytest.mark.parametrize("n, m, rel", [(1500, 1200, 1e-6), (5000, 5000, 1e-6),
                                       (20000, 10000, 0.03), (200000, 100000, 0.03)])
def test_large_sample_p_value_is_close_to_scipy(n: int, m: int, rel: float) -> None:
    # Up to 10,000 values both are exact; above, scipy's finite-n asymptotic (kstwo) and
    # the limiting distribution differ by about 1/sqrt(n).
    rng = np.random.default_rng(n)
    for shift in (0.0, 0.02, 0.05, 0.1):
        a, b = rng.normal(size=n), rng.normal(shift, size=m)
        ref = stats.ks_2samp(a, b)
        d, p = drift.ks_2samp(a, b)
        assert d == pytest.approx(ref.statistic, abs=5e-7)
        if ref.pvalue > 1e-6:
            assert p == pytest.approx(ref.pvalue, rel=rel)
        else:
            assert p < 1e-5


def test_near_identical_samples_are_not_drift() -> None:
    """Issue 16.1: one changed row in 500,000 gave p = 0.020; 5 rows appended to 1M, 0.028."""
    rng = np.random.default_rng(0)
    ref = rng.normal(size=500_000)
    cur = ref.copy()
    cur[0] += 1.0
    d, p = drift.ks_2samp(ref, cur)
    assert d == pytest.approx(stats.ks_2samp(ref, cur).statistic)
    assert p == pytest.approx(1.0)
    big = rng.normal(size=1_000_000)
    d, p = drift.ks_2samp(big, np.concatenate([big, rng.normal(size=5)]))
    assert p == pytest.approx(1.0)


def test_chi2_tail_matches_scipy() -> None:
    for dof in (1, 2, 3, 5, 10, 50, 300):
        for x in np.concatenate([np.geomspace(1e-3, 5, 60), np.linspace(5, 800, 200)]):
            expected = stats.chi2.sf(x, dof)
            if expected > 1e-300:
                assert chi2_sf(float(x), dof) == pytest.approx(expected, rel=1e-9), (x, dof)


def test_chi2_homogeneity_matches_scipy() -> None:
    ref = {"a": 500, "b": 300, "c": 200}
    cur = {"a": 450, "b": 330, "c": 190, "d": 30}
    statistic, p = drift.chi2(ref, cur)
    table = np.array([[500, 300, 200, 0], [450, 330, 190, 30]])
    expected = stats.chi2_contingency(table, correction=False)
    assert statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)


def test_jensen_shannon_and_wasserstein_match_scipy() -> None:
    ref, cur = {"a": 5, "b": 3, None: 2}, {"a": 2, "b": 7, "c": 1}
    p = np.array([5, 3, 0, 2]) / 10
    q = np.array([2, 7, 1, 0]) / 10
    assert drift.jensenshannon(ref, cur) == pytest.approx(jensenshannon(p, q), rel=1e-9)
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=3000), rng.normal(0.3, 1.2, size=2000)
    assert drift.wasserstein(a, b) == pytest.approx(
        stats.wasserstein_distance(a, b) / np.std(a), rel=1e-9)


def _psi(p: list[float], q: list[float]) -> float:
    p_arr, q_arr = np.maximum(np.array(p), 1e-4), np.maximum(np.array(q), 1e-4)
    p_arr, q_arr = p_arr / p_arr.sum(), q_arr / q_arr.sum()
    return float(np.sum((q_arr - p_arr) * np.log(q_arr / p_arr)))


def test_psi_sees_a_heavy_value_move() -> None:
    """Issue 16.2: zeros falling from 92% to 41% had PSI 0 (merged decile edges)."""
    rng = np.random.default_rng(2)
    ref = np.where(rng.random(100_000) < 0.92, 0.0, rng.exponential(10, 100_000))
    cur = np.where(rng.random(100_000) < 0.41, 0.0, rng.exponential(50, 100_000))
    assert drift.psi_numeric(ref, cur) > 1.0
    # A constant column moving from 5 to 7: two point bins, both floored, renormalised.
    psi = drift.psi_numeric(np.full(1000, 5.0), np.full(1000, 7.0))
    assert psi == pytest.approx(_psi([1, 0], [0, 1]))
    assert math.isfinite(psi) and psi > 5


def test_psi_counts_missing_values_as_a_category() -> None:
    values = np.arange(1000, dtype=float)
    assert drift.psi_numeric(values, values) == pytest.approx(0.0)
    assert drift.psi_numeric(values, values, 10, ref_missing=0, cur_missing=1000) == \
        pytest.approx(_psi([0.1] * 10 + [0.0], [0.05] * 10 + [0.5]), abs=5e-7)
    # The share of nulls going from 0% to 50% alone is drift.
    assert drift.psi_numeric(values, values, 10, 0, 1000) > 0.2
    assert drift.psi_categorical({"a": 50, "b": 50}, {"a": 50, "b": 50, None: 100}) > 0.2


def test_psi_matches_a_hand_computation() -> None:
    ref = {"a": 60, "b": 40}
    cur = {"a": 30, "b": 50, "c": 20}
    assert drift.psi_categorical(ref, cur) == pytest.approx(
        _psi([0.6, 0.4, 0.0], [0.3, 0.5, 0.2]), abs=5e-7)
    # Continuous values: every decile of the reference is one bin.
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=10_000), rng.normal(0.5, size=10_000)
    edges = np.quantile(a, np.linspace(0, 1, 11))[1:-1]
    pa = np.bincount(np.searchsorted(edges, a, side="right"), minlength=10) / a.size
    pb = np.bincount(np.searchsorted(edges, b, side="right"), minlength=10) / b.size
    assert drift.psi_numeric(a, b) == pytest.approx(_psi(list(pa), list(pb)), abs=5e-7)

"""The KS statistic's fast paths (integer samples counted, decimal samples counted on their
grid, two threads) give exactly the statistic of the plain sorted computation."""

from __future__ import annotations

import numpy as np
import pytest

from mlci.data import drift

pytestmark = pytest.mark.unit


def _plain(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.sort(drift._clean(a)), np.sort(drift._clean(b))
    return drift._ks_sorted(a, b)


@pytest.mark.parametrize("seed", range(12))
def test_decimal_samples_counted_on_their_grid(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = (int(x) for x in rng.integers(110_000, 160_000, 2))
    decimals = seed % 7
    a = rng.normal(50, 10, n).round(decimals)
    b = rng.normal(50 + seed / 100, 10, m).round(decimals)
    if seed % 3 == 0:
        a[::5] = 0.0  # heavy ties
    if seed % 4 == 0:
        b = -b
    if seed % 5 == 0:
        a[::11] = np.nan
    assert drift._decimal_grid(drift._clean(a), drift._clean(b)) is not None
    assert drift.ks_2samp(a, b)[0] == _plain(a, b)


def test_values_off_any_short_grid_are_sorted() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 150_000), rng.normal(0, 1, 150_000)
    assert drift._decimal_grid(a, b) is None
    near = a.round(3)
    near[7] += 1e-12  # one value off the grid: the whole sample is not on it
    assert drift._decimal_grid(near, b.round(3)) is None
    assert drift.ks_2samp(near, b.round(3))[0] == _plain(near, b.round(3))


@pytest.mark.parametrize("span", [10, 5000, 10_000_000])
def test_integer_samples_counted_or_sorted(span: int) -> None:
    rng = np.random.default_rng(span)
    a, b = rng.integers(-span, span, 120_000), rng.integers(-span, span + 3, 90_000)
    assert drift.ks_2samp(a, b) == drift.ks_2samp(a.astype(float) + 0.5, b.astype(float) + 0.5)
    assert drift.ks_2samp(a, b)[0] == _plain(a.astype(float), b.astype(float))

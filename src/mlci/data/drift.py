"""Drift statistics between a reference sample and a current one, with numpy only.

Numeric columns (values without nulls, as float arrays):
- `ks_2samp`: the two-sample Kolmogorov-Smirnov statistic D and its two-sided p-value
  (exact lattice-path count when both samples have at most 10,000 values, as scipy's
  `method="auto"`; else, and below p = 1e-6, the limiting Kolmogorov distribution at
  sqrt(nm/(n+m)) D).
- `wasserstein`: the first Wasserstein distance (the area between the two empirical CDFs),
  divided by the reference's standard deviation (at least 0.001) so one limit fits any unit.
- `psi_numeric`: the population stability index over bins in which every heavy value (one
  that holds at least 1/bins of either sample) is a bin of its own and the rest is cut at the
  reference's quantiles; missing values are a bin of their own.

Categorical columns (category -> count, missing values counted under `None`):
- `chi2`: the chi-square test of homogeneity of the 2 x k table (no continuity correction).
- `jensenshannon`: the Jensen-Shannon distance (natural log, as scipy; between 0 and 0.83).
- `psi_categorical`.

PSI = sum((cur - ref) ln(cur / ref)); an empty bin gets a proportion of 1e-4 and the
proportions are renormalised to sum to 1. Rules of thumb: < 0.1 stable, 0.1-0.25 moderate,
> 0.25 major.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from mlci.data.distributions import chi2_sf, kolmogorov_sf, ks_2samp_exact_sf

FLOOR = 1e-4
EXACT_MAX = 10_000
TAIL = 1e-6
PARALLEL_MIN = 200_000  # below, a helper thread costs more than it saves
Counts = Mapping[Any, int]
T = TypeVar("T")


def _clean(values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    clean: np.ndarray = arr[~np.isnan(arr)]
    return clean


def ks_2samp(reference: Any, current: Any) -> tuple[float, float]:
    """(statistic, two-sided p-value); NaN for an empty sample."""
    ref, cur = np.asarray(reference), np.asarray(current)
    if ref.dtype.kind in "iu" and cur.dtype.kind in "iu" and ref.size and cur.size:
        d = _ks_counted(ref, cur)
        n, m = ref.size, cur.size
    else:
        a, b = _clean(ref), _clean(cur)
        n, m = a.size, b.size
        if n == 0 or m == 0:
            return math.nan, math.nan
        grid = _decimal_grid(a, b) if n + m >= PARALLEL_MIN else None
        d = _ks_counted(*grid) if grid is not None else _ks_sorted(a, b)
    asymptotic = kolmogorov_sf(math.sqrt(n * m / (n + m)) * d)
    # Far in the tail the exact count would cancel (1 - P(inside) with P ~ 1) and its
    # path counts leave the float range; any limit is long passed there anyway.
    if max(n, m) <= EXACT_MAX and asymptotic > TAIL:
        return d, ks_2samp_exact_sf(d, n, m)
    return d, asymptotic


def _gap(own: np.ndarray, other: np.ndarray) -> float:
    """max |F_own - F_other| over the points of `own` (both sorted)."""
    return float(np.max(np.abs(_ranks(own) / own.size -
                               np.searchsorted(other, own, side="right") / other.size)))


def _decimal_grid(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Both samples as integers k with each value exactly the float nearest k / 10**digits
    (values written with a few decimals), or None. The map keeps order and ties, so D from
    the integers is D from the values (it depends on nothing else)."""
    prefix = np.concatenate([a[:1000], b[:1000]])
    for digits in range(7):
        scale = 10.0 ** digits
        if np.array_equal(np.rint(prefix * scale) / scale, prefix):
            break
    else:
        return None
    scale = 10.0 ** digits
    if max(float(np.max(np.abs(a))), float(np.max(np.abs(b)))) * scale >= 2.0 ** 52:
        return None  # (beyond, not every integer is a float)
    grid = []
    for values in (a, b):
        scaled = np.rint(values * scale)
        if not np.array_equal(scaled / scale, values):
            return None
        grid.append(scaled.astype(np.int64))
    return grid[0], grid[1]


def _ks_counted(a: np.ndarray, b: np.ndarray) -> float:
    """D for integer samples over a short range, from counts (no sort): the CDFs are
    evaluated at every integer of the range, where between sample points they equal their
    value at the point below, so the maximum (and each ratio) is the sorted path's."""
    low, high = min(int(a.min()), int(b.min())), max(int(a.max()), int(b.max()))
    span = high - low + 1
    if span > a.size + b.size:  # (the counts would take more memory than the samples)
        return _ks_sorted(a.astype(float), b.astype(float))  # as floats, as before
    ca = np.cumsum(np.bincount((a - low).astype(np.intp), minlength=span))
    cb = np.cumsum(np.bincount((b - low).astype(np.intp), minlength=span))
    return float(np.max(np.abs(ca / a.size - cb / b.size)))


def _ks_sorted(a: np.ndarray, b: np.ndarray) -> float:
    """D of two float samples (sorted here, in place: the callers' own copies)."""
    parallel = a.size + b.size >= PARALLEL_MIN
    _two(a.sort, b.sort, parallel)
    # The CDFs differ most at a sample point: each sample's own CDF there is its rank
    # (after ties), the other's a lookup.
    return max(_two(lambda: _gap(a, b), lambda: _gap(b, a), parallel))


def _two(first: Callable[[], T], second: Callable[[], T], parallel: bool) -> tuple[T, T]:
    """first() in a helper thread while second() runs here: numpy's sort and searchsorted
    release the GIL, so a large pair uses two cores."""
    if not parallel:
        return first(), second()
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(first)
        other = second()
        return future.result(), other


def _ranks(ordered: np.ndarray) -> np.ndarray:
    """searchsorted(ordered, ordered, "right") for a sorted array, in linear time."""
    ends = np.append(np.flatnonzero(np.diff(ordered)) + 1, ordered.size)
    starts = np.concatenate([[0], ends[:-1]])
    ranks: np.ndarray = np.repeat(ends, ends - starts)
    return ranks


def wasserstein(reference: Any, current: Any) -> float:
    """W1(reference, current) / max(std(reference), 0.001); NaN for an empty sample."""
    a, b = np.sort(_clean(reference)), np.sort(_clean(current))
    if a.size == 0 or b.size == 0:
        return math.nan
    values = np.sort(np.concatenate([a, b]))
    deltas = np.diff(values)
    cdf_a = np.searchsorted(a, values[:-1], side="right") / a.size
    cdf_b = np.searchsorted(b, values[:-1], side="right") / b.size
    distance = float(np.sum(np.abs(cdf_a - cdf_b) * deltas))
    return distance / max(float(np.std(a)), 1e-3)


def _heavy(values: np.ndarray, share: float) -> np.ndarray:
    if values.size == 0:
        return values
    uniq, counts = np.unique(values, return_counts=True)
    return uniq[counts >= share * values.size]


def psi_numeric(reference: Any, current: Any, bins: int = 10, ref_missing: int = 0,
                cur_missing: int = 0) -> float:
    ref, cur = _clean(reference), _clean(current)
    if ref.size + ref_missing == 0 or cur.size + cur_missing == 0:
        return math.nan
    heavy = np.union1d(_heavy(ref, 1 / bins), _heavy(cur, 1 / bins))
    ref_rest = ref[~np.isin(ref, heavy)]
    edges = np.unique(np.quantile(ref_rest, np.linspace(0, 1, bins + 1))[1:-1]) \
        if ref_rest.size else np.array([])

    def counts(values: np.ndarray, missing: int) -> np.ndarray:
        is_heavy = np.isin(values, heavy)
        point = np.searchsorted(heavy, values[is_heavy])
        interval = np.searchsorted(edges, values[~is_heavy], side="right")
        return np.concatenate([np.bincount(point, minlength=heavy.size),
                               np.bincount(interval, minlength=edges.size + 1), [missing]])

    return _psi(counts(ref, ref_missing), counts(cur, cur_missing))


def _table(reference: Counts, current: Counts) -> tuple[np.ndarray, np.ndarray]:
    keys = sorted(reference.keys() | current.keys(), key=lambda k: (k is None, str(k)))
    return (np.array([reference.get(k, 0) for k in keys], dtype=float),
            np.array([current.get(k, 0) for k in keys], dtype=float))


def psi_categorical(reference: Counts, current: Counts) -> float:
    ref, cur = _table(reference, current)
    if ref.sum() == 0 or cur.sum() == 0:
        return math.nan
    return _psi(ref, cur)


def _psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    keep = (ref_counts > 0) | (cur_counts > 0)
    p_ref = np.maximum(ref_counts[keep] / ref_counts.sum(), FLOOR)
    p_cur = np.maximum(cur_counts[keep] / cur_counts.sum(), FLOOR)
    p_ref, p_cur = p_ref / p_ref.sum(), p_cur / p_cur.sum()
    return float(np.sum((p_cur - p_ref) * np.log(p_cur / p_ref)))


def chi2(reference: Counts, current: Counts) -> tuple[float, float]:
    """(statistic, p-value) of the test that both samples share one distribution."""
    ref, cur = _table(reference, current)
    if ref.sum() == 0 or cur.sum() == 0:
        return math.nan, math.nan
    keep = (ref + cur) > 0
    observed = np.vstack([ref[keep], cur[keep]])
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    dof = observed.shape[1] - 1
    return statistic, (chi2_sf(statistic, dof) if dof > 0 else 1.0)


def jensenshannon(reference: Counts, current: Counts) -> float:
    ref, cur = _table(reference, current)
    if ref.sum() == 0 or cur.sum() == 0:
        return math.nan
    p, q = ref / ref.sum(), cur / cur.sum()
    mid = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log(a[nz] / mid[nz])))

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))

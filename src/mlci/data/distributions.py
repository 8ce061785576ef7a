"""The distributions behind the drift tests' p-values, without scipy (which the default
install does not have); each is checked against scipy across its whole range in the tests.

- `kolmogorov_sf(x)`: P(K > x) for the limiting Kolmogorov distribution (scipy: kstwobign).
  Two series, each used where it converges fast: for x <= 1 the theta-function form
  sqrt(2 pi)/x sum exp(-(2k-1)^2 pi^2 / (8 x^2)) gives the CDF, above it the alternating
  series 2 sum (-1)^(k-1) exp(-2 k^2 x^2) gives the tail. (The alternating series alone,
  stopped after 100 terms, returns a wrong partial sum for small x.)
- `ks_2samp_exact_sf(d, n, m)`: P(D >= d) for the two-sample statistic, by counting the
  lattice paths that stay inside the band (scipy's `method="exact"`), one numpy row at a time.
- `chi2_sf(x, dof)`: the chi-square tail through the regularised upper incomplete gamma
  function (series below a+1, continued fraction above: Numerical Recipes 6.2).
"""

from __future__ import annotations

import math

import numpy as np

_SQRT_2PI = math.sqrt(2 * math.pi)


def kolmogorov_sf(x: float) -> float:
    if math.isnan(x):
        return math.nan
    if x <= 0:
        return 1.0
    if x <= 1.0:
        total, k = 0.0, 1
        while True:
            term = math.exp(-((2 * k - 1) ** 2) * math.pi ** 2 / (8 * x * x))
            total += term
            if term <= 1e-17 * total or term == 0.0:
                break
            k += 1
        return min(1.0, max(0.0, 1.0 - _SQRT_2PI / x * total))
    total, sign, k = 0.0, 1.0, 1
    while True:
        term = math.exp(-2.0 * k * k * x * x)
        total += sign * term
        if term <= 1e-17 * abs(total) or term == 0.0:
            break
        sign, k = -sign, k + 1
    return min(1.0, max(0.0, 2.0 * total))


def ks_2samp_exact_sf(d: float, n: int, m: int) -> float:
    """P(D_{n,m} >= d) under the null hypothesis (no ties)."""
    if d <= 0:
        return 1.0
    # D is a multiple of 1/(n m): work in integers so the band's edge is exact.
    h = round(d * n * m)
    if h > n * m:
        return 0.0
    rows = np.arange(m + 1)
    prev = np.zeros(m + 1)
    log_scale = 0.0
    for i in range(n + 1):
        inside = np.abs(i * m - rows * n) < h
        if i == 0:
            # Row 0: the paths along the edge, while they stay inside the band.
            cur = np.cumprod(inside).astype(float)
        else:
            cur = np.zeros(m + 1)
            idx = np.flatnonzero(inside)
            if idx.size:
                lo, hi = idx[0], idx[-1] + 1
                cur[lo:hi] = np.cumsum(prev[lo:hi])
        top = cur.max()
        if top == 0:
            return 1.0
        cur /= top
        log_scale += math.log(top)
        prev = cur
    if prev[m] == 0:
        return 1.0
    log_total = math.lgamma(n + m + 1) - math.lgamma(n + 1) - math.lgamma(m + 1)
    inside_probability = math.exp(math.log(prev[m]) + log_scale - log_total)
    return min(1.0, max(0.0, 1.0 - inside_probability))


def _gamma_series(a: float, x: float) -> float:
    total = term = 1.0 / a
    ap = a
    for _ in range(10000):
        ap += 1
        term *= x / ap
        total += term
        if abs(term) < abs(total) * 1e-16:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _gamma_fraction(a: float, x: float) -> float:
    tiny = 1e-300
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 10000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-16:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def chi2_sf(x: float, dof: int) -> float:
    if math.isnan(x):
        return math.nan
    if x <= 0:
        return 1.0
    a, half = dof / 2.0, x / 2.0
    if half < a + 1:
        return min(1.0, max(0.0, 1.0 - _gamma_series(a, half)))
    return min(1.0, max(0.0, _gamma_fraction(a, half)))

"""Drift statistics: the population stability index and the two-sample Kolmogorov-Smirnov
test, with numpy only (no scipy).

PSI = sum((cur - ref) * ln(cur / ref)) over bins: for a numeric column the bins are the
reference's quantiles (outer bins open-ended), for a categorical one the categories. Empty
bins get a proportion floor of 1e-4 so the index stays finite. Rules of thumb: < 0.1 stable,
0.1-0.25 moderate shift, > 0.25 major shift.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

FLOOR = 1e-4


def psi_numeric(reference: Any, current: Any, bins: int = 10) -> float:
    import numpy as np

    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if ref.size == 0 or cur.size == 0:
        return float("nan")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1))[1:-1])
    ref_counts = np.bincount(np.searchsorted(edges, ref, side="right"),
                             minlength=edges.size + 1)
    cur_counts = np.bincount(np.searchsorted(edges, cur, side="right"),
                             minlength=edges.size + 1)
    return _psi(ref_counts / ref.size, cur_counts / cur.size)


def psi_categorical(reference: Sequence[Any], current: Sequence[Any]) -> float:
    import numpy as np

    ref = Counter(v for v in reference if v is not None)
    cur = Counter(v for v in current if v is not None)
    n_ref, n_cur = sum(ref.values()), sum(cur.values())
    if not n_ref or not n_cur:
        return float("nan")
    keys = sorted(ref.keys() | cur.keys(), key=str)
    return _psi(np.array([ref[k] / n_ref for k in keys]), np.array([cur[k] / n_cur for k in keys]))


def _psi(p_ref: Any, p_cur: Any) -> float:
    import numpy as np

    p_ref = np.maximum(p_ref, FLOOR)
    p_cur = np.maximum(p_cur, FLOOR)
    return float(np.sum((p_cur - p_ref) * np.log(p_cur / p_ref)))


def ks_2samp(reference: Any, current: Any) -> tuple[float, float]:
    """(statistic, asymptotic two-sided p-value)."""
    import numpy as np

    a = np.sort(np.asarray(reference, dtype=float))
    b = np.sort(np.asarray(current, dtype=float))
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    n, m = a.size, b.size
    if n == 0 or m == 0:
        return float("nan"), float("nan")
    values = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, values, side="right") / n
    cdf_b = np.searchsorted(b, values, side="right") / m
    d = float(np.max(np.abs(cdf_a - cdf_b)))
    en = math.sqrt(n * m / (n + m))
    return d, kolmogorov_q((en + 0.12 + 0.11 / en) * d)


def kolmogorov_q(lam: float) -> float:
    """Q_KS(lambda) = 2 sum_{j>=1} (-1)^(j-1) exp(-2 j^2 lambda^2) (Numerical Recipes)."""
    if lam < 1e-3:
        return 1.0
    total, sign = 0.0, 1.0
    for j in range(1, 101):
        term = sign * math.exp(-2.0 * j * j * lam * lam)
        total += term
        if abs(term) < 1e-12:
            break
        sign = -sign
    return max(0.0, min(1.0, 2.0 * total))

"""The evidence behind a relative check: one-sided tests of "the canary is worse than stable".

- error rates: Fisher's exact test when a cell is small (expected count < 5), else the pooled
  two-proportion z-test; with an allowed regression `margin` > 0, the Wald z-test on
  Agresti-Caffo adjusted proportions (one error and one success added to each variant), so a
  window with no errors on one side still has a variance;
- latency: the Mann-Whitney U test, normal approximation with tie and continuity corrections
  (what `scipy.stats.mannwhitneyu(method="asymptotic")` computes), the stable sample shifted
  by the allowed regression first (Kayenta's judge uses the same test).

Each returns a one-sided p-value: small means strong evidence that the canary is worse by more
than the margin. Pure Python (no numpy/scipy at runtime); tests compare against scipy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def norm_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_greater(errors_c: int, n_c: int, errors_s: int, n_s: int) -> float:
    """One-sided Fisher exact p-value that the canary's error rate is greater than stable's."""
    total_errors = errors_c + errors_s
    total = n_c + n_s
    high = min(total_errors, n_c)
    denominator = _log_comb(total, total_errors)
    p = 0.0
    for k in range(errors_c, high + 1):
        if total_errors - k > n_s:
            continue
        p += math.exp(_log_comb(n_c, k) + _log_comb(n_s, total_errors - k) - denominator)
    return min(1.0, p)


def proportion_worse(errors_c: int, n_c: int, errors_s: int, n_s: int,
                     margin: float = 0.0) -> float:
    """p-value of H0: rate_canary - rate_stable <= margin, against H1: it is greater."""
    if n_c <= 0 or n_s <= 0:
        return 1.0
    if margin <= 0:
        total_errors = errors_c + errors_s
        total = n_c + n_s
        expected = min(n_c, n_s) * min(total_errors, total - total_errors) / total
        if expected < 5:
            return fisher_greater(errors_c, n_c, errors_s, n_s)
        pooled = total_errors / total
        se = math.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_s))
        return norm_sf((errors_c / n_c - errors_s / n_s) / se)
    # Agresti-Caffo: add one error and one success to each variant.
    p_c = (errors_c + 1) / (n_c + 2)
    p_s = (errors_s + 1) / (n_s + 2)
    se = math.sqrt(p_c * (1 - p_c) / (n_c + 2) + p_s * (1 - p_s) / (n_s + 2))
    return norm_sf((p_c - p_s - margin) / se)


def _ranks(values: Sequence[float]) -> tuple[list[float], float]:
    """Mid-ranks of `values` (1-based) and the tie term sum(t^3 - t)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        rank = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = rank
        t = j - i + 1
        ties += t * t * t - t
        i = j + 1
    return ranks, ties


def mann_whitney_greater(canary: Sequence[float], stable: Sequence[float]) -> float:
    """One-sided p-value that `canary` is stochastically greater than `stable`."""
    n1, n2 = len(canary), len(stable)
    if n1 == 0 or n2 == 0:
        return 1.0
    ranks, ties = _ranks([*canary, *stable])
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    n = n1 + n2
    mean = n1 * n2 / 2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        return 1.0   # every value equal: no evidence of a difference
    # continuity correction towards the mean
    return norm_sf((u1 - mean - 0.5) / math.sqrt(variance))


def latency_worse(canary: Sequence[float], stable: Sequence[float], *,
                  margin: float = 0.0, relative: bool = False) -> float:
    """p-value that the canary's latency is greater than stable's plus the allowed regression:
    `margin` in ms, or, when `relative`, a fraction (0.2 for "20%") of each stable value."""
    shifted = [v * (1 + margin) for v in stable] if relative else [v + margin for v in stable]
    return mann_whitney_greater(canary, shifted)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

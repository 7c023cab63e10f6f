"""Miettinen-Nurminen score interval for a (stratified) difference of two proportions.

Written here because no installed library equals the published method: statsmodels'
``confint_proportions_2indep(method="score", correction=True)`` misses Newcombe's Table
II values (e.g. 56/70 - 48/80 gives an upper limit of 0.3440 against the published
0.3382) and raises for 9/10 - 3/10, 0/10 - 0/20 and other small or zero-cell tables; and
no R package in Debian implements the stratified interval.

Method (Miettinen & Nurminen 1985, with the stratified form used by SAS PROC FREQ): for a
hypothesised common difference ``delta``, each stratum's proportions are re-estimated by
maximum likelihood under ``p1 - p0 = delta`` (closed form, MN 1985 Appendix), giving

    V_k(delta) = [p1(1 - p1) / n1 + p0(1 - p0) / n0] * N / (N - 1),   N = n1 + n0

and the score statistic ``(d - delta)^2 / sum_k w_k^2 V_k(delta)`` with normalised weights
``w_k`` and ``d = sum_k w_k (x1/n1 - x0/n0)``.  The interval is every ``delta`` whose
statistic does not exceed ``z^2``; its ends are found by bisection on the finite function
``(d - delta)^2 - z^2 sum_k w_k^2 V_k(delta)``, which is positive at ``delta = -1, 1``
(variance zero there) unless ``d`` is itself -1 or 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_MAX_BISECTIONS = 200


@dataclass(frozen=True)
class Stratum:
    """One 2x2 table: experimental ``x1/n1`` and control ``x0/n0`` (both ``n`` > 0)."""

    x1: int
    n1: int
    x0: int
    n0: int


def constrained_mle(s: Stratum, delta: float) -> tuple[float, float]:
    """Maximum-likelihood ``(p1, p0)`` of one stratum under ``p1 - p0 = delta``.

    Closed-form root of the likelihood equation (a cubic), Miettinen & Nurminen (1985),
    Appendix; the same solution as Farrington & Manning (1990), eq. (13).
    """
    p1_hat = s.x1 / s.n1
    p0_hat = s.x0 / s.n0
    theta = s.n0 / s.n1
    a = 1.0 + theta
    b = -(1.0 + theta + p1_hat + theta * p0_hat + delta * (theta + 2.0))
    c = delta * delta + delta * (2.0 * p1_hat + theta + 1.0) + p1_hat + theta * p0_hat
    d = -p1_hat * delta * (1.0 + delta)
    v = b**3 / (3.0 * a) ** 3 - b * c / (6.0 * a * a) + d / (2.0 * a)
    u = math.copysign(math.sqrt(max(b * b / (3.0 * a) ** 2 - c / (3.0 * a), 0.0)), v)
    if u == 0.0:  # triple root
        p1 = -b / (3.0 * a)
    else:
        ratio = min(1.0, max(-1.0, v / u**3))
        p1 = 2.0 * u * math.cos((math.pi + math.acos(ratio)) / 3.0) - b / (3.0 * a)
    # Round-off can leave the root a hair outside the parameter space.
    p0 = min(min(1.0, 1.0 - delta), max(max(0.0, -delta), p1 - delta))
    return p0 + delta, p0


def score_variance(s: Stratum, delta: float) -> float:
    """``V_k(delta)``: the MN variance of one stratum's difference under ``delta``."""
    p1, p0 = constrained_mle(s, delta)
    total = s.n1 + s.n0
    return (p1 * (1.0 - p1) / s.n1 + p0 * (1.0 - p0) / s.n0) * total / (total - 1.0)


def _excess(
    strata: Sequence[Stratum], weights: Sequence[float], d: float, z: float
) -> Callable[[float], float]:
    """``g(delta) = (d - delta)^2 - z^2 sum_k w_k^2 V_k(delta)``; ``g <= 0`` inside the CI."""

    def g(delta: float) -> float:
        var = sum(w * w * score_variance(s, delta) for s, w in zip(strata, weights, strict=True))
        return (d - delta) ** 2 - z * z * var

    return g


def _bisect(g: Callable[[float], float], outside: float, inside: float) -> float:
    """Boundary between ``g > 0`` (at ``outside``) and ``g <= 0`` (at ``inside``).

    Returns the last point found with ``g <= 0`` so the interval always holds the estimate.
    """
    for _ in range(_MAX_BISECTIONS):
        mid = (outside + inside) / 2.0
        if mid in (outside, inside):
            break
        if g(mid) > 0.0:
            outside = mid
        else:
            inside = mid
    return inside


def mn_interval(
    strata: Sequence[Stratum], weights: Sequence[float], z: float
) -> tuple[float, float, float]:
    """``(estimate, lower, upper)`` of the weighted MN score interval.

    ``weights`` need not be normalised; strata must have both arms non-empty and the
    weights must not all be zero (callers ensure both).
    """
    total = sum(weights)
    w = [weight / total for weight in weights]
    d = sum(wk * (s.x1 / s.n1 - s.x0 / s.n0) for s, wk in zip(strata, w, strict=True))
    d = min(1.0, max(-1.0, d))
    g = _excess(strata, w, d, z)
    lower = -1.0 if d <= -1.0 else _bisect(g, -1.0, d)
    upper = 1.0 if d >= 1.0 else _bisect(g, 1.0, d)
    return d, lower, upper

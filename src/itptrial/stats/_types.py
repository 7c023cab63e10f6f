"""Result types of :mod:`itptrial.stats`: small frozen dataclasses, JSON-friendly.

Every number is a plain Python ``float``/``int`` or ``None``; ``None`` means "not defined
for these data" and the result's ``note`` says why in plain words.  No result ever holds
NaN or infinity.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

Interval = tuple[float | None, float | None]
"""A confidence interval ``(lower, upper)``; a bound that does not exist is ``None``."""


@dataclass(frozen=True)
class Proportion:
    """Responders out of ``n`` with a two-sided exact (Clopper-Pearson) interval."""

    responders: int
    n: int
    rate: float | None
    ci: Interval | None
    note: str | None


@dataclass(frozen=True)
class RiskDifference:
    """Difference in response rates, experimental minus control, with two intervals."""

    estimate: float | None
    newcombe: Interval | None
    miettinen_nurminen: Interval | None
    note: str | None


@dataclass(frozen=True)
class TestResult:
    """A test statistic, its degrees of freedom and p-value."""

    __test__ = False  # not a pytest test class

    statistic: float | None
    df: int | None
    p_value: float | None
    method: str
    note: str | None


@dataclass(frozen=True)
class FisherResult:
    """Fisher's exact test with the conditional maximum-likelihood odds ratio."""

    p_value: float | None
    odds_ratio: float | None
    ci: Interval | None
    note: str | None


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan-Meier curve with its median survival time and pointwise bands.

    ``times`` are the distinct event and censoring times in increasing order; at each,
    ``survival`` is the curve just after it, ``lower``/``upper`` the pointwise confidence
    band (``None`` where the curve is 0) and ``at_risk`` the number at risk just before it.
    """

    n: int
    events: int
    median: float | None
    median_ci: Interval
    times: tuple[float, ...]
    survival: tuple[float, ...]
    lower: tuple[float | None, ...]
    upper: tuple[float | None, ...]
    at_risk: tuple[int, ...]
    note: str | None = None

    def at_risk_at(self, t: float) -> int:
        """Number of subjects still at risk at time ``t`` (follow-up time >= ``t``).

        This is the "numbers at risk" row printed under a Kaplan-Meier plot.
        """
        index = bisect.bisect_left(self.times, t)
        return self.at_risk[index] if index < len(self.at_risk) else 0


@dataclass(frozen=True)
class HazardRatio:
    """Cox proportional-hazards ratio, experimental versus control, Wald CI and p."""

    estimate: float | None
    ci: Interval | None
    p_value: float | None
    note: str | None

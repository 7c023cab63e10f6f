"""Assurance (probability of success) of a two-arm trial with a binary endpoint, exact.

The planned trial randomises ``n1`` subjects to the experimental arm and ``n0`` to
control and *succeeds* when the observed experimental rate is the higher and the
Pearson chi-square test without continuity correction is significant:

- ``sided = 2``: two-sided p-value ``< alpha``, i.e. ``z > z_{1-alpha/2}``;
- ``sided = 1``: one-sided (upper-tail normal) p-value of the signed statistic
  ``< alpha``, i.e. ``z > z_{1-alpha}``,

with ``z = (x1/n1 - x0/n0) / sqrt(pbar (1 - pbar) (1/n1 + 1/n0))``, ``pbar`` the pooled
rate (``z^2`` is Pearson's statistic).  A table whose pooled rate is 0 or 1 (``z``
undefined) is a failure.  So ``sided = 1`` at ``alpha`` is the same rule as ``sided = 2``
at ``2 alpha``.

Each arm's rate has the Beta(1 + R, 1 + N - R) posterior (uniform prior) from an earlier
trial with R responders among N; the outcomes of the planned trial then have independent
beta-binomial distributions and

    assurance = sum_{x1, x0} BB(x1; n1, 1 + R1, 1 + N1 - R1) S(x1, x0) BB(x0; n0, ...)

over the success table ``S``, exactly (no Monte Carlo; O'Hagan, Stevens & Campbell
2005).  ``power_at_estimate`` is the same sum with binomial probabilities at the point
estimates ``R1/N1`` and ``R0/N0`` (the conventional power at the earlier trial's rates).
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, SupportsIndex

import numpy as np
from numpy.typing import NDArray
from scipy import special
from scipy import stats as sps

from itptrial.design._group_sequential import Sided, finite_number

O_HAGAN = (
    "O'Hagan A, Stevens JW, Campbell MJ. Assurance in clinical trial design. "
    "Pharm Stat 2005;4:187-201"
)
PEARSON = (
    "Pearson K. On the criterion that a given system of deviations from the probable ... "
    "Philosophical Magazine 1900;50:157-175 (chi-square test, no continuity correction)"
)

# Rows of the success table computed at once: bounds the float work arrays to ~32 MB.
_CHUNK_CELLS = 4_000_000

BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Assurance:
    """Exact assurance and power at the point estimates of a two-proportion trial.

    ``assurance`` averages the probability of success over the Beta(1 + R, 1 + N - R)
    posteriors of both rates; ``power_at_estimate`` fixes the rates at ``R / N``.
    ``prior_experimental`` and ``prior_control`` are the earlier trial's ``(R, N)``.
    """

    assurance: float
    power_at_estimate: float
    n_experimental: int
    n_control: int
    alpha: float
    sided: Sided
    prior_experimental: tuple[int, int]
    prior_control: tuple[int, int]
    note: str
    reference: str

    def as_dict(self) -> dict[str, Any]:
        """The ``itptrial design assurance --json`` object (docs/interface.md, "Design")."""
        return {
            "assurance": self.assurance,
            "power_at_estimate": self.power_at_estimate,
            "n_experimental": self.n_experimental,
            "n_control": self.n_control,
            "alpha": self.alpha,
            "sided": self.sided,
            "prior_experimental": f"{self.prior_experimental[0]}/{self.prior_experimental[1]}",
            "prior_control": f"{self.prior_control[0]}/{self.prior_control[1]}",
        }


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def _integer(value: SupportsIndex, name: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, not a bool")
    try:
        return operator.index(value)
    except TypeError as exc:
        raise ValueError(f"{name} must be an integer, got {value!r}") from exc


def _sample_size(value: SupportsIndex, name: str) -> int:
    number = _integer(value, name)
    if number < 1:
        raise ValueError(f"{name} must be >= 1, got {number}")
    return number


def _prior(value: Sequence[SupportsIndex], name: str) -> tuple[int, int]:
    """``(R, N)`` of an earlier trial: ``N >= 1`` subjects, ``0 <= R <= N`` responders."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != 2:
        raise ValueError(f"{name} must be a pair (R, N) of integers, got {value!r}")
    responders = _integer(value[0], f"{name} responders R")
    subjects = _integer(value[1], f"{name} subjects N")
    if subjects < 1:
        raise ValueError(f"{name} subjects N must be >= 1, got {subjects}")
    if not 0 <= responders <= subjects:
        raise ValueError(f"{name} responders R must lie in 0..N = 0..{subjects}, got {responders}")
    return responders, subjects


def _alpha(value: float) -> float:
    number = finite_number(value, "alpha")
    if not 0.0 < number < 1.0:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {value!r}")
    return number


def _sided(value: int) -> Sided:
    if isinstance(value, bool) or value not in (1, 2):
        raise ValueError(f"sided must be 1 or 2, got {value!r}")
    return 1 if value == 1 else 2


# ---------------------------------------------------------------------------
# The success table
# ---------------------------------------------------------------------------


def critical_value(alpha: float, sided: int) -> float:
    """The ``z`` the statistic must exceed: ``max(z_{1 - alpha/sided}, 0)``.

    The experimental rate must be the higher, so ``z > 0`` is always required (this only
    matters for ``sided = 1`` with ``alpha >= 0.5``).
    """
    return max(float(-special.ndtri(alpha / sided)), 0.0)


def _success_rows(
    n_experimental: int, n_control: int, critical: float, start: int, stop: int
) -> BoolArray:
    """Rows ``x1 = start..stop-1`` of the success table.

    ``z^2 = N (x1 n0 - x0 n1)^2 / (n1 n0 m (N - m))`` with ``m = x1 + x0`` and
    ``N = n1 + n0`` (Pearson's statistic for the 2x2 table); the numerator's root is an
    exact integer, so its sign (which rate is the higher) is exact.
    """
    n1, n0 = n_experimental, n_control
    total = n1 + n0
    x1 = np.arange(start, stop, dtype=np.int64)[:, None]
    x0 = np.arange(n0 + 1, dtype=np.int64)[None, :]
    difference = x1 * n0 - x0 * n1  # n1 n0 (p1 - p0), exact
    margin = x1 + x0
    defined = (margin > 0) & (margin < total)
    higher = difference > 0
    denominator = np.where(defined, (n1 * n0) * margin * (total - margin), 1).astype(np.float64)
    statistic = difference.astype(np.float64) ** 2 * float(total) / denominator
    result: BoolArray = defined & higher & (statistic > critical * critical)
    return result


def _row_chunks(n_experimental: int, n_control: int) -> Iterator[tuple[int, int]]:
    rows = max(1, _CHUNK_CELLS // (n_control + 1))
    for start in range(0, n_experimental + 1, rows):
        yield start, min(start + rows, n_experimental + 1)


def success_table(
    n_experimental: int, n_control: int, alpha: float = 0.05, sided: int = 2
) -> BoolArray:
    """Boolean ``(n1 + 1, n0 + 1)`` table: ``[x1, x0]`` is True when the trial succeeds.

    Success: ``x1 / n1 > x0 / n0`` and the Pearson chi-square test without continuity
    correction has two-sided p ``< alpha`` (``sided = 2``), or the signed statistic's
    upper-tail normal p ``< alpha`` (``sided = 1``).  Tables with no responders or only
    responders are failures.  Equal to ``chi_square(x1, n1, x0, n0).p_value < alpha
    and x1 / n1 > x0 / n0`` (itptrial.stats) for ``sided = 2``.

    References
    ----------
    Pearson K. Philosophical Magazine 1900;50:157-175.
    """
    n1 = _sample_size(n_experimental, "n_experimental")
    n0 = _sample_size(n_control, "n_control")
    critical = critical_value(_alpha(alpha), _sided(sided))
    table = np.empty((n1 + 1, n0 + 1), dtype=np.bool_)
    for start, stop in _row_chunks(n1, n0):
        table[start:stop] = _success_rows(n1, n0, critical, start, stop)
    return table


def _success_probability(
    pmf_experimental: FloatArray, pmf_control: FloatArray, critical: float
) -> float:
    """``pmf1 @ S @ pmf0``, row chunk by row chunk (the table is never held whole)."""
    n1 = pmf_experimental.size - 1
    n0 = pmf_control.size - 1
    total = 0.0
    for start, stop in _row_chunks(n1, n0):
        rows = _success_rows(n1, n0, critical, start, stop).astype(np.float64)
        total += float(pmf_experimental[start:stop] @ (rows @ pmf_control))
    return min(max(total, 0.0), 1.0)


def _predictive_pmf(n: int, prior: tuple[int, int]) -> FloatArray:
    """Beta-binomial pmf of ``n`` new outcomes under the Beta(1 + R, 1 + N - R) posterior."""
    responders, subjects = prior
    x = np.arange(n + 1)
    pmf: FloatArray = np.asarray(
        sps.betabinom.pmf(x, n, 1 + responders, 1 + subjects - responders), dtype=np.float64
    )
    return pmf


def _binomial_pmf(n: int, prior: tuple[int, int]) -> FloatArray:
    responders, subjects = prior
    x = np.arange(n + 1)
    pmf: FloatArray = np.asarray(sps.binom.pmf(x, n, responders / subjects), dtype=np.float64)
    return pmf


def assurance(
    prior_experimental: Sequence[SupportsIndex],
    prior_control: Sequence[SupportsIndex],
    n_experimental: int,
    n_control: int,
    alpha: float = 0.05,
    sided: int = 2,
) -> Assurance:
    """Exact assurance of a planned two-arm trial, from an earlier trial's results.

    Parameters
    ----------
    prior_experimental, prior_control : (R, N)
        Responders ``R`` among ``N >= 1`` subjects of each arm in the earlier trial; the
        arm's rate has the Beta(1 + R, 1 + N - R) posterior (uniform prior).
    n_experimental, n_control : int
        Planned subjects per arm, ``>= 1``.
    alpha : float
        Significance level in (0, 1), two-sided when ``sided = 2``.
    sided : {1, 2}
        2: Pearson chi-square (no continuity correction) p ``< alpha``; 1: one-sided
        upper-tail normal p of the signed statistic ``< alpha``.  Either way the
        observed experimental rate must be the higher.

    Returns
    -------
    Assurance
        ``assurance``: probability of success averaged over both posteriors
        (independent arms, beta-binomial outcomes); ``power_at_estimate``: the same
        with the rates fixed at ``R / N`` (binomial outcomes).  Exact sums over the
        ``(n1 + 1)(n0 + 1)`` outcomes; ``n`` of several thousand per arm is fine.

    Raises
    ------
    ValueError
        On ``N < 1``, ``R`` outside ``0..N``, ``n < 1``, non-integer counts, ``alpha``
        outside (0, 1) or ``sided`` not 1 or 2.

    References
    ----------
    O'Hagan A, Stevens JW, Campbell MJ. Assurance in clinical trial design. Pharm Stat
    2005;4:187-201.  Pearson K. Philosophical Magazine 1900;50:157-175.
    """
    prior1 = _prior(prior_experimental, "prior_experimental")
    prior0 = _prior(prior_control, "prior_control")
    n1 = _sample_size(n_experimental, "n_experimental")
    n0 = _sample_size(n_control, "n_control")
    level = _alpha(alpha)
    side = _sided(sided)
    critical = critical_value(level, side)
    value = _success_probability(_predictive_pmf(n1, prior1), _predictive_pmf(n0, prior0), critical)
    power = _success_probability(_binomial_pmf(n1, prior1), _binomial_pmf(n0, prior0), critical)
    test = (
        f"Pearson chi-square without continuity correction, two-sided p < {level:g}"
        if side == 2
        else f"one-sided (upper-tail normal) p of the Pearson statistic < {level:g}"
    )
    note = (
        f"success: experimental rate higher and {test}; assurance averages over the "
        f"Beta({1 + prior1[0]}, {1 + prior1[1] - prior1[0]}) (experimental) and "
        f"Beta({1 + prior0[0]}, {1 + prior0[1] - prior0[0]}) (control) posteriors; "
        f"power_at_estimate at rates {prior1[0]}/{prior1[1]} and {prior0[0]}/{prior0[1]}; "
        "exact sums over all outcomes"
    )
    return Assurance(
        assurance=value,
        power_at_estimate=power,
        n_experimental=n1,
        n_control=n0,
        alpha=level,
        sided=side,
        prior_experimental=prior1,
        prior_control=prior0,
        note=note,
        reference=f"{O_HAGAN}; {PEARSON}",
    )


def exact_power(
    rate_experimental: float,
    rate_control: float,
    n_experimental: int,
    n_control: int,
    alpha: float = 0.05,
    sided: int = 2,
) -> float:
    """Exact power of the Pearson chi-square test (no continuity correction) at fixed
    true rates: the sum of the two binomial probabilities over the success table
    (:func:`success_table`), with no normal approximation.

    References
    ----------
    Pearson K. Philosophical Magazine 1900;50:157-175; Fleiss JL, Levin B, Paik MC.
    Statistical Methods for Rates and Proportions, 3rd ed. Wiley 2003, section 4.2.
    """
    for name, rate in (("rate_experimental", rate_experimental), ("rate_control", rate_control)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name} must be in [0, 1]; got {rate}")
    n1 = _sample_size(n_experimental, "n_experimental")
    n0 = _sample_size(n_control, "n_control")
    pmf1 = np.asarray(sps.binom.pmf(np.arange(n1 + 1), n1, rate_experimental), dtype=np.float64)
    pmf0 = np.asarray(sps.binom.pmf(np.arange(n0 + 1), n0, rate_control), dtype=np.float64)
    return _success_probability(pmf1, pmf0, critical_value(_alpha(alpha), _sided(sided)))

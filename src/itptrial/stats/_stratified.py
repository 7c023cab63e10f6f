"""Stratified 2x2xK analyses: Cochran-Mantel-Haenszel test, stratified MN interval."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from statsmodels.stats.contingency_tables import StratifiedTable

from itptrial.stats._common import arm, check_level, z_quantile
from itptrial.stats._score import Stratum, mn_interval
from itptrial.stats._types import RiskDifference, TestResult

CMH_METHOD = "Cochran-Mantel-Haenszel chi-square test without continuity correction"


def _strata(
    x1: Sequence[int], n1: Sequence[int], x0: Sequence[int], n0: Sequence[int]
) -> list[Stratum]:
    """Validated strata that have subjects in both arms (the others carry no information)."""
    lengths = {len(x1), len(n1), len(x0), len(n0)}
    if len(lengths) != 1:
        raise ValueError(f"x1, n1, x0, n0 must have one entry per stratum, got lengths {lengths}")
    kept = []
    for k, (a1, m1, a0, m0) in enumerate(zip(x1, n1, x0, n0, strict=True)):
        s1 = arm(a1, m1, f"stratum {k} experimental")
        s0 = arm(a0, m0, f"stratum {k} control")
        if s1[1] > 0 and s0[1] > 0:
            kept.append(Stratum(s1[0], s1[1], s0[0], s0[1]))
    return kept


def cmh_test(
    x1: Sequence[int], n1: Sequence[int], x0: Sequence[int], n0: Sequence[int]
) -> TestResult:
    """Cochran-Mantel-Haenszel test of no association in 2x2 tables across strata.

    Parameters
    ----------
    x1, n1 : sequence of int
        Responders and subjects of the experimental arm, one entry per stratum.
    x0, n0 : sequence of int
        The same for the control arm.

    Returns
    -------
    TestResult
        ``(sum_k (x1k - E_k))^2 / sum_k V_k`` with ``E_k = n1k m_k / N_k`` and the
        hypergeometric ``V_k = n1k n0k m_k (N_k - m_k) / (N_k^2 (N_k - 1))`` (``m_k`` the
        responders of stratum k), 1 degree of freedom.  Strata with an empty arm add
        nothing and are skipped.  ``None`` (with a note) when no stratum has both arms, or
        the variance is zero (in every stratum nobody, or everybody, responded).

    Notes
    -----
    statsmodels ``StratifiedTable(tables).test_null_odds(correction=False)``, equal to R
    ``mantelhaen.test(table, correct = FALSE)``.  With a single stratum R refuses ("each
    dimension in table must be >= 2"); here the same formula is applied, giving
    ``(N - 1) / N`` times the Pearson statistic.

    References
    ----------
    Mantel N, Haenszel W. Statistical aspects of the analysis of data from retrospective
    studies of disease. J Natl Cancer Inst 1959;22:719-748.
    Cochran WG. Some methods for strengthening the common chi-square tests. Biometrics
    1954;10:417-451.
    """
    strata = _strata(x1, n1, x0, n0)
    if not strata:
        return TestResult(
            None, None, None, CMH_METHOD, "CMH test undefined: no stratum has subjects in both arms"
        )
    if all(s.x1 + s.x0 in (0, s.n1 + s.n0) for s in strata):
        return TestResult(
            None,
            None,
            None,
            CMH_METHOD,
            "CMH test undefined: in every stratum nobody, or everybody, responded",
        )
    tables = [np.array([[s.x1, s.n1 - s.x1], [s.x0, s.n0 - s.x0]], dtype=float) for s in strata]
    result = StratifiedTable(tables).test_null_odds(correction=False)
    return TestResult(float(result.statistic), 1, float(result.pvalue), CMH_METHOD, None)


def stratified_risk_difference(
    x1: Sequence[int],
    n1: Sequence[int],
    x0: Sequence[int],
    n0: Sequence[int],
    level: float = 0.95,
) -> RiskDifference:
    """Common risk difference across strata with the stratified Miettinen-Nurminen interval.

    Parameters
    ----------
    x1, n1 : sequence of int
        Responders and subjects of the experimental arm, one entry per stratum.
    x0, n0 : sequence of int
        The same for the control arm.
    level : float
        Confidence level, default 0.95.

    Returns
    -------
    RiskDifference
        ``estimate = sum_k w_k d_k / sum_k w_k`` with the CMH weights
        ``w_k = n1k n0k / (n1k + n0k)`` and ``d_k = x1k/n1k - x0k/n0k``;
        ``miettinen_nurminen``: every ``delta`` with
        ``(estimate - delta)^2 <= z^2 sum_k (w_k / sum w)^2 V_k(delta)``, where ``V_k`` is
        MN's variance of stratum k under ``p1 - p0 = delta`` (constrained maximum
        likelihood, with the ``N_k / (N_k - 1)`` correction).  ``newcombe`` is always
        ``None`` (not computed for stratified data).  Strata with an empty arm have zero
        weight; if every stratum has one, everything is ``None``.  With one stratum this
        is exactly ``risk_difference(...).miettinen_nurminen``.

    Notes
    -----
    No R package in Debian implements this interval; it is validated against a
    brute-force grid search of the same score statistic on random tables and, through its
    weighted core, against published SAS output (tests/test_stats_published.py).

    References
    ----------
    Miettinen O, Nurminen M. Comparative analysis of two rates. Stat Med 1985;4:213-226
    (section on stratified analysis).
    SAS Institute. SAS/STAT User's Guide, The FREQ Procedure: Common risk difference,
    score (Miettinen-Nurminen) confidence limits, COMMONRISKDIFF(CL=SCORE).
    """
    strata = _strata(x1, n1, x0, n0)
    level = check_level(level)
    if not strata:
        return RiskDifference(
            None, None, None, "risk difference undefined: no stratum has subjects in both arms"
        )
    weights = [s.n1 * s.n0 / (s.n1 + s.n0) for s in strata]
    estimate, lower, upper = mn_interval(strata, weights, z_quantile(level))
    return RiskDifference(estimate, None, (lower, upper), None)

"""Binary endpoints: per-arm proportions and the experimental-versus-control comparison."""

from __future__ import annotations

from scipy import stats as sps
from scipy.stats import contingency
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from itptrial.stats._common import (
    arm,
    check_level,
    empty_arm_note,
    finite_or_none,
    join_notes,
    z_quantile,
)
from itptrial.stats._score import Stratum, mn_interval
from itptrial.stats._types import FisherResult, Interval, Proportion, RiskDifference, TestResult

PEARSON_METHOD = "Pearson chi-square test without continuity correction"


def proportion(responders: int, n: int, level: float = 0.95) -> Proportion:
    """Response rate with its exact two-sided Clopper-Pearson confidence interval.

    Parameters
    ----------
    responders : int
        Number of responders, ``0 <= responders <= n``.
    n : int
        Number of subjects (the denominator).
    level : float
        Confidence level, default 0.95.

    Returns
    -------
    Proportion
        ``rate = responders / n`` and ``ci`` from the beta quantiles
        ``Beta(alpha/2; x, n - x + 1)`` and ``Beta(1 - alpha/2; x + 1, n - x)``, with the
        lower limit 0 when ``x = 0`` and the upper limit 1 when ``x = n``.  ``n = 0``
        gives ``rate``/``ci`` ``None``.

    Notes
    -----
    Computed by statsmodels ``proportion_confint(method="beta")``, which equals R
    ``binom.test(x, n)$conf.int`` (checked in tests/test_stats_reference.py).

    References
    ----------
    Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the
    case of the binomial. Biometrika 1934;26:404-413.
    """
    x, total = arm(responders, n, "proportion")
    level = check_level(level)
    if total == 0:
        return Proportion(x, total, None, None, "no subjects: the rate is undefined (0/0)")
    lower, upper = proportion_confint(x, total, alpha=1.0 - level, method="beta")
    return Proportion(x, total, x / total, (float(lower), float(upper)), None)


def risk_difference(x1: int, n1: int, x0: int, n0: int, level: float = 0.95) -> RiskDifference:
    """Difference in response rates (experimental - control) with two score intervals.

    Parameters
    ----------
    x1, n1 : int
        Responders and subjects in the experimental arm.
    x0, n0 : int
        Responders and subjects in the control arm.
    level : float
        Confidence level, default 0.95.

    Returns
    -------
    RiskDifference
        ``estimate = x1/n1 - x0/n0``; ``newcombe``: Newcombe's hybrid score interval
        (method 10: Wilson intervals without continuity correction combined by "square and
        add"); ``miettinen_nurminen``: the Miettinen-Nurminen score interval, whose
        variance carries the ``N/(N-1)`` correction of MN (1985).  An empty arm makes
        everything ``None``.  Intervals are defined (and lie within [-1, 1]) for every
        table with both arms non-empty, zero cells included.

    Notes
    -----
    Newcombe's interval is statsmodels ``confint_proportions_2indep(method="newcomb")``;
    it reproduces Newcombe's Table II.  The Miettinen-Nurminen interval is computed here
    (see ``_score.py`` for why statsmodels' version is not used) and also reproduces
    Newcombe's Table II (method 6).

    References
    ----------
    Newcombe RG. Interval estimation for the difference between independent proportions:
    comparison of eleven methods. Stat Med 1998;17:873-890.
    Miettinen O, Nurminen M. Comparative analysis of two rates. Stat Med 1985;4:213-226.
    """
    x1, n1 = arm(x1, n1, "experimental")
    x0, n0 = arm(x0, n0, "control")
    level = check_level(level)
    note = empty_arm_note(n1, n0)
    if note is not None:
        return RiskDifference(None, None, None, f"risk difference undefined: {note}")
    lo, hi = confint_proportions_2indep(
        x1, n1, x0, n0, method="newcomb", compare="diff", alpha=1.0 - level
    )
    _, mn_lo, mn_hi = mn_interval([Stratum(x1, n1, x0, n0)], [1.0], z_quantile(level))
    newcombe: Interval = (max(-1.0, float(lo)), min(1.0, float(hi)))
    return RiskDifference(x1 / n1 - x0 / n0, newcombe, (mn_lo, mn_hi), None)


def _table(x1: int, n1: int, x0: int, n0: int) -> list[list[int]]:
    return [[x1, n1 - x1], [x0, n0 - x0]]


def _degenerate_note(x1: int, n1: int, x0: int, n0: int) -> str | None:
    """Why a 2x2 table with a zero margin has no association to measure."""
    if x1 + x0 == 0:
        return "no responders in either arm"
    if x1 + x0 == n1 + n0:
        return "every subject responded in both arms"
    return None


def chi_square(x1: int, n1: int, x0: int, n0: int) -> TestResult:
    """Pearson chi-square test of equal response rates, no continuity correction.

    Parameters
    ----------
    x1, n1, x0, n0 : int
        Responders and subjects of the experimental and the control arm.

    Returns
    -------
    TestResult
        Statistic ``sum (O - E)^2 / E`` over the 2x2 table, 1 degree of freedom, and its
        upper-tail chi-square p-value.  ``None`` (with a note) when an arm is empty or a
        margin is zero (nobody, or everybody, responded): the statistic is 0/0 there.

    Notes
    -----
    scipy ``chi2_contingency(table, correction=False)``, equal to R
    ``prop.test(c(x1, x0), c(n1, n0), correct = FALSE)`` and
    ``chisq.test(table, correct = FALSE)``.

    References
    ----------
    Pearson K. On the criterion that a given system of deviations from the probable ...
    Philosophical Magazine 1900;50:157-175.
    """
    x1, n1 = arm(x1, n1, "experimental")
    x0, n0 = arm(x0, n0, "control")
    note = empty_arm_note(n1, n0) or _degenerate_note(x1, n1, x0, n0)
    if note is not None:
        return TestResult(None, None, None, PEARSON_METHOD, f"chi-square undefined: {note}")
    result = sps.chi2_contingency(_table(x1, n1, x0, n0), correction=False)
    return TestResult(float(result.statistic), 1, float(result.pvalue), PEARSON_METHOD, None)


def fisher_exact(x1: int, n1: int, x0: int, n0: int, level: float = 0.95) -> FisherResult:
    """Fisher's exact test with the conditional maximum-likelihood odds ratio, as R.

    Parameters
    ----------
    x1, n1, x0, n0 : int
        Responders and subjects of the experimental and the control arm; the table is
        ``[[x1, n1 - x1], [x0, n0 - x0]]`` (odds ratio > 1 favours more response in the
        experimental arm).
    level : float
        Confidence level of the odds-ratio interval, default 0.95.

    Returns
    -------
    FisherResult
        Two-sided p-value (sum of the hypergeometric probabilities not larger than the
        observed one), the conditional MLE of the odds ratio and its exact interval.
        An infinite estimate or bound (a zero cell) is ``None`` with a note.  With a zero
        margin (nobody, or everybody, responded) only one table is possible: p = 1 and the
        odds ratio is not estimable (``None``; R prints 0 with interval [0, Inf]).  An
        empty arm gives all ``None``.

    Notes
    -----
    scipy ``fisher_exact`` (p) and ``contingency.odds_ratio(kind="conditional")``
    (estimate and interval), the exact roots of the conditional likelihood and tail
    equations. R ``fisher.test`` finds them with ``uniroot`` (absolute tolerance about
    1.2e-4 on its root scale), which leaves large upper limits up to about 2% from the
    root (docs/analysis.md).

    References
    ----------
    Fisher RA. On the interpretation of chi-square from contingency tables, and the
    calculation of P. J R Stat Soc 1922;85:87-94.
    Agresti A. Categorical Data Analysis, 3rd ed. Wiley 2013, section 3.5.
    """
    x1, n1 = arm(x1, n1, "experimental")
    x0, n0 = arm(x0, n0, "control")
    level = check_level(level)
    note = empty_arm_note(n1, n0)
    if note is not None:
        return FisherResult(None, None, None, f"Fisher's test undefined: {note}")
    table = _table(x1, n1, x0, n0)
    p_value = min(1.0, float(sps.fisher_exact(table).pvalue))
    degenerate = _degenerate_note(x1, n1, x0, n0)
    if degenerate is not None:
        return FisherResult(p_value, None, None, f"odds ratio not estimable: {degenerate}")
    result = contingency.odds_ratio(table, kind="conditional")
    ci = result.confidence_interval(confidence_level=level)
    estimate = finite_or_none(result.statistic)
    bounds: Interval = (finite_or_none(ci.low), finite_or_none(ci.high))
    notes: list[str | None] = []
    if estimate is None:
        cell = "no control responders" if x0 == 0 else "every experimental subject responded"
        notes.append(f"odds ratio infinite ({cell})")
    if bounds[1] is None:
        notes.append("upper confidence limit of the odds ratio is infinite")
    return FisherResult(p_value, estimate, bounds, join_notes(notes))

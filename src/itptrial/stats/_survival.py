"""Time-to-event endpoints: Kaplan-Meier curves, log-rank test, Cox hazard ratio."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from lifelines.statistics import logrank_test
from statsmodels.duration.hazard_regression import PHReg

from itptrial.stats._common import check_level, finite_or_none, join_notes, z_quantile
from itptrial.stats._types import HazardRatio, Interval, KaplanMeier, TestResult

LOGRANK_METHOD = "log-rank test (R survdiff, rho = 0)"

# R's quantile.survfit(): a survival value within this of 0.5 counts as exactly 0.5.
_R_TOLERANCE = math.sqrt(2.220446049250313e-16)


def _survival_data(times: Sequence[float], events: Sequence[int]) -> tuple[list[float], list[int]]:
    t = [float(value) for value in times]
    if len(t) != len(events):
        raise ValueError(f"times ({len(t)}) and events ({len(events)}) differ in length")
    if any(not math.isfinite(value) or value < 0 for value in t):
        raise ValueError("times must be finite and >= 0")
    if any(value not in (0, 1) for value in events):
        raise ValueError("events must be 0 (censored) or 1 (event)")
    return t, [int(value) for value in events]


def _groups(groups: Sequence[int], n: int) -> list[int]:
    if len(groups) != n:
        raise ValueError(f"groups ({len(groups)}) and times ({n}) differ in length")
    if any(value not in (0, 1) for value in groups):
        raise ValueError("groups must be 0 (control) or 1 (experimental)")
    return [int(value) for value in groups]


def _first_time_at(x: Sequence[float], y: Sequence[float | None], p: float = 0.5) -> float | None:
    """Where the cumulative curve ``y`` (= 1 - survival) first reaches ``p``, as R does.

    Re-implements the rule of R survival's ``quantile.survfit`` (documented on its help
    page): a horizontal stretch lying at ``p`` within ``_R_TOLERANCE`` gives the midpoint of
    the stretch (if the curve ends on that stretch, the midpoint up to the last follow-up
    time); a curve that never reaches ``p`` gives ``None``.  ``x`` starts with the origin
    0 and ``y`` with 0; a ``None`` in ``y`` (an undefined band) is skipped.
    """
    defined = [value for value in y if value is not None]
    if not defined or max(defined) < p:
        return None
    x_last = x[-1]
    seen: set[float | None] = set()
    xs: list[float] = []
    ys: list[float | None] = []
    for xi, yi in zip(x, y, strict=True):  # keep the first of repeated values
        if yi not in seen:
            seen.add(yi)
            xs.append(xi)
            ys.append(yi)

    def first_reaching(shift: float) -> int | None:
        # Smallest y + shift (ties: earliest) that is >= p; y need not be monotone.
        candidates = [(yi + shift, i) for i, yi in enumerate(ys) if yi is not None]
        reaching = [item for item in candidates if item[0] >= p]
        return min(reaching)[1] if reaching else None

    on_level = first_reaching(_R_TOLERANCE)
    below_level = first_reaching(-_R_TOLERANCE)
    last = ys[-1]
    if on_level is not None and last is not None and abs(p - last) < _R_TOLERANCE:
        return (xs[on_level] + x_last) / 2.0
    if on_level is None or below_level is None:
        return None
    return (xs[on_level] + xs[below_level]) / 2.0


def kaplan_meier(times: Sequence[float], events: Sequence[int], level: float = 0.95) -> KaplanMeier:
    """Kaplan-Meier curve, median survival time and its confidence interval, as R.

    Parameters
    ----------
    times : sequence of float
        Follow-up times (>= 0).
    events : sequence of int
        1 = event at that time, 0 = censored.
    level : float
        Confidence level, default 0.95.

    Returns
    -------
    KaplanMeier
        The curve ``S(t) = prod (n_i - d_i) / n_i`` at every distinct time, the Greenwood
        standard error of ``log S`` (``sum d_i / (n_i (n_i - d_i))``) and the "log" band
        ``S exp(-+ z se)`` (upper capped at 1; undefined where ``S = 0``).  The median is
        where the curve reaches 0.5 and its confidence limits where the lower and the
        upper band reach 0.5; a stretch at exactly 0.5 gives its midpoint and a curve or
        band that never reaches 0.5 gives ``None`` (R ``NA``).

    Notes
    -----
    Written here because lifelines' ``KaplanMeierFitter`` uses the log-log band by
    default and takes the first time at or below 0.5 as the median, unlike R.  This
    follows R survival ``survfit(Surv(time, event) ~ 1)`` (``conf.type = "log"``, the
    default) and ``quantile(fit, 0.5)``, the product computed in R's order so that a curve
    at exactly 0.5 is recognised alike.  R's ``print.survfit`` agrees except when the
    curve ends on a stretch at exactly 0.5: it then reports the start of the stretch,
    ``quantile`` (and this function) the midpoint up to the last follow-up time.

    References
    ----------
    Kaplan EL, Meier P. Nonparametric estimation from incomplete observations. J Am Stat
    Assoc 1958;53:457-481.
    Brookmeyer R, Crowley J. A confidence interval for the median survival time.
    Biometrics 1982;38:29-41.
    Therneau T. A Package for Survival Analysis in R (survival), quantile.survfit.
    """
    t, e = _survival_data(times, events)
    z = z_quantile(check_level(level))
    if not t:
        return KaplanMeier(0, 0, None, (None, None), (), (), (), (), (), "no subjects")
    distinct = sorted(set(t))
    deaths = dict.fromkeys(distinct, 0)
    leaving = dict.fromkeys(distinct, 0)
    for ti, ei in zip(t, e, strict=True):
        deaths[ti] += ei
        leaving[ti] += 1
    at_risk = len(t)
    surv, var = 1.0, 0.0
    rows: list[tuple[int, float, float | None, float | None]] = []
    for ti in distinct:
        d = deaths[ti]
        if d:
            surv *= (at_risk - d) / at_risk
            var = var + d / (at_risk * (at_risk - d)) if at_risk > d else math.inf
        if surv > 0.0 and math.isfinite(var):
            se = math.sqrt(var)
            band = (math.exp(math.log(surv) - z * se), min(1.0, math.exp(math.log(surv) + z * se)))
            rows.append((at_risk, surv, band[0], band[1]))
        else:
            rows.append((at_risk, surv, None, None))
        at_risk -= leaving[ti]
    survival = tuple(row[1] for row in rows)
    lower = tuple(row[2] for row in rows)
    upper = tuple(row[3] for row in rows)
    x = [0.0, *distinct]

    def cumulative(values: Sequence[float | None]) -> list[float | None]:
        return [0.0, *(None if v is None else 1.0 - v for v in values)]

    median = _first_time_at(x, cumulative(survival))
    ci: Interval = (_first_time_at(x, cumulative(lower)), _first_time_at(x, cumulative(upper)))
    note = join_notes(
        [
            "median not reached (the curve stays above 0.5)" if median is None else None,
            "lower limit of the median undefined (the lower band never reaches 0.5)"
            if ci[0] is None
            else None,
            "upper limit of the median not reached (the upper band stays above 0.5)"
            if ci[1] is None
            else None,
        ]
    )
    return KaplanMeier(
        n=len(t),
        events=sum(e),
        median=median,
        median_ci=ci,
        times=tuple(distinct),
        survival=survival,
        lower=lower,
        upper=upper,
        at_risk=tuple(row[0] for row in rows),
        note=note,
    )


def _two_arm_note(e: Sequence[int], g: Sequence[int]) -> str | None:
    if 1 not in g and 0 not in g:
        return "no subjects"
    if 1 not in g:
        return "the experimental arm is empty (no subjects)"
    if 0 not in g:
        return "the control arm is empty (no subjects)"
    if not any(e):
        return "no events in either arm"
    return None


def logrank(times: Sequence[float], events: Sequence[int], groups: Sequence[int]) -> TestResult:
    """Log-rank test of equal hazards in the two arms (1 degree of freedom).

    Parameters
    ----------
    times, events : sequence
        Follow-up times and event flags (1 = event, 0 = censored).
    groups : sequence of int
        Arm of each subject: 1 = experimental, 0 = control.

    Returns
    -------
    TestResult
        ``(O1 - E1)^2 / V`` with the hypergeometric variance
        ``V = sum n1 n0 d (n - d) / (n^2 (n - 1))`` over the distinct event times, and its
        chi-square p-value.  ``None`` (with a note) for an empty arm or no events at all
        (R then prints a statistic of 0 with p = 1).

    Notes
    -----
    lifelines ``logrank_test``, equal to R ``survdiff(Surv(time, event) ~ group)``
    (``rho = 0``), ties included.

    References
    ----------
    Mantel N. Evaluation of survival data and two new rank order statistics arising in
    its consideration. Cancer Chemother Rep 1966;50:163-170.
    Peto R, Peto J. Asymptotically efficient rank invariant test procedures. J R Stat Soc
    A 1972;135:185-207.
    """
    t, e = _survival_data(times, events)
    g = _groups(groups, len(t))
    note = _two_arm_note(e, g)
    if note is not None:
        return TestResult(None, None, None, LOGRANK_METHOD, f"log-rank test undefined: {note}")
    tt, ee, gg = np.asarray(t), np.asarray(e), np.asarray(g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = logrank_test(tt[gg == 1], tt[gg == 0], ee[gg == 1], ee[gg == 0])
    statistic = finite_or_none(result.test_statistic)
    p_value = finite_or_none(result.p_value)
    if statistic is None or p_value is None:
        return TestResult(
            None, None, None, LOGRANK_METHOD, "log-rank test undefined: zero variance"
        )
    return TestResult(statistic, 1, p_value, LOGRANK_METHOD, None)


def _monotone_note(t: Sequence[float], e: Sequence[int], g: Sequence[int]) -> str | None:
    """Why the Cox partial likelihood has no maximum (an infinite log hazard ratio).

    With one binary covariate the score at ``beta -> +inf`` is minus the number of control
    events that have an experimental subject at risk (experimental follow-up >= the event
    time); if there is none the likelihood increases for ever, and symmetrically for
    ``beta -> -inf``.  This includes "one arm has no events".
    """
    for arm, direction in ((0, "infinite"), (1, "zero")):
        other_last = max(ti for ti, gi in zip(t, g, strict=True) if gi != arm)
        own_events = [ti for ti, ei, gi in zip(t, e, g, strict=True) if ei and gi == arm]
        if not any(ti <= other_last for ti in own_events):
            name, other = ("control", "experimental") if arm == 0 else ("experimental", "control")
            why = (
                f"the {name} arm has no events"
                if not own_events
                else f"every {name} event occurs after the last {other} follow-up time"
            )
            return f"monotone likelihood, hazard ratio {direction}: {why}"
    return None


def cox_hazard_ratio(
    times: Sequence[float],
    events: Sequence[int],
    groups: Sequence[int],
    level: float = 0.95,
) -> HazardRatio:
    """Cox proportional-hazards ratio, experimental versus control, Efron ties, Wald CI.

    Parameters
    ----------
    times, events : sequence
        Follow-up times and event flags (1 = event, 0 = censored).
    groups : sequence of int
        Arm of each subject: 1 = experimental, 0 = control.
    level : float
        Confidence level, default 0.95.

    Returns
    -------
    HazardRatio
        ``exp(beta)``, ``exp(beta -+ z se)`` and the Wald p-value ``2 (1 - Phi(|beta| / se))``.
        ``None`` (with a note) for an empty arm, no events, or a monotone likelihood (the
        estimate is infinite, e.g. when one arm has no events; R then warns and prints a
        meaningless huge or tiny number).

    Notes
    -----
    statsmodels ``PHReg(ties="efron")``, equal to R
    ``coxph(Surv(time, event) ~ group, ties = "efron")`` (``exp(coef)``,
    ``exp(confint)``, the Wald p of ``summary``).  lifelines' ``CoxPHFitter`` was not used:
    it differed from R by up to 1e-4 relative on tied data.

    References
    ----------
    Cox DR. Regression models and life-tables. J R Stat Soc B 1972;34:187-220.
    Efron B. The efficiency of Cox's likelihood function for censored data. J Am Stat
    Assoc 1977;72:557-565.
    """
    t, e = _survival_data(times, events)
    g = _groups(groups, len(t))
    z = z_quantile(check_level(level))
    note = _two_arm_note(e, g) or _monotone_note(t, e, g)
    if note is not None:
        return HazardRatio(None, None, None, f"hazard ratio undefined: {note}")
    exog = np.asarray(g, dtype=float).reshape(-1, 1)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            model = PHReg(np.asarray(t), exog, status=np.asarray(e), ties="efron")
            fit = model.fit(maxiter=200)
            score = float(model.score(fit.params)[0])
        beta, se = float(fit.params[0]), float(fit.bse[0])
    except (np.linalg.LinAlgError, ValueError, FloatingPointError):
        beta, se, score = math.nan, math.nan, math.nan
    # Converged when the next Newton step would be negligible against the standard error.
    converged = math.isfinite(score) and abs(score) * se < 1e-6
    if not (converged and math.isfinite(beta) and math.isfinite(se) and se > 0.0):
        return HazardRatio(None, None, None, "hazard ratio undefined: the fit did not converge")
    estimate = _exp(beta)
    if estimate is None:
        return HazardRatio(None, None, None, "hazard ratio undefined: estimate overflows")
    p_value = math.erfc(abs(beta) / se / math.sqrt(2.0))  # 2 (1 - Phi(|z|))
    ci: Interval = (_exp(beta - z * se), _exp(beta + z * se))
    note = "upper confidence limit overflows" if ci[1] is None else None
    return HazardRatio(estimate, ci, p_value, note)


def _exp(x: float) -> float | None:
    """``exp(x)``, or ``None`` where it overflows to infinity."""
    return math.exp(x) if x < 709.0 else None

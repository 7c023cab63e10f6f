"""Time-to-event endpoints: Kaplan-Meier curves, log-rank test, Cox hazard ratio."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import survdiff

from itptrial.stats._common import check_level, finite_or_none, join_notes, z_quantile
from itptrial.stats._types import HazardRatio, Interval, KaplanMeier, TestResult

LOGRANK_METHOD = "log-rank test (R survdiff, rho = 0)"
STRATIFIED_LOGRANK_METHOD = "stratified log-rank test (R survdiff with strata())"

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
    statsmodels ``survdiff``, equal to R ``survdiff(Surv(time, event) ~ group)``
    (``rho = 0``), ties included. A zero variance (e.g. every subject at risk has the
    event at the one event time) is undefined here; R stops with "exactly singular".

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
    found = _survdiff(t, e, g, None)
    if found is None:
        return TestResult(
            None, None, None, LOGRANK_METHOD, "log-rank test undefined: zero variance"
        )
    statistic, p_value = found
    return TestResult(statistic, 1, p_value, LOGRANK_METHOD, None)


def _monotone_note(
    t: Sequence[float], e: Sequence[int], g: Sequence[int], s: Sequence[object] | None = None
) -> str | None:
    """Why the Cox partial likelihood has no maximum (an infinite log hazard ratio).

    With one binary covariate the score at ``beta -> +inf`` is minus the number of control
    events that have an experimental subject at risk (experimental follow-up >= the event
    time, in the same stratum); if there is none the likelihood increases for ever, and
    symmetrically for ``beta -> -inf``. This includes "one arm has no events".
    """
    strata = [0] * len(t) if s is None else list(s)
    for arm, direction in ((0, "infinite"), (1, "zero")):
        other_last: dict[object, float] = {}
        for ti, gi, si in zip(t, g, strata, strict=True):
            if gi != arm:
                other_last[si] = max(other_last.get(si, -math.inf), ti)
        own_events = [
            (ti, si) for ti, ei, gi, si in zip(t, e, g, strata, strict=True) if ei and gi == arm
        ]
        if not any(ti <= other_last.get(si, -math.inf) for ti, si in own_events):
            name, other = ("control", "experimental") if arm == 0 else ("experimental", "control")
            where = " of its stratum" if s is not None else ""
            why = (
                f"the {name} arm has no events"
                if not own_events
                else f"every {name} event occurs after the last {other} follow-up time{where}"
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
    note = _two_arm_note(e, g) or _monotone_note(t, e, g)
    if note is not None:
        return HazardRatio(None, None, None, f"hazard ratio undefined: {note}")
    return _fit_cox(t, e, g, None, check_level(level))


def _fit_cox(
    t: Sequence[float],
    e: Sequence[int],
    g: Sequence[int],
    strata: Sequence[object] | None,
    level: float,
) -> HazardRatio:
    """statsmodels PHReg with Efron ties (and strata), as R coxph; Wald CI and p."""
    z = z_quantile(level)
    exog = np.asarray(g, dtype=float).reshape(-1, 1)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            model = PHReg(
                np.asarray(t),
                exog,
                status=np.asarray(e),
                ties="efron",
                strata=None if strata is None else np.asarray([str(s) for s in strata]),
            )
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


def _strata(strata: Sequence[object], n: int) -> list[object]:
    if len(strata) != n:
        raise ValueError(f"strata ({len(strata)}) and times ({n}) differ in length")
    if any(s is None for s in strata):
        raise ValueError("every subject needs a stratum (leave out those without one)")
    return list(strata)


def _informative_strata(e: Sequence[int], g: Sequence[int], s: Sequence[object]) -> set[object]:
    """Strata with subjects of both arms and at least one event: the others add nothing."""
    arms: dict[object, set[int]] = {}
    with_events: set[object] = set()
    for ei, gi, si in zip(e, g, s, strict=True):
        arms.setdefault(si, set()).add(gi)
        if ei:
            with_events.add(si)
    return {si for si, present in arms.items() if present == {0, 1} and si in with_events}


def _survdiff(
    t: Sequence[float], e: Sequence[int], g: Sequence[int], strata: Sequence[object] | None
) -> tuple[float, float] | None:
    """statsmodels' log-rank chi-square and p (stratified when ``strata`` is given), or
    None when the variance is zero."""
    labels = None
    if strata is not None:
        codes = {label: k for k, label in enumerate(sorted({str(x) for x in strata}))}
        labels = [codes[str(x)] for x in strata]
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            chisq, p_value = survdiff(np.asarray(t), np.asarray(e), np.asarray(g), strata=labels)
    except np.linalg.LinAlgError:  # singular: a zero variance
        return None
    statistic, p = finite_or_none(chisq), finite_or_none(p_value)
    if statistic is None or p is None:
        return None
    return statistic, p


def stratified_logrank(
    times: Sequence[float],
    events: Sequence[int],
    groups: Sequence[int],
    strata: Sequence[object],
) -> TestResult:
    """Stratified log-rank test of equal hazards in the two arms (1 degree of freedom).

    Parameters
    ----------
    times, events, groups : sequence
        As :func:`logrank`.
    strata : sequence
        Each subject's stratum (any hashable label; no ``None``).

    Returns
    -------
    TestResult
        ``(sum_k (O1k - E1k))^2 / sum_k Vk``: the observed-minus-expected events of the
        experimental arm and the hypergeometric variances, computed within each stratum
        and summed. ``None`` (with a note) when no stratum has both arms and an event, or
        the variance is zero.

    Notes
    -----
    statsmodels ``survdiff(..., strata=...)``, equal to R
    ``survdiff(Surv(time, event) ~ group + strata(stratum))``.

    References
    ----------
    Mantel N. Evaluation of survival data and two new rank order statistics arising in
    its consideration. Cancer Chemother Rep 1966;50:163-170.
    Kalbfleisch JD, Prentice RL. The Statistical Analysis of Failure Time Data. 2nd ed.
    Wiley 2002, section 7.2 (stratified tests).
    """
    t, e = _survival_data(times, events)
    g = _groups(groups, len(t))
    s = _strata(strata, len(t))
    method = STRATIFIED_LOGRANK_METHOD
    note = _two_arm_note(e, g)
    if note is None and not _informative_strata(e, g, s):
        note = "no stratum has subjects of both arms and an event"
    if note is not None:
        return TestResult(None, None, None, method, f"stratified log-rank test undefined: {note}")
    found = _survdiff(t, e, g, s)
    if found is None:
        return TestResult(
            None, None, None, method, "stratified log-rank test undefined: zero variance"
        )
    statistic, p = found
    return TestResult(statistic, 1, p, method, None)


def stratified_cox_hazard_ratio(
    times: Sequence[float],
    events: Sequence[int],
    groups: Sequence[int],
    strata: Sequence[object],
    level: float = 0.95,
) -> HazardRatio:
    """Cox hazard ratio, experimental versus control, with a baseline hazard per stratum.

    Parameters
    ----------
    times, events, groups : sequence
        As :func:`cox_hazard_ratio`.
    strata : sequence
        Each subject's stratum (no ``None``).
    level : float
        Confidence level, default 0.95.

    Returns
    -------
    HazardRatio
        The common ``exp(beta)`` of the stratified partial likelihood (Efron ties), its
        Wald CI and p. ``None`` (with a note) as :func:`cox_hazard_ratio`, judged within
        strata (a monotone likelihood when no event of an arm has the other arm at risk in
        its stratum).

    Notes
    -----
    statsmodels ``PHReg(ties="efron", strata=...)``, equal to R
    ``coxph(Surv(time, event) ~ group + strata(stratum), ties = "efron")``.

    References
    ----------
    Cox DR. Regression models and life-tables. J R Stat Soc B 1972;34:187-220.
    Kalbfleisch JD, Prentice RL. The Statistical Analysis of Failure Time Data. 2nd ed.
    Wiley 2002, section 4.4 (stratified proportional hazards).
    """
    t, e = _survival_data(times, events)
    g = _groups(groups, len(t))
    s = _strata(strata, len(t))
    note = _two_arm_note(e, g) or _monotone_note(t, e, g, s)
    if note is not None:
        return HazardRatio(None, None, None, f"hazard ratio undefined: {note}")
    return _fit_cox(t, e, g, s, check_level(level))


def _exp(x: float) -> float | None:
    """``exp(x)``, or ``None`` where it overflows to infinity."""
    return math.exp(x) if x < 709.0 else None

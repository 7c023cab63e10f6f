"""Properties and edge cases of itptrial.stats, and a brute-force check of stratified MN."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itptrial.stats import (
    KaplanMeier,
    chi_square,
    cmh_test,
    cox_hazard_ratio,
    fisher_exact,
    holm,
    kaplan_meier,
    logrank,
    proportion,
    risk_difference,
    stratified_cox_hazard_ratio,
    stratified_logrank,
    stratified_risk_difference,
)
from itptrial.stats._common import z_quantile
from itptrial.stats._score import Stratum, constrained_mle

SETTINGS = settings(max_examples=80, deadline=None, derandomize=True)


def assert_clean(result: Any) -> None:
    """No NaN or infinity anywhere in a result (recursing into tuples)."""

    def walk(value: Any) -> None:
        if isinstance(value, float):
            assert math.isfinite(value), result
        elif isinstance(value, tuple):
            for item in value:
                walk(item)

    for field in dataclasses.fields(result):
        walk(getattr(result, field.name))


@st.composite
def arm_counts(draw: st.DrawFn, max_n: int = 40, allow_empty: bool = False) -> tuple[int, int]:
    n = draw(st.integers(0 if allow_empty else 1, max_n))
    return draw(st.integers(0, n)), n


# ------------------------------------------------------------------ proportions


@SETTINGS
@given(arm_counts(max_n=200, allow_empty=True))
def test_proportion_interval_holds_rate(counts: tuple[int, int]) -> None:
    x, n = counts
    result = proportion(x, n)
    assert_clean(result)
    if n == 0:
        assert result.rate is None and result.ci is None and result.note
        return
    assert result.ci is not None and result.rate is not None
    lower, upper = result.ci
    assert lower is not None and upper is not None
    assert 0.0 <= lower <= result.rate <= upper <= 1.0
    assert (lower == 0.0) == (x == 0)
    assert (upper == 1.0) == (x == n)


def test_proportion_corners_have_valid_intervals() -> None:
    assert proportion(0, 10).ci == (0.0, pytest.approx(1 - 0.025 ** (1 / 10)))
    assert proportion(10, 10).ci == (pytest.approx(0.025 ** (1 / 10)), 1.0)
    assert proportion(1, 1).ci == (pytest.approx(0.025), 1.0)


# ------------------------------------------------------------- risk difference


@SETTINGS
@given(arm_counts(allow_empty=True), arm_counts(allow_empty=True))
def test_risk_difference_intervals(e: tuple[int, int], c: tuple[int, int]) -> None:
    result = risk_difference(e[0], e[1], c[0], c[1])
    assert_clean(result)
    if e[1] == 0 or c[1] == 0:
        assert result.estimate is None and result.newcombe is None
        assert result.miettinen_nurminen is None and result.note
        return
    d = result.estimate
    assert d == pytest.approx(e[0] / e[1] - c[0] / c[1])
    for interval in (result.newcombe, result.miettinen_nurminen):
        assert interval is not None
        lower, upper = interval
        assert lower is not None and upper is not None
        assert -1.0 <= lower <= d <= upper <= 1.0
        # An interval excluding 0 excludes it on the estimate's side.
        if lower > 0:
            assert d > 0
        if upper < 0:
            assert d < 0
        assert (lower == -1.0) == (d == -1.0)
        assert (upper == 1.0) == (d == 1.0)


@SETTINGS
@given(arm_counts(), arm_counts())
def test_swapping_arms_negates_the_difference(e: tuple[int, int], c: tuple[int, int]) -> None:
    forward = risk_difference(e[0], e[1], c[0], c[1])
    backward = risk_difference(c[0], c[1], e[0], e[1])
    assert forward.estimate is not None and backward.estimate is not None
    assert backward.estimate == pytest.approx(-forward.estimate, abs=1e-15)
    for a, b in (
        (forward.newcombe, backward.newcombe),
        (forward.miettinen_nurminen, backward.miettinen_nurminen),
    ):
        assert a is not None and b is not None
        assert a[0] is not None and a[1] is not None and b[0] is not None and b[1] is not None
        assert b[0] == pytest.approx(-a[1], abs=1e-9)
        assert b[1] == pytest.approx(-a[0], abs=1e-9)


@SETTINGS
@given(arm_counts(), arm_counts())
def test_single_stratum_stratified_equals_unstratified(
    e: tuple[int, int], c: tuple[int, int]
) -> None:
    plain = risk_difference(e[0], e[1], c[0], c[1])
    stratified = stratified_risk_difference([e[0]], [e[1]], [c[0]], [c[1]])
    assert stratified.estimate == plain.estimate
    assert stratified.miettinen_nurminen == plain.miettinen_nurminen
    assert stratified.newcombe is None


def test_wider_level_gives_wider_intervals() -> None:
    for level_lo, level_hi in ((0.8, 0.95), (0.95, 0.99)):
        narrow = risk_difference(12, 30, 7, 28, level_lo)
        wide = risk_difference(12, 30, 7, 28, level_hi)
        for a, b in (
            (narrow.newcombe, wide.newcombe),
            (narrow.miettinen_nurminen, wide.miettinen_nurminen),
        ):
            assert a is not None and b is not None
            assert a[0] is not None and b[0] is not None and b[0] < a[0]
            assert a[1] is not None and b[1] is not None and b[1] > a[1]


# ------------------------------------------------------------------ 2x2 tests


@SETTINGS
@given(arm_counts(allow_empty=True), arm_counts(allow_empty=True))
def test_chi_square_and_fisher(e: tuple[int, int], c: tuple[int, int]) -> None:
    chi = chi_square(e[0], e[1], c[0], c[1])
    fisher = fisher_exact(e[0], e[1], c[0], c[1])
    assert_clean(chi)
    assert_clean(fisher)
    # Symmetric in the arms; the odds ratio inverts.
    chi_swapped = chi_square(c[0], c[1], e[0], e[1])
    swapped = fisher_exact(c[0], c[1], e[0], e[1])
    if e[1] == 0 or c[1] == 0:
        assert chi.p_value is None and fisher.p_value is None and chi.note and fisher.note
        assert chi_swapped.p_value is None and swapped.p_value is None
        return
    assert swapped.p_value == pytest.approx(fisher.p_value, rel=1e-12)
    if chi.statistic is None:
        assert chi_swapped.statistic is None
    else:
        assert chi_swapped.statistic == pytest.approx(chi.statistic, rel=1e-12)
        assert chi_swapped.p_value == pytest.approx(chi.p_value, rel=1e-12)
    assert fisher.p_value is not None and 0.0 < fisher.p_value <= 1.0
    if chi.p_value is None:
        assert chi.note and e[0] + c[0] in (0, e[1] + c[1])
    else:
        assert chi.statistic is not None and chi.statistic >= 0 and 0.0 <= chi.p_value <= 1.0
    if fisher.odds_ratio is not None and fisher.odds_ratio > 0:
        assert swapped.odds_ratio == pytest.approx(1 / fisher.odds_ratio, rel=1e-6)
    if fisher.ci is not None:
        lower, upper = fisher.ci
        assert lower is not None and lower >= 0
        if fisher.odds_ratio is not None:
            assert lower <= fisher.odds_ratio
            assert upper is None or fisher.odds_ratio <= upper


# -------------------------------------------------------------------- stratified


@st.composite
def strata(draw: st.DrawFn, min_k: int = 1, max_k: int = 4) -> tuple[list[int], ...]:
    k = draw(st.integers(min_k, max_k))
    e = [draw(arm_counts(max_n=25)) for _ in range(k)]
    c = [draw(arm_counts(max_n=25)) for _ in range(k)]
    return [a for a, _ in e], [n for _, n in e], [a for a, _ in c], [n for _, n in c]


@SETTINGS
@given(strata(), st.randoms(use_true_random=False))
def test_stratified_invariances(tables: tuple[list[int], ...], rnd: Any) -> None:
    x1, n1, x0, n0 = tables
    base = stratified_risk_difference(x1, n1, x0, n0)
    assert_clean(base)
    assert base.miettinen_nurminen is not None and base.estimate is not None
    lower, upper = base.miettinen_nurminen
    assert lower is not None and upper is not None
    assert -1.0 <= lower <= base.estimate <= upper <= 1.0
    # A stratum with an empty arm carries no information.
    padded = stratified_risk_difference([*x1, 3], [*n1, 5], [*x0, 0], [*n0, 0])
    assert padded == base
    # Order of strata does not matter.
    order = list(range(len(x1)))
    rnd.shuffle(order)
    shuffled = stratified_risk_difference(
        [x1[i] for i in order],
        [n1[i] for i in order],
        [x0[i] for i in order],
        [n0[i] for i in order],
    )
    assert shuffled.estimate == pytest.approx(base.estimate, abs=1e-12)
    assert shuffled.miettinen_nurminen == pytest.approx(base.miettinen_nurminen, abs=1e-12)
    # Swapping the arms negates everything; CMH is unchanged.
    swapped = stratified_risk_difference(x0, n0, x1, n1)
    assert swapped.miettinen_nurminen is not None
    assert swapped.miettinen_nurminen[0] == pytest.approx(-upper, abs=1e-9)
    cmh = cmh_test(x1, n1, x0, n0)
    assert_clean(cmh)
    cmh_swapped = cmh_test(x0, n0, x1, n1)
    if cmh.statistic is None:
        assert cmh_swapped.statistic is None and cmh.note
    else:
        assert cmh_swapped.statistic == pytest.approx(cmh.statistic, rel=1e-12)


def test_stratified_edge_cases() -> None:
    empty = stratified_risk_difference([0, 2], [0, 4], [1, 0], [3, 0])
    assert empty.estimate is None and empty.miettinen_nurminen is None and empty.note
    assert stratified_risk_difference([], [], [], []).note
    all_zero = cmh_test([0, 0], [5, 6], [0, 0], [4, 7])
    assert all_zero.statistic is None and all_zero.note
    no_pairs = cmh_test([1, 0], [1, 0], [0, 2], [0, 3])
    assert no_pairs.statistic is None and no_pairs.note
    with pytest.raises(ValueError):
        cmh_test([1, 2], [3], [1], [3])
    with pytest.raises(ValueError):
        stratified_risk_difference([4], [3], [1], [3])


# Brute-force reference for the stratified Miettinen-Nurminen interval.  Independent of
# the closed-form cubic root: for each delta on a grid of step 1e-4 the constrained MLE
# is found by bisection on the derivative of the (concave) constrained log-likelihood,
# the score statistic is evaluated, and the interval is read off as the set of grid
# points accepted at the 5% level.


def _brute_mle(s: Stratum, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo = np.maximum(0.0, -delta)
    hi = np.minimum(1.0, 1.0 - delta)
    for _ in range(80):
        p0 = (lo + hi) / 2
        p1 = p0 + delta
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = (
                (s.x1 / p1 if s.x1 else 0.0)
                - ((s.n1 - s.x1) / (1 - p1) if s.n1 - s.x1 else 0.0)
                + (s.x0 / p0 if s.x0 else 0.0)
                - ((s.n0 - s.x0) / (1 - p0) if s.n0 - s.x0 else 0.0)
            )
        up = slope > 0
        lo = np.where(up, p0, lo)
        hi = np.where(up, hi, p0)
    p0 = (lo + hi) / 2
    return p0 + delta, p0


def _brute_interval(tables: list[Stratum], step: float = 1e-4) -> tuple[float, float, float]:
    weights = np.array([s.n1 * s.n0 / (s.n1 + s.n0) for s in tables])
    weights = weights / weights.sum()
    differences = np.array([s.x1 / s.n1 - s.x0 / s.n0 for s in tables])
    estimate = float(np.sum(weights * differences))
    grid = np.linspace(-1.0, 1.0, round(2 / step) + 1)
    variance = np.zeros_like(grid)
    for w, s in zip(weights, tables, strict=True):
        p1, p0 = _brute_mle(s, grid)
        total = s.n1 + s.n0
        variance += w * w * (p1 * (1 - p1) / s.n1 + p0 * (1 - p0) / s.n0) * total / (total - 1)
    accepted = (estimate - grid) ** 2 <= z_quantile(0.95) ** 2 * variance
    where = np.flatnonzero(accepted)
    assert where.size and np.all(np.diff(where) == 1), "acceptance region is not an interval"
    return estimate, float(grid[where[0]]), float(grid[where[-1]])


def _random_tables(rng: np.random.Generator) -> list[Stratum]:
    tables = []
    for _ in range(int(rng.integers(1, 5))):
        n1, n0 = (int(v) for v in rng.integers(1, 30, size=2))
        # Push some counts to the corners 0 and n.
        x1 = int(rng.choice([0, n1, int(rng.integers(0, n1 + 1))]))
        x0 = int(rng.choice([0, n0, int(rng.integers(0, n0 + 1))]))
        tables.append(Stratum(x1, n1, x0, n0))
    return tables


@pytest.mark.parametrize("seed", range(30))
def test_stratified_mn_matches_brute_force(seed: int) -> None:
    tables = _random_tables(np.random.default_rng(seed))
    result = stratified_risk_difference(
        [s.x1 for s in tables],
        [s.n1 for s in tables],
        [s.x0 for s in tables],
        [s.n0 for s in tables],
    )
    estimate, lower, upper = _brute_interval(tables)
    assert result.estimate == pytest.approx(estimate, abs=1e-12)
    assert result.miettinen_nurminen is not None
    ours_lower, ours_upper = result.miettinen_nurminen
    assert ours_lower is not None and ours_upper is not None
    # The grid's outermost accepted points lie within one step inside our limits.
    assert lower - 1e-4 - 1e-9 <= ours_lower <= lower + 1e-9
    assert upper - 1e-9 <= ours_upper <= upper + 1e-4 + 1e-9


@pytest.mark.parametrize("seed", range(10))
def test_closed_form_mle_matches_bisection(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    for s in _random_tables(rng):
        deltas = rng.uniform(-0.999, 0.999, size=25)
        p1_ref, p0_ref = _brute_mle(s, deltas)
        for delta, a, b in zip(deltas, p1_ref, p0_ref, strict=True):
            p1, p0 = constrained_mle(s, float(delta))
            assert p1 == pytest.approx(float(a), abs=1e-9)
            assert p0 == pytest.approx(float(b), abs=1e-9)


# ------------------------------------------------------------------ time to event


@st.composite
def survival_data(
    draw: st.DrawFn, max_n: int = 30, both_arms: bool = False
) -> tuple[list[float], list[int], list[int]]:
    n = draw(st.integers(2 if both_arms else 0, max_n))
    times = [float(draw(st.integers(0, 25))) for _ in range(n)]
    events = [draw(st.integers(0, 1)) for _ in range(n)]
    groups = [draw(st.integers(0, 1)) for _ in range(n)]
    if both_arms:
        groups[0], groups[1] = 0, 1
    return times, events, groups


def _check_km(km: KaplanMeier, times: list[float], events: list[int]) -> None:
    assert_clean(km)
    assert km.n == len(times) and km.events == sum(events)
    assert list(km.times) == sorted(set(times))
    previous = 1.0
    for s, lo, up, at_risk, t in zip(
        km.survival, km.lower, km.upper, km.at_risk, km.times, strict=True
    ):
        assert 0.0 <= s <= previous
        previous = s
        assert at_risk == sum(1 for ti in times if ti >= t) == km.at_risk_at(t)
        if s == 0:
            assert lo is None and up is None
        else:
            assert lo is not None and up is not None and 0 < lo <= s <= up <= 1
    assert km.at_risk_at(max(times, default=0.0) + 1) == 0
    if km.median is not None:
        assert km.times[0] <= km.median <= km.times[-1]
        lower, upper = km.median_ci
        assert lower is None or lower <= km.median
        assert upper is None or km.median <= upper
    else:
        assert km.note


@SETTINGS
@given(survival_data())
def test_kaplan_meier_properties(data: tuple[list[float], list[int], list[int]]) -> None:
    times, events, _ = data
    km = kaplan_meier(times, events)
    _check_km(km, times, events)
    assert kaplan_meier(times, events) == km  # deterministic
    # Input order does not matter.
    reversed_km = kaplan_meier(times[::-1], events[::-1])
    assert reversed_km == km


@SETTINGS
@given(survival_data(both_arms=True))
def test_logrank_and_cox_under_label_swap(
    data: tuple[list[float], list[int], list[int]],
) -> None:
    times, events, groups = data
    swapped_groups = [1 - g for g in groups]
    test = logrank(times, events, groups)
    swapped = logrank(times, events, swapped_groups)
    assert_clean(test)
    if test.statistic is None:
        assert swapped.statistic is None and test.note
    else:
        assert swapped.statistic == pytest.approx(test.statistic, rel=1e-9)
        assert test.p_value is not None and 0.0 <= test.p_value <= 1.0
    hr = cox_hazard_ratio(times, events, groups)
    hr_swapped = cox_hazard_ratio(times, events, swapped_groups)
    assert_clean(hr)
    if hr.estimate is None:
        assert hr_swapped.estimate is None and hr.note and hr.ci is None and hr.p_value is None
    else:
        assert hr_swapped.estimate == pytest.approx(1 / hr.estimate, rel=1e-6)
        assert hr.ci is not None and hr.ci[0] is not None and hr.ci[1] is not None
        assert hr.ci[0] <= hr.estimate <= hr.ci[1]
        assert hr_swapped.p_value == pytest.approx(hr.p_value, rel=1e-6)


def _slow_stratified_logrank(
    times: list[float], events: list[int], groups: list[int], strata: list[int]
) -> float | None:
    """The stratified log-rank statistic straight from its definition (Mantel 1966):
    observed minus expected experimental events and the hypergeometric variance at every
    distinct event time of every stratum, summed over the strata."""
    o_minus_e = variance = 0.0
    for stratum in set(strata):
        rows = [(t, e, g) for t, e, g, s in zip(times, events, groups, strata, strict=True)
                if s == stratum]  # fmt: skip
        for time in sorted({t for t, e, _ in rows if e}):
            at_risk = [(e, g) for t, e, g in rows if t >= time]
            n, n1 = len(at_risk), sum(g for _, g in at_risk)
            d = sum(1 for t, e, _ in rows if t == time and e)
            d1 = sum(1 for t, e, g in rows if t == time and e and g)
            o_minus_e += d1 - n1 * d / n
            if n > 1:
                variance += n1 * (n - n1) * d * (n - d) / (n * n * (n - 1))
    return None if variance == 0 else o_minus_e**2 / variance


@SETTINGS
@given(survival_data(both_arms=True), st.lists(st.integers(0, 2), min_size=60, max_size=60))
def test_stratified_logrank_matches_its_definition(
    data: tuple[list[float], list[int], list[int]], labels: list[int]
) -> None:
    times, events, groups = data
    strata = labels[: len(times)]
    result = stratified_logrank(times, events, groups, strata)
    expected = _slow_stratified_logrank(times, events, groups, strata)
    assert_clean(result)
    if result.statistic is None:
        assert result.note
        assert expected is None or not any(events)
    else:
        assert expected is not None
        assert result.statistic == pytest.approx(expected, rel=1e-9, abs=1e-12)


@SETTINGS
@given(survival_data(both_arms=True))
def test_one_stratum_gives_the_unstratified_survival_analysis(
    data: tuple[list[float], list[int], list[int]],
) -> None:
    times, events, groups = data
    one = ["all"] * len(times)
    test, stratified = (
        logrank(times, events, groups),
        stratified_logrank(times, events, groups, one),
    )
    if test.statistic is None:
        assert stratified.statistic is None
    else:
        assert stratified.statistic == pytest.approx(test.statistic, rel=1e-9)
    hr = cox_hazard_ratio(times, events, groups)
    hr_stratified = stratified_cox_hazard_ratio(times, events, groups, one)
    if hr.estimate is None:
        assert hr_stratified.estimate is None and hr_stratified.note
    else:
        assert hr_stratified.estimate == pytest.approx(hr.estimate, rel=1e-9)


@SETTINGS
@given(st.lists(st.one_of(st.none(), st.floats(0, 1)), min_size=1, max_size=8), st.randoms())
def test_holm_properties(p_values: list[float | None], rnd: Any) -> None:
    adjusted = holm(p_values)
    defined = [p for p in p_values if p is not None]
    for raw, adj in zip(p_values, adjusted, strict=True):
        assert (raw is None) == (adj is None)
        if raw is not None and adj is not None:
            assert raw <= adj <= min(1.0, len(defined) * raw) + 1e-15
    order = list(range(len(p_values)))
    rnd.shuffle(order)
    shuffled = holm([p_values[i] for i in order])
    assert shuffled == tuple(adjusted[i] for i in order)
    # An independent implementation agrees (statsmodels, written from the same paper).
    if defined:
        from statsmodels.stats.multitest import multipletests

        theirs = iter(multipletests(defined, method="holm")[1])
        for adj, raw in zip(adjusted, p_values, strict=True):
            if raw is not None:
                assert adj == pytest.approx(float(next(theirs)), rel=1e-12, abs=1e-15)
    # The smallest p-value is multiplied by the family size (Bonferroni for the first).
    if defined:
        smallest = min(defined)
        assert min(a for a in adjusted if a is not None) == pytest.approx(
            min(1.0, len(defined) * smallest)
        )


def test_kaplan_meier_edge_cases() -> None:
    empty = kaplan_meier([], [])
    assert empty.n == 0 and empty.median is None and empty.median_ci == (None, None)
    assert empty.note and empty.at_risk_at(0) == 0
    censored = kaplan_meier([3, 5, 8], [0, 0, 0])
    assert censored.survival == (1.0, 1.0, 1.0) and censored.median is None
    assert censored.median_ci == (None, None) and censored.note
    # Exactly 0.5 over [2, 5): median is the midpoint 3.5 (R quantile.survfit).
    assert kaplan_meier([1, 2, 5, 8], [1, 1, 1, 0]).median == 3.5
    # Exactly 0.5 to the end of follow-up: midpoint to the last time (R quantile.survfit).
    assert kaplan_meier([1, 2, 6, 8], [1, 1, 0, 0]).median == 5.0
    # Curve never reaches 0.5.
    never = kaplan_meier([1, 5, 6, 7, 8], [1, 0, 0, 0, 0])
    assert never.median is None and never.note and "median not reached" in never.note
    with pytest.raises(ValueError):
        kaplan_meier([1, 2], [1])
    with pytest.raises(ValueError):
        kaplan_meier([-1.0], [1])
    with pytest.raises(ValueError):
        kaplan_meier([1.0], [2])


def test_time_to_event_undefined_cases() -> None:
    no_events = ([1.0, 2, 3, 4], [0, 0, 0, 0], [0, 0, 1, 1])
    assert logrank(*no_events).statistic is None and logrank(*no_events).note
    assert cox_hazard_ratio(*no_events).estimate is None
    one_arm = ([1.0, 2, 3, 4], [1, 1, 0, 0], [1, 1, 1, 1])
    assert logrank(*one_arm).p_value is None and "control arm is empty" in str(
        logrank(*one_arm).note
    )
    # Monotone likelihood: the experimental arm has no events.
    monotone = cox_hazard_ratio([1.0, 2, 3, 4, 5, 6], [1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1])
    assert monotone.estimate is None and monotone.note and "no events" in monotone.note
    # Complete separation: every control event after the last experimental follow-up.
    separated = cox_hazard_ratio([1.0, 2, 3, 7, 8], [1, 1, 0, 1, 1], [1, 1, 1, 0, 0])
    assert separated.estimate is None and separated.note and "monotone" in separated.note
    # Zero variance: every subject has the event at the one time (R: "exactly singular").
    singular = logrank([4.0, 4.0, 4.0], [1, 1, 1], [0, 1, 1])
    assert singular.statistic is None and singular.p_value is None
    assert singular.note and "zero variance" in singular.note
    assert stratified_logrank([4.0, 4.0, 4.0], [1, 1, 1], [0, 1, 1], ["a"] * 3).p_value is None
    with pytest.raises(ValueError):
        logrank([1.0, 2.0], [1, 1], [0, 2])


def test_invalid_counts_raise() -> None:
    for bad in ((5, 4), (-1, 4)):
        with pytest.raises(ValueError):
            proportion(*bad)
    with pytest.raises(ValueError):
        risk_difference(1, 2, 3, 2)
    with pytest.raises(ValueError):
        chi_square(1.5, 3, 1, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        proportion(1, 3, level=1.0)

"""itptrial.stats against R (values precomputed by tests/reference/make_reference.R).

R is not needed to run these tests: r_reference.json is committed.  Regenerate with

    python tests/reference/make_inputs.py && Rscript tests/reference/make_reference.R

Tolerance: 1e-6 relative; 2e-4 relative for the Fisher odds ratio and its interval (R's
``uniroot`` finds them coarsely, docs/analysis.md).  R's NA/NaN/Inf are JSON null
and must be ``None`` here.  Deliberate differences from R (all "undefined" cases where R
still prints a number) are listed in ``DELIBERATE`` and asserted explicitly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from itptrial.stats import (
    chi_square,
    cmh_test,
    cox_hazard_ratio,
    fisher_exact,
    holm,
    kaplan_meier,
    logrank,
    proportion,
    stratified_cox_hazard_ratio,
    stratified_logrank,
)

from r_compare import FISHER_REL, REL, close, close_fisher, solves

REFERENCE = Path(__file__).parent / "reference"
INPUTS = json.loads((REFERENCE / "fixtures_input.json").read_text(encoding="utf-8"))
R = json.loads((REFERENCE / "r_reference.json").read_text(encoding="utf-8"))


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


BINARY_IN = _by_name(INPUTS["binary"])
BINARY_R = _by_name(R["binary"])
SURV_IN = _by_name(INPUTS["survival"])
SURV_R = _by_name(R["survival"])
STRAT_IN = _by_name(INPUTS["stratified"])
STRAT_R = _by_name(R["stratified"])
STRAT_SURV_IN = _by_name(INPUTS["stratified_survival"])
STRAT_SURV_R = _by_name(R["stratified_survival"])
HOLM_IN = _by_name(INPUTS["holm"])
HOLM_R = _by_name(R["holm"])


def test_fixtures_cover_the_brief() -> None:
    assert {"target_sustained", "empty_experimental", "empty_control", "newcombe_h"} <= set(
        BINARY_IN
    )
    assert {
        "ties",
        "no_events",
        "one_arm_all_censored",
        "never_half",
        "exact_half_stretch",
        "exact_half_to_end",
    } <= set(SURV_IN)
    assert len(STRAT_IN) >= 5
    assert set(BINARY_IN) == set(BINARY_R)
    assert set(SURV_IN) == set(SURV_R)
    assert set(STRAT_IN) == set(STRAT_R)


# --------------------------------------------------------------------------- binary


@pytest.mark.parametrize("name", sorted(BINARY_IN))
def test_clopper_pearson_equals_binom_test(name: str) -> None:
    case, ref = BINARY_IN[name], BINARY_R[name]
    for x, n, key in (
        (case["x1"], case["n1"], "binom_experimental"),
        (case["x0"], case["n0"], "binom_control"),
    ):
        result = proportion(x, n)
        if n == 0:
            assert result.ci is None and result.rate is None and result.note
            continue
        assert result.ci is not None
        assert close(result.ci[0], ref[key]["lower"])
        assert close(result.ci[1], ref[key]["upper"])


@pytest.mark.parametrize("name", sorted(BINARY_IN))
def test_chi_square_equals_prop_test_and_chisq_test(name: str) -> None:
    case, ref = BINARY_IN[name], BINARY_R[name]
    result = chi_square(case["x1"], case["n1"], case["x0"], case["n0"])
    for key in ("prop_test", "chisq_test"):
        assert close(result.statistic, ref[key]["statistic"]), key
        assert close(result.p_value, ref[key]["p_value"]), key
    if result.statistic is None:
        assert result.note and result.df is None
    else:
        assert result.df == 1


def _degenerate(case: dict[str, Any]) -> bool:
    responders = case["x1"] + case["x0"]
    return responders in (0, case["n1"] + case["n0"])


def _empty(case: dict[str, Any]) -> bool:
    return bool(case["n1"] == 0 or case["n0"] == 0)


@pytest.mark.parametrize("name", sorted(BINARY_IN))
def test_fisher_equals_fisher_test(name: str) -> None:
    case, ref = BINARY_IN[name], BINARY_R[name]["fisher_test"]
    result = fisher_exact(case["x1"], case["n1"], case["x0"], case["n0"])
    if _empty(case):
        # Deliberate: R returns p = 1 for a table with an empty row; we report undefined.
        assert result.p_value is None and result.odds_ratio is None and result.ci is None
        assert result.note and "empty" in result.note
        return
    assert close(result.p_value, ref["p_value"])
    if _degenerate(case):
        # Deliberate: one possible table; R prints estimate 0 with interval [0, Inf].
        assert ref["estimate"] == 0 and ref["conf_low"] == 0 and ref["conf_high"] is None
        assert result.odds_ratio is None and result.ci is None and result.note
        return
    assert result.ci is not None
    pairs = (
        (result.odds_ratio, ref["estimate"], "mle"),
        (result.ci[0], ref["conf_low"], "lower"),
        (result.ci[1], ref["conf_high"], "upper"),
    )
    for ours, theirs, kind in pairs:
        assert close_fisher(ours, theirs), kind
        if ours is not None and ours > 0:
            assert solves(case, ours, kind), kind


def test_r_fisher_estimate_is_off_where_we_differ() -> None:
    """Where R and we differ by > 2e-4 relative, R's value misses its own equation."""
    case = BINARY_IN["random_7"]
    r_estimate = BINARY_R["random_7"]["fisher_test"]["estimate"]
    ours = fisher_exact(case["x1"], case["n1"], case["x0"], case["n0"]).odds_ratio
    assert ours is not None and not close(ours, r_estimate, FISHER_REL)
    assert solves(case, ours, "mle") and not solves(case, r_estimate, "mle")


# ------------------------------------------------------------------ time to event


def _arm(case: dict[str, Any], group: int) -> tuple[list[float], list[int]]:
    rows = [
        (t, e)
        for t, e, g in zip(case["times"], case["events"], case["groups"], strict=True)
        if g == group
    ]
    return [float(t) for t, _ in rows], [int(e) for _, e in rows]


KM_CASES = [(name, arm) for name in sorted(SURV_IN) for arm in ("experimental", "control")]


@pytest.mark.parametrize(("name", "arm"), KM_CASES)
def test_kaplan_meier_curve_equals_survfit(name: str, arm: str) -> None:
    times, events = _arm(SURV_IN[name], 1 if arm == "experimental" else 0)
    ref = SURV_R[name][f"km_{arm}"]
    km = kaplan_meier(times, events)
    assert km.n == ref["n"] and km.events == ref["events"]
    assert list(km.times) == pytest.approx(ref["time"], rel=REL)
    assert list(km.at_risk) == ref["n_risk"]
    for ours, theirs in zip(km.survival, ref["surv"], strict=True):
        assert close(ours, theirs)
    for ours, theirs in zip(km.lower, ref["lower"], strict=True):
        assert close(ours, theirs)
    for ours, theirs in zip(km.upper, ref["upper"], strict=True):
        assert close(ours, theirs)


@pytest.mark.parametrize(("name", "arm"), KM_CASES)
def test_kaplan_meier_median_equals_quantile_survfit(name: str, arm: str) -> None:
    times, events = _arm(SURV_IN[name], 1 if arm == "experimental" else 0)
    ref = SURV_R[name][f"km_{arm}"]
    km = kaplan_meier(times, events)
    assert close(km.median, ref["median"])
    assert close(km.median_ci[0], ref["median_lower"])
    assert close(km.median_ci[1], ref["median_upper"])
    if None in (km.median, *km.median_ci):
        assert km.note
    # print.survfit agrees with quantile() except when the curve ends on a stretch at
    # exactly 0.5 (then print reports the start of the stretch).
    if (name, arm) != ("exact_half_to_end", "experimental"):
        assert close(km.median, ref["print_median"])
        assert close(km.median_ci[0], ref["print_lower"])
        assert close(km.median_ci[1], ref["print_upper"])


def test_print_survfit_differs_only_on_final_half_stretch() -> None:
    ref = SURV_R["exact_half_to_end"]["km_experimental"]
    assert (ref["median"], ref["print_median"]) == (5, 2)  # (2 + 8) / 2 versus 2


@pytest.mark.parametrize("name", sorted(SURV_IN))
def test_logrank_equals_survdiff(name: str) -> None:
    case, ref = SURV_IN[name], SURV_R[name]["survdiff"]
    result = logrank(case["times"], case["events"], case["groups"])
    if not any(case["events"]):
        # Deliberate: R prints chisq 0, p 1 (with "NaNs produced"); no events -> undefined.
        assert ref["chisq"] == 0 and result.statistic is None and result.p_value is None
        assert result.note
        return
    assert close(result.statistic, ref["chisq"])
    assert close(result.p_value, ref["p_value"])


def _r_cox_unreliable(ref: dict[str, Any]) -> bool:
    warnings = ref["warnings"]
    text = " ".join(warnings) if isinstance(warnings, list) else str(warnings)
    return "converge" in text or "infinite" in text


@pytest.mark.parametrize("name", sorted(SURV_IN))
def test_cox_equals_coxph(name: str) -> None:
    case, ref = SURV_IN[name], SURV_R[name]["coxph"]
    result = cox_hazard_ratio(case["times"], case["events"], case["groups"])
    if ref["hr"] is None or _r_cox_unreliable(ref):
        # R failed, or warned of non-convergence / an infinite coefficient (monotone
        # likelihood): we report undefined with the reason.
        assert result.estimate is None and result.ci is None and result.p_value is None
        assert result.note
        return
    assert close(result.estimate, ref["hr"])
    assert result.ci is not None
    assert close(result.ci[0], ref["conf_low"])
    assert close(result.ci[1], ref["conf_high"])
    assert close(result.p_value, ref["wald_p"])


# ------------------------------------------------------------------------ stratified


@pytest.mark.parametrize("name", sorted(STRAT_IN))
def test_cmh_equals_mantelhaen_test(name: str) -> None:
    case, ref = STRAT_IN[name], STRAT_R[name]["mantelhaen"]
    result = cmh_test(case["x1"], case["n1"], case["x0"], case["n0"])
    if len(case["x1"]) == 1:
        # R refuses a single stratum; the same formula gives (N - 1)/N x Pearson.
        assert ref["statistic"] is None
        pearson = chi_square(case["x1"][0], case["n1"][0], case["x0"][0], case["n0"][0])
        assert pearson.statistic is not None and result.statistic is not None
        total = case["n1"][0] + case["n0"][0]
        assert close(result.statistic, pearson.statistic * (total - 1) / total)
        return
    assert close(result.statistic, ref["statistic"])
    assert close(result.p_value, ref["p_value"])


@pytest.mark.parametrize("name", sorted(STRAT_SURV_IN))
def test_stratified_logrank_equals_survdiff_with_strata(name: str) -> None:
    case, ref = STRAT_SURV_IN[name], STRAT_SURV_R[name]["survdiff"]
    result = stratified_logrank(case["times"], case["events"], case["groups"], case["strata"])
    assert close(result.statistic, ref["chisq"])
    assert close(result.p_value, ref["p_value"])
    unstratified = logrank(case["times"], case["events"], case["groups"])
    assert result.statistic != unstratified.statistic  # the strata do change the test


@pytest.mark.parametrize("name", sorted(STRAT_SURV_IN))
def test_stratified_cox_equals_coxph_with_strata(name: str) -> None:
    case, ref = STRAT_SURV_IN[name], STRAT_SURV_R[name]["coxph"]
    result = stratified_cox_hazard_ratio(
        case["times"], case["events"], case["groups"], case["strata"]
    )
    assert not _r_cox_unreliable(ref)
    assert close(result.estimate, ref["hr"])
    assert result.ci is not None
    assert close(result.ci[0], ref["conf_low"])
    assert close(result.ci[1], ref["conf_high"])
    assert close(result.p_value, ref["wald_p"])


def test_stratified_survival_fixtures_cover_a_one_arm_stratum() -> None:
    case = STRAT_SURV_IN["stratum_of_one_arm"]
    arms_in = {s: {g for g, t in zip(case["groups"], case["strata"], strict=True) if t == s}
               for s in set(case["strata"])}  # fmt: skip
    assert {1} in arms_in.values()


@pytest.mark.parametrize("name", sorted(HOLM_IN))
def test_holm_equals_p_adjust(name: str) -> None:
    ours = holm(HOLM_IN[name]["p"])
    theirs = HOLM_R[name]["adjusted"]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert close(a, b)

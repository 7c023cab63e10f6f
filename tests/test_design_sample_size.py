"""itptrial.design against R rpact 3.3.4, by hand, by properties, and by another integration.

Reference values: tests/reference/rpact_grid.json, written by tests/reference/rpact_grid.R
(R is not needed to run these tests).  Tolerance: 1e-6 relative; rate-difference
(effect-scale) boundaries may instead be within 1e-8 absolute, since rpact finds them by
``uniroot(tol = 1.5e-8)``.  rpact floors its last alpha spent to 1e-8 (0.04999999 for
0.05), which is inside the tolerance; ours is not floored.

rpact refuses a two-sided test with a margin (the fixture's two "error" cases); itptrial
refuses it too, with a ValueError: the spec makes ``--margin`` one-sided, and leaving
``sided`` unset with a margin gives the one-sided design (docs/design.md).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import NormalDist
from typing import Any, Literal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize

from itptrial.design import (
    BOUNDARIES,
    Boundary,
    GroupSequentialDesign,
    SampleSizeRates,
    crossing_probabilities,
    group_sequential_design,
    sample_size_rates,
)

FIXTURE = json.loads(
    (Path(__file__).parent / "reference" / "rpact_grid.json").read_text(encoding="utf-8")
)
CASES = [case for case in FIXTURE["cases"] if "error" not in case]
REFUSED = [case for case in FIXTURE["cases"] if "error" in case]
DESIGNS = FIXTURE["designs"]

REL = 1e-6
EFFECT_ABS = 1e-8
RPACT_BOUNDARY: dict[str, Boundary] = {"OF": "obf", "P": "pocock", "asOF": "asof", "asP": "asp"}
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


def z(p: float) -> float:
    """Standard normal quantile (the standard library's, independent of scipy)."""
    return NormalDist().inv_cdf(p)


def assert_close(name: str, ours: float | None, theirs: float | None, abs_tol: float = 0.0) -> None:
    if theirs is None:
        assert ours is None, f"{name}: rpact has no value (NA), itptrial gives {ours}"
        return
    assert ours is not None, f"{name}: itptrial gives None, rpact {theirs}"
    assert math.isclose(ours, theirs, rel_tol=REL, abs_tol=abs_tol), (
        f"{name}: itptrial {ours!r} != rpact {theirs!r} (rel {abs(ours / theirs - 1):.2e})"
    )


def assert_matches(name: str, ours: Any, theirs: Any, abs_tol: float = 0.0) -> None:
    """Scalar or per-look list, each value to ``REL`` (or ``abs_tol``)."""
    if isinstance(theirs, list):
        assert len(ours) == len(theirs), f"{name}: {len(ours)} looks, rpact {len(theirs)}"
        for k, (mine, reference) in enumerate(zip(ours, theirs, strict=True)):
            assert_close(f"{name}[look {k + 1}]", mine, reference, abs_tol)
    else:
        assert_close(name, ours, theirs, abs_tol)


def plan_for(spec: dict[str, Any]) -> SampleSizeRates:
    """The plan for a fixture case's ``input`` (the spec's option names)."""
    return sample_size_rates(
        control=spec["control"],
        experimental=spec["experimental"],
        alpha=spec["alpha"],
        power=spec["power"],
        sided=spec["sided"],
        ratio=spec["ratio"],
        margin=spec["margin"],
        looks=spec["looks"],
        boundary=spec["boundary"],
        information_rates=spec["information_rates"],
    )


def per_look(attribute: str) -> Callable[[SampleSizeRates], list[Any]]:
    return lambda plan: [getattr(look, attribute) for look in plan.per_look]


# fixture output key -> the same quantity from itptrial
CASE_QUANTITIES: dict[str, Callable[[SampleSizeRates], Any]] = {
    "n_total_exact": lambda plan: plan.n_total_exact,
    "n_experimental_exact": lambda plan: plan.n_experimental_exact,
    "n_control_exact": lambda plan: plan.n_control_exact,
    "critical_values": per_look("boundary_z"),
    "critical_values_p": per_look("boundary_p"),
    "stage_levels": lambda plan: plan.design.stage_levels,
    "effect_scale": per_look("boundary_effect"),
    "effect_scale_upper": per_look("boundary_effect_upper"),
    "effect_scale_lower": per_look("boundary_effect_lower"),
    "information_rates": per_look("information_fraction"),
    "alpha_spent": per_look("alpha_spent"),
    "reject_per_stage": per_look("stop_probability_h1"),
    "early_stop": lambda plan: plan.early_stop,
    "expected_n_h0": lambda plan: plan.expected_n_h0,
    "expected_n_h01": lambda plan: plan.expected_n_h01,
    "expected_n_h1": lambda plan: plan.expected_n_h1,
    "max_n": lambda plan: plan.n_total_exact,
    "number_of_subjects": per_look("n_total_exact"),
    "number_of_subjects_experimental": per_look("n_experimental_exact"),
    "number_of_subjects_control": per_look("n_control_exact"),
    "n_fixed": lambda plan: plan.n_fixed_exact,
    "n_fixed_experimental": lambda plan: plan.n_fixed_experimental_exact,
    "n_fixed_control": lambda plan: plan.n_fixed_control_exact,
}
EFFECT_KEYS = {"effect_scale", "effect_scale_upper", "effect_scale_lower"}

DESIGN_QUANTITIES: dict[str, Callable[[GroupSequentialDesign], Any]] = {
    "information_rates": lambda d: d.information_rates,
    "critical_values": lambda d: d.critical_values,
    "stage_levels": lambda d: d.stage_levels,
    "alpha_spent": lambda d: d.alpha_spent,
    "nFixed": lambda d: d.fixed_information,
    "shift": lambda d: d.shift,
    "inflationFactor": lambda d: d.inflation_factor,
    "information": lambda d: [t * d.shift for t in d.information_rates],
    "power": lambda d: list(_cumulative(d.rejection_probabilities)),
    "rejectionProbabilities": lambda d: d.rejection_probabilities,
    "averageSampleNumber1": lambda d: d.average_sample_number_h1,
    "averageSampleNumber01": lambda d: d.average_sample_number_h01,
    "averageSampleNumber0": lambda d: d.average_sample_number_h0,
}
DESIGN_METADATA = {"rpact_call", "kMax", "alpha", "beta", "sided", "typeOfDesign", "tolerance"}


def _cumulative(values: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for value in values:
        total += value
        out.append(total)
    return out


def design_for(record: dict[str, Any]) -> GroupSequentialDesign:
    return group_sequential_design(
        looks=record["kMax"],
        boundary=RPACT_BOUNDARY[record["typeOfDesign"]],
        alpha=record["alpha"],
        power=1.0 - record["beta"],
        sided=record["sided"],
        information_rates=record["rpact_call"].get("informationRates"),
    )


# ---------------------------------------------------------------------------
# Against rpact
# ---------------------------------------------------------------------------


def test_fixture_is_the_expected_one() -> None:
    assert FIXTURE["rpact_version"] == "3.3.4"
    assert FIXTURE["defaults"]["twoSidedPower"] is False
    assert len(CASES) == FIXTURE["n_succeeded"] >= 40
    assert len(REFUSED) == FIXTURE["n_errored"] == 2
    assert {case["design_id"] for case in CASES if "design_id" in case} <= set(DESIGNS)
    assert {case["input"]["boundary"] for case in CASES} == {None, *BOUNDARIES}


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_sample_size_equals_rpact(case: dict[str, Any]) -> None:
    plan = plan_for(case["input"])
    output = case["output"]
    assert plan.direction_upper is output["direction_upper"]
    untested = set(output) - set(CASE_QUANTITIES) - {"direction_upper"}
    assert not untested, f"fixture quantities without a comparison: {untested}"
    for key, theirs in output.items():
        if key in CASE_QUANTITIES:
            abs_tol = EFFECT_ABS if key in EFFECT_KEYS else 0.0
            assert_matches(key, CASE_QUANTITIES[key](plan), theirs, abs_tol)


@pytest.mark.parametrize("design_id", sorted(DESIGNS))
def test_design_equals_rpact(design_id: str) -> None:
    record = DESIGNS[design_id]
    design = design_for(record)
    values = {**record, **record["characteristics"]}
    del values["characteristics"]
    untested = set(values) - set(DESIGN_QUANTITIES) - DESIGN_METADATA
    assert not untested, f"fixture quantities without a comparison: {untested}"
    assert (design.looks, design.sided) == (record["kMax"], record["sided"])
    for key, getter in DESIGN_QUANTITIES.items():
        assert_matches(key, getter(design), values[key])


@pytest.mark.parametrize("case", REFUSED, ids=[case["id"] for case in REFUSED])
def test_rpact_refusals_are_value_errors(case: dict[str, Any]) -> None:
    """rpact: "two-sided case is implemented only for superiority testing"; itptrial
    refuses the same input and says that a margin makes the test one-sided."""
    assert "two-sided" in case["error"]
    with pytest.raises(ValueError, match="one-sided"):
        plan_for(case["input"])
    unset = dict(case["input"], sided=None)
    one_sided = dict(case["input"], sided=1)
    assert plan_for(unset) == plan_for(one_sided)


# ---------------------------------------------------------------------------
# By hand and from the literature
# ---------------------------------------------------------------------------


def test_fixed_design_by_hand_target020() -> None:
    """Pooled-variance formula for 0.411 vs 0.646, two-sided 0.05, power 0.8, 1:1."""
    p0, p1 = 0.411, 0.646
    pooled = (p0 + p1) / 2.0
    per_arm = (
        z(0.975) * math.sqrt(2.0 * pooled * (1.0 - pooled))
        + z(0.8) * math.sqrt(p1 * (1.0 - p1) + p0 * (1.0 - p0))
    ) ** 2 / (p1 - p0) ** 2
    plan = sample_size_rates(control=p0, experimental=p1)
    assert per_arm == pytest.approx(69.6411692403863, rel=1e-12)  # rpact's nFixed1
    assert plan.n_experimental_exact == pytest.approx(per_arm, rel=1e-12)
    assert plan.n_control_exact == pytest.approx(per_arm, rel=1e-12)
    assert plan.as_dict() == {
        "n_experimental": 70,
        "n_control": 70,
        "n_total": 140,
        "n_total_exact": pytest.approx(2.0 * per_arm, rel=1e-12),
        "boundaries": None,
    }
    with_dropout = sample_size_rates(control=p0, experimental=p1, dropout=0.1)
    assert (with_dropout.n_experimental, with_dropout.n_control) == (78, 78)  # ceil(70 / 0.9)
    assert with_dropout.n_total_exact == plan.n_total_exact


def test_unequal_allocation_by_hand() -> None:
    """r = n_exp / n_ctl = 2: pooled rate (r p1 + p0) / (1 + r), n_ctl = n_exp / r."""
    p0, p1, r = 0.3, 0.5, 2.0
    pooled = (r * p1 + p0) / (1.0 + r)
    n_exp = (
        z(0.975) * math.sqrt(pooled * (1.0 - pooled) * (1.0 + r))
        + z(0.8) * math.sqrt(p1 * (1.0 - p1) + p0 * (1.0 - p0) * r)
    ) ** 2 / (p1 - p0) ** 2
    plan = sample_size_rates(control=p0, experimental=p1, ratio=r)
    assert plan.n_experimental_exact == pytest.approx(n_exp, rel=1e-12)
    assert plan.n_control_exact == pytest.approx(n_exp / r, rel=1e-12)
    assert (plan.n_experimental, plan.n_control) == (math.ceil(n_exp), math.ceil(n_exp / r))


def _restricted_mle(p1: float, p0: float, theta: float, r: float) -> tuple[float, float]:
    """Maximise the two binomial log-likelihoods under p1 - p0 = theta numerically."""

    def minus_loglik(m1: float) -> float:
        m0 = m1 - theta
        return -(
            r * (p1 * math.log(m1) + (1 - p1) * math.log(1 - m1))
            + p0 * math.log(m0)
            + (1 - p0) * math.log(1 - m0)
        )

    low, high = max(0.0, theta) + 1e-12, min(1.0, 1.0 + theta) - 1e-12
    best = optimize.minimize_scalar(
        minus_loglik, bounds=(low, high), method="bounded", options={"xatol": 1e-13}
    )
    return float(best.x), float(best.x) - theta


@pytest.mark.parametrize(
    ("p0", "p1", "margin", "r"), [(0.6, 0.6, 0.1, 1.0), (0.3, 0.25, 0.15, 0.5)]
)
def test_noninferiority_by_hand(p0: float, p1: float, margin: float, r: float) -> None:
    """Farrington-Manning: the null variance at the restricted MLE under p1 - p0 = -M."""
    m1, m0 = _restricted_mle(p1, p0, -margin, r)
    n_exp = (
        z(0.975) * math.sqrt(m1 * (1 - m1) + m0 * (1 - m0) * r)
        + z(0.8) * math.sqrt(p1 * (1 - p1) + p0 * (1 - p0) * r)
    ) ** 2 / (p1 - p0 + margin) ** 2
    plan = sample_size_rates(p0, p1, alpha=0.025, ratio=r, margin=margin)
    assert plan.sided == 1
    assert plan.theta_h0 == -margin
    assert plan.n_experimental_exact == pytest.approx(n_exp, rel=1e-8)


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_one_look_is_the_fixed_design(boundary: Boundary) -> None:
    fixed = sample_size_rates(0.2, 0.1, alpha=0.025, power=0.9, sided=1, ratio=2.0)
    one = sample_size_rates(
        0.2, 0.1, alpha=0.025, power=0.9, sided=1, ratio=2.0, looks=1, boundary=boundary
    )
    assert one.n_total_exact == fixed.n_total_exact == fixed.n_fixed_exact
    assert (one.n_experimental, one.n_control) == (fixed.n_experimental, fixed.n_control)
    assert one.design.critical_values[0] == pytest.approx(z(0.975), rel=1e-14)
    assert len(one.design.critical_values) == 1
    assert one.design.inflation_factor == 1.0
    assert one.expected_n_h1 == pytest.approx(fixed.n_total_exact, rel=1e-14)
    assert one.per_look[0].stop_probability_h1 == pytest.approx(0.9, rel=1e-12)
    assert one.as_dict() == fixed.as_dict()
    assert one.design.note is not None and boundary in one.design.note


# Jennison & Turnbull (2000): Table 2.1 (Pocock C_P and R_P) and Table 2.3 (O'Brien &
# Fleming C_B and R_B), two-sided alpha = 0.05, equally spaced looks; R is the maximum
# sample size over the fixed design's, for power 0.8 and 0.9.
JT_POCOCK = {2: (2.178, 1.110, 1.100), 3: (2.289, 1.166, 1.151), 4: (2.361, 1.202, 1.183),
             5: (2.413, 1.229, 1.207)}  # fmt: skip
JT_OBF = {2: (1.977, 1.008, 1.007), 3: (2.004, 1.017, 1.016), 4: (2.024, 1.024, 1.022),
          5: (2.040, 1.028, 1.026)}  # fmt: skip
TABLE_ROUNDING = 5e-4 + 1e-12


@pytest.mark.parametrize("looks", [2, 3, 4, 5])
def test_pocock_and_obf_constants_of_jennison_turnbull(looks: int) -> None:
    c_p, r_p80, r_p90 = JT_POCOCK[looks]
    c_b, r_b80, r_b90 = JT_OBF[looks]
    for power, r_p, r_b in ((0.8, r_p80, r_b80), (0.9, r_p90, r_b90)):
        pocock = group_sequential_design(looks, "pocock", 0.05, power, 2)
        obf = group_sequential_design(looks, "obf", 0.05, power, 2)
        assert all(abs(c - c_p) <= TABLE_ROUNDING for c in pocock.critical_values)
        # O'Brien-Fleming: c_k = C_B sqrt(K / k)
        for k, c in enumerate(obf.critical_values, start=1):
            assert abs(c / math.sqrt(looks / k) - c_b) <= TABLE_ROUNDING
        assert abs(pocock.inflation_factor - r_p) <= TABLE_ROUNDING
        assert abs(obf.inflation_factor - r_b) <= TABLE_ROUNDING


def _closed_form_spending(boundary: str, alpha: float, sided: int, t: float) -> float:
    """Lan-DeMets spending functions as rpact defines them (total alpha, both sides)."""
    if boundary == "asof":
        per_side = alpha / sided
        return sided * 2.0 * (1.0 - NormalDist().cdf(z(1.0 - per_side / 2.0) / math.sqrt(t)))
    return alpha * math.log(1.0 + (math.e - 1.0) * t)


@pytest.mark.parametrize("boundary", ["asof", "asp"])
@pytest.mark.parametrize("sided", [1, 2])
def test_alpha_spent_is_the_spending_function(boundary: Boundary, sided: Literal[1, 2]) -> None:
    rates = (0.15, 0.4, 0.45, 0.8, 1.0)
    design = group_sequential_design(5, boundary, 0.05, 0.8, sided, rates)
    for t, spent in zip(rates, design.alpha_spent, strict=True):
        assert spent == pytest.approx(_closed_form_spending(boundary, 0.05, sided, t), abs=1e-12)


def test_p_value_scale_conventions() -> None:
    """Stage levels one-sided; the p-value boundaries two-sided for two-sided designs.

    A two-sided design at 0.05 is nearly the one-sided one at 0.025 (they differ only by
    paths crossing both boundaries, here below 1e-8 of the critical values)."""
    two = sample_size_rates(0.411, 0.646, looks=3, boundary="obf")
    one = sample_size_rates(0.411, 0.646, alpha=0.025, sided=1, looks=3, boundary="obf")
    two_levels, one_levels = two.design.stage_levels, one.design.stage_levels
    for look_two, look_one, level_two, level_one in zip(
        two.per_look, one.per_look, two_levels, one_levels, strict=True
    ):
        assert look_two.boundary_p == pytest.approx(2.0 * level_two, rel=1e-14)
        assert look_one.boundary_p == pytest.approx(level_one, rel=1e-14)
        assert 1.0 - NormalDist().cdf(look_two.boundary_z) == pytest.approx(level_two, rel=1e-9)
        assert look_two.boundary_z == pytest.approx(look_one.boundary_z, rel=1e-8)
        assert look_two.boundary_effect == pytest.approx(look_one.boundary_effect, rel=1e-6)


def test_json_object_with_looks() -> None:
    plan = sample_size_rates(0.411, 0.646, looks=4, boundary="asof", dropout=0.15)
    result: dict[str, Any] = plan.as_dict()
    assert list(result) == [
        "n_experimental",
        "n_control",
        "n_total",
        "n_total_exact",
        "boundaries",
        "information_fraction",
        "alpha_spent",
        "boundaries_p",
        "boundaries_effect",
        "stop_probability_h1",
        "expected_n_h0",
        "expected_n_h1",
    ]
    json.dumps(result, allow_nan=False)
    assert all(type(result[key]) is int for key in ("n_experimental", "n_control", "n_total"))
    assert result["n_total"] == result["n_experimental"] + result["n_control"]
    assert result["n_experimental"] == math.ceil(math.ceil(plan.n_experimental_exact) / 0.85)
    for key in ("boundaries", "information_fraction", "alpha_spent", "boundaries_p",
                "boundaries_effect", "stop_probability_h1"):  # fmt: skip
        assert len(result[key]) == 4, key
    assert result["information_fraction"] == [0.25, 0.5, 0.75, 1.0]
    assert result["boundaries_effect"][0] is None  # 4.3 standard errors: out of (0, 1)
    assert plan.note is not None and "look 1" in plan.note


def test_dropout_inflation_is_not_pushed_up_by_float_error() -> None:
    """42 / (1 - 0.3) is 60.00000000000001 in floating point; the spec's ceiling is 60."""
    plan = sample_size_rates(0.3, 0.6, dropout=0.3)
    assert math.ceil(plan.n_experimental_exact) == 42
    assert (plan.n_experimental, plan.n_control, plan.n_total) == (60, 60, 120)


BAD_INPUTS = [
    ({"control": 0.0}, "control rate"),
    ({"control": 1.0}, "control rate"),
    ({"experimental": float("nan")}, "experimental"),
    ({"experimental": True}, "experimental"),
    ({"experimental": 0.3}, "equal"),
    ({"margin": 0.0}, "margin"),
    ({"margin": -0.1}, "margin"),
    ({"margin": 0.1, "experimental": 0.15}, "-margin"),
    ({"margin": 0.1, "sided": 2}, "one-sided"),
    ({"alpha": 0.0}, "alpha"),
    ({"alpha": 0.6}, "alpha"),
    ({"power": 1.0}, "power"),
    ({"power": 0.02}, "power"),
    ({"sided": 3}, "sided"),
    ({"ratio": 0.0}, "ratio"),
    ({"ratio": float("inf")}, "ratio"),
    ({"dropout": 1.0}, "dropout"),
    ({"dropout": -0.1}, "dropout"),
    ({"looks": 0, "boundary": "obf"}, "looks"),
    ({"looks": 11, "boundary": "obf"}, "looks"),
    ({"looks": 2.0, "boundary": "obf"}, "looks"),
    ({"looks": 3}, "boundary"),
    ({"looks": 3, "boundary": "haybittle"}, "boundary"),
    ({"looks": 3, "boundary": "obf", "information_rates": [0.5, 1.0]}, "information_rates"),
    ({"looks": 2, "boundary": "obf", "information_rates": [0.6, 0.6]}, "increasing"),
    ({"looks": 2, "boundary": "obf", "information_rates": [0.5, 0.9]}, "last"),
    ({"looks": 2, "boundary": "obf", "information_rates": [0.0, 1.0]}, "information_rates"),
]


@pytest.mark.parametrize(("change", "fragment"), BAD_INPUTS, ids=[str(c) for c, _ in BAD_INPUTS])
def test_invalid_input_raises_value_error(change: dict[str, Any], fragment: str) -> None:
    arguments: dict[str, Any] = {"control": 0.3, "experimental": 0.5, **change}
    with pytest.raises(ValueError, match=fragment):
        sample_size_rates(**arguments)


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------


@st.composite
def information_rates(draw: st.DrawFn, looks: int) -> tuple[float, ...] | None:
    if draw(st.booleans()):
        return None
    interim = draw(
        st.lists(st.floats(0.05, 0.95), min_size=looks - 1, max_size=looks - 1, unique=True)
    )
    rates = (*sorted(interim), 1.0)
    assume(min(b - a for a, b in itertools.pairwise((0.0, *rates))) >= 0.03)
    return rates


@st.composite
def designs(draw: st.DrawFn) -> GroupSequentialDesign:
    looks = draw(st.integers(2, 6))
    return group_sequential_design(
        looks=looks,
        boundary=draw(st.sampled_from(BOUNDARIES)),
        alpha=draw(st.floats(0.001, 0.2)),
        power=draw(st.floats(0.5, 0.95)),
        sided=draw(st.sampled_from([1, 2])),
        information_rates=draw(information_rates(looks)),
    )


@SETTINGS
@given(designs())
def test_alpha_spent_increases_to_alpha(design: GroupSequentialDesign) -> None:
    spent = design.alpha_spent
    assert all(b > a for a, b in itertools.pairwise(spent))
    assert spent[-1] == pytest.approx(design.alpha, abs=1e-10)


@SETTINGS
@given(designs())
def test_no_boundary_below_the_fixed_critical_value(design: GroupSequentialDesign) -> None:
    """P(|Z_k| >= c_k) <= P(rejecting by look k) <= alpha, so c_k >= z_{1-alpha/sided};
    and a group-sequential design never needs less information than the fixed one."""
    fixed = z(1.0 - design.alpha / design.sided)
    # 1e-10: the roots are found on probabilities integrated to ~1e-14
    assert all(c >= fixed - 1e-10 for c in design.critical_values)
    assert design.inflation_factor >= 1.0 - 1e-10


@SETTINGS
@given(designs())
def test_alpha_and_power_hold_on_a_finer_grid(design: GroupSequentialDesign) -> None:
    """With the null drift the rejection probability is alpha, and at the found drift the
    upper crossing probability is the power, both to 1e-9 with a 3x finer grid."""
    lower, upper, t = design.lower_boundaries, design.critical_values, design.information_rates
    null = crossing_probabilities(lower, upper, t, 0.0, grid_r=12)
    assert null.total == pytest.approx(design.alpha, abs=1e-9)
    alternative = crossing_probabilities(lower, upper, t, design.drift, grid_r=12)
    assert alternative.total_upper == pytest.approx(design.power, abs=1e-9)
    assert sum(design.rejection_probabilities) == pytest.approx(design.power, abs=1e-12)


@SETTINGS
@given(st.integers(2, 6), st.sampled_from([1, 2]), st.floats(0.005, 0.2))
def test_obf_starts_above_pocock_and_ends_below(
    looks: int, sided: Literal[1, 2], alpha: float
) -> None:
    obf = group_sequential_design(looks, "obf", alpha, 0.8, sided)
    pocock = group_sequential_design(looks, "pocock", alpha, 0.8, sided)
    assert obf.critical_values[0] > pocock.critical_values[0]
    assert obf.critical_values[-1] < pocock.critical_values[-1]
    assert obf.inflation_factor < pocock.inflation_factor


plan_options = st.fixed_dictionaries(
    {
        "alpha": st.sampled_from([0.01, 0.025, 0.05, 0.1]),
        "power": st.floats(0.6, 0.95),
        "sided": st.sampled_from([1, 2]),
        "ratio": st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0]),
        "looks": st.integers(1, 4),
        "boundary": st.sampled_from(BOUNDARIES),
    }
)


@SETTINGS
@given(st.floats(0.05, 0.6), st.floats(0.05, 0.3), st.floats(0.01, 0.3), plan_options)
def test_larger_effect_needs_fewer_subjects(
    control: float, small: float, extra: float, options: dict[str, Any]
) -> None:
    assume(control + small + extra < 0.95)
    smaller = sample_size_rates(control, control + small, **options)
    larger = sample_size_rates(control, control + small + extra, **options)
    assert larger.n_total_exact < smaller.n_total_exact
    assert larger.n_total <= smaller.n_total


@SETTINGS
@given(st.floats(0.05, 0.95), st.floats(0.05, 0.95), plan_options)
def test_responders_and_non_responders_swap(
    control: float, experimental: float, options: dict[str, Any]
) -> None:
    """Counting non-responses instead of responses flips the sign of the difference and
    leaves the sample size unchanged."""
    assume(abs(control - experimental) > 0.02)
    plan = sample_size_rates(control, experimental, **options)
    mirror = sample_size_rates(1.0 - control, 1.0 - experimental, **options)
    assert mirror.n_total_exact == pytest.approx(plan.n_total_exact, rel=1e-10)
    assert mirror.direction_upper is not plan.direction_upper
    for look, mirrored in zip(plan.per_look, mirror.per_look, strict=True):
        if look.boundary_effect is None:
            assert mirrored.boundary_effect is None
        else:
            assert mirrored.boundary_effect == pytest.approx(-look.boundary_effect, abs=1e-9)
    assert plan.expected_n_h1 <= plan.n_total_exact * (1 + 1e-12)
    assert plan.expected_n_h0 <= plan.n_total_exact * (1 + 1e-12)


# ---------------------------------------------------------------------------
# An independent reference: nested adaptive quadrature (K <= 3)
# ---------------------------------------------------------------------------


def _cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _quad(f: Callable[[float], float], low: float, high: float) -> float:
    """Adaptive quadrature over (low, high); the normal tails beyond +-40 are zero."""
    low, high = max(low, -40.0), min(high, 40.0)
    if high <= low:
        return 0.0
    return float(integrate.quad(f, low, high, epsabs=1e-14, epsrel=1e-12, limit=400)[0])


def nested_quadrature(
    lower: Sequence[float], upper: Sequence[float], t: Sequence[float], drift: float
) -> tuple[list[float], list[float]]:
    """(upper, lower) crossing probabilities, written from the joint normal density of
    (Z_1, Z_2, Z_3) directly: increments of the score are independent N(drift dt, dt)."""

    def transition(z_next: float, z_now: float, k: int) -> float:
        step = t[k] - t[k - 1]
        u = z_next * math.sqrt(t[k]) - z_now * math.sqrt(t[k - 1]) - drift * step
        return math.sqrt(t[k] / step) * _pdf(u / math.sqrt(step))

    def exit_at(z_now: float, k: int, side: str) -> float:
        step = t[k] - t[k - 1]
        bound = upper[k] if side == "upper" else lower[k]
        if math.isinf(bound):
            return 0.0
        u = bound * math.sqrt(t[k]) - z_now * math.sqrt(t[k - 1]) - drift * step
        tail = _cdf(u / math.sqrt(step))
        return 1.0 - tail if side == "upper" else tail

    def first(z1: float) -> float:
        return _pdf(z1 - drift * math.sqrt(t[0]))

    def crossing(side: str) -> list[float]:
        mean = drift * math.sqrt(t[0])
        bound = upper[0] if side == "upper" else lower[0]
        first_look = 1.0 - _cdf(bound - mean) if side == "upper" else _cdf(bound - mean)
        second_look = _quad(lambda z1: first(z1) * exit_at(z1, 1, side), lower[0], upper[0])
        if len(t) == 2:
            return [first_look, second_look]

        def via_second_look(z1: float) -> float:
            def g(z2: float) -> float:
                return transition(z2, z1, 1) * exit_at(z2, 2, side)

            return first(z1) * _quad(g, lower[1], upper[1])

        return [first_look, second_look, _quad(via_second_look, lower[0], upper[0])]

    up, low = crossing("upper"), crossing("lower")
    return up, low


@st.composite
def regions(draw: st.DrawFn) -> tuple[list[float], list[float], list[float], float]:
    looks = draw(st.integers(2, 3))
    rates = sorted(
        draw(st.lists(st.floats(0.02, 1.0), min_size=looks, max_size=looks, unique=True))
    )
    assume(min(b - a for a, b in itertools.pairwise([0.0, *rates])) >= 0.01)
    upper = draw(st.lists(st.floats(0.0, 5.0), min_size=looks, max_size=looks))
    kind = draw(st.sampled_from(["symmetric", "one-sided", "asymmetric"]))
    if kind == "symmetric":
        lower = [-b for b in upper]
    elif kind == "one-sided":
        lower = [-math.inf] * looks
    else:
        widths = draw(st.lists(st.floats(0.1, 4.0), min_size=looks, max_size=looks))
        lower = [b - w for b, w in zip(upper, widths, strict=True)]
    return lower, upper, rates, draw(st.floats(-2.0, 6.0))


@pytest.mark.slow
@settings(max_examples=30, deadline=None, derandomize=True)
@given(regions())
def test_recursion_equals_nested_quadrature(
    region: tuple[list[float], list[float], list[float], float],
) -> None:
    lower, upper, rates, drift = region
    fast = crossing_probabilities(lower, upper, rates, drift)
    slow_upper, slow_lower = nested_quadrature(lower, upper, rates, drift)
    assert fast.upper == pytest.approx(slow_upper, abs=1e-9)
    assert fast.lower == pytest.approx(slow_lower, abs=1e-9)


CLOSE_LOOKS = [
    ([-2.5, -2.4, -2.0], [2.5, 2.4, 2.0], [0.5, 0.51, 1.0], 2.5),
    ([-math.inf] * 3, [2.2, 2.1, 2.0], [0.9, 0.92, 0.94], 3.0),
    ([-3.0, -2.0], [3.0, 2.0], [0.97, 0.98], 2.0),
]


@pytest.mark.parametrize(("lower", "upper", "rates", "drift"), CLOSE_LOOKS)
def test_close_looks_keep_the_recursion_accurate(
    lower: list[float], upper: list[float], rates: list[float], drift: float
) -> None:
    """Information increments of 1-2% of the information so far: the grid is refined to
    follow the narrow transition density (J&T's unrefined grid is off by ~1e-7 here)."""
    fast = crossing_probabilities(lower, upper, rates, drift)
    slow_upper, slow_lower = nested_quadrature(lower, upper, rates, drift)
    assert fast.upper == pytest.approx(slow_upper, abs=1e-12)
    assert fast.lower == pytest.approx(slow_lower, abs=1e-12)

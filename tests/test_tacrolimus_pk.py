"""The tacrolimus population PK model (itptrial.pk, docs/tacrolimus.md).

- R deSolve (lsoda) on three patients: dexamethasone courses, weekly bioavailability,
  missed doses, slow absorption (tests/reference/make_tacrolimus.R and its output);
- hand-worked closed forms: a single dose (Bateman) and the steady-state trough;
- a slow scipy reference on random patients and schedules (hypothesis);
- common random numbers, the genotype mixture, the error model, and the protocol's dose;
- the day-by-day stepper ``advance_day``: equal to ``concentrations`` on a schedule, to
  an LSODA reference of its troughs and exact daily means, to the steady-state closed
  forms, and linear in the doses.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from itptrial import InputError
from itptrial.pk import (
    DayExposure,
    Dosing,
    PkState,
    TacrolimusModel,
    TacrolimusPatients,
    advance_day,
    concentrations,
    draw_patients,
    individual_parameters,
    initial_state,
    load_tacrolimus_model,
    observe,
    steady_state_trough,
    twice_daily,
)

from reference_pk import reference_concentrations, reference_days

MODEL = load_tacrolimus_model()
R = json.loads((Path(__file__).parent / "reference" / "tacrolimus_reference.json").read_text())


def one_patient(cl: float, v: float, ka: float, f: list[float] | None = None) -> TacrolimusPatients:
    return TacrolimusPatients(
        np.array([cl]), np.array([v]), np.array([ka]), np.array([False]), np.array([f or [1.0]])
    )


def with_induction(e_max: float) -> TacrolimusModel:
    return MODEL.model_copy(
        update={"induction": MODEL.induction.model_copy(update={"e_max": e_max})}
    )


@pytest.mark.parametrize("case", sorted(R["cases"]))
def test_equals_r_desolve(case: str) -> None:
    c = R["cases"][case]
    assert math.isclose(c["k_enzyme"], MODEL.k_enzyme, rel_tol=1e-12)
    patients = one_patient(c["cl"], c["v"], c["ka"], c["f_week"])
    dex = np.array([c["dex_days"]], dtype=bool)
    dosing = Dosing(np.array(c["dose_times_h"]), np.array([c["amounts_mg"]]), dex)
    ours = concentrations(with_induction(c["e_max"]), patients, dosing, np.array(c["samples_h"]))
    np.testing.assert_allclose(ours[0], c["concentration_ng_ml"], rtol=2e-4, atol=1e-9)


def test_single_dose_is_the_bateman_function() -> None:
    # 2 mg at 08:00, no dexamethasone: C(t) = D ka / (V (ka - k)) (e^-k(t-8) - e^-ka(t-8)).
    cl, v, ka, dose = 20.0, 400.0, 1.5, 2.0
    k = cl / v
    times = np.array([8.0, 8.5, 10.0, 20.0, 56.0])
    dosing = Dosing(np.array([8.0]), np.array([[dose]]), np.zeros((1, 3), bool))
    ours = concentrations(MODEL, one_patient(cl, v, ka), dosing, times, step_h=5.0)[0]
    dt = times - 8.0
    bateman = dose * ka / (v * (ka - k)) * (np.exp(-k * dt) - np.exp(-ka * dt)) * 1000
    np.testing.assert_allclose(ours, bateman, rtol=1e-12, atol=1e-15)
    assert ours[0] == 0.0  # a sample at the dose time is taken before it


def test_steady_state_trough_closed_form_and_by_simulation() -> None:
    # 1 mg every 12 h, CL 20, V 400, ka 1.5: k = 0.05; trough at steady state
    # = D ka / (V (ka - k)) (e^-12k / (1 - e^-12k) - e^-12ka / (1 - e^-12ka)) * 1000.
    k, ka = 0.05, 1.5
    by_hand = 1.0 * ka / (400 * (ka - k)) * 1000
    by_hand *= math.exp(-12 * k) / (1 - math.exp(-12 * k)) - math.exp(-12 * ka) / (
        1 - math.exp(-12 * ka)
    )
    assert float(steady_state_trough(20.0, 400.0, ka, 1.0, 12.0)) == pytest.approx(by_hand)
    dosing = twice_daily(np.array([2.0]), 30, np.zeros((1, 30), bool))
    trough = concentrations(MODEL, one_patient(20.0, 400.0, ka), dosing, np.array([29 * 24 + 8.0]))
    assert trough[0, 0] == pytest.approx(by_hand, rel=1e-9)


def test_long_dexamethasone_raises_clearance_by_one_plus_e_max() -> None:
    # On dexamethasone for 30 days E reaches 1 + e_max (e^-720 ln2/36 ~ 1e-6 of the gap),
    # so the trough is the steady-state trough of CL x 1.575.
    dosing = twice_daily(np.array([2.0]), 30, np.ones((1, 30), bool))
    trough = concentrations(MODEL, one_patient(20.0, 400.0, 1.5), dosing, np.array([29 * 24 + 8.0]))
    induced = steady_state_trough(20.0 * (1 + MODEL.induction.e_max), 400.0, 1.5, 1.0, 12.0)
    assert trough[0, 0] == pytest.approx(float(induced), rel=1e-4)
    assert trough[0, 0] < float(steady_state_trough(20.0, 400.0, 1.5, 1.0, 12.0)) / 1.5


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    days=st.integers(2, 16),
    e_max=st.floats(0.0, 1.5),
    step=st.sampled_from([0.5, 1.0, 2.0]),
)
def test_fast_engine_equals_the_slow_reference(
    seed: int, days: int, e_max: float, step: float
) -> None:
    rng = np.random.default_rng(seed)
    n = 3
    model = with_induction(e_max)
    patients = draw_patients(model, rng.uniform(40, 110, n), occasions=3, seed=seed)
    daily = rng.choice([0.5, 1.0, 2.0, 3.0], size=(n, days))
    daily[rng.random((n, days)) < 0.1] = 0.0  # missed days
    dosing = twice_daily(daily, days, rng.random((n, days)) < 0.3, first_hour=rng.uniform(6, 10))
    samples = np.sort(rng.uniform(0, days * 24, 12))
    ours = concentrations(model, patients, dosing, samples, step_h=step)
    slow = reference_concentrations(model, patients, dosing, samples)
    # CL/F frozen at E's mean within a step: a second-order error, growing with the step
    np.testing.assert_allclose(ours, slow, rtol=1e-3 * step**2, atol=1e-9)


def test_common_random_numbers() -> None:
    weights = np.linspace(45, 95, 12)
    many = draw_patients(MODEL, weights, occasions=4, seed=11)
    few = draw_patients(MODEL, weights[:5], occasions=4, seed=11)
    np.testing.assert_array_equal(many.cl[:5], few.cl)
    np.testing.assert_array_equal(many.f_occasion[:5], few.f_occasion)
    # a 1% change of the typical clearance moves every patient by exactly 1%: no redraw
    typical = MODEL.typical.model_copy(update={"cl_l_per_h": MODEL.typical.cl_l_per_h * 1.01})
    moved = draw_patients(MODEL.model_copy(update={"typical": typical}), weights, 4, seed=11)
    np.testing.assert_allclose(moved.cl / many.cl, 1.01, rtol=1e-12)
    np.testing.assert_array_equal(moved.v, many.v)
    other = draw_patients(MODEL, weights, occasions=4, seed=12)
    assert not np.allclose(other.cl, many.cl)


def test_genotype_mixture_and_given_genotypes() -> None:
    n = 20_000
    unknown = draw_patients(MODEL, np.full(n, 70.0), occasions=1, seed=3)
    share = unknown.expresser.mean()
    p = MODEL.cyp3a5.expresser_fraction
    assert abs(share - p) < 4 * math.sqrt(p * (1 - p) / n)
    known = draw_patients(
        MODEL, np.full(3, 70.0), 1, seed=3, genotype=np.array(["expresser", "non", "unknown"])
    )
    assert known.expresser.tolist()[:2] == [True, False]
    # an expresser of the same etas clears exactly expresser_cl_factor times faster
    zeros = np.zeros(2)
    pair = individual_parameters(
        MODEL, np.full(2, 70.0), np.array([True, False]), zeros, zeros, zeros, np.zeros((2, 1))
    )
    assert pair.cl[0] / pair.cl[1] == pytest.approx(MODEL.cyp3a5.expresser_cl_factor)


def test_protocol_dose_gives_the_target_average_in_a_typical_patient() -> None:
    # docs/domain.md: 0.03 mg/kg/day (1.8 mg/day at 60 kg) for 3-5 ng/mL implies CL/F ~ 19
    # L/h. The typical 60 kg non-expresser: CL/F = 21.2 (60/70)^0.75 = 18.89 L/h; average
    # at steady state = 1800 ug/day / (18.89 L/h x 24 h) = 3.97 ng/mL; its BID trough is
    # lower (2.86 ng/mL: half-life 12.9 h against a 12 h interval).
    zeros = np.zeros(1)
    typical = individual_parameters(
        MODEL, np.array([60.0]), np.array([False]), zeros, zeros, zeros, np.zeros((1, 5))
    )
    assert typical.cl[0] == pytest.approx(21.2 * (60 / 70) ** 0.75)
    days = 28
    dosing = twice_daily(np.array([1.8]), days, np.zeros((1, days), bool))
    hours = (days - 1) * 24 + 8 + np.linspace(0.0, 24.0, 961)
    day = concentrations(MODEL, typical, dosing, hours, step_h=0.25)[0]
    average = float(np.trapezoid(day, hours)) / 24.0
    assert 3.0 < average < 5.0
    assert average == pytest.approx(1800 / (typical.cl[0] * 24), rel=1e-3)
    assert day[0] == pytest.approx(2.86, abs=0.01)


def test_observation_error_has_the_stated_parts() -> None:
    n, level = 4000, 4.0
    measured = observe(MODEL, np.full((n, 5), level), seed=5)
    sd = math.hypot(MODEL.error.proportional * level, MODEL.error.additive_ng_ml)
    assert np.std(measured - level) == pytest.approx(sd, rel=0.03)
    low = observe(MODEL, np.full((n, 5), 0.2), seed=5)
    assert low.min() == 0.0  # never negative
    np.testing.assert_array_equal(observe(MODEL, np.full((n, 5), level), seed=5), measured)


def test_a_bad_model_file_names_the_key(tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "src" / "itptrial" / "pk" / "tacrolimus.toml").read_text()
    path = tmp_path / "model.toml"
    path.write_text(text.replace("v_l = 411.0", "v_l = -1"), encoding="utf-8")
    with pytest.raises(InputError) as raised:
        load_tacrolimus_model(path)
    (problem,) = raised.value.problems
    assert problem.where == str(path) and "typical.v_l" in str(problem.column)


# The day-by-day stepper (advance_day).


def step_days(
    model: TacrolimusModel,
    patients: TacrolimusPatients,
    doses: np.ndarray,
    dex: np.ndarray,
    first_hour: float = 8.0,
    step_h: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, list[DayExposure]]:
    """Troughs and daily means (patients, days) of ``doses`` (patients, days, 2)."""
    state, days = initial_state(patients.n), []
    for day in range(doses.shape[1]):
        days.append(
            advance_day(model, patients, state, day, doses[:, day], dex[:, day], first_hour, step_h)
        )
        state = days[-1].state
    troughs = np.array([d.trough_ng_ml for d in days]).T
    return troughs, np.array([d.average_ng_ml for d in days]).T, days


def as_dosing(doses: np.ndarray, dex: np.ndarray, first_hour: float) -> Dosing:
    n, days, _ = doses.shape
    times = (np.arange(days)[:, None] * 24.0 + first_hour + [0.0, 12.0]).ravel()
    return Dosing(times, doses.reshape(n, 2 * days), dex)


def titrated_course(n: int, days: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """1 mg twice daily, 1.5 + 1 mg on days 10-19, 0.75 mg twice daily from day 20; the
    evening dose of day 12 missed by all, the morning dose of day 30 by patient 1;
    dexamethasone on days 0-3 and 14-17."""
    doses = np.ones((n, days, 2))
    doses[:, 10:20, 0] = 1.5
    doses[:, 20:] = 0.75
    doses[:, 12, 1] = 0.0
    doses[1, 30, 0] = 0.0
    dex = np.zeros((n, days), bool)
    dex[:, 0:4] = dex[:, 14:18] = True
    return doses, dex


COURSE_PATIENTS = draw_patients(MODEL, np.array([48.0, 70.0, 96.0]), occasions=4, seed=7)


@pytest.mark.parametrize(("first_hour", "step_h"), [(8.0, 1.0), (7.5, 1.0), (6.0, 0.5)])
def test_advance_day_equals_concentrations_on_a_titrated_course(
    first_hour: float, step_h: float
) -> None:
    # Weeks 0-3 each with their own F, days 28-39 on the last occasion (week 3).
    patients = COURSE_PATIENTS
    assert np.ptp(patients.f_occasion, axis=1).min() > 0.3  # F does vary by week
    doses, dex = titrated_course(patients.n)
    troughs, averages, days = step_days(MODEL, patients, doses, dex, first_hour, step_h)
    at = np.arange(40) * 24.0
    whole = concentrations(
        MODEL,
        patients,
        as_dosing(doses, dex, first_hour),
        np.concatenate([at + first_hour, at + 24.0]),
        step_h,
    )
    np.testing.assert_allclose(troughs, whole[:, :40], rtol=1e-9, atol=1e-12)
    ends = np.array([d.state.central_mg for d in days]).T / patients.v[:, None] * 1000.0
    np.testing.assert_allclose(ends, whole[:, 40:], rtol=1e-9, atol=1e-12)
    assert troughs[:, 0].tolist() == [0.0, 0.0, 0.0] and (troughs[:, 1:] > 0).all()
    # induced during the courses, back towards 1 after: E(hour 24 of day 3) and day 39
    enzyme = np.array([d.state.enzyme for d in days]).T
    assert (enzyme[:, 3] > 1.4).all() and (abs(enzyme[:, 39] - 1.0) < 1e-3).all()
    assert (averages > troughs * 0.9).all()


def test_advance_day_leaves_its_state_alone_and_checks_its_input() -> None:
    state = initial_state(3)
    before = [a.copy() for a in (state.gut_mg, state.central_mg, state.enzyme)]
    doses = np.ones((3, 2))
    day = advance_day(MODEL, COURSE_PATIENTS, state, 0, doses, np.ones(3, bool))
    for kept, now in zip(before, (state.gut_mg, state.central_mg, state.enzyme), strict=True):
        np.testing.assert_array_equal(kept, now)
    assert (day.state.central_mg > 0).all() and (day.state.enzyme > 1).all()
    with pytest.raises(ValueError, match="first_hour"):
        advance_day(MODEL, COURSE_PATIENTS, state, 0, doses, np.ones(3, bool), first_hour=12.0)
    with pytest.raises(ValueError, match="doses_mg"):
        advance_day(MODEL, COURSE_PATIENTS, state, 0, np.ones(3), np.ones(3, bool))
    with pytest.raises(ValueError, match=">= 0"):
        advance_day(MODEL, COURSE_PATIENTS, state, 0, -doses, np.ones(3, bool))
    with pytest.raises(ValueError, match="dex_today"):
        advance_day(MODEL, COURSE_PATIENTS, state, 0, doses, np.ones(4, bool))
    with pytest.raises(ValueError, match=r"state\.gut_mg"):
        advance_day(MODEL, COURSE_PATIENTS, initial_state(2), 0, doses, np.ones(3, bool))


def relative_error(ours: np.ndarray, exact: np.ndarray) -> float:
    return float(np.max(np.abs(ours - exact) / np.abs(exact)))


def test_advance_day_troughs_and_daily_means_against_lsoda() -> None:
    # The stepper freezes CL/F at E's mean within a step (exact when E is constant), so
    # it differs from the continuous ODE while E moves; the difference falls with the
    # step: measured 7.6e-5 (troughs) and 1.1e-4 (means) at 1 h, 6.3e-6 and 6.5e-6 at
    # 0.25 h.
    patients = COURSE_PATIENTS
    doses, dex = titrated_course(patients.n)
    slow_troughs, slow_means = reference_days(MODEL, patients, as_dosing(doses, dex, 8.0), 40, 8.0)
    assert slow_troughs[:, 0].tolist() == [0.0, 0.0, 0.0]
    errors = {}
    for step in (1.0, 0.25):
        troughs, means, _ = step_days(MODEL, patients, doses, dex, 8.0, step)
        assert troughs[:, 0].tolist() == [0.0, 0.0, 0.0]
        errors[step] = (
            relative_error(troughs[:, 1:], slow_troughs[:, 1:]),
            relative_error(means, slow_means),
        )
    assert max(errors[1.0]) < 1e-3
    assert errors[0.25][0] < errors[1.0][0] / 8 and errors[0.25][1] < errors[1.0][1] / 8
    assert max(errors[0.25]) < 2e-5


@pytest.mark.parametrize("step_h", [1.0, 5.0])
def test_advance_day_at_steady_state_gives_the_closed_forms(step_h: float) -> None:
    # No dexamethasone, so E = 1 and each step is exact whatever its length. Patient 0:
    # CL/F 20 L/h, V/F 400 L, ka 1.5 /h, 1 mg at 08:00 and 20:00. Patient 1: the typical
    # 60 kg non-expresser (CL/F 18.89 L/h, V/F 352.3 L, ka 5.21 /h), 0.9 mg twice daily.
    # After 30 days (e^(-30 x 24 x 0.05) = 2e-16 of the first dose left) the mean is the
    # dose rate over the clearance (Gibaldi & Perrier, Pharmacokinetics, 2nd ed., ch. 3):
    # 2 mg/day / (20 L/h x 24 h) = 4.1667 ng/mL, and 1.8 mg / (18.89 x 24) = 3.97 ng/mL;
    # the trough is the closed form of the superposed Bateman functions.
    zeros = np.zeros(1)
    typical = individual_parameters(
        MODEL, np.array([60.0]), np.array([False]), zeros, zeros, zeros, np.zeros((1, 5))
    )
    cl, v, ka = (
        np.array([20.0, typical.cl[0]]),
        np.array([400.0, typical.v[0]]),
        np.array([1.5, 5.21]),
    )
    patients = TacrolimusPatients(cl, v, ka, np.array([False, False]), np.ones((2, 5)))
    per_dose = np.array([1.0, 0.9])
    doses = np.repeat(per_dose[:, None, None], 30, axis=1).repeat(2, axis=2)
    troughs, means, days = step_days(MODEL, patients, doses, np.zeros((2, 30), bool), 8.0, step_h)
    assert days[-1].state.enzyme.tolist() == [1.0, 1.0]
    np.testing.assert_allclose(
        means[:, -1], [2000 / (20 * 24), 1800 / (typical.cl[0] * 24)], rtol=1e-6
    )
    assert means[1, -1] == pytest.approx(3.97, abs=0.005)
    np.testing.assert_allclose(
        troughs[:, -1], steady_state_trough(cl, v, ka, per_dose, 12.0), rtol=1e-6
    )
    assert troughs[1, -1] == pytest.approx(2.86, abs=0.01)


@settings(max_examples=40, deadline=None)
@example(seed=0, days=1, e_max=0.0, first_hour=5e-324, step=0.25)  # once 0 / 0 in E's mean
@example(seed=2, days=2, e_max=0.0, first_hour=11.999999999999996, step=0.25)  # area < 0
@given(
    seed=st.integers(0, 2**32 - 1),
    days=st.integers(1, 8),
    e_max=st.floats(0.0, 1.5),
    first_hour=st.floats(0.0, 12.0, exclude_max=True),
    step=st.sampled_from([0.25, 0.5, 1.0, 2.0, 3.7, 24.0]),
)
def test_advance_day_is_non_negative_and_linear_in_the_doses(
    seed: int, days: int, e_max: float, first_hour: float, step: float
) -> None:
    rng = np.random.default_rng(seed)
    n = 4
    model = with_induction(e_max)
    # slow and fast absorption (ka below and above k = CL/V: flip-flop kinetics included)
    patients = TacrolimusPatients(
        rng.uniform(2.0, 80.0, n),
        rng.uniform(50.0, 1500.0, n),
        rng.uniform(0.05, 10.0, n),
        np.zeros(n, bool),
        np.exp(rng.normal(0.0, 0.5, (n, 2))),
    )
    doses = rng.choice([0.0, 0.25, 1.0, 2.5], size=(n, days, 2))
    dex = rng.random((n, days)) < 0.4
    troughs, means, once = step_days(model, patients, doses, dex, first_hour, step)
    assert (troughs >= 0).all() and (means >= 0).all()
    # a day with a dose has a positive mean, except an evening dose at the day's last
    # instant (first_hour just below 12: its area is below rounding and clamped to 0)
    late = first_hour + 12.0 > 24.0 - 1e-6
    given = doses[:, :, 0] > 0 if late else doses.sum(axis=2) > 0
    assert (means[given] > 0).all()
    twice_troughs, twice_means, twice = step_days(model, patients, 2 * doses, dex, first_hour, step)
    np.testing.assert_allclose(twice_troughs, 2 * troughs, rtol=1e-12, atol=0)
    np.testing.assert_allclose(twice_means, 2 * means, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(twice[-1].state.enzyme, once[-1].state.enzyme)
    assert isinstance(once[-1].state, PkState)


def test_steps_of_a_few_ulps_change_nothing() -> None:
    # Samples a hair off the grid split a step into a normal one and one of 5e-324 h
    # (where k_enzyme h underflows to 0) or of 1e-12 h: the values stay those of the
    # unsplit grid.
    dosing = twice_daily(np.array([2.0]), 3, np.array([[True, True, False]]))
    patient = one_patient(20.0, 400.0, 1.5)
    plain = concentrations(MODEL, patient, dosing, np.array([32.0, 56.0]))
    split = concentrations(MODEL, patient, dosing, np.array([32.0, 56.0, 5e-324, 20.0 + 1e-12]))
    assert split[0, 2] == 0.0
    np.testing.assert_allclose(split[:, :2], plain, rtol=1e-11)

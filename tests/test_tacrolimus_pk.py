"""The tacrolimus population PK model (itptrial.pk, docs/tacrolimus.md).

- R deSolve (lsoda) on three patients: dexamethasone courses, weekly bioavailability,
  missed doses, slow absorption (tests/reference/make_tacrolimus.R and its output);
- hand-worked closed forms: a single dose (Bateman) and the steady-state trough;
- a slow scipy reference on random patients and schedules (hypothesis);
- common random numbers, the genotype mixture, the error model, and the protocol's dose.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itptrial import InputError
from itptrial.pk import (
    Dosing,
    TacrolimusModel,
    TacrolimusPatients,
    concentrations,
    draw_patients,
    individual_parameters,
    load_tacrolimus_model,
    observe,
    steady_state_trough,
    twice_daily,
)

from reference_pk import reference_concentrations

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

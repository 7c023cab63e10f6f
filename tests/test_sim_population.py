"""Common random numbers in the virtual population (itptrial.sim._population, issue 10):
every quantity has its own stream and patient i takes the i-th draw, so a patient's
values do not depend on how many patients are drawn or on any parameter's value."""

from __future__ import annotations

import numpy as np

from itptrial import load_protocol
from itptrial.pk import load_tacrolimus_model
from itptrial.sim import load_parameters
from itptrial.sim._population import draw_population

PROTOCOL = load_protocol("target020")
PARAMS = load_parameters()
PK = load_tacrolimus_model()


def population(n: int, params=PARAMS, seed: int = 11):  # type: ignore[no-untyped-def]
    return draw_population(
        np.random.SeedSequence(seed), params, n, PROTOCOL.eligibility, PK, occasions=30
    )


def test_a_patient_does_not_depend_on_how_many_are_drawn() -> None:
    few, many = population(40), population(400)
    for name in ("t0", "a0", "kdeg", "regrowth", "kkill"):
        np.testing.assert_array_equal(
            getattr(few.patients, name), getattr(many.patients, name)[:40]
        )
    np.testing.assert_array_equal(few.pk.cl, many.pk.cl[:40])
    np.testing.assert_array_equal(few.pk.f_occasion, many.pk.f_occasion[:40])
    np.testing.assert_array_equal(few.baseline, many.baseline[:40])
    np.testing.assert_array_equal(few.age, many.age[:40])


def test_a_parameter_step_moves_every_patient_smoothly() -> None:
    # A 1% larger median dexamethasone kill: every patient's kkill is 1% larger (below
    # the cap), and nothing else is redrawn, although the diagnosis redraws some patients.
    dex = PARAMS.dexamethasone.model_copy(
        update={"kill_median": PARAMS.dexamethasone.kill_median * 1.01}
    )
    stepped = population(2000, PARAMS.model_copy(update={"dexamethasone": dex}))
    base = population(2000)
    below_cap = base.patients.kkill * 1.01 < 20.0
    ratio = stepped.patients.kkill[below_cap] / base.patients.kkill[below_cap]
    np.testing.assert_allclose(ratio, 1.01, rtol=1e-12)
    for name in ("t0", "a0", "kdeg", "regrowth"):
        np.testing.assert_array_equal(getattr(stepped.patients, name), getattr(base.patients, name))
    np.testing.assert_array_equal(stepped.pk.cl, base.pk.cl)


def test_a_diagnosis_parameter_step_changes_few_patients_discretely() -> None:
    # A 1% higher median baseline count: each patient's first eligible candidate scales by
    # 1%, except the few whose candidate crosses an eligibility limit and moves to their
    # next round; no other patient is affected.
    disease = PARAMS.disease.model_copy(
        update={"baseline_median": PARAMS.disease.baseline_median * 1.01}
    )
    stepped = population(2000, PARAMS.model_copy(update={"disease": disease}))
    base = population(2000)
    same_round = np.isclose(stepped.baseline / base.baseline, 1.01, rtol=1e-12)
    assert same_round.mean() > 0.95
    np.testing.assert_array_equal(stepped.patients.t0[same_round], base.patients.t0[same_round])
    np.testing.assert_array_equal(stepped.patients.kkill, base.patients.kkill)

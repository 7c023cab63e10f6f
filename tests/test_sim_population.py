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


def _visits(n: int, dropout_per_day: float = 0.002, seed: int = 5):  # type: ignore[no-untyped-def]
    from itptrial.sim._trial import _visit_days

    return _visit_days(
        PROTOCOL, np.random.SeedSequence(seed), n, PROTOCOL.endpoints.horizon, dropout_per_day
    )


def test_a_patients_visits_do_not_depend_on_how_many_patients_there_are() -> None:
    """Jitter, missed visits and dropout each have their own stream with a fixed number
    of draws per patient (the review found patient 0's day-140 visit present with 20
    patients and missing with 10 when the three shared one generator)."""
    for n_few, n_many in ((10, 20), (1, 300)):
        few_visits, few_dropout = _visits(n_few)
        many_visits, many_dropout = _visits(n_many)
        np.testing.assert_array_equal(few_visits, many_visits[:n_few])
        np.testing.assert_array_equal(few_dropout, many_dropout[:n_few])


def test_visits_keep_the_protocols_schedule_and_rates() -> None:
    """On 20,000 patients: jitter uniform on -J..J after the jitter day (each value
    within 4 standard errors of 1/(2J+1)), missed visits at the protocol's rate, and
    days to dropout geometric with the given daily rate (P(1) = p; its mean capped at
    the end of follow-up)."""
    v = PROTOCOL.visits
    assert v is not None
    n, p = 20_000, 0.01
    visits, dropout = _visits(n, dropout_per_day=p)
    assert visits[:, 0].all()  # Day 0 is never missed nor moved
    day = next(d for d in v.days if d > v.jitter_after_day)  # TARGET 020: day 21, +/- 2
    staying = dropout > day + v.jitter_days
    window = visits[staying, day - v.jitter_days : day + v.jitter_days + 1]
    share = window.sum(axis=0) / window.sum()
    expected = 1 / (2 * v.jitter_days + 1)
    assert np.all(np.abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / window.sum()))
    attended = window.any(axis=1).mean()
    assert window.sum(axis=1).max() == 1  # one visit per scheduled day
    sd = np.sqrt(v.miss_probability * (1 - v.miss_probability) / staying.sum())
    assert abs(attended - (1 - v.miss_probability)) < 4 * sd
    # capped at horizon + 1 (in follow-up to the end): E min(G, H + 1) = (1 - (1-p)^(H+1)) / p
    capped_mean = (1 - (1 - p) ** (PROTOCOL.endpoints.horizon + 1)) / p
    assert abs(dropout.mean() - capped_mean) < 4 * dropout.std() / np.sqrt(n)
    assert abs(np.mean(dropout == 1) - p) < 4 * np.sqrt(p * (1 - p) / n)

"""Drawing a virtual population: individual parameters and covariates of patients who
meet the protocol's eligibility."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from itptrial.protocol import Eligibility
from itptrial.sim._model import Patients, baseline_destruction
from itptrial.sim._parameters import ModelParameters

MIN_DESTRUCTION = 0.5  # A0 below this would not be ITP: such draws are redrawn
MAX_DESTRUCTION = 60.0  # platelet clearance up to 61 x healthy (lifespan about 4 hours)
MIN_BASELINE = 3.0  # counts at diagnosis below this are outside the model's validity
MAX_DEX_KILL = 20.0  # /day: a course already removes the antibody drive (e^-80); higher
#                      values would change nothing but the integration cost


@dataclass
class Population:
    patients: Patients
    baseline: np.ndarray  # true platelet count at diagnosis (steady state)
    weight: np.ndarray  # kg
    cyp3a5_expresser: np.ndarray  # bool
    female: np.ndarray  # bool
    age: np.ndarray  # years (integers)
    screening_grade: np.ndarray  # WHO bleeding grade at screening (int)


def _lognormal(rng: np.random.Generator, median: float, omega: float, n: int) -> np.ndarray:
    return median * np.exp(omega * rng.standard_normal(n))


def bleeding_grade(counts: np.ndarray, u: np.ndarray, m: ModelParameters) -> np.ndarray:
    """WHO grade from the count and a uniform draw: P(>= 2) and P(>= 1) fall with the
    count (logistic in log count); a fixed share of grade >= 2 bleeds are grade 3."""
    b = m.bleeding
    safe = np.maximum(counts, 0.5)
    p2 = 1.0 / (1.0 + (safe / b.c50) ** b.slope)
    p1 = 1.0 / (1.0 + (safe / b.grade1_c50) ** b.slope)
    return np.where(u < b.grade3_fraction * p2, 3, np.where(u < p2, 2, np.where(u < p1, 1, 0)))


def _eligible(count: np.ndarray, grade: np.ndarray | None, eligibility: Eligibility) -> np.ndarray:
    """Protocol eligibility on the count at diagnosis and the screening bleeding grade."""
    ok = count < eligibility.count_below
    if grade is not None and eligibility.count_below_with_bleeding is not None:
        bleeding = grade >= eligibility.bleeding_grade
        ok |= (count < eligibility.count_below_with_bleeding) & bleeding
    return np.asarray(ok)


def _diagnosis(
    rng: np.random.Generator,
    screening: np.random.Generator | None,
    m: ModelParameters,
    n: int,
    eligibility: Eligibility,
) -> tuple[np.ndarray, ...]:
    """(T0, baseline, A0, screening grade) for n newly diagnosed patients meeting the
    protocol's eligibility, redrawing any draw outside it or without real destruction.

    The screening bleeding grade has a stream of its own, drawn only when eligibility
    has a bleeding route, so a protocol without one draws the same patients as before.
    """
    d, c0 = m.disease, m.platelets.healthy_count
    t0, baseline, a0 = np.empty(n), np.empty(n), np.empty(n)
    grade = np.zeros(n, dtype=np.int64)
    with_bleeding = eligibility.count_below_with_bleeding is not None
    if with_bleeding and screening is None:
        raise ValueError("eligibility admits patients by bleeding: give a screening stream")
    todo = np.arange(n)
    while todo.size:
        t0_draw = _lognormal(rng, d.t0_median, d.omega_t0, todo.size)
        base_draw = _lognormal(rng, d.baseline_median, d.omega_baseline, todo.size)
        a0_draw = baseline_destruction(c0, t0_draw, base_draw, m.platelets.gamma)
        grade_draw = None
        if screening is not None and with_bleeding:
            grade_draw = bleeding_grade(base_draw, screening.random(todo.size), m)
        ok = (
            _eligible(base_draw, grade_draw, eligibility)
            & (base_draw >= MIN_BASELINE)
            & (a0_draw >= MIN_DESTRUCTION)
            & (a0_draw <= MAX_DESTRUCTION)
        )
        t0[todo[ok]], baseline[todo[ok]], a0[todo[ok]] = t0_draw[ok], base_draw[ok], a0_draw[ok]
        if grade_draw is not None:
            grade[todo[ok]] = grade_draw[ok]
        todo = todo[~ok]
    return t0, baseline, a0, grade


def _ages(
    rng: np.random.Generator, m: ModelParameters, n: int, eligibility: Eligibility
) -> np.ndarray:
    """Normal ages, rounded, kept within the model's and the protocol's age range."""
    pop = m.population
    low = max(pop.age_min, eligibility.min_age or pop.age_min)
    high = min(pop.age_max, eligibility.max_age or pop.age_max)
    return np.clip(np.round(rng.normal(pop.age_median, pop.age_sd, n)), low, high)


def draw_population(
    rng: np.random.Generator,
    m: ModelParameters,
    n: int,
    eligibility: Eligibility,
    screening: np.random.Generator | None = None,
) -> Population:
    """n eligible patients: disease state at diagnosis, drug sensitivities, tacrolimus
    PK and covariates. ``screening`` draws the screening bleeding grade (needed when
    eligibility admits patients by bleeding)."""
    t0, baseline, a0, grade = _diagnosis(rng, screening, m, n, eligibility)
    tac = m.tacrolimus
    expresser = rng.random(n) < tac.cyp3a5_expresser_fraction
    cl = _lognormal(rng, tac.cl_l_per_h * 24.0, tac.omega_cl, n)
    cl = np.where(expresser, cl * tac.cyp3a5_cl_factor, cl)
    patients = Patients(
        c0=np.full(n, m.platelets.healthy_count),
        kdeg=_lognormal(rng, m.platelets.kdeg, m.platelets.omega_kdeg, n),
        t0=t0,
        a0=a0,
        ka=_lognormal(rng, m.disease.ka_median, m.disease.omega_ka, n),
        kdex=np.minimum(
            _lognormal(rng, m.dexamethasone.kill_median, m.dexamethasone.omega_kill, n),
            MAX_DEX_KILL,
        ),
        cl=cl,
        v=np.full(n, tac.v_l),
        ktr=4.0 / m.platelets.mtt_days,
        gamma=m.platelets.gamma,
        kt=m.disease.kt,
        kdep=m.tacrolimus.depletion,
        t_help=m.disease.t_help,
        b_help=m.disease.b_help,
        imax=tac.imax,
        ic50=tac.ic50,
        ivig_effect=m.rescue.ivig_effect,
        kr=np.log(2.0) / m.rescue.ivig_half_life_days,
    )
    return Population(
        patients=patients,
        baseline=baseline,
        weight=_lognormal(rng, tac.weight_median_kg, tac.omega_weight, n),
        cyp3a5_expresser=expresser,
        female=rng.random(n) < m.population.female_fraction,
        age=_ages(rng, m, n, eligibility),
        screening_grade=grade,
    )

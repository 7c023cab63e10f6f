"""Drawing a virtual population: individual parameters and covariates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


def _lognormal(rng: np.random.Generator, median: float, omega: float, n: int) -> np.ndarray:
    return median * np.exp(omega * rng.standard_normal(n))


def _diagnosis(rng: np.random.Generator, m: ModelParameters, n: int) -> tuple[np.ndarray, ...]:
    """(T0, baseline, A0) for n newly diagnosed patients meeting the inclusion criterion
    (count < 30 x10^9/L), redrawing any draw outside it or without real destruction."""
    d, c0 = m.disease, m.platelets.healthy_count
    t0, baseline, a0 = np.empty(n), np.empty(n), np.empty(n)
    todo = np.arange(n)
    while todo.size:
        t0_draw = _lognormal(rng, d.t0_median, d.omega_t0, todo.size)
        base_draw = _lognormal(rng, d.baseline_median, d.omega_baseline, todo.size)
        a0_draw = baseline_destruction(c0, t0_draw, base_draw, m.platelets.gamma)
        ok = (
            (base_draw < 30)
            & (base_draw >= MIN_BASELINE)
            & (a0_draw >= MIN_DESTRUCTION)
            & (a0_draw <= MAX_DESTRUCTION)
        )
        t0[todo[ok]], baseline[todo[ok]], a0[todo[ok]] = t0_draw[ok], base_draw[ok], a0_draw[ok]
        todo = todo[~ok]
    return t0, baseline, a0


def draw_population(rng: np.random.Generator, m: ModelParameters, n: int) -> Population:
    """n patients: disease state at diagnosis, drug sensitivities, tacrolimus PK."""
    t0, baseline, a0 = _diagnosis(rng, m, n)
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
    pop = m.population
    return Population(
        patients=patients,
        baseline=baseline,
        weight=_lognormal(rng, tac.weight_median_kg, tac.omega_weight, n),
        cyp3a5_expresser=expresser,
        female=rng.random(n) < pop.female_fraction,
        age=np.clip(np.round(rng.normal(pop.age_median, pop.age_sd, n)), 18, 85),
    )

"""Drawing a virtual population: individual parameters and covariates of patients who
meet the protocol's eligibility."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from itptrial._streams import QuantityStreams
from itptrial.pk import TacrolimusModel, TacrolimusPatients, draw_patients
from itptrial.protocol import Eligibility
from itptrial.sim._model import Patients, baseline_destruction
from itptrial.sim._parameters import ModelParameters

MIN_DESTRUCTION = 0.5  # A0 below this would not be ITP: such draws are redrawn
MAX_DESTRUCTION = 60.0  # platelet clearance up to 61 x healthy (lifespan about 4 hours)
MIN_BASELINE = 3.0  # counts at diagnosis below this are outside the model's validity
MAX_DEX_KILL = 20.0  # /day: a course already removes the clone (e^-50); higher values
#                      would change nothing but the integration cost


@dataclass
class Population:
    patients: Patients
    baseline: np.ndarray  # true platelet count at diagnosis (steady state)
    weight: np.ndarray  # kg
    pk: TacrolimusPatients  # tacrolimus PK parameters (with the CYP3A5 genotype)
    female: np.ndarray  # bool
    age: np.ndarray  # years (integers)
    screening_grade: np.ndarray  # WHO bleeding grade at screening (int)

    @property
    def cyp3a5_expresser(self) -> np.ndarray:
        return self.pk.expresser

    @staticmethod
    def concatenate(groups: list[Population]) -> Population:
        """Several populations as one, in order (a calibration batch)."""
        pk = TacrolimusPatients(
            **{
                f.name: np.concatenate([getattr(g.pk, f.name) for g in groups])
                for f in fields(TacrolimusPatients)
            }
        )
        arrays = {
            f.name: np.concatenate([getattr(g, f.name) for g in groups])
            for f in fields(Population)
            if f.name not in ("patients", "pk")
        }
        return Population(
            patients=Patients.concatenate([g.patients for g in groups]), pk=pk, **arrays
        )


# Spawn-key indices of the population's random quantities (never reorder: draws change).
QUANTITIES = (
    "t0",
    "baseline",
    "screening",
    "unused_expresser",  # the PK model draws the genotype (kept: positions are keys)
    "unused_cl",
    "kdeg",
    "regrowth",
    "kkill",
    "weight",
    "female",
    "age",
    "pk",
)


def _lognormal(z: np.ndarray, median: float, omega: float) -> np.ndarray:
    return median * np.exp(omega * z)


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
    streams: QuantityStreams, m: ModelParameters, n: int, eligibility: Eligibility
) -> tuple[np.ndarray, ...]:
    """(T0, baseline, A0, screening grade) for n newly diagnosed patients meeting the
    protocol's eligibility, redrawing any draw outside it or without real destruction.

    Round r draws every patient's candidate from the round's own streams and keeps the
    first acceptable one, so a patient's values never depend on another's redraws. The
    screening bleeding grade is drawn only when eligibility has a bleeding route.
    """
    d, c0 = m.disease, m.platelets.healthy_count
    t0, baseline, a0 = np.empty(n), np.empty(n), np.empty(n)
    grade = np.zeros(n, dtype=np.int64)
    with_bleeding = eligibility.count_below_with_bleeding is not None
    todo = np.arange(n)
    round_ = 0
    while todo.size:
        t0_draw = _lognormal(streams.normal("t0", n, round_)[todo], d.t0_median, d.omega_t0)
        base_z = streams.normal("baseline", n, round_)[todo]
        base_draw = _lognormal(base_z, d.baseline_median, d.omega_baseline)
        a0_draw = baseline_destruction(c0, t0_draw, base_draw, m.platelets.gamma)
        grade_draw = None
        if with_bleeding:
            u = streams.uniform("screening", n, round_)[todo]
            grade_draw = bleeding_grade(base_draw, u, m)
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
        round_ += 1
    return t0, baseline, a0, grade


def _ages(
    streams: QuantityStreams, m: ModelParameters, n: int, eligibility: Eligibility
) -> np.ndarray:
    """Normal ages, rounded, kept within the model's and the protocol's age range."""
    pop = m.population
    low = max(pop.age_min, eligibility.min_age or pop.age_min)
    high = min(pop.age_max, eligibility.max_age or pop.age_max)
    ages = pop.age_median + pop.age_sd * streams.normal("age", n)
    return np.clip(np.round(ages), low, high)


def draw_population(
    seed: np.random.SeedSequence,
    m: ModelParameters,
    n: int,
    eligibility: Eligibility,
    pk_model: TacrolimusModel,
    occasions: int,
) -> Population:
    """n eligible patients: disease state at diagnosis, drug sensitivities, tacrolimus
    PK (``occasions`` occasions of between-occasion variability) and covariates, each
    quantity from its own stream (``itptrial._streams``)."""
    streams = QuantityStreams(seed, QUANTITIES)
    t0, baseline, a0, grade = _diagnosis(streams, m, n, eligibility)
    d, x, tac = m.disease, m.dexamethasone, m.tacrolimus
    kkill = _lognormal(streams.normal("kkill", n), x.kill_median, x.omega_kill)
    patients = Patients(
        c0=np.full(n, m.platelets.healthy_count),
        kdeg=_lognormal(streams.normal("kdeg", n), m.platelets.kdeg, m.platelets.omega_kdeg),
        t0=t0,
        a0=a0,
        regrowth=_lognormal(streams.normal("regrowth", n), d.regrowth_median, d.omega_regrowth),
        kkill=np.minimum(kkill, MAX_DEX_KILL),
        cure=np.full(n, d.cure_threshold),
        block=np.full(n, x.block_max),
        kdep=np.full(n, tac.depletion),
        t_help=np.full(n, d.t_help),
        ktr=4.0 / m.platelets.mtt_days,
        gamma=m.platelets.gamma,
        kt=d.kt,
        b_help=d.b_help,
        ke0=np.log(2.0) / (x.effect_half_life_h / 24.0),
        ec50=x.ec50_relative,
        imax=tac.imax,
        ic50=tac.ic50,
        ivig_effect=m.rescue.ivig_effect,
        kr=np.log(2.0) / m.rescue.ivig_half_life_days,
    )
    weight = _lognormal(streams.normal("weight", n), tac.weight_median_kg, tac.omega_weight)
    return Population(
        patients=patients,
        baseline=baseline,
        weight=weight,
        pk=draw_patients(pk_model, weight, occasions, streams.seed("pk")),
        female=streams.uniform("female", n) < m.population.female_fraction,
        age=_ages(streams, m, n, eligibility),
        screening_grade=grade,
    )

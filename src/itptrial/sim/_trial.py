"""One virtual trial: the protocol executed day by day over a virtual population.

Each day the protocol's rules act on what a clinician would see at that day's visit
(measured counts, bleeding, troughs): a second dexamethasone course when there is no
response by day 14, trough-guided tacrolimus dosing, rescue. Then the model is
integrated over the day with that day's doses. All random numbers are drawn up front
from independent SeedSequence streams, so both engines see the same patients, visits
and measurement errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from itptrial.protocol import Protocol, Regimen
from itptrial.sim._engine import STEPPERS, DayStepper, EngineName
from itptrial.sim._model import CTAC, C, R, steady_state
from itptrial.sim._parameters import ModelParameters
from itptrial.sim._population import Population, draw_population

STREAMS = (
    "population",
    "allocation",
    "visits",
    "counts",
    "bleeding",
    "troughs",
    "events",
    "calendar",
)


@dataclass
class Schedule:
    """What was given each day (rows: patients, columns: days 0..horizon)."""

    dex: np.ndarray  # dexamethasone course-days (1 = 40 mg)
    tac_mg: np.ndarray  # tacrolimus daily dose, mg
    rescue: np.ndarray  # bool: rescue started that day


@dataclass
class Course:
    """A simulated trial before it is written as tables."""

    arms: np.ndarray  # arm code per patient
    population: Population
    visits: np.ndarray  # bool (patient, day)
    dropout_day: np.ndarray
    counts: np.ndarray  # measured count at visits, NaN elsewhere
    bleeding: np.ndarray  # WHO grade at visits, -1 elsewhere
    troughs: np.ndarray  # measured tacrolimus trough, NaN elsewhere
    true_counts: np.ndarray  # model platelet count at the start of each day
    schedule: Schedule
    rescue_treatment: str
    # the seeds of the random streams (not live generators: writing the tables twice
    # must give the same tables)
    seeds: dict[str, np.random.SeedSequence] = field(repr=False, default_factory=dict)

    def rng(self, stream: str) -> np.random.Generator:
        """A fresh generator for one of the course's streams."""
        return np.random.default_rng(self.seeds[stream])


def _seeds(seed: np.random.SeedSequence) -> dict[str, np.random.SeedSequence]:
    """One independent child seed per purpose (adding a purpose later, at the end of
    STREAMS, leaves the others' numbers unchanged)."""
    return dict(zip(STREAMS, seed.spawn(len(STREAMS)), strict=True))


def _visit_days(
    protocol: Protocol, rng: np.random.Generator, n: int, horizon: int, dropout_per_day: float
) -> tuple[np.ndarray, np.ndarray]:
    """Visit matrix (jitter after day 14, missed visits, dropout) and dropout days."""
    assert protocol.visits is not None
    v = protocol.visits
    days = np.array(sorted(v.days))
    jitter = rng.integers(-v.jitter_days, v.jitter_days + 1, (n, len(days)))
    actual = np.where(days > 14, days + jitter, days)
    actual = np.clip(actual, 0, horizon)
    missed = (rng.random((n, len(days))) < v.miss_probability) & (days > 0)
    dropout = np.minimum(rng.geometric(max(1e-12, dropout_per_day), n), horizon + 1)
    visits = np.zeros((n, horizon + 1), dtype=bool)
    rows = np.repeat(np.arange(n), len(days))
    keep = (~missed).ravel() & (actual.ravel() < dropout[rows])
    visits[rows[keep], actual.ravel()[keep]] = True
    return visits, dropout


def _regimen(protocol: Protocol, drug: str) -> Regimen | None:
    return next((r for r in protocol.regimens.values() if r.drug == drug), None)


def _bleeding_grade(counts: np.ndarray, u: np.ndarray, m: ModelParameters) -> np.ndarray:
    """WHO grade from the count: P(>= 2) and P(>= 1) fall with the count (logistic in
    log count); a tenth of grade >= 2 bleeds are grade 3."""
    b = m.bleeding
    safe = np.maximum(counts, 0.5)
    p2 = 1.0 / (1.0 + (safe / b.c50) ** b.slope)
    p1 = 1.0 / (1.0 + (safe / b.grade1_c50) ** b.slope)
    return np.where(u < 0.1 * p2, 3, np.where(u < p2, 2, np.where(u < p1, 1, 0)))


def run_course(
    protocol: Protocol,
    params: ModelParameters,
    arms: np.ndarray,
    seed: np.random.SeedSequence,
    engine: EngineName = "fast",
    progress: Callable[[int], None] | None = None,
) -> Course:
    """Simulate every patient of ``arms`` (one arm code per patient) through the protocol."""
    seeds = _seeds(seed)
    streams = {name: np.random.default_rng(child) for name, child in seeds.items()}
    n, horizon = len(arms), protocol.endpoints.horizon
    population = draw_population(streams["population"], params, n)
    visits, dropout = _visit_days(
        protocol, streams["visits"], n, horizon, params.population.dropout_per_day
    )
    count_z = streams["counts"].standard_normal((n, horizon + 1))
    bleed_u = streams["bleeding"].random((n, horizon + 1))
    trough_z = streams["troughs"].standard_normal((n, horizon + 1))
    step: DayStepper = STEPPERS[engine]
    controller = _Controller(protocol, params, arms, population)
    y = steady_state(population.patients, population.baseline)
    counts = np.full((n, horizon + 1), np.nan)
    grades = np.full((n, horizon + 1), -1)
    troughs = np.full((n, horizon + 1), np.nan)
    true_counts = np.empty((n, horizon + 1))
    cv, tcv = params.platelets.measurement_cv, params.tacrolimus.trough_cv
    for day in range(horizon + 1):
        true_counts[:, day] = y[C]
        seen = visits[:, day]
        measured = np.round(y[C] * np.exp(cv * count_z[:, day] - cv**2 / 2))
        counts[seen, day] = measured[seen]
        grades[seen, day] = _bleeding_grade(measured, bleed_u[:, day], params)[seen]
        trough = (
            y[CTAC]
            * params.tacrolimus.trough_to_average
            * np.exp(tcv * trough_z[:, day] - tcv**2 / 2)
        )
        rescued = controller.decide(day, seen, counts[:, day], grades[:, day], trough, troughs)
        y[R] = np.where(rescued, 1.0, y[R])
        dex, tac_mg = controller.doses(day)
        if day < horizon:
            y = step(y, dex, tac_mg * 1000.0, population.patients)
        if progress is not None:
            progress(1)
    assert protocol.rescue is not None
    return Course(
        arms=arms,
        population=population,
        visits=visits,
        dropout_day=dropout,
        counts=counts,
        bleeding=grades,
        troughs=troughs,
        true_counts=true_counts,
        schedule=controller.schedule,
        rescue_treatment=protocol.rescue.treatments[0],
        seeds=seeds,
    )


class _Controller:
    """The protocol's day-by-day decisions for all patients at once."""

    def __init__(
        self, protocol: Protocol, params: ModelParameters, arms: np.ndarray, population: Population
    ) -> None:
        n, horizon = len(arms), protocol.endpoints.horizon
        self.protocol, self.params, self.n = protocol, params, n
        self.dex = _regimen(protocol, "dexamethasone")
        self.tac = _regimen(protocol, "tacrolimus")
        self.on_dex = self._arm_mask(self.dex, arms)
        self.on_tac = self._arm_mask(self.tac, arms)
        start_mg = (self.tac.dose_mg_per_kg_day or 0.0) * population.weight if self.tac else 0.0
        self.tac_dose = np.clip(np.round(start_mg * 2) / 2, 0.5, self._max_tac())
        self.baseline_count = np.full(n, np.nan)
        self.responded = np.zeros(n, dtype=bool)
        self.repeat = np.zeros(n, dtype=bool)
        self.schedule = Schedule(
            dex=np.zeros((n, horizon + 1)),
            tac_mg=np.zeros((n, horizon + 1)),
            rescue=np.zeros((n, horizon + 1), dtype=bool),
        )

    @staticmethod
    def _arm_mask(regimen: Regimen | None, arms: np.ndarray) -> np.ndarray:
        if regimen is None:
            return np.zeros(len(arms), dtype=bool)
        return np.isin(arms, regimen.arms)

    def _max_tac(self) -> float:
        return self.tac.tdm.max_daily_dose_mg if self.tac and self.tac.tdm else 10.0

    def decide(
        self,
        day: int,
        seen: np.ndarray,
        counts: np.ndarray,
        grades: np.ndarray,
        trough: np.ndarray,
        troughs: np.ndarray,
    ) -> np.ndarray:
        """Apply the visit-day rules; returns who starts rescue today."""
        p = self.protocol.endpoints
        if day == 0:
            self.baseline_count = np.where(seen, counts, np.nan)
        elif (
            self.dex is not None
            and self.dex.repeat_assess_day is not None
            and (day <= self.dex.repeat_assess_day)
        ):
            # the endpoint's rule for a qualifying day (docs/endpoints.md): no bleeding
            # at or above BLEEDING_GRADE that day; before any rescue is implied (rescue
            # starts from day rescue.from_day and makes the response moot anyway)
            qualifies = (
                (counts >= p.response_level)
                & (counts >= p.fold * self.baseline_count)
                & (grades < p.bleeding_grade)
            )
            self.responded |= seen & qualifies
        if self.dex is not None and day == self.dex.repeat_assess_day:
            self.repeat = self.on_dex & ~self.responded
        self._adjust_tacrolimus(day, seen, trough, troughs)
        rule = self.protocol.rescue
        if rule is None or day < rule.from_day:
            return np.zeros(self.n, dtype=bool)
        low = (counts < rule.count_below) | (
            (counts < rule.count_below_with_bleeding) & (grades >= rule.bleeding_grade)
        )
        rescued = seen & low
        self.schedule.rescue[:, day] = rescued
        return rescued

    def _adjust_tacrolimus(
        self, day: int, seen: np.ndarray, trough: np.ndarray, troughs: np.ndarray
    ) -> None:
        tac = self.tac
        if tac is None or tac.tdm is None or tac.start_day is None or tac.duration_days is None:
            return
        on = self.on_tac & seen & (day > tac.start_day) & (day < tac.start_day + tac.duration_days)
        troughs[on, day] = np.round(trough[on], 1)
        low, high = tac.tdm.trough_low_ng_ml, tac.tdm.trough_high_ng_ml
        measured = np.maximum(troughs[:, day], 0.1)
        off_target = on & ((troughs[:, day] < low) | (troughs[:, day] > high))
        proposed = np.round(self.tac_dose * (low + high) / 2 / measured * 2) / 2
        self.tac_dose = np.where(off_target, np.clip(proposed, 0.5, self._max_tac()), self.tac_dose)

    def doses(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """Today's dexamethasone course-days and tacrolimus mg, also recorded."""
        dex = np.zeros(self.n)
        if self.dex is not None and self.dex.dose_mg is not None:
            strength = self.dex.dose_mg / 40.0
            dex = np.where(self.on_dex & (day in self.dex.days), strength, 0.0)
            if day in self.dex.repeat_days:
                dex = np.where(self.repeat, strength, dex)
        tac = np.zeros(self.n)
        start, duration = (self.tac.start_day, self.tac.duration_days) if self.tac else (None, 0)
        if start is not None and duration and start <= day < start + duration:
            tac = np.where(self.on_tac, self.tac_dose, 0.0)
        self.schedule.dex[:, day] = dex
        self.schedule.tac_mg[:, day] = tac
        return dex, tac


def replay(
    population: Population,
    schedule: Schedule,
    engine: EngineName = "fast",
    patients: np.ndarray | None = None,
) -> np.ndarray:
    """True platelet counts (patient, day) when ``schedule`` is given as recorded.

    Open loop: the doses and rescue days are fixed, so two engines integrate exactly
    the same problem (used to check the fast engine against the reference).
    """
    index = np.arange(population.patients.n) if patients is None else np.asarray(patients)
    chosen = population.patients.take(index)
    step: DayStepper = STEPPERS[engine]
    y = steady_state(chosen, population.baseline[index])
    days = schedule.dex.shape[1]
    counts = np.empty((len(index), days))
    for day in range(days):
        y[R] = np.where(schedule.rescue[index, day], 1.0, y[R])
        counts[:, day] = y[C]
        if day < days - 1:
            y = step(y, schedule.dex[index, day], schedule.tac_mg[index, day] * 1000.0, chosen)
    return counts

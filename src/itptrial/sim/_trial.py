"""One virtual trial: the protocol executed day by day over a virtual population.

Each day the protocol's rules act on what a clinician would see at that day's visit
(measured counts, bleeding): a repeated course for patients with no response by the
regimen's assessment day, rescue. The day's doses are given: tacrolimus to the
population PK model (:mod:`itptrial.pk`, twice daily), whose pre-dose trough is measured
at the visit and moves the dose from the next day on (trough-guided dosing), and whose
daily mean concentration drives the disease model, integrated over the day. Every
regimen gives its drug to the model module it names (``model``): the doses of all
regimens of a module add up. All random
numbers are drawn up front from independent SeedSequence streams, so both engines see
the same patients, visits and measurement errors.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from itptrial._streams import QuantityStreams, children
from itptrial.pk import (
    TacrolimusModel,
    advance_day,
    initial_state,
    load_tacrolimus_model,
    measured,
)
from itptrial.protocol import Protocol, Regimen
from itptrial.sim._engine import STEPPERS, DayStepper, EngineName
from itptrial.sim._loop import Draws, Outputs, empty_outputs, regimens, rules, run_patients
from itptrial.sim._model import C, R, shared, steady_state, theta
from itptrial.sim._parameters import ModelParameters
from itptrial.sim._population import Population, bleeding_grade, draw_population
from itptrial.tdm import (
    History,
    choose_dose,
    regimen_rules,
    rounded_daily_dose,
    titrated_dose,
    twice_daily_history,
)

STREAMS = (
    "population",
    "allocation",
    "visits",
    "counts",
    "bleeding",
    "troughs",
    "events",
    "calendar",
    "screening",  # unused since the population draws every quantity from its own stream
    "count_analysis",  # the analyser's error of a count (the "counts" stream: biology)
    "trough_additive",  # the additive part of a trough's error ("troughs": proportional)
)


@dataclass
class Schedule:
    """What was given each day (rows: patients, columns: days 0..horizon).

    ``dex`` and ``tac_mg`` are the two drug inputs (dexamethasone in course days of the
    module's reference dose, tacrolimus daily mg); ``tac_ng_ml`` is the day's mean
    tacrolimus concentration that the PK model made of them (what the disease model
    sees); ``given`` holds each regimen's own doses in mg, by regimen key, for the
    doses table.
    """

    dex: np.ndarray
    tac_mg: np.ndarray
    rescue: np.ndarray  # bool: rescue started that day
    given: dict[str, np.ndarray] = field(default_factory=dict)
    tac_ng_ml: np.ndarray | None = None


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
    trough_drug: str  # the drug name of the trough-guided regimen ("" when none)
    # the seeds of the random streams (not live generators: writing the tables twice
    # must give the same tables)
    seeds: dict[str, np.random.SeedSequence] = field(repr=False, default_factory=dict)

    def rng(self, stream: str) -> np.random.Generator:
        """A fresh generator for one of the course's streams."""
        return np.random.default_rng(self.seeds[stream])


def _seeds(seed: np.random.SeedSequence) -> dict[str, np.random.SeedSequence]:
    """One independent child seed per purpose (adding a purpose later, at the end of
    STREAMS, leaves the others' numbers unchanged)."""
    return dict(zip(STREAMS, children(seed, len(STREAMS)), strict=True))


VISIT_QUANTITIES = ("jitter", "missed", "dropout")  # streams below "visits"; never reorder


def _visit_days(
    protocol: Protocol,
    seed: np.random.SeedSequence,
    n: int,
    horizon: int,
    dropout_per_day: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Visit matrix (jitter after the protocol's jitter day, missed visits after Day 0,
    dropout) and dropout days. Each quantity has its own stream and every patient takes
    a fixed number of uniforms from it (one per visit, one for dropout), by inversion,
    so patient i's visits do not depend on how many patients there are (common random
    numbers; numpy's bounded integers and geometric draws reject or search, and use a
    varying number of draws)."""
    assert protocol.visits is not None
    v = protocol.visits
    days = np.array(v.days)
    streams = QuantityStreams(seed, VISIT_QUANTITIES)
    width = 2 * v.jitter_days + 1
    u_jitter = streams.uniform("jitter", n * len(days)).reshape(n, len(days))
    jitter = np.minimum(np.floor(u_jitter * width), width - 1).astype(np.int64) - v.jitter_days
    moves = np.array([v.jitter_on(int(day)) > 0 for day in days])
    actual = np.where(moves, days + jitter, days)
    actual = np.clip(actual, 0, horizon)
    u_missed = streams.uniform("missed", n * len(days)).reshape(n, len(days))
    missed = (u_missed < v.miss_probability) & (days > 0)
    dropout = np.minimum(_geometric(streams.uniform("dropout", n), dropout_per_day), horizon + 1)
    visits = np.zeros((n, horizon + 1), dtype=bool)
    rows = np.repeat(np.arange(n), len(days))
    keep = (~missed).ravel() & (actual.ravel() < dropout[rows])
    visits[rows[keep], actual.ravel()[keep]] = True
    return visits, dropout


def _geometric(u: np.ndarray, p: float) -> np.ndarray:
    """Geometric days to dropout (support 1, 2, ...; P(k) = (1-p)^(k-1) p) by inversion
    of uniforms u in [0, 1): ceil(log(1 - u) / log(1 - p)), at least 1."""
    p = min(max(p, 1e-12), 1.0)
    if p >= 1.0:
        return np.ones(u.shape, dtype=np.int64)
    days = np.ceil(np.log1p(-u) / np.log1p(-p))  # finite: u < 1
    return np.asarray(np.maximum(days, 1), dtype=np.int64)


DAILY_STREAMS = ("counts", "count_analysis", "bleeding", "troughs", "trough_additive")
# Draws below which filling the arrays in two threads costs more than it saves
THREADED_DRAWS = 1_000_000


def _daily_draws(
    streams: dict[str, np.random.Generator],
    n: int,
    days: int,
    out: list[np.ndarray] | None = None,
) -> list[np.ndarray]:
    """One (patient, day) draw per day for each measurement: the count's biological and
    analytical errors, the bleeding's uniform, the trough's proportional and additive
    errors (``out``: the (n, days) arrays to fill). Each stream fills its own array, two
    at a time for large courses (numpy's generators release the GIL while filling; each
    stream's numbers are those of a serial draw)."""
    arrays = out if out is not None else [np.empty((n, days)) for _ in DAILY_STREAMS]

    def fill(k: int) -> np.ndarray:
        name, array = DAILY_STREAMS[k], arrays[k]
        rng = streams[name]
        if name == "bleeding":
            return rng.random(out=array)
        return rng.standard_normal(out=array)

    if n * days < THREADED_DRAWS:
        return [fill(k) for k in range(len(DAILY_STREAMS))]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(fill, range(len(DAILY_STREAMS))))


# Steps of the PK model (hours): its error is second order in the step, about 3e-4 of a
# trough at 2 h (1e-4 at 1 h: tests/test_tacrolimus_pk.py), far below the assay's 18.6%.
PK_STEP_H = 4.0


def occasions(protocol: Protocol, pk_model: TacrolimusModel) -> int:
    """PK occasions (of between-occasion variability) over the protocol's horizon."""
    return protocol.endpoints.horizon // pk_model.variability.occasion_days + 1


def measured_counts(
    true: np.ndarray, biological_z: np.ndarray, analytical_z: np.ndarray, p: ModelParameters
) -> np.ndarray:
    """What the laboratory reports: the day's count (true x lognormal day-to-day
    biological variation) measured with the analyser's error, normal with
    SD^2 = a^2 + (b x count)^2 (docs/model.md), rounded to an integer, never below 0."""
    pl = p.platelets
    cv = pl.biological_cv
    day_count = true * np.exp(cv * biological_z - cv**2 / 2)
    sd = np.sqrt(pl.analytical_sd**2 + (pl.analytical_cv * day_count) ** 2)
    measured: np.ndarray = np.maximum(np.round(day_count + sd * analytical_z), 0.0)
    return measured


@dataclass
class Drawn:
    """A course's random inputs, drawn before the protocol runs: the patients, their
    visits and dropout, and every daily measurement error (:class:`Draws`)."""

    population: Population
    draws: Draws
    seeds: dict[str, np.random.SeedSequence]

    @staticmethod
    def concatenate(parts: list[Drawn], daily: list[np.ndarray] | None = None) -> Drawn:
        """Several courses' inputs as one course, in order (a batch of trials: the
        compiled loop treats every patient on their own, so a batch gives each trial
        exactly its own course). The seeds are the first part's. ``daily``: the daily
        draws, already filled in place by the parts (:func:`draw_course`'s ``daily``)."""
        daily_fields = range(2, 7)  # count_z ... additive_z, in Draws order
        columns = [
            daily[k - 2]
            if daily is not None and k in daily_fields
            else np.concatenate([part.draws[k] for part in parts])
            for k in range(len(Draws._fields))
        ]
        return Drawn(
            population=Population.concatenate([part.population for part in parts]),
            draws=Draws(*columns),
            seeds=parts[0].seeds,
        )


def draw_course(
    protocol: Protocol,
    params: ModelParameters,
    n: int,
    seed: np.random.SeedSequence,
    pk_model: TacrolimusModel,
    population: Population | None = None,
    daily: list[np.ndarray] | None = None,
) -> Drawn:
    """The random inputs of a course of ``n`` patients, each from its own stream of
    ``seed`` (``population``: patients drawn beforehand instead; ``daily``: arrays of
    (n, days) to fill with the daily draws, in :data:`DAILY_STREAMS` order)."""
    assert protocol.eligibility is not None
    seeds = _seeds(seed)
    streams = {name: np.random.default_rng(child) for name, child in seeds.items()}
    horizon = protocol.endpoints.horizon
    if population is None:
        population = draw_population(
            seeds["population"],
            params,
            n,
            protocol.eligibility,
            pk_model,
            occasions(protocol, pk_model),
        )
    elif population.patients.n != n:
        raise ValueError(f"{population.patients.n} patients drawn for {n} arm codes")
    visits, dropout = _visit_days(
        protocol, seeds["visits"], n, horizon, params.population.dropout_per_day
    )
    count_z, analysis_z, bleed_u, trough_z, additive_z = _daily_draws(
        streams, n, horizon + 1, daily
    )
    draws = Draws(
        visits,
        dropout,
        count_z,
        analysis_z,
        bleed_u,
        trough_z,
        additive_z,
        population.screening_grade,
    )
    return Drawn(population, draws, seeds)


def run_course(
    protocol: Protocol,
    params: ModelParameters,
    arms: np.ndarray,
    seed: np.random.SeedSequence,
    engine: EngineName = "fast",
    progress: Callable[[int], None] | None = None,
    pk_model: TacrolimusModel | None = None,
    population: Population | None = None,
    python_loop: bool = False,
) -> Course:
    """Simulate every patient of ``arms`` (one arm code per patient) through the protocol
    (checked by :func:`itptrial.sim.check_simulation`).

    ``population``: patients drawn beforehand (one per arm code; a calibration batch
    joins the patients of several parameter sets), instead of drawing them from
    ``params`` and the course's population stream.

    The fast engine runs the compiled loop (:mod:`itptrial.sim._loop`); the reference
    engine, or ``python_loop``, the day loop in Python with the engine's day stepper (the
    cross-check of the compiled loop: the same rules, in the same order, on the same
    draws).
    """
    pk_model = pk_model or load_tacrolimus_model()
    drawn = draw_course(protocol, params, len(arms), seed, pk_model, population)
    return execute_course(protocol, params, arms, drawn, pk_model, engine, progress, python_loop)


def execute_course(
    protocol: Protocol,
    params: ModelParameters,
    arms: np.ndarray,
    drawn: Drawn,
    pk_model: TacrolimusModel,
    engine: EngineName = "fast",
    progress: Callable[[int], None] | None = None,
    python_loop: bool = False,
) -> Course:
    """The protocol executed on drawn inputs, every patient on the regimen of ``arms``."""
    population, draws = drawn.population, drawn.draws
    controller = _Controller(protocol, params, arms, population, draws.dropout_day, pk_model)
    if engine == "fast" and not python_loop and not controller.needs_python_loop():
        outputs = _compiled_loop(
            protocol, params, pk_model, population, controller, draws, progress
        )
    else:
        outputs = _python_loop(
            protocol, params, pk_model, population, controller, draws, STEPPERS[engine], progress
        )
    schedule = Schedule(
        dex=outputs.dex,
        tac_mg=outputs.tac_mg,
        rescue=outputs.rescue,
        given={key: outputs.given[k] for k, key in enumerate(controller.dosing)},
        tac_ng_ml=outputs.tac_ng_ml,
    )
    return Course(
        arms=arms,
        population=population,
        visits=draws.visits,
        dropout_day=draws.dropout_day,
        counts=outputs.counts,
        bleeding=outputs.grades,
        troughs=outputs.troughs,
        true_counts=outputs.true_counts,
        schedule=schedule,
        rescue_treatment=protocol.rescue.treatments[0] if protocol.rescue else "",
        trough_drug=controller.trough_drug,
        seeds=drawn.seeds,
    )


# Patients per call of the compiled loop: enough to keep both cores busy, few enough calls
# for a smooth progress bar and a prompt Ctrl-C.
CHUNK_PATIENTS = 4096


def _compiled_loop(
    protocol: Protocol,
    params: ModelParameters,
    pk_model: TacrolimusModel,
    population: Population,
    controller: _Controller,
    draws: Draws,
    progress: Callable[[int], None] | None,
) -> Outputs:
    n, days = len(draws.dropout_day), protocol.endpoints.horizon + 1
    given = {key: dosing.regimen for key, dosing in controller.dosing.items()}
    constants, pk_steps = rules(protocol, params, pk_model, controller.capsule_mg, PK_STEP_H)
    on = np.zeros((n, len(given)), dtype=np.bool_)
    start_mg = np.zeros((n, len(given)))
    for k, dosing in enumerate(controller.dosing.values()):
        on[:, k], start_mg[:, k] = dosing.on, dosing.daily_mg
    y0 = np.ascontiguousarray(steady_state(population.patients, population.baseline).T)
    th, sh = theta(population.patients), shared(population.patients)
    schedule, on_tacrolimus = regimens(given, days), controller.on_module("tacrolimus")
    out = empty_outputs(n, days, len(given))
    reported = 0
    for lo in range(0, n, CHUNK_PATIENTS):
        hi = min(n, lo + CHUNK_PATIENTS)
        run_patients(
            lo,
            hi,
            y0,
            th,
            sh,
            population.pk,
            on_tacrolimus,
            on,
            start_mg,
            draws,
            constants,
            schedule,
            pk_steps,
            out,
        )
        if progress is not None:  # in days of the whole course, as the Python loop
            done = days * hi // n
            progress(done - reported)
            reported = done
    return out


def _python_loop(
    protocol: Protocol,
    params: ModelParameters,
    pk_model: TacrolimusModel,
    population: Population,
    controller: _Controller,
    draws: Draws,
    step: DayStepper,
    progress: Callable[[int], None] | None,
) -> Outputs:
    n, horizon = len(draws.dropout_day), protocol.endpoints.horizon
    y = steady_state(population.patients, population.baseline)
    on_tacrolimus = controller.on_module("tacrolimus")  # the PK model runs for them only
    pk_patients = population.pk.take(on_tacrolimus)
    pk_state = initial_state(pk_patients.n)
    tac_ng_ml = np.zeros(n)
    counts = np.full((n, horizon + 1), np.nan)
    grades = np.full((n, horizon + 1), -1)
    troughs = np.full((n, horizon + 1), np.nan)
    true_counts = np.empty((n, horizon + 1))
    for day in range(horizon + 1):
        true_counts[:, day] = y[C]
        seen = draws.visits[:, day]
        count_today = measured_counts(y[C], draws.count_z[:, day], draws.analysis_z[:, day], params)
        counts[seen, day] = count_today[seen]
        grade = bleeding_grade(count_today, draws.bleed_u[:, day], params)
        if day == 0:  # the bleeding that made a patient eligible is seen at Day 0
            grade = np.maximum(grade, draws.screening_grade)
        grades[seen, day] = grade[seen]
        rescued = controller.decide(day, seen, counts[:, day], grades[:, day])
        y[R] = np.where(rescued, 1.0, y[R])
        dex, tac_mg = controller.doses(day)
        twice = controller.twice_daily(tac_mg[on_tacrolimus])
        dex_today = dex[on_tacrolimus] > 0
        exposure = advance_day(
            pk_model, pk_patients, pk_state, day, twice, dex_today, step_h=PK_STEP_H
        )
        pk_state = exposure.state
        true_trough = np.zeros(n)
        true_trough[on_tacrolimus] = exposure.trough_ng_ml
        tac_ng_ml[on_tacrolimus] = exposure.average_ng_ml
        trough = measured(pk_model, true_trough, draws.trough_z[:, day], draws.additive_z[:, day])
        controller.monitor(day, seen, trough, troughs)
        controller.record_concentration(day, tac_ng_ml)
        if day < horizon:
            y = step(y, dex, tac_ng_ml, population.patients)
        if progress is not None:
            progress(1)
    s = controller.schedule
    assert s.tac_ng_ml is not None
    return Outputs(
        counts=counts,
        grades=grades,
        troughs=troughs,
        true_counts=true_counts,
        dex=s.dex,
        tac_mg=s.tac_mg,
        rescue=s.rescue,
        given=np.stack([s.given[key] for key in controller.dosing])
        if controller.dosing
        else np.zeros((0, n, horizon + 1)),
        tac_ng_ml=s.tac_ng_ml,
    )


class _Dosing:
    """One regimen executing for the patients of its arms."""

    def __init__(self, regimen: Regimen, on: np.ndarray, weight: np.ndarray) -> None:
        self.regimen, self.on, self.weight = regimen, on, weight
        self.responded = np.zeros(len(on), dtype=bool)
        self.repeat = np.zeros(len(on), dtype=bool)
        self.daily_mg = np.zeros(len(on))
        if regimen.dose_mg_per_kg_day is not None:
            assert regimen.dose_step_mg is not None
            high = regimen.tdm.max_daily_dose_mg if regimen.tdm else np.inf
            start = regimen.dose_mg_per_kg_day * weight
            self.daily_mg = rounded_daily_dose(start, regimen.dose_step_mg, high)

    def assess(self, day: int, seen: np.ndarray, qualifies: np.ndarray) -> None:
        """Response up to the regimen's assessment day decides a repeated course."""
        r = self.regimen
        if r.repeat_if != "no_response_by_day" or r.repeat_assess_day is None:
            return
        if 1 <= day <= r.repeat_assess_day:
            self.responded |= seen & qualifies
        if day == r.repeat_assess_day:
            self.repeat = self.on & ~self.responded

    def measuring(self, day: int, seen: np.ndarray, in_study: np.ndarray) -> np.ndarray:
        """Who has a trough measured today (on treatment, at a visit or a TDM day)."""
        r, tdm = self.regimen, self.regimen.tdm
        assert tdm is not None and r.start_day is not None and r.duration_days is not None
        if not r.start_day < day < r.start_day + r.duration_days:
            return np.zeros(len(self.on), dtype=bool)
        measured = seen if tdm.measure_on_visits else np.zeros(len(self.on), dtype=bool)
        if day in tdm.measure_days:
            measured = measured | in_study
        who: np.ndarray = self.on & measured
        return who

    def adjust(
        self,
        measured: np.ndarray,
        troughs: np.ndarray,
        history: Callable[[int], History],
        pk_model: TacrolimusModel,
    ) -> None:
        """Tomorrow's dose after today's measured troughs, by the regimen's strategy:
        ``rule``, an off-target trough moves the dose proportionally toward mid-target;
        ``map``, the MAP recommendation from the patient's ``history(i)`` so far (the
        genotype unknown, as in the trial's data); ``fixed``, unchanged."""
        tdm, step = self.regimen.tdm, self.regimen.dose_step_mg
        assert tdm is not None and step is not None
        if tdm.strategy == "rule":
            target = (tdm.trough_low_ng_ml, tdm.trough_high_ng_ml)
            titrated = titrated_dose(self.daily_mg, troughs, target, step, tdm.max_daily_dose_mg)
            self.daily_mg = np.where(measured, titrated, self.daily_mg)
        elif tdm.strategy == "map":  # (check_simulation: the maximum allows two capsules)
            rules = regimen_rules(self.regimen)
            for i in np.flatnonzero(measured):
                choice = choose_dose(history(int(i)), float(self.weight[i]), rules, model=pk_model)
                self.daily_mg[i] = choice.daily_mg

    def dose(self, day: int) -> np.ndarray:
        """Today's dose in mg for every patient (0 for those not on the regimen)."""
        r = self.regimen
        if r.dose_mg is not None:
            given = np.where(self.on & (day in r.days), r.dose_mg, 0.0)
            if day in r.repeat_days:
                given = np.where(self.repeat, r.dose_mg, given)
            return given
        assert r.start_day is not None and r.duration_days is not None
        if r.start_day <= day < r.start_day + r.duration_days:
            return np.where(self.on, self.daily_mg, 0.0)
        return np.zeros(len(self.on))


class _Controller:
    """The protocol's day-by-day decisions for all patients at once."""

    def __init__(
        self,
        protocol: Protocol,
        params: ModelParameters,
        arms: np.ndarray,
        population: Population,
        dropout: np.ndarray,
        pk_model: TacrolimusModel,
    ) -> None:
        n, horizon = len(arms), protocol.endpoints.horizon
        self.protocol, self.params, self.n, self.dropout = protocol, params, n, dropout
        self.pk_model = pk_model
        # regimens of arms left out (0 subjects) are not given, nor need a drug module
        self.dosing = {
            key: _Dosing(r, np.isin(arms, r.arms), population.weight)
            for key, r in protocol.regimens.items()
            if np.isin(arms, r.arms).any()
        }
        guided = [key for key, r in protocol.regimens.items() if r.tdm is not None]
        self.trough_drug = protocol.regimens[guided[0]].drug if guided else ""
        steps = [
            r.dose_step_mg
            for r in protocol.regimens.values()
            if r.model == "tacrolimus" and r.dose_step_mg is not None
        ]
        self.capsule_mg = min(steps) if steps else None
        self.baseline_count = np.full(n, np.nan)
        self.schedule = Schedule(
            dex=np.zeros((n, horizon + 1)),
            tac_mg=np.zeros((n, horizon + 1)),
            rescue=np.zeros((n, horizon + 1), dtype=bool),
            given={key: np.zeros((n, horizon + 1)) for key in self.dosing},
            tac_ng_ml=np.zeros((n, horizon + 1)),
        )

    def needs_python_loop(self) -> bool:
        """MAP-guided dosing (an optimisation per measured trough, in scipy) runs only in
        the Python day loop."""
        return any(
            d.regimen.tdm is not None and d.regimen.tdm.strategy == "map"
            for d in self.dosing.values()
        )

    def decide(
        self, day: int, seen: np.ndarray, counts: np.ndarray, grades: np.ndarray
    ) -> np.ndarray:
        """Apply the visit-day rules on counts and bleeding; returns who starts rescue
        today."""
        p = self.protocol.endpoints
        if day == 0:
            self.baseline_count = np.where(seen, counts, np.nan)
        # the endpoint's rule for a qualifying day (docs/endpoints.md): no bleeding at or
        # above BLEEDING_GRADE that day; before any rescue is implied (rescue starts from
        # day rescue.from_day and makes the response moot anyway)
        qualifies = (
            (counts >= p.response_level)
            & (counts >= p.fold * self.baseline_count)
            & (grades < p.bleeding_grade)
        )
        for dosing in self.dosing.values():
            dosing.assess(day, seen, qualifies)
        return self._rescue(day, seen, counts, grades)

    def monitor(self, day: int, seen: np.ndarray, trough: np.ndarray, troughs: np.ndarray) -> None:
        """Record today's measured pre-dose troughs of the trough-guided regimens; they
        set the dose from tomorrow on (the result comes after the morning dose)."""
        in_study = day < self.dropout

        def history(i: int) -> History:
            """Patient i's tacrolimus history to today: doses, dexamethasone days and the
            troughs measured so far."""
            s = self.schedule
            measured = np.flatnonzero(~np.isnan(troughs[i, : day + 1]))
            return twice_daily_history(
                self.twice_daily(s.tac_mg[i, : day + 1]),
                list(np.flatnonzero(s.dex[i, : day + 1] > 0)),
                measured,
                troughs[i, measured],
            )

        for dosing in self.dosing.values():
            if dosing.regimen.tdm is not None:
                measured = dosing.measuring(day, seen, in_study)
                troughs[measured, day] = np.round(trough[measured], 1)
                dosing.adjust(measured, troughs[:, day], history, self.pk_model)

    def _rescue(
        self, day: int, seen: np.ndarray, counts: np.ndarray, grades: np.ndarray
    ) -> np.ndarray:
        rule = self.protocol.rescue
        if rule is None or day < rule.from_day:
            return np.zeros(self.n, dtype=bool)
        low = (counts < rule.count_below) | (
            (counts < rule.count_below_with_bleeding) & (grades >= rule.bleeding_grade)
        )
        rescued = seen & low
        self.schedule.rescue[:, day] = rescued
        return rescued

    def on_module(self, model: str) -> np.ndarray:
        """Who is given any regimen of the drug module ``model``."""
        on = np.zeros(self.n, dtype=bool)
        for dosing in self.dosing.values():
            if dosing.regimen.model == model:
                on |= dosing.on
        return on

    def record_concentration(self, day: int, ng_ml: np.ndarray) -> None:
        assert self.schedule.tac_ng_ml is not None
        self.schedule.tac_ng_ml[:, day] = ng_ml

    def twice_daily(self, daily_mg: np.ndarray) -> np.ndarray:
        """The day's tacrolimus as (morning, evening) doses 12 h apart: halves in whole
        capsules (the regimens' smallest ``dose_step_mg``), the odd capsule in the
        morning; exact halves when no regimen gives a step."""
        step = self.capsule_mg
        if step is None:
            return np.column_stack([daily_mg / 2.0, daily_mg / 2.0])
        morning = np.minimum(np.ceil(daily_mg / 2.0 / step - 1e-9) * step, daily_mg)
        return np.column_stack([morning, daily_mg - morning])

    def doses(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """Today's model inputs (dexamethasone course days, tacrolimus mg), recorded
        with each regimen's own doses."""
        dex, tac = np.zeros(self.n), np.zeros(self.n)
        reference = self.params.dexamethasone.reference_dose_mg
        for key, dosing in self.dosing.items():
            mg = dosing.dose(day)
            self.schedule.given[key][:, day] = mg
            if dosing.regimen.model == "dexamethasone":
                dex = dex + mg / reference
            elif dosing.regimen.model == "tacrolimus":
                tac = tac + mg
            else:  # pragma: no cover - check_simulation rejects any other module
                raise ValueError(f"no drug module {dosing.regimen.model!r}")
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

    Open loop: the doses, tacrolimus concentrations and rescue days are fixed, so two
    engines integrate exactly the same problem (used to check the fast engine against
    the reference).
    """
    index = np.arange(population.patients.n) if patients is None else np.asarray(patients)
    chosen = population.patients.take(index)
    step: DayStepper = STEPPERS[engine]
    y = steady_state(chosen, population.baseline[index])
    days = schedule.dex.shape[1]
    tac = np.zeros_like(schedule.dex) if schedule.tac_ng_ml is None else schedule.tac_ng_ml
    counts = np.empty((len(index), days))
    for day in range(days):
        y[R] = np.where(schedule.rescue[index, day], 1.0, y[R])
        counts[:, day] = y[C]
        if day < days - 1:
            y = step(y, schedule.dex[index, day], tac[index, day], chosen)
    return counts

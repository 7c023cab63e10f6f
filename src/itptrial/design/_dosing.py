"""Which tacrolimus dosing strategy to run in a trial: the comparison pre-specified in
docs/tdm.md (``itptrial tdm evaluate``), on virtual patients of the population PK model
the simulator and the TDM share (:mod:`itptrial.pk`).

Every patient is given 12 weeks (the protocol's trough-guided regimen) of twice-daily
tacrolimus from its starting dose under three strategies, with common random numbers:
the same patient (weight, CYP3A5, between-patient and weekly variability), the same
missed doses, the same dexamethasone courses and the same assay errors under each:

- ``map``: at each weekly trough, the MAP recommendation from the history so far
  (:func:`itptrial.tdm.choose_dose`, genotype unknown);
- ``rule``: the protocol's proportional titration toward the target's middle
  (:func:`itptrial.tdm.titrated_dose`, the simulator's rule);
- ``fixed``: the starting dose throughout.

and, as a reference, ``bound``: from day 0 the capsule dose an oracle knowing the
patient's true CL/F, V/F and ka would choose (its steady-state trough at a typical
week's bioavailability, enzyme uninduced, nearest the target's middle), kept
throughout. No trough tells the coming week's bioavailability (each week is a new draw,
and a dose change acts from the next day), so a strategy can approach the bound but
beat it only by anticipating the dexamethasone induction.

A dose change takes effect the day after the trough. The measures are computed on the
trough a patient would have on each day (the true pre-dose concentration plus the
assay's error, reported to 0.1 ng/mL), not only on the weekly samples. Intervals are
95% percentile bootstrap intervals over patients (Efron & Tibshirani, An Introduction
to the Bootstrap, 1993, ch. 13), the differences paired by patient.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from itptrial._streams import QuantityStreams, children
from itptrial.design._distributed import run_tasks
from itptrial.pk import (
    TacrolimusModel,
    TacrolimusPatients,
    advance_day,
    draw_patients,
    initial_state,
    measured,
)
from itptrial.protocol import Protocol
from itptrial.tdm import (
    DosingRules,
    choose_dose,
    guided_regimen,
    morning_trough,
    regimen_rules,
    rounded_daily_dose,
    split_daily,
    titrated_dose,
    twice_daily_history,
)

if TYPE_CHECKING:
    from distributed import Client

STRATEGIES = ("map", "rule", "fixed")
BOUND = "bound"  # not a strategy to compare: the oracle's reference (module docstring)
# The pre-specified settings of the evaluation (docs/tdm.md), not trial numbers
SAMPLE_EVERY_DAYS = 7  # a trough each week: days 7, 14, ...
MISSED_FRACTION = 1 / 20  # of doses, at random
SECOND_COURSE_FRACTION = 0.5  # patients given the protocol's repeat dexamethasone course
HIGH_TROUGH_NG_ML = 8.0
EARLY_WEEKS = 4  # the second window: weeks 1-4
BOOTSTRAP = 2000
PATIENTS_PER_TASK = 4
PATIENT_STREAMS = ("weight", "pk", "missed", "assay_proportional", "assay_additive", "course")


@dataclass(frozen=True)
class DosingSetup:
    """What every patient of the evaluation shares: the protocol's regimen and target,
    the dexamethasone course days, the PK model and the weight distribution."""

    rules: DosingRules
    start_mg_per_kg_day: float
    days: int  # of tacrolimus (0 .. days - 1)
    dex_days: tuple[int, ...]
    repeat_days: tuple[int, ...]
    model: TacrolimusModel
    weight_median_kg: float
    omega_weight: float
    strategies: tuple[str, ...] = STRATEGIES

    @property
    def sample_days(self) -> tuple[int, ...]:
        return tuple(range(SAMPLE_EVERY_DAYS, self.days, SAMPLE_EVERY_DAYS))


def dosing_setup(
    protocol: Protocol,
    model: TacrolimusModel,
    weight_median_kg: float,
    omega_weight: float,
    strategies: Sequence[str] = STRATEGIES,
) -> DosingSetup:
    """The evaluation of ``protocol``'s trough-guided regimen (ValueError without one,
    or without a dexamethasone regimen in its arm)."""
    regimen = guided_regimen(protocol)
    unknown = sorted(set(strategies) - set(STRATEGIES))
    if unknown or not strategies:
        raise ValueError(f"strategies must be among {', '.join(STRATEGIES)}; got {unknown}")
    if regimen.dose_mg_per_kg_day is None or regimen.duration_days is None:
        raise ValueError("the trough-guided regimen needs dose_mg_per_kg_day and duration_days")
    steroids = [
        r
        for r in protocol.regimens.values()
        if r.model == "dexamethasone" and set(r.arms) & set(regimen.arms)
    ]
    if not steroids:
        raise ValueError("no dexamethasone regimen is given with the trough-guided regimen")
    start = regimen.start_day or 0
    return DosingSetup(
        rules=regimen_rules(regimen),
        start_mg_per_kg_day=regimen.dose_mg_per_kg_day,
        days=regimen.duration_days,
        dex_days=tuple(d - start for d in steroids[0].days if d >= start),
        repeat_days=tuple(d - start for d in steroids[0].repeat_days if d >= start),
        model=model,
        weight_median_kg=weight_median_kg,
        omega_weight=omega_weight,
        strategies=tuple(s for s in STRATEGIES if s in strategies),
    )


def protocol_dosing_setup(protocol: Protocol) -> DosingSetup:
    """:func:`dosing_setup` with the shipped PK model and the virtual population's
    weight distribution (the simulator's parameter file)."""
    from itptrial.pk import load_tacrolimus_model
    from itptrial.sim import load_parameters

    weight = load_parameters().tacrolimus
    return dosing_setup(
        protocol, load_tacrolimus_model(), weight.weight_median_kg, weight.omega_weight
    )


@dataclass(frozen=True)
class PatientCourse:
    """One virtual patient under each strategy (rows in ``setup.strategies`` order,
    then the bound)."""

    weight_kg: float
    pk: TacrolimusPatients  # the patient's PK parameters (one patient)
    second_course: bool
    daily_mg: np.ndarray  # (strategies, days): the dose prescribed each day
    given_mg: np.ndarray  # (strategies, days, 2): morning and evening doses taken
    true_trough: np.ndarray  # (strategies, days): before the morning dose
    reading: np.ndarray  # (strategies, days): what the assay would report


def _dex_mask(setup: DosingSetup, second: bool) -> np.ndarray:
    mask = np.zeros(setup.days, dtype=bool)
    for day in (*setup.dex_days, *(setup.repeat_days if second else ())):
        if day < setup.days:
            mask[day] = True
    return mask


def simulate_patient(setup: DosingSetup, seed: np.random.SeedSequence) -> PatientCourse:
    """One patient, from its own streams, under every strategy of ``setup``."""
    streams = QuantityStreams(seed, PATIENT_STREAMS)
    days, model, rules = setup.days, setup.model, setup.rules
    weight = setup.weight_median_kg * np.exp(setup.omega_weight * streams.normal("weight", 1))
    occasions = -(-days // model.variability.occasion_days)
    patient = draw_patients(model, weight, occasions, streams.seed("pk"))
    taken = streams.of("missed").random((days, 2)) >= MISSED_FRACTION
    z = (streams.normal("assay_proportional", days), streams.normal("assay_additive", days))
    second = bool(streams.uniform("course", 1)[0] < SECOND_COURSE_FRACTION)
    dex = _dex_mask(setup, second)
    start = float(
        rounded_daily_dose(
            setup.start_mg_per_kg_day * weight[0], rules.capsule_mg, rules.max_daily_mg
        )
    )
    rows = (*setup.strategies, BOUND)
    shape = (len(rows), days)
    daily, true, reading = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    given_all = np.zeros((*shape, 2))
    for s, strategy in enumerate(rows):
        state, dose = initial_state(1), start if strategy != BOUND else _oracle_dose(setup, patient)
        given = given_all[s]
        for day in range(days):
            daily[s, day] = dose
            given[day] = np.asarray(split_daily(dose, rules.capsule_mg)) * taken[day]
            exposure = advance_day(model, patient, state, day, given[day][None], dex[day : day + 1])
            state = exposure.state
            true[s, day] = exposure.trough_ng_ml[0]
            read = measured(model, exposure.trough_ng_ml, z[0][day : day + 1], z[1][day : day + 1])
            reading[s, day] = np.round(read[0], 1)
            if day in setup.sample_days:
                dose = _next_dose(
                    setup, strategy, dose, given[: day + 1], dex, reading[s], day, float(weight[0])
                )
    return PatientCourse(float(weight[0]), patient, second, daily, given_all, true, reading)


def _oracle_dose(setup: DosingSetup, patient: TacrolimusPatients) -> float:
    """The allowed dose whose steady-state trough, at the patient's true parameters and a
    typical week's bioavailability, is nearest the target's middle."""
    rules = setup.rules
    doses = rules.doses()
    trough = morning_trough(patient.cl[0], patient.v[0], patient.ka[0], doses, rules.capsule_mg)
    return float(doses[int(np.argmin(np.abs(trough - sum(rules.target) / 2.0)))])


def _next_dose(
    setup: DosingSetup,
    strategy: str,
    dose: float,
    given: np.ndarray,
    dex: np.ndarray,
    reading: np.ndarray,
    day: int,
    weight_kg: float,
) -> float:
    """Tomorrow's daily dose after today's trough, by ``strategy``."""
    rules = setup.rules
    if strategy == "rule":
        return float(
            titrated_dose(dose, reading[day], rules.target, rules.capsule_mg, rules.max_daily_mg)
        )
    if strategy == "map":
        samples = [d for d in setup.sample_days if d <= day]
        history = twice_daily_history(
            given, list(np.flatnonzero(dex[: day + 1])), samples, reading[samples]
        )
        return choose_dose(history, weight_kg, rules, "unknown", setup.model).daily_mg
    return dose  # fixed, and the bound


def _patients(setup: DosingSetup, seeds: list[np.random.SeedSequence]) -> list[PatientCourse]:
    return [simulate_patient(setup, seed) for seed in seeds]


@dataclass(frozen=True)
class Estimate:
    """A mean over patients with its 95% bootstrap interval."""

    value: float
    ci95: tuple[float, float]


@dataclass(frozen=True)
class StrategyResult:
    """The pre-specified measures of one strategy (fractions of patient-days)."""

    in_range_fraction: Estimate  # 3-5 ng/mL (the target) over weeks 2-12
    in_range_fraction_weeks_1_4: Estimate
    days_to_in_range: Estimate  # mean, a patient never in range counted at the last day
    median_days_to_in_range: float | None  # None: half the patients never in range
    never_in_range_fraction: float
    above_8_fraction: Estimate  # over weeks 2-12
    true_in_range_fraction: Estimate  # the true trough in range, weeks 2-12 (no assay error)
    mean_daily_dose_mg: float  # over weeks 2-12


@dataclass(frozen=True)
class DosingEvaluation:
    """``itptrial tdm evaluate``: each strategy's measures, the paired differences of
    MAP from the others, and what was run."""

    patients: int
    seed: int
    strategies: dict[str, StrategyResult]
    bound: StrategyResult
    differences: dict[str, dict[str, Estimate]]  # "map_minus_rule" -> measure -> estimate
    settings: dict[str, Any]
    note: str
    reference: str = (
        "pre-specified in docs/tdm.md; MAP: Le Louedec F et al. CPT Pharmacometrics Syst "
        "Pharmacol 2021;10:1208; bootstrap: Efron & Tibshirani, An Introduction to the "
        "Bootstrap, 1993, ch. 13"
    )

    def as_dict(self) -> dict[str, Any]:
        def estimate(e: Estimate) -> dict[str, Any]:
            return {"value": e.value, "ci95": list(e.ci95)}

        def strategy(r: StrategyResult) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, value in r.__dict__.items():
                if isinstance(value, Estimate):
                    out[name] = value.value
                    out[f"{name}_ci95"] = list(value.ci95)
                else:
                    out[name] = value
            return out

        return {
            "strategies": {name: strategy(r) for name, r in self.strategies.items()},
            "bound": strategy(self.bound),
            "differences": {
                pair: {measure: estimate(e) for measure, e in measures.items()}
                for pair, measures in self.differences.items()
            },
            "patients": self.patients,
            "seed": self.seed,
            "settings": self.settings,
            "note": self.note,
            "reference": self.reference,
        }


def _windows(days: int) -> dict[str, np.ndarray]:
    """Day masks of the measures: weeks 2-12 (days 7 .. end) and weeks 1-4 (days 1-27;
    day 0's trough comes before the first dose)."""
    day = np.arange(days)
    return {
        "late": day >= SAMPLE_EVERY_DAYS,
        "early": (day >= 1) & (day < EARLY_WEEKS * SAMPLE_EVERY_DAYS),
    }


def patient_measures(
    courses: list[PatientCourse], target: tuple[float, float], days: int
) -> dict[str, np.ndarray]:
    """Per-patient measures, (strategies, patients) arrays."""
    low, high = target
    reading = np.stack([c.reading for c in courses], axis=1)  # (strategies, patients, days)
    true = np.stack([c.true_trough for c in courses], axis=1)
    daily = np.stack([c.daily_mg for c in courses], axis=1)
    window = _windows(days)
    inside = (reading >= low) & (reading <= high)
    true_inside = (true >= low) & (true <= high)
    counted = inside & (np.arange(days) >= 1)
    first = np.where(counted.any(axis=2), counted.argmax(axis=2), days)
    return {
        "in_range_fraction": inside[..., window["late"]].mean(axis=2),
        "in_range_fraction_weeks_1_4": inside[..., window["early"]].mean(axis=2),
        "days_to_in_range": first.astype(float),
        "above_8_fraction": (reading[..., window["late"]] > HIGH_TROUGH_NG_ML).mean(axis=2),
        "true_in_range_fraction": true_inside[..., window["late"]].mean(axis=2),
        "daily_mg": daily[..., window["late"]].mean(axis=2),
    }


def _bootstrap(values: np.ndarray, resamples: np.ndarray) -> Estimate:
    means = values[resamples].mean(axis=1)
    lo, hi = np.quantile(means, (0.025, 0.975))
    return Estimate(float(values.mean()), (float(lo), float(hi)))


ESTIMATED = (
    "in_range_fraction",
    "in_range_fraction_weeks_1_4",
    "days_to_in_range",
    "above_8_fraction",
    "true_in_range_fraction",
)


def summarize(
    setup: DosingSetup, courses: list[PatientCourse], seed: np.random.SeedSequence
) -> tuple[dict[str, StrategyResult], dict[str, dict[str, Estimate]]]:
    """Each strategy's measures and MAP's paired differences from the others."""
    values = patient_measures(courses, setup.rules.target, setup.days)
    n = len(courses)
    resamples = np.random.default_rng(seed).integers(0, n, size=(BOOTSTRAP, n))
    results = {}
    for s, name in enumerate((*setup.strategies, BOUND)):
        first = values["days_to_in_range"][s]
        never = first >= setup.days
        median = float(np.median(first)) if never.mean() < 0.5 else None
        estimates = {m: _bootstrap(values[m][s], resamples) for m in ESTIMATED}
        results[name] = StrategyResult(
            **estimates,
            median_days_to_in_range=median,
            never_in_range_fraction=float(never.mean()),
            mean_daily_dose_mg=float(values["daily_mg"][s].mean()),
        )
    differences = {}
    if "map" in setup.strategies:
        m = setup.strategies.index("map")
        for s, other in enumerate(setup.strategies):
            if other != "map":
                differences[f"map_minus_{other}"] = {
                    measure: _bootstrap(values[measure][m] - values[measure][s], resamples)
                    for measure in ESTIMATED
                }
    return results, differences


def evaluate_dosing(
    setup: DosingSetup,
    patients: int,
    seed: int,
    client: Client | None = None,
    progress: Callable[[int], None] | None = None,
    check: Callable[[], None] | None = None,
) -> DosingEvaluation:
    """The pre-specified comparison on ``patients`` virtual patients (patient i always
    takes stream i of ``seed``: the same patients whatever ``patients`` or the workers),
    on a Dask ``client`` or here; ``progress(k)`` as k more patients finish."""
    if patients < 2:
        raise ValueError(f"patients must be >= 2 (a bootstrap needs two); got {patients}")
    patient_root, bootstrap_seed = children(np.random.SeedSequence(seed), 2)
    seeds = children(patient_root, patients)
    tasks = [seeds[k : k + PATIENTS_PER_TASK] for k in range(0, patients, PATIENTS_PER_TASK)]
    done = None if progress is None else (lambda k: progress(len(tasks[k])))
    chunks = run_tasks(_patients, (setup,), tasks, client, done, check)
    courses = [course for chunk in chunks for course in chunk]
    results, differences = summarize(setup, courses, bootstrap_seed)
    bound = results.pop(BOUND)
    return DosingEvaluation(
        patients=patients,
        seed=seed,
        strategies=results,
        bound=bound,
        differences=differences,
        settings=_settings(setup, courses),
        note=(
            "fractions of patient-days: the trough each day (true concentration plus assay "
            "error) in the target over weeks 2-12 and weeks 1-4, above 8 ng/mL over weeks "
            "2-12; days to the first in-range trough (never: counted as the last day); 95% "
            "bootstrap intervals over patients, differences paired by patient; bound: the "
            "dose an oracle knowing the patient's true CL/F, V/F and ka would give from day "
            "0 (not the week's bioavailability, which no trough foretells)"
        ),
    )


def _settings(setup: DosingSetup, courses: list[PatientCourse]) -> dict[str, Any]:
    return {
        "target_ng_ml": list(setup.rules.target),
        "days": setup.days,
        "start_mg_per_kg_day": setup.start_mg_per_kg_day,
        "sample_days": list(setup.sample_days),
        "dexamethasone_days": list(setup.dex_days),
        "second_course_days": list(setup.repeat_days),
        "second_course_fraction": SECOND_COURSE_FRACTION,
        "missed_dose_fraction": MISSED_FRACTION,
        "capsule_mg": setup.rules.capsule_mg,
        "max_daily_dose_mg": setup.rules.max_daily_mg,
        "expresser_fraction_drawn": float(np.mean([c.pk.expresser[0] for c in courses])),
    }

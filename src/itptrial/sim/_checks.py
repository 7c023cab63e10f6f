"""Outputs a calibration did not use, with posterior predictive intervals, and the
visual predictive check (docs/calibration.md).

Each replicate is one virtual trial at the published arm sizes with its own posterior
draw; a quantity's predictive interval is the 2.5-97.5% range of its value over the
replicates (what a new trial of that size would show, calibration uncertainty
included).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from itptrial.data import dataset_from_frames
from itptrial.endpoints import adjudicate, endpoint_registry
from itptrial.pk import TacrolimusModel, load_tacrolimus_model
from itptrial.protocol import Observed, Protocol
from itptrial.sim._calibrate import (
    _parameter_sets,
    batch_course,
    predictive_summary,
    subject_row,
    trial_counts,
)
from itptrial.sim._parameters import ModelParameters
from itptrial.sim._tables import course_tables
from itptrial.sim._targets import Targets, Trial
from itptrial.sim._trial import Course

Statistic = Callable[[np.ndarray], float]  # a replicate's value from its rows
EARLY_DAY = 7  # day of the early count (responders average about 100 then: NEJM 2003;349:831)


@dataclass(frozen=True)
class Outcome:
    """One quantity of one arm over the replicates: median and 95% predictive interval."""

    quantity: str
    arm: str
    median: float
    interval_95: tuple[float, float]
    replicates: int  # replicates where the quantity exists (e.g. with a relapser)


def _share(x: np.ndarray, among: np.ndarray) -> Statistic:
    def statistic(rows: np.ndarray) -> float:
        chosen = among[rows]
        return float(x[rows][chosen].mean()) if chosen.any() else np.nan

    return statistic


def _median(x: np.ndarray, among: np.ndarray) -> Statistic:
    def statistic(rows: np.ndarray) -> float:
        chosen = among[rows]
        return float(np.median(x[rows][chosen])) if chosen.any() else np.nan

    return statistic


def _trough_share(troughs: np.ndarray, low: float, high: float) -> Statistic:
    def statistic(rows: np.ndarray) -> float:
        t = troughs[rows][~np.isnan(troughs[rows])]
        return float(((t >= low) & (t <= high)).mean()) if t.size else np.nan

    return statistic


def _trough_median(troughs: np.ndarray) -> Statistic:
    def statistic(rows: np.ndarray) -> float:
        t = troughs[rows][~np.isnan(troughs[rows])]
        return float(np.median(t)) if t.size else np.nan

    return statistic


def _troughs_at_visits(course: Course, protocol: Protocol) -> list[tuple[int, np.ndarray]]:
    """Each scheduled visit day with the trough measured at that visit per patient (NaN
    when none): within the days the visit may move (``Visits.jitter_on``; visit windows
    do not overlap, so a window holds at most one trough)."""
    assert protocol.visits is not None
    v = protocol.visits
    measured = ~np.isnan(course.troughs)
    out = []
    for day in v.days:
        spread = v.jitter_on(day)
        low, high = max(day - spread, 0), min(day + spread, course.troughs.shape[1] - 1)
        taken = measured[:, low : high + 1].sum(axis=1)
        if not taken.any():
            continue
        if taken.max() > 1:
            raise ValueError(f"two troughs in the window of the day-{day} visit")
        window = np.nansum(course.troughs[:, low : high + 1], axis=1)
        out.append((day, np.where(taken == 1, window, np.nan)))
    return out


def _per_replicate(
    course: Course, endpoints: pl.DataFrame, trial: Trial, replicates: int
) -> dict[tuple[str, str], np.ndarray]:
    """Every quantity's value in each replicate and arm (NaN where undefined)."""
    protocol, p = trial.protocol, trial.protocol.endpoints
    group = np.arange(len(course.arms)) // sum(trial.sizes)
    ordered = endpoints.with_columns(subject_row().alias("_row")).sort("_row")
    responder = ordered["initial_response"].fill_null(0).to_numpy().astype(bool)
    complete = (ordered["initial_response_category"] == "CR").fill_null(False).to_numpy()
    relapse = ordered["relapse"].fill_null(0).to_numpy().astype(bool)
    relapse_day = ordered["relapse_day"].to_numpy().astype(float)
    sustained = ordered["sustained_response_6m"].fill_null(0).to_numpy().astype(float)
    baseline = course.true_counts[:, 0]
    nadir = np.array(
        [
            course.true_counts[i, int(d) :].min() if np.isfinite(d) else np.nan
            for i, d in enumerate(relapse_day)
        ]
    )
    everyone = np.ones(len(course.arms), dtype=bool)
    back = (nadir < p.fold * baseline).astype(float)
    early = course.true_counts[:, EARLY_DAY]
    late = course.true_counts[:, p.sustained_day]
    rescued = course.schedule.rescue.any(axis=1).astype(float)
    quantities: list[tuple[str, Statistic]] = [
        ("complete response (initial), share", _share(complete.astype(float), everyone)),
        (f"day-{EARLY_DAY} count of initial responders, median", _median(early, responder)),
        (f"day-{EARLY_DAY} count, median", _median(early, everyone)),
        ("day of relapse, median (relapsers)", _median(relapse_day, relapse)),
        ("relapse nadir / baseline count, median (relapsers)", _median(nadir / baseline, relapse)),
        (f"relapsers back below {p.fold:g}x baseline, share", _share(back, relapse)),
        ("relapsers still sustained responders, share", _share(sustained, relapse)),
        (f"day-{p.sustained_day} count, median", _median(late, everyone)),
        ("rescued, share", _share(rescued, everyone)),
    ]
    guided = [r.tdm for r in protocol.regimens.values() if r.tdm is not None]
    if guided:
        low, high = guided[0].trough_low_ng_ml, guided[0].trough_high_ng_ml
        quantities += [
            (
                f"troughs within {low:g}-{high:g} ng/mL, share",
                _trough_share(course.troughs, low, high),
            ),
            ("trough (ng/mL), median", _trough_median(course.troughs)),
        ]
        for day, at_visit in _troughs_at_visits(course, protocol):
            column = at_visit[:, None]
            quantities += [
                (
                    f"troughs within {low:g}-{high:g} ng/mL at the day-{day} visit, share",
                    _trough_share(column, low, high),
                ),
                (f"trough at the day-{day} visit (ng/mL), median", _trough_median(column)),
            ]
    values: dict[tuple[str, str], np.ndarray] = {}
    for index, arm in enumerate(protocol.arm_codes):
        if not trial.sizes[index]:
            continue
        rows = [np.flatnonzero((group == g) & (course.arms == arm)) for g in range(replicates)]
        for name, statistic in quantities:
            values[(name, arm)] = np.array([statistic(r) if r.size else np.nan for r in rows])
    return {key: v for key, v in values.items() if np.isfinite(v).any()}


def unused_outputs(
    targets: Targets,
    base: ModelParameters,
    draws: np.ndarray,
    seed: int,
    replicates: int = 200,
    pk_model: TacrolimusModel | None = None,
) -> list[Outcome]:
    """The outputs the fit did not use, for the first trial of ``targets``."""
    model = pk_model or load_tacrolimus_model()
    trial = targets.trials[0]
    rows = draws[np.arange(replicates) % len(draws)]
    sets = _parameter_sets(base, targets, trial, rows)
    course = batch_course(trial, sets, np.random.SeedSequence(seed), model)
    tables = course_tables(course, trial.protocol, sets[0])
    endpoints = adjudicate(dataset_from_frames(tables, trial.protocol), trial.protocol)
    out = []
    for (quantity, arm), v in _per_replicate(course, endpoints, trial, replicates).items():
        median, interval, _ = predictive_summary(0.0, v)
        out.append(Outcome(quantity, arm, median, interval, int(np.isfinite(v).sum())))
    return out


def count_bands(
    targets: Targets,
    base: ModelParameters,
    draws: np.ndarray,
    seed: int,
    replicates: int = 40,
    pk_model: TacrolimusModel | None = None,
) -> pl.DataFrame:
    """Visual predictive check: per trial, arm and visit day of its protocol, the median
    and 5-95% band of the true platelet count over every virtual patient of
    ``replicates`` trials, each with its own posterior draw."""
    model = pk_model or load_tacrolimus_model()
    frames = []
    rows = draws[np.arange(replicates) % len(draws)]
    for trial, child in zip(
        targets.trials, np.random.SeedSequence(seed).spawn(len(targets.trials)), strict=True
    ):
        sets = _parameter_sets(base, targets, trial, rows)
        course = batch_course(trial, sets, child, model)
        assert trial.protocol.visits is not None
        days = np.array(trial.protocol.visits.days)
        for arm in trial.protocol.arm_codes:
            counts = course.true_counts[course.arms == arm][:, days]
            if not counts.size:
                continue
            low, median, high = np.quantile(counts, [0.05, 0.5, 0.95], axis=0)
            frames.append(
                pl.DataFrame(
                    {
                        "trial": trial.name,
                        "arm": arm,
                        "day": days,
                        "median": median,
                        "p05": low,
                        "p95": high,
                    }
                )
            )
    return pl.concat(frames)


def scenario_outcomes(
    protocol: Protocol,
    sizes: tuple[int, ...],
    parameter_sets: list[ModelParameters],
    seed: int,
    pk_model: TacrolimusModel | None = None,
) -> list[Outcome]:
    """Every binary endpoint of every arm of a protocol, over virtual trials of ``sizes``
    that each take one parameter set (a posterior draw): median and 95% predictive
    interval of the trial's rate."""
    registry = [e.name for e in endpoint_registry(protocol.endpoints) if e.kind == "binary"]
    observed = tuple(
        Observed(arm=arm, endpoint=name, responders=0, n=size)
        for name in registry
        for arm, size in zip(protocol.arm_codes, sizes, strict=True)
        if size
    )
    trial = Trial(protocol.name, protocol, {}, observed, sizes)
    model = pk_model or load_tacrolimus_model()
    counts = trial_counts(trial, parameter_sets, np.random.SeedSequence(seed), model)
    out = []
    for j, item in enumerate(observed):
        with np.errstate(invalid="ignore", divide="ignore"):
            rates = counts[:, j, 0] / counts[:, j, 1]
        median, interval, _ = predictive_summary(0.0, rates)
        out.append(
            Outcome(item.endpoint, item.arm, median, interval, int(np.isfinite(rates).sum()))
        )
    return out

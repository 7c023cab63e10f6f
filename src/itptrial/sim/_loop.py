"""The fast engine's closed loop, compiled: every patient's whole course in one numba
kernel, in parallel over patients.

Patients do not interact, so each one can run all its days in a row while its state stays
in cache: the day's measured count and bleeding, the protocol's rules on them (the
repeated course, rescue), the doses, the tacrolimus PK day
(:func:`itptrial.pk.advance_patient_day`), the trough and its dose change, and the disease
model's day (:func:`itptrial.sim._engine.rk4_patient_day`, the same RK4 as the fast day
stepper). It is the Python day loop of :mod:`itptrial.sim._trial` (the reference engine's,
and the cross-check of this one: tests/test_sim_loop.py) written once more for speed,
rule for rule in the same order, from the same random draws.

The protocol reaches the kernel as :class:`Rules` (its numbers) and :class:`Regimens`
(one row per regimen given in the course), built by :func:`rules` and :func:`regimens`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from itptrial.pk import TacrolimusModel, TacrolimusPatients, advance_patient_day, day_steps
from itptrial.protocol import Protocol, Regimen
from itptrial.sim._engine import MAX_RATE_STEP, MIN_SUBSTEPS, N_STATES, rk4_patient_day
from itptrial.sim._model import C, R
from itptrial.sim._parameters import ModelParameters

NO_DAY = -1


class Rules(NamedTuple):
    """The protocol's and the model's numbers the daily rules use (scalars)."""

    response_level: float
    fold: float
    bleeding_grade: int  # the endpoint's: a qualifying day has no bleeding at or above it
    has_rescue: bool
    rescue_below: float
    rescue_below_with_bleeding: float
    rescue_grade: int
    rescue_from_day: int
    reference_dose_mg: float  # dexamethasone's module dose (model input 1 = one course day)
    capsule_mg: float  # the twice-daily split's step; 0: exact halves
    biological_cv: float
    analytical_sd: float
    analytical_cv: float
    bleeding_c50: float
    bleeding_slope: float
    grade1_c50: float
    grade3_fraction: float
    trough_proportional: float
    trough_additive: float
    e_max: float
    occasion_days: int
    pk_usual_h: float
    pk_morning: int
    pk_evening: int
    min_steps: int
    max_rate_step: float


class Regimens(NamedTuple):
    """One row per regimen given in the course (the columns of ``on`` and ``start_mg``)."""

    dexamethasone: np.ndarray  # bool: the dexamethasone module (else tacrolimus)
    fixed: np.ndarray  # bool: fixed dose on listed days (else a daily dose)
    fixed_mg: np.ndarray
    dosing_day: np.ndarray  # bool (regimen, day): a listed day
    repeat_day: np.ndarray  # bool (regimen, day): a day of the repeated course
    assess_day: np.ndarray  # int: the repeat rule's assessment day, NO_DAY when none
    start_day: np.ndarray  # int: daily dosing on [start_day, end_day)
    end_day: np.ndarray
    step_mg: np.ndarray  # dose rounding step (daily doses)
    max_mg: np.ndarray  # largest daily dose (the TDM maximum; inf without TDM)
    guided: np.ndarray  # bool: trough-guided
    titrated: np.ndarray  # bool: an off-target trough changes the dose (strategy "rule")
    on_visits: np.ndarray  # bool: troughs measured at visits
    measure_day: np.ndarray  # bool (regimen, day): troughs measured that day
    trough_low: np.ndarray
    trough_high: np.ndarray


def rules(
    protocol: Protocol,
    params: ModelParameters,
    pk_model: TacrolimusModel,
    capsule_mg: float | None,
    pk_step_h: float,
) -> tuple[Rules, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The kernel's scalars, and the PK day's step lengths, enzyme decay and mean part."""
    e, rescue = protocol.endpoints, protocol.rescue
    h, decay, mean_part, morning, evening = day_steps(8.0, pk_step_h, pk_model.k_enzyme)
    constants = Rules(
        response_level=float(e.response_level),
        fold=float(e.fold),
        bleeding_grade=int(e.bleeding_grade),
        has_rescue=rescue is not None,
        rescue_below=float(rescue.count_below) if rescue else 0.0,
        rescue_below_with_bleeding=float(rescue.count_below_with_bleeding) if rescue else 0.0,
        rescue_grade=int(rescue.bleeding_grade) if rescue else 0,
        rescue_from_day=int(rescue.from_day) if rescue else 0,
        reference_dose_mg=float(params.dexamethasone.reference_dose_mg),
        capsule_mg=float(capsule_mg or 0.0),
        biological_cv=float(params.platelets.biological_cv),
        analytical_sd=float(params.platelets.analytical_sd),
        analytical_cv=float(params.platelets.analytical_cv),
        bleeding_c50=float(params.bleeding.c50),
        bleeding_slope=float(params.bleeding.slope),
        grade1_c50=float(params.bleeding.grade1_c50),
        grade3_fraction=float(params.bleeding.grade3_fraction),
        trough_proportional=float(pk_model.error.proportional),
        trough_additive=float(pk_model.error.additive_ng_ml),
        e_max=float(pk_model.induction.e_max),
        occasion_days=int(pk_model.variability.occasion_days),
        pk_usual_h=float(min(pk_step_h, 24.0)),
        pk_morning=morning,
        pk_evening=evening,
        min_steps=MIN_SUBSTEPS,
        max_rate_step=MAX_RATE_STEP,
    )
    return constants, (h, decay, mean_part)


def regimens(given: dict[str, Regimen], days: int) -> Regimens:
    """The regimens given in the course, in order, as arrays."""
    listed = list(given.values())

    def on_days(pick: list[tuple[int, ...]]) -> np.ndarray:
        out = np.zeros((len(listed), days), dtype=np.bool_)
        for k, chosen in enumerate(pick):
            inside = [d for d in chosen if 0 <= d < days]
            out[k, inside] = True
        return out

    def tdm_value(r: Regimen, name: str, default: float) -> float:
        return float(getattr(r.tdm, name)) if r.tdm is not None else default

    return Regimens(
        dexamethasone=np.array([r.model == "dexamethasone" for r in listed], dtype=np.bool_),
        fixed=np.array([r.dose_mg is not None for r in listed], dtype=np.bool_),
        fixed_mg=np.array([r.dose_mg or 0.0 for r in listed], dtype=np.float64),
        dosing_day=on_days([r.days for r in listed]),
        repeat_day=on_days([r.repeat_days for r in listed]),
        assess_day=np.array(
            [
                r.repeat_assess_day
                if r.repeat_if == "no_response_by_day" and r.repeat_assess_day is not None
                else NO_DAY
                for r in listed
            ],
            dtype=np.int64,
        ),
        start_day=np.array([r.start_day or 0 for r in listed], dtype=np.int64),
        end_day=np.array(
            [(r.start_day or 0) + (r.duration_days or 0) for r in listed], dtype=np.int64
        ),
        step_mg=np.array([r.dose_step_mg or 0.0 for r in listed], dtype=np.float64),
        max_mg=np.array([tdm_value(r, "max_daily_dose_mg", np.inf) for r in listed]),
        guided=np.array([r.tdm is not None for r in listed], dtype=np.bool_),
        titrated=np.array(
            [r.tdm is not None and r.tdm.strategy == "rule" for r in listed], dtype=np.bool_
        ),
        on_visits=np.array(
            [r.tdm is not None and r.tdm.measure_on_visits for r in listed], dtype=np.bool_
        ),
        measure_day=on_days([r.tdm.measure_days if r.tdm else () for r in listed]),
        trough_low=np.array([tdm_value(r, "trough_low_ng_ml", 0.0) for r in listed]),
        trough_high=np.array([tdm_value(r, "trough_high_ng_ml", 0.0) for r in listed]),
    )


class Draws(NamedTuple):
    """The course's random numbers and fixed inputs, (patient, day) or per patient."""

    visits: np.ndarray
    dropout_day: np.ndarray
    count_z: np.ndarray
    analysis_z: np.ndarray
    bleed_u: np.ndarray
    trough_z: np.ndarray
    additive_z: np.ndarray
    screening_grade: np.ndarray


class Outputs(NamedTuple):
    """What the kernel writes, (patient, day) except ``given`` (regimen, patient, day)."""

    counts: np.ndarray
    grades: np.ndarray
    troughs: np.ndarray
    true_counts: np.ndarray
    dex: np.ndarray
    tac_mg: np.ndarray
    rescue: np.ndarray
    given: np.ndarray
    tac_ng_ml: np.ndarray


def empty_outputs(n: int, days: int, n_regimens: int) -> Outputs:
    """Uninitialised arrays: the kernel writes every cell (memory is touched once)."""
    return Outputs(
        counts=np.empty((n, days)),
        grades=np.empty((n, days), dtype=np.int64),
        troughs=np.empty((n, days)),
        true_counts=np.empty((n, days)),
        dex=np.empty((n, days)),
        tac_mg=np.empty((n, days)),
        rescue=np.empty((n, days), dtype=np.bool_),
        given=np.empty((n_regimens, n, days)),
        tac_ng_ml=np.empty((n, days)),
    )


def run_patients(
    lo: int,
    hi: int,
    y0: np.ndarray,
    theta: np.ndarray,
    shared: np.ndarray,
    pk: TacrolimusPatients,
    on_tacrolimus: np.ndarray,
    on: np.ndarray,
    start_mg: np.ndarray,
    draws: Draws,
    constants: Rules,
    schedule: Regimens,
    pk_steps: tuple[np.ndarray, np.ndarray, np.ndarray],
    out: Outputs,
) -> None:
    """Patients ``lo`` to ``hi - 1`` through the whole course, into ``out``. ``y0`` is
    (patients, states); ``on`` (patients, regimens) who is given each regimen;
    ``start_mg`` their first daily dose of each."""
    _course(
        lo,
        hi,
        np.ascontiguousarray(y0),
        theta,
        shared,
        np.ascontiguousarray(pk.cl, dtype=np.float64),
        np.ascontiguousarray(pk.v, dtype=np.float64),
        np.ascontiguousarray(pk.ka, dtype=np.float64),
        np.ascontiguousarray(pk.f_occasion, dtype=np.float64),
        on_tacrolimus,
        on,
        start_mg,
        draws,
        constants,
        schedule,
        pk_steps[0],
        pk_steps[1],
        pk_steps[2],
        out,
    )


@njit(cache=True, error_model="numpy")  # no zero-division checks
def _measured_count(true: float, z: float, z_analysis: float, k: Rules) -> float:
    """itptrial.sim._trial.measured_counts for one count (docs/model.md)."""
    cv = k.biological_cv
    day_count = true * np.exp(cv * z - cv**2 / 2)
    sd = np.sqrt(k.analytical_sd**2 + (k.analytical_cv * day_count) ** 2)
    return max(np.rint(day_count + sd * z_analysis), 0.0)  # type: ignore[no-any-return]


@njit(cache=True, error_model="numpy")  # no zero-division checks
def _bleeding(count: float, u: float, k: Rules) -> int:
    """itptrial.sim._population.bleeding_grade for one count."""
    safe = max(count, 0.5)
    p2 = 1.0 / (1.0 + (safe / k.bleeding_c50) ** k.bleeding_slope)
    p1 = 1.0 / (1.0 + (safe / k.grade1_c50) ** k.bleeding_slope)
    if u < k.grade3_fraction * p2:
        return 3
    if u < p2:
        return 2
    return 1 if u < p1 else 0


@njit(cache=True, error_model="numpy")  # no zero-division checks
def _rounded(mg: float, step: float, high: float) -> float:
    """A daily dose in whole steps, at least one step, at most ``high``."""
    return min(max(np.rint(mg / step) * step, step), high)  # type: ignore[no-any-return]


@njit(cache=True, error_model="numpy")  # no zero-division checks
def _patient_course(
    i: int,
    y0: np.ndarray,
    th: np.ndarray,
    sh: np.ndarray,
    cl: np.ndarray,
    v: np.ndarray,
    ka: np.ndarray,
    f_occasion: np.ndarray,
    on_tacrolimus: np.ndarray,
    on: np.ndarray,
    start_mg: np.ndarray,
    draws: Draws,
    k: Rules,
    g: Regimens,
    pk_h: np.ndarray,
    pk_decay: np.ndarray,
    pk_mean: np.ndarray,
    out: Outputs,
) -> None:  # pragma: no cover - compiled; tested against the Python loop
    """Patient ``i`` through the whole course (its own scratch: patients run in parallel)."""
    days, n_reg = out.counts.shape[1], on.shape[1]
    last_occasion = f_occasion.shape[1] - 1
    y = y0[i].copy()
    work = np.empty((5, N_STATES))
    responded = np.zeros(n_reg, dtype=np.bool_)
    repeat = np.zeros(n_reg, dtype=np.bool_)
    daily_mg = start_mg[i].copy()
    gut, central, enzyme = 0.0, 0.0, 1.0
    baseline = np.nan
    for day in range(days):
        out.true_counts[i, day] = y[C]
        seen = draws.visits[i, day]
        count = _measured_count(y[C], draws.count_z[i, day], draws.analysis_z[i, day], k)
        grade = _bleeding(count, draws.bleed_u[i, day], k)
        if day == 0:  # the bleeding that made a patient eligible is seen at Day 0
            grade = max(grade, draws.screening_grade[i])
            baseline = count if seen else np.nan
        out.counts[i, day] = count if seen else np.nan  # no visit: no count
        out.grades[i, day] = grade if seen else -1
        out.troughs[i, day] = np.nan  # unless measured below
        out.rescue[i, day] = False  # unless rescued below
        qualifies = (
            seen
            and count >= k.response_level
            and count >= k.fold * baseline
            and grade < k.bleeding_grade
        )
        for r in range(n_reg):  # a repeated course for no response by the assess day
            if g.assess_day[r] != NO_DAY:
                if 1 <= day <= g.assess_day[r]:
                    responded[r] = responded[r] or qualifies
                if day == g.assess_day[r]:
                    repeat[r] = on[i, r] and not responded[r]
        if seen and k.has_rescue and day >= k.rescue_from_day:
            low = count < k.rescue_below or (
                count < k.rescue_below_with_bleeding and grade >= k.rescue_grade
            )
            if low:
                out.rescue[i, day] = True
                y[R] = 1.0
        dex, tac = 0.0, 0.0
        for r in range(n_reg):
            mg = 0.0
            if g.fixed[r]:
                if on[i, r] and g.dosing_day[r, day]:
                    mg = g.fixed_mg[r]
                if g.repeat_day[r, day] and repeat[r]:
                    mg = g.fixed_mg[r]
            elif on[i, r] and g.start_day[r] <= day < g.end_day[r]:
                mg = daily_mg[r]
            out.given[r, i, day] = mg
            if g.dexamethasone[r]:
                dex = dex + mg / k.reference_dose_mg
            else:
                tac = tac + mg
        out.dex[i, day] = dex
        out.tac_mg[i, day] = tac
        true_trough, concentration = 0.0, 0.0
        if on_tacrolimus[i]:
            if k.capsule_mg > 0.0:
                step = k.capsule_mg
                morning = min(np.ceil(tac / 2.0 / step - 1e-9) * step, tac)
            else:
                morning = tac / 2.0
            occasion = min(day // k.occasion_days, last_occasion)
            gut, central, enzyme, true_trough, concentration = advance_patient_day(
                gut,
                central,
                enzyme,
                dex > 0,
                f_occasion[i, occasion],
                cl[i],
                v[i],
                ka[i],
                morning,
                tac - morning,
                pk_h,
                pk_decay,
                pk_mean,
                k.pk_usual_h,
                k.pk_morning,
                k.pk_evening,
                k.e_max,
            )
        reading = (
            true_trough * (1.0 + k.trough_proportional * draws.trough_z[i, day])
            + k.trough_additive * draws.additive_z[i, day]
        )
        trough = np.rint(max(reading, 0.0) * 10.0) / 10.0  # reported to 0.1 ng/mL
        in_study = day < draws.dropout_day[i]
        for r in range(n_reg):  # a measured off-target trough moves tomorrow's dose
            if not (g.guided[r] and g.start_day[r] < day < g.end_day[r] and on[i, r]):
                continue
            if not ((g.on_visits[r] and seen) or (g.measure_day[r, day] and in_study)):
                continue
            out.troughs[i, day] = trough
            low, high = g.trough_low[r], g.trough_high[r]
            if g.titrated[r] and (trough < low or trough > high):
                proposed = daily_mg[r] * (low + high) / 2 / max(trough, 0.1)
                daily_mg[r] = _rounded(proposed, g.step_mg[r], g.max_mg[r])
        out.tac_ng_ml[i, day] = concentration
        if day < days - 1:
            rk4_patient_day(y, th[i], sh, dex, concentration, 0, k.min_steps, k.max_rate_step, work)


@njit(cache=True, parallel=True)
def _course(
    lo: int,
    hi: int,
    y0: np.ndarray,
    th: np.ndarray,
    sh: np.ndarray,
    cl: np.ndarray,
    v: np.ndarray,
    ka: np.ndarray,
    f_occasion: np.ndarray,
    on_tacrolimus: np.ndarray,
    on: np.ndarray,
    start_mg: np.ndarray,
    draws: Draws,
    k: Rules,
    g: Regimens,
    pk_h: np.ndarray,
    pk_decay: np.ndarray,
    pk_mean: np.ndarray,
    out: Outputs,
) -> None:  # pragma: no cover - compiled; tested against the Python loop
    """Patients ``lo`` to ``hi - 1`` in parallel. (The work is in a function of its own:
    numba's parallel loop loses writes to arrays reached through a named tuple.)"""
    for i in prange(lo, hi):
        _patient_course(
            i,
            y0,
            th,
            sh,
            cl,
            v,
            ka,
            f_occasion,
            on_tacrolimus,
            on,
            start_mg,
            draws,
            k,
            g,
            pk_h,
            pk_decay,
            pk_mean,
            out,
        )

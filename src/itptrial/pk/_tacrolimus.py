"""Population pharmacokinetics of oral tacrolimus (docs/tacrolimus.md).

One compartment with first-order absorption (Bateman), the model of the sources in
``tacrolimus.toml``. Per patient:

- CL/F = CL_typ * (WT / 70)^0.75 * (CYP3A5 expresser: x 2.0) * exp(eta_CL), times the
  relative enzyme amount E(t);
- V/F = V_typ * (WT / 70) * exp(eta_V); ka = ka_typ * exp(eta_ka);
- each dose is absorbed with the relative bioavailability of its occasion,
  exp(kappa_occasion) (between-occasion variability);
- E(t), the enzyme induction by high-dose dexamethasone, is an indirect response:
  dE/dt = k_enzyme * (1 + E_max * S(t) - E), with S = 1 on a course day (Gabrielsson &
  Weiner, Pharmacokinetic and Pharmacodynamic Data Analysis, 5th ed., section 3.9,
  turnover models).

The equations are :func:`rhs` (used by the tests' ODE reference). :func:`concentrations`
solves them on a time grid of at most ``step_h`` hours, exactly for the absorption and
elimination of each step with E at its exact mean over the step (so CL/F is frozen within
a step; the error is second order in the step, below 1e-4 relative at 1 h).
:func:`advance_day` takes the same steps one day at a time, for a simulator that chooses
each day's dose after seeing that day's trough, and also returns the day's exact mean
concentration.

Random effects are drawn from one independent stream per quantity (and per occasion),
numpy ``SeedSequence`` spawn keys, with patient i taking the i-th draw of each: every
patient consumes a fixed number of draws, so it keeps its values whatever the number of
patients, of occasions, or the value of any parameter (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
from numba import njit, prange
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from itptrial._errors import InputError, validation_problems
from itptrial._files import read_text_file, read_toml
from itptrial._streams import QuantityStreams

Genotype = Literal["expresser", "non", "unknown"]
HOURS_PER_DAY = 24.0
MG_PER_L_IN_NG_PER_ML = 1000.0
# Spawn-key indices of the random quantities (never reorder: draws would change).
STREAMS = ("genotype", "eta_cl", "eta_v", "eta_ka", "kappa_f", "error")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Typical(_Strict):
    cl_l_per_h: float = Field(gt=0)
    v_l: float = Field(gt=0)
    ka_per_h: float = Field(gt=0)
    reference_weight_kg: float = Field(gt=0)
    cl_weight_exponent: float = Field(ge=0, le=2)
    v_weight_exponent: float = Field(ge=0, le=2)


class Cyp3a5(_Strict):
    expresser_cl_factor: float = Field(ge=1)
    expresser_fraction: float = Field(ge=0, le=1)


class Induction(_Strict):
    e_max: float = Field(ge=0)
    enzyme_half_life_h: float = Field(gt=0)


class Variability(_Strict):
    omega_cl: float = Field(ge=0)
    omega_v: float = Field(ge=0)
    omega_ka: float = Field(ge=0)
    omega_f_occasion: float = Field(ge=0)
    occasion_days: int = Field(ge=1)


class ResidualError(_Strict):
    additive_ng_ml: float = Field(ge=0)
    proportional: float = Field(ge=0)


class TacrolimusModel(_Strict):
    """The population model: typical values, covariates, induction, variability, error."""

    typical: Typical
    cyp3a5: Cyp3a5
    induction: Induction
    variability: Variability
    error: ResidualError

    @property
    def k_enzyme(self) -> float:
        """Enzyme turnover rate (/h) from its half-life."""
        return float(np.log(2.0) / self.induction.enzyme_half_life_h)


def load_tacrolimus_model(path: str | Path | None = None) -> TacrolimusModel:
    """The model of ``path``, or the one shipped (``itptrial/pk/tacrolimus.toml``)."""
    if path is None:
        text = resources.files("itptrial.pk").joinpath("tacrolimus.toml").read_text("utf-8")
        source = "tacrolimus.toml"
    else:
        source = str(path)
        text = read_text_file(Path(path), "tacrolimus model file")
    try:
        return TacrolimusModel.model_validate(read_toml(text, source))
    except ValidationError as exc:
        raise InputError(validation_problems(exc, source)) from None


@dataclass(frozen=True)
class TacrolimusPatients:
    """Individual parameters, one entry per patient; ``f_occasion[i, j]`` is patient i's
    relative bioavailability on occasion j (week j of treatment by default)."""

    cl: np.ndarray  # L/h, before induction
    v: np.ndarray  # L
    ka: np.ndarray  # /h
    expresser: np.ndarray  # bool
    f_occasion: np.ndarray  # (patients, occasions)

    @property
    def n(self) -> int:
        return len(self.cl)

    def take(self, index: np.ndarray) -> TacrolimusPatients:
        """The patients at ``index`` (an index or boolean mask)."""
        return TacrolimusPatients(
            **{f.name: getattr(self, f.name)[index] for f in fields(TacrolimusPatients)}
        )

    @staticmethod
    def concatenate(groups: list[TacrolimusPatients]) -> TacrolimusPatients:
        """Several groups as one, in order."""
        columns = {
            f.name: np.concatenate([getattr(g, f.name) for g in groups])
            for f in fields(TacrolimusPatients)
        }
        return TacrolimusPatients(**columns)


def individual_parameters(
    model: TacrolimusModel,
    weight_kg: np.ndarray,
    expresser: np.ndarray,
    eta_cl: np.ndarray,
    eta_v: np.ndarray,
    eta_ka: np.ndarray,
    kappa_f: np.ndarray,
) -> TacrolimusPatients:
    """The patients of given covariates and random effects (the deterministic part, also
    what a MAP estimate plugs its etas into)."""
    t = model.typical
    size = np.asarray(weight_kg, dtype=float) / t.reference_weight_kg
    genotype = np.where(np.asarray(expresser, dtype=bool), model.cyp3a5.expresser_cl_factor, 1.0)
    return TacrolimusPatients(
        cl=t.cl_l_per_h * size**t.cl_weight_exponent * genotype * np.exp(eta_cl),
        v=t.v_l * size**t.v_weight_exponent * np.exp(eta_v),
        ka=t.ka_per_h * np.exp(eta_ka),
        expresser=np.asarray(expresser, dtype=bool),
        f_occasion=np.exp(np.atleast_2d(kappa_f)),
    )


def _streams(seed: int | np.random.SeedSequence) -> QuantityStreams:
    """The model's streams below ``seed`` (an int, or a stream of a caller's own)."""
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return QuantityStreams(root, STREAMS)


def draw_patients(
    model: TacrolimusModel,
    weight_kg: np.ndarray,
    occasions: int,
    seed: int | np.random.SeedSequence,
    genotype: np.ndarray | None = None,
) -> TacrolimusPatients:
    """Virtual patients: random effects from per-patient streams, genotype drawn at the
    expresser frequency where it is "unknown" (or not given)."""
    n = len(weight_kg)
    streams = _streams(seed)
    u = streams.uniform("genotype", n)
    drawn = u < model.cyp3a5.expresser_fraction
    given = np.full(n, "unknown") if genotype is None else np.asarray(genotype)
    expresser = np.where(given == "unknown", drawn, given == "expresser")
    w = model.variability
    return individual_parameters(
        model,
        weight_kg,
        expresser,
        w.omega_cl * streams.normal("eta_cl", n),
        w.omega_v * streams.normal("eta_v", n),
        w.omega_ka * streams.normal("eta_ka", n),
        w.omega_f_occasion * streams.normals("kappa_f", n, occasions),
    )


@dataclass(frozen=True)
class Dosing:
    """Doses at common times for all patients, with per-patient amounts (0 = missed),
    and the dexamethasone course days (day d covers hours [24 d, 24 d + 24))."""

    dose_times_h: np.ndarray  # (doses,), increasing
    amounts_mg: np.ndarray  # (patients, doses)
    dex_days: np.ndarray  # (patients, days) bool

    def occasion_of_doses(self, occasion_days: int) -> np.ndarray:
        return (self.dose_times_h // (HOURS_PER_DAY * occasion_days)).astype(int)


def twice_daily(
    daily_mg: np.ndarray, days: int, dex_days: np.ndarray, first_hour: float = 8.0
) -> Dosing:
    """Half of each patient's daily dose at ``first_hour`` and 12 h later, every day.
    ``daily_mg`` is (patients,) or (patients, days)."""
    daily = np.asarray(daily_mg, dtype=float)
    per_day = daily[:, None].repeat(days, axis=1) if daily.ndim == 1 else daily
    times = (np.arange(days)[:, None] * HOURS_PER_DAY + first_hour + [0.0, 12.0]).ravel()
    amounts = np.repeat(per_day / 2.0, 2, axis=1)
    return Dosing(times, amounts, np.asarray(dex_days, dtype=bool))


def rhs(
    y: np.ndarray, cl: float, v: float, ka: float, k_enzyme: float, e_max: float, on: float
) -> np.ndarray:
    """d(gut mg, central mg, E)/dt for one patient; ``on`` = S(t), 1 on a course day."""
    gut, central, enzyme = y
    return np.array(
        [
            -ka * gut,
            ka * gut - cl * enzyme / v * central,
            k_enzyme * (1.0 + e_max * on - enzyme),
        ]
    )


@njit(cache=True)
def _enzyme_steps(
    h: np.ndarray, k_enzyme: float
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled; tested through callers
    """Over steps of lengths ``h``, shared by all patients: the enzyme's decay
    e^(-k_enzyme h) and the mean of e^(-k_enzyme t) over the step, (1 - e^(-k_enzyme h)) /
    (k_enzyme h) (E - target decays by that factor: turnover model)."""
    x = k_enzyme * h
    decay = np.exp(-x)
    # expm1: accurate for a short step (a dose or sample just off the hour grid); 1, the
    # limit, where k_enzyme h underflows to 0 (0 / 0 would make every value NaN)
    mean_part = np.ones_like(h)
    for g in range(h.shape[0]):
        if x[g] > 0.0:
            mean_part[g] = -np.expm1(-x[g]) / x[g]
    return decay, mean_part


@njit(cache=True, error_model="numpy")  # no zero-division checks
def _step(
    gut: float,
    central: float,
    enzyme: float,
    target: float,
    cl: float,
    v: float,
    ka: float,
    h: float,
    eka: float,
    decay: float,
    mean_part: float,
) -> tuple[float, float, float, float]:  # pragma: no cover - compiled; tested through callers
    """One step of ``h`` hours from (gut mg, central mg, E), doses already in the gut:
    returns them at the step's end and the area of the central amount over the step
    (mg h). ``eka`` = e^(-ka h); ``decay`` = e^(-k_enzyme h) and ``mean_part`` = (1 -
    decay) / (k_enzyme h) are shared by all patients, so they come precomputed.

    E relaxes exactly towards ``target`` (turnover model, Gabrielsson & Weiner,
    Pharmacokinetic and Pharmacodynamic Data Analysis, 5th ed., section 3.9). CL/F is
    frozen at E's exact mean over the step; with that constant k, absorption and
    elimination are the Bateman function (Gibaldi & Perrier, Pharmacokinetics, 2nd ed.,
    one-compartment model with first-order absorption): central(t) = central e^(-kt) +
    gut T(t), T(t) = ka / (ka - k) (e^(-kt) - e^(-ka t)). Its integral over the step in
    closed form is central (1 - e^(-kh)) / k + gut (ka (1 - e^(-kh)) / k - (1 - e^(-ka
    h))) / (ka - k). The second term is computed as gut (1 - e^(-ka h) - T(h)) / k, the
    same quantity: what left the gut and is no longer in the central compartment was
    eliminated, at rate k central. That form needs no k -> ka limit of its own and no
    further exponential.
    """
    k = cl * (target + (enzyme - target) * mean_part) / v
    ek = np.exp(-k * h)
    close = abs(ka - k) < 1e-9 * ka  # the limit of the transfer as k -> ka
    transfer = ka * h * ek if close else ka / (ka - k) * (ek - eka)
    # 1 - e^(-kh) rather than expm1 (one exponential less): its absolute error, eps, is
    # eps / k hours per mg of area, of order eps of a day's area however short the step
    area = (central * (1.0 - ek) + gut * (1.0 - eka - transfer)) / k
    # never below 0: over a step of 1e-15 h the two terms cancel to a rounding error
    # of either sign (hypothesis found -3e-17 ng/mL for a day's mean)
    area = max(area, 0.0)
    enzyme_end = target + (enzyme - target) * decay
    return gut * eka, central * ek + gut * transfer, enzyme_end, area


@njit(cache=True, parallel=True)
def _solve(
    grid: np.ndarray,
    first_dose: np.ndarray,
    samples_at: np.ndarray,
    sample_order: np.ndarray,
    cl: np.ndarray,
    v: np.ndarray,
    ka: np.ndarray,
    f_occasion: np.ndarray,
    occasion: np.ndarray,
    amounts: np.ndarray,
    dex: np.ndarray,
    k_enzyme: float,
    e_max: float,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled; tested through callers
    """Every patient over the grid. Doses ``first_dose[g]`` to ``first_dose[g + 1] - 1``
    are given at grid point g; samples ``samples_at[g]`` to ``samples_at[g + 1] - 1``
    (in ``sample_order``) are read there, before its doses.

    Each step is :func:`_step`. The enzyme's decay over each step is shared by all
    patients, and so is e^(-ka h) for the usual h.
    """
    m, days = grid.shape[0], dex.shape[1]
    h = np.diff(grid)
    decay, mean_part = _enzyme_steps(h, k_enzyme)
    usual = h[0] if m > 1 else 1.0
    for i in prange(cl.shape[0]):
        gut, central, enzyme = 0.0, 0.0, 1.0
        absorbed_usual = np.exp(-ka[i] * usual)
        for g in range(m):
            for s in range(samples_at[g], samples_at[g + 1]):
                out[i, sample_order[s]] = central / v[i] * 1000.0
            for d in range(first_dose[g], first_dose[g + 1]):
                gut += amounts[i, d] * f_occasion[i, occasion[d]]
            if g + 1 == m:
                break
            day = min(int(grid[g] // 24.0), days - 1)
            target = 1.0 + e_max if days > 0 and dex[i, day] else 1.0
            eka = absorbed_usual if h[g] == usual else np.exp(-ka[i] * h[g])
            gut, central, enzyme, _ = _step(
                gut,
                central,
                enzyme,
                target,
                cl[i],
                v[i],
                ka[i],
                h[g],
                eka,
                decay[g],
                mean_part[g],
            )


@njit(cache=True, error_model="numpy")  # no zero-division checks
def advance_patient_day(
    gut: float,
    central: float,
    enzyme: float,
    induced: bool,
    f: float,
    cl: float,
    v: float,
    ka: float,
    morning_mg: float,
    evening_mg: float,
    h: np.ndarray,
    decay: np.ndarray,
    mean_part: np.ndarray,
    usual: float,
    morning: int,
    evening: int,
    e_max: float,
) -> tuple[
    float, float, float, float, float
]:  # pragma: no cover - compiled; tested through callers
    """One patient over one day's steps ``h`` (hours, summing to 24; :func:`day_steps`)
    by :func:`_step`, from (gut mg, central mg, E) at midnight: the morning dose (times
    the occasion's bioavailability ``f``) at the start of step ``morning``, the trough
    read there before it, the evening dose at the start of step ``evening``; dexamethasone
    drives the enzyme all day when ``induced``. Returns the state at the day's end, the
    trough and the day's mean concentration (ng/mL: the sum of the steps' exact areas
    over 24 h). :func:`advance_day` runs it for every patient; the simulator's compiled
    day loop calls it directly."""
    target = 1.0 + e_max if induced else 1.0
    absorbed_usual = np.exp(-ka * usual)
    area, trough = 0.0, 0.0
    for g in range(h.shape[0]):
        if g == morning:
            trough = central / v * 1000.0
            gut += morning_mg * f
        if g == evening:
            gut += evening_mg * f
        eka = absorbed_usual if h[g] == usual else np.exp(-ka * h[g])
        gut, central, enzyme, step_area = _step(
            gut, central, enzyme, target, cl, v, ka, h[g], eka, decay[g], mean_part[g]
        )
        area += step_area
    return gut, central, enzyme, trough, area / (v * 24.0) * 1000.0


@njit(cache=True, parallel=True)
def _advance(
    h: np.ndarray,
    decay: np.ndarray,
    mean_part: np.ndarray,
    usual: float,
    morning: int,
    evening: int,
    cl: np.ndarray,
    v: np.ndarray,
    ka: np.ndarray,
    f_occasion: np.ndarray,
    occasion: int,
    doses: np.ndarray,
    dex: np.ndarray,
    e_max: float,
    gut_in: np.ndarray,
    central_in: np.ndarray,
    enzyme_in: np.ndarray,
    gut_out: np.ndarray,
    central_out: np.ndarray,
    enzyme_out: np.ndarray,
    trough: np.ndarray,
    average: np.ndarray,
) -> None:  # pragma: no cover - compiled; tested through callers
    """Every patient over one day by :func:`advance_patient_day`, in parallel."""
    for i in prange(cl.shape[0]):
        gut_out[i], central_out[i], enzyme_out[i], trough[i], average[i] = advance_patient_day(
            gut_in[i],
            central_in[i],
            enzyme_in[i],
            dex[i],
            f_occasion[i, occasion],
            cl[i],
            v[i],
            ka[i],
            doses[i, 0],
            doses[i, 1],
            h,
            decay,
            mean_part,
            usual,
            morning,
            evening,
            e_max,
        )


def _grid(dosing: Dosing, sample_times_h: np.ndarray, step_h: float) -> np.ndarray:
    last_dose = float(dosing.dose_times_h.max(initial=0.0))
    end = max(float(np.max(sample_times_h, initial=0.0)), last_dose)
    regular = np.arange(0.0, end + step_h, step_h)
    days = np.arange(0.0, end + HOURS_PER_DAY, HOURS_PER_DAY)
    points = np.concatenate([regular, days, dosing.dose_times_h, sample_times_h, [0.0]])
    return np.unique(points[points <= end])


def _starts(grid: np.ndarray, times: np.ndarray) -> np.ndarray:
    """For sorted ``times`` on ``grid``: index of the first time at each grid point (and
    one past the end), so that grid point g holds times[starts[g]:starts[g + 1]]."""
    first = np.searchsorted(times, grid, side="left")
    return np.append(first, len(times)).astype(np.int64)


def concentrations(
    model: TacrolimusModel,
    patients: TacrolimusPatients,
    dosing: Dosing,
    sample_times_h: np.ndarray,
    step_h: float = 1.0,
) -> np.ndarray:
    """Whole-blood concentration (ng/mL) of every patient at ``sample_times_h`` (hours
    from the first day's midnight). A sample at the time of a dose is taken before it
    (a trough). Returns (patients, samples)."""
    samples = np.asarray(sample_times_h, dtype=float)
    if samples.size and samples.min() < 0:
        raise ValueError("sample times must be >= 0")
    grid = _grid(dosing, samples, step_h)
    order = np.argsort(dosing.dose_times_h, kind="stable")
    occasion = np.minimum(
        dosing.occasion_of_doses(model.variability.occasion_days)[order],
        patients.f_occasion.shape[1] - 1,
    )
    sample_order = np.argsort(samples, kind="stable")
    out = np.empty((patients.n, len(samples)))
    _solve(
        grid,
        _starts(grid, dosing.dose_times_h[order]),
        _starts(grid, samples[sample_order]),
        sample_order.astype(np.int64),
        np.ascontiguousarray(patients.cl, dtype=np.float64),
        np.ascontiguousarray(patients.v, dtype=np.float64),
        np.ascontiguousarray(patients.ka, dtype=np.float64),
        np.ascontiguousarray(patients.f_occasion, dtype=np.float64),
        occasion.astype(np.int64),
        np.ascontiguousarray(dosing.amounts_mg[:, order], dtype=np.float64),
        np.ascontiguousarray(dosing.dex_days, dtype=np.bool_),
        model.k_enzyme,
        model.induction.e_max,
        out,
    )
    return out


@dataclass
class PkState:
    """The amounts of every patient at one time (one entry per patient)."""

    gut_mg: np.ndarray
    central_mg: np.ndarray
    enzyme: np.ndarray  # relative enzyme amount E, 1 = uninduced


def initial_state(n: int) -> PkState:
    """``n`` patients before their first dose: no drug, uninduced enzyme (E = 1)."""
    return PkState(np.zeros(n), np.zeros(n), np.ones(n))


@dataclass(frozen=True)
class DayExposure:
    """One day of :func:`advance_day`, one entry per patient."""

    state: PkState  # at the end of the day (hour 24 of that day)
    trough_ng_ml: np.ndarray  # just before the day's first dose (at first_hour)
    average_ng_ml: np.ndarray  # exact mean concentration over the day's hours [0, 24)


def day_steps(
    first_hour: float, step_h: float, k_enzyme: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """A day's step lengths (hour grid of ``step_h`` from midnight plus the two dose
    times: the grid of :func:`concentrations` when ``step_h`` divides 24 h), the enzyme's
    decay and mean part over each, and the indices of the steps that start at the morning
    and the evening dose."""
    points = np.concatenate(
        [np.arange(0.0, HOURS_PER_DAY, step_h), [first_hour, first_hour + 12.0]]
    )
    starts = np.unique(points)
    h = np.diff(np.append(starts, HOURS_PER_DAY))
    decay, mean_part = _enzyme_steps(h, k_enzyme)
    morning, evening = np.searchsorted(starts, [first_hour, first_hour + 12.0])
    return h, decay, mean_part, int(morning), int(evening)


def _per_patient(values: np.ndarray, n: int, dtype: type, name: str) -> np.ndarray:
    array: np.ndarray = np.ascontiguousarray(values, dtype=dtype)
    if array.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), not {array.shape}")
    return array


def advance_day(
    model: TacrolimusModel,
    patients: TacrolimusPatients,
    state: PkState,
    day: int,
    doses_mg: np.ndarray,
    dex_today: np.ndarray,
    first_hour: float = 8.0,
    step_h: float = 1.0,
) -> DayExposure:
    """Every patient over day ``day`` (hours [24 day, 24 day + 24)) from ``state`` at its
    midnight: ``doses_mg[:, 0]`` at ``first_hour`` and ``doses_mg[:, 1]`` 12 h later (0 =
    not given), each times the bioavailability of the day's occasion; dexamethasone drives
    the enzyme all day where ``dex_today``. With a ``step_h`` that divides 24 h these are
    the steps of :func:`concentrations` (day by day, a schedule gives its numbers), so a
    simulator can choose each day's dose after seeing that day's trough. ``state`` is
    left unchanged (the end of the day is a new :class:`PkState`).

    The mean concentration is the sum of each step's exact area under the Bateman
    function (Gibaldi & Perrier, Pharmacokinetics, 2nd ed.) with CL/F frozen at E's mean
    over the step, E following the turnover model (Gabrielsson & Weiner, Pharmacokinetic
    and Pharmacodynamic Data Analysis, 5th ed., section 3.9), divided by 24 h.
    """
    if not 0.0 <= first_hour < 12.0:
        raise ValueError("first_hour must be in [0, 12) so both doses fall within the day")
    if not step_h > 0.0:
        raise ValueError("step_h must be > 0")
    if day < 0:
        raise ValueError("day must be >= 0")
    n = patients.n
    doses = np.ascontiguousarray(doses_mg, dtype=np.float64)
    if doses.shape != (n, 2):
        raise ValueError(f"doses_mg must have shape ({n}, 2), not {doses.shape}")
    if not (doses >= 0.0).all():  # also catches NaN
        raise ValueError("doses must be >= 0")
    dex = _per_patient(dex_today, n, np.bool_, "dex_today")
    gut_in = _per_patient(state.gut_mg, n, np.float64, "state.gut_mg")
    central_in = _per_patient(state.central_mg, n, np.float64, "state.central_mg")
    enzyme_in = _per_patient(state.enzyme, n, np.float64, "state.enzyme")
    h, decay, mean_part, morning, evening = day_steps(first_hour, step_h, model.k_enzyme)
    f_occasion = np.ascontiguousarray(patients.f_occasion, dtype=np.float64)
    occasion = min(day // model.variability.occasion_days, f_occasion.shape[1] - 1)
    end = PkState(np.empty(n), np.empty(n), np.empty(n))
    trough, average = np.empty(n), np.empty(n)
    _advance(
        h,
        decay,
        mean_part,
        float(min(step_h, HOURS_PER_DAY)),
        morning,
        evening,
        np.ascontiguousarray(patients.cl, dtype=np.float64),
        np.ascontiguousarray(patients.v, dtype=np.float64),
        np.ascontiguousarray(patients.ka, dtype=np.float64),
        f_occasion,
        occasion,
        doses,
        dex,
        model.induction.e_max,
        gut_in,
        central_in,
        enzyme_in,
        end.gut_mg,
        end.central_mg,
        end.enzyme,
        trough,
        average,
    )
    return DayExposure(end, trough, average)


def measured(
    model: TacrolimusModel,
    true_ng_ml: np.ndarray,
    z_proportional: np.ndarray,
    z_additive: np.ndarray,
) -> np.ndarray:
    """The assay's reading of true concentrations given standard normal draws: combined
    proportional and additive error, never below 0 (an assay reports no negative value)."""
    e = model.error
    reading = true_ng_ml * (1.0 + e.proportional * z_proportional) + e.additive_ng_ml * z_additive
    return np.maximum(reading, 0.0)


def observe(model: TacrolimusModel, true_ng_ml: np.ndarray, seed: int) -> np.ndarray:
    """Measured concentrations (:func:`measured`), each sample its own stream column."""
    n, m = true_ng_ml.shape
    eps = _streams(seed).normals("error", n, 2 * m)
    return measured(model, true_ng_ml, eps[:, :m], eps[:, m:])


def steady_state_concentration(
    cl: np.ndarray | float,
    v: np.ndarray | float,
    ka: np.ndarray | float,
    dose_mg: np.ndarray | float,
    tau_h: float,
    t_h: np.ndarray | float,
) -> np.ndarray:
    """Concentration (ng/mL) ``t_h`` hours after a dose (0 < t <= tau) at steady state
    of ``dose_mg`` every ``tau_h`` hours: the superposition of the Bateman function over
    all earlier doses (Gibaldi & Perrier, Pharmacokinetics, 2nd ed., eq. 3.31)."""
    k = np.asarray(cl, dtype=float) / np.asarray(v, dtype=float)
    ka = np.asarray(ka, dtype=float)
    t = np.asarray(t_h, dtype=float)
    accumulate = np.exp(-k * t) / (1.0 - np.exp(-k * tau_h)) - np.exp(-ka * t) / (
        1.0 - np.exp(-ka * tau_h)
    )
    per_volume = np.asarray(dose_mg) * ka / (np.asarray(v) * (ka - k))
    return np.asarray(per_volume * accumulate * MG_PER_L_IN_NG_PER_ML)


def steady_state_trough(
    cl: np.ndarray | float,
    v: np.ndarray | float,
    ka: np.ndarray | float,
    dose_mg: np.ndarray | float,
    tau_h: float,
) -> np.ndarray:
    """Pre-dose concentration (ng/mL) at steady state of ``dose_mg`` every ``tau_h``
    hours (Gibaldi & Perrier, Pharmacokinetics, 2nd ed., eq. 3.31, at t = tau)."""
    return steady_state_concentration(cl, v, ka, dose_mg, tau_h, tau_h)

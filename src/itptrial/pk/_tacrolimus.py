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

Random effects are drawn from one independent stream per quantity (and per occasion),
numpy ``SeedSequence`` spawn keys, with patient i taking the i-th draw of each: every
patient consumes a fixed number of draws, so it keeps its values whatever the number of
patients, of occasions, or the value of any parameter (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
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


def _streams(seed: int) -> QuantityStreams:
    return QuantityStreams(np.random.SeedSequence(seed), STREAMS)


def draw_patients(
    model: TacrolimusModel,
    weight_kg: np.ndarray,
    occasions: int,
    seed: int,
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

    Each step of length h: the enzyme exactly; absorption and elimination exactly
    (Bateman) with CL/F at the enzyme's exact mean over the step. The enzyme's decay
    over each step is shared by all patients, and so is e^(-ka h) for the usual h.
    """
    m, days = grid.shape[0], dex.shape[1]
    h = np.diff(grid)
    decay = np.exp(-k_enzyme * h)
    mean_part = (1.0 - decay) / (k_enzyme * h)  # mean of E - target over a step, per unit
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
            k = cl[i] * (target + (enzyme - target) * mean_part[g]) / v[i]
            eka = absorbed_usual if h[g] == usual else np.exp(-ka[i] * h[g])
            ek = np.exp(-k * h[g])
            close = abs(ka[i] - k) < 1e-9 * ka[i]  # the limit of the transfer as k -> ka
            transfer = ka[i] * h[g] * ek if close else ka[i] / (ka[i] - k) * (ek - eka)
            central = central * ek + gut * transfer
            gut *= eka
            enzyme = target + (enzyme - target) * decay[g]


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


def observe(model: TacrolimusModel, true_ng_ml: np.ndarray, seed: int) -> np.ndarray:
    """Measured concentrations: combined proportional and additive normal error (each
    sample its own stream column); never below 0 (an assay reports no negative value)."""
    n, m = true_ng_ml.shape
    eps = _streams(seed).normals("error", n, 2 * m)
    e = model.error
    measured = true_ng_ml * (1.0 + e.proportional * eps[:, :m]) + e.additive_ng_ml * eps[:, m:]
    return np.maximum(measured, 0.0)


def steady_state_trough(
    cl: np.ndarray | float,
    v: np.ndarray | float,
    ka: np.ndarray | float,
    dose_mg: np.ndarray | float,
    tau_h: float,
) -> np.ndarray:
    """Pre-dose concentration (ng/mL) at steady state of ``dose_mg`` every ``tau_h``
    hours (Gibaldi & Perrier, Pharmacokinetics, 2nd ed., eq. 3.31, at t = tau)."""
    k = np.asarray(cl, dtype=float) / np.asarray(v, dtype=float)
    ka = np.asarray(ka, dtype=float)
    accumulate = np.exp(-k * tau_h) / (1.0 - np.exp(-k * tau_h)) - np.exp(-ka * tau_h) / (
        1.0 - np.exp(-ka * tau_h)
    )
    per_volume = np.asarray(dose_mg) * ka / (np.asarray(v) * (ka - k))
    return np.asarray(per_volume * accumulate * MG_PER_L_IN_NG_PER_ML)

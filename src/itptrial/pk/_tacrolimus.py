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
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from itptrial._errors import InputError, validation_problems
from itptrial._files import read_text_file, read_toml

Genotype = Literal["expresser", "non", "unknown"]
HOURS_PER_DAY = 24.0
MG_PER_L_IN_NG_PER_ML = 1000.0
# Spawn-key indices of the random quantities (never reorder: draws would change).
STREAMS = {"genotype": 0, "eta_cl": 1, "eta_v": 2, "eta_ka": 3, "kappa_f": 4, "error": 5}


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


def _stream(seed: int, quantity: str, column: int = 0) -> np.random.Generator:
    """The stream of one quantity (and one column of it, e.g. an occasion)."""
    return np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(STREAMS[quantity], column))
    )


def _normals(seed: int, quantity: str, n: int, size: int = 1) -> np.ndarray:
    """(n, size) standard normals: patient i takes the i-th draw of each column's stream,
    so its values do not depend on n, on size, or on any parameter."""
    return np.column_stack([_stream(seed, quantity, j).standard_normal(n) for j in range(size)])


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
    u = _stream(seed, "genotype").random(n)
    drawn = u < model.cyp3a5.expresser_fraction
    given = np.full(n, "unknown") if genotype is None else np.asarray(genotype)
    expresser = np.where(given == "unknown", drawn, given == "expresser")
    w = model.variability
    return individual_parameters(
        model,
        weight_kg,
        expresser,
        w.omega_cl * _normals(seed, "eta_cl", n)[:, 0],
        w.omega_v * _normals(seed, "eta_v", n)[:, 0],
        w.omega_ka * _normals(seed, "eta_ka", n)[:, 0],
        w.omega_f_occasion * _normals(seed, "kappa_f", n, occasions),
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


def _absorb(
    gut: np.ndarray, central: np.ndarray, ka: np.ndarray, k: np.ndarray, h: float
) -> tuple[np.ndarray, np.ndarray]:
    """Exact one-compartment step of length h with constant ka and k (Bateman)."""
    eka, ek = np.exp(-ka * h), np.exp(-k * h)
    close = np.abs(ka - k) < 1e-9 * ka
    safe = np.where(close, 1.0, ka - k)
    transfer = np.where(close, ka * h * ek, ka / safe * (ek - eka))
    return gut * eka, central * ek + gut * transfer


def _grid(dosing: Dosing, sample_times_h: np.ndarray, step_h: float) -> np.ndarray:
    last_dose = float(dosing.dose_times_h.max(initial=0.0))
    end = max(float(np.max(sample_times_h, initial=0.0)), last_dose)
    regular = np.arange(0.0, end + step_h, step_h)
    days = np.arange(0.0, end + HOURS_PER_DAY, HOURS_PER_DAY)
    points = np.concatenate([regular, days, dosing.dose_times_h, sample_times_h, [0.0]])
    return np.unique(points[points <= end])


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
    grid = _grid(dosing, samples, step_h)
    occasion = np.minimum(
        dosing.occasion_of_doses(model.variability.occasion_days),
        patients.f_occasion.shape[1] - 1,
    )
    n, k_enz, e_max = patients.n, model.k_enzyme, model.induction.e_max
    gut, central, enzyme = np.zeros(n), np.zeros(n), np.ones(n)
    out = np.empty((n, len(samples)))
    dose_at = {t: j for j, t in enumerate(dosing.dose_times_h)}
    sample_at: dict[float, list[int]] = {}
    for j, t in enumerate(samples):
        sample_at.setdefault(float(t), []).append(j)
    for i, t in enumerate(grid):
        for j in sample_at.get(float(t), ()):
            out[:, j] = central / patients.v * MG_PER_L_IN_NG_PER_ML
        if float(t) in dose_at:
            d = dose_at[float(t)]
            gut = gut + dosing.amounts_mg[:, d] * patients.f_occasion[:, occasion[d]]
        if i + 1 == len(grid):
            break
        h = float(grid[i + 1] - t)
        day = min(int(t // HOURS_PER_DAY), dosing.dex_days.shape[1] - 1)
        on = dosing.dex_days[:, day] if dosing.dex_days.shape[1] else np.zeros(n, bool)
        target = 1.0 + e_max * on
        decay = np.exp(-k_enz * h)
        mean_enzyme = target + (enzyme - target) * (1.0 - decay) / (k_enz * h)
        gut, central = _absorb(gut, central, patients.ka, patients.cl * mean_enzyme / patients.v, h)
        enzyme = target + (enzyme - target) * decay
    return out


def observe(model: TacrolimusModel, true_ng_ml: np.ndarray, seed: int) -> np.ndarray:
    """Measured concentrations: combined proportional and additive normal error (each
    sample its own stream column); never below 0 (an assay reports no negative value)."""
    n, m = true_ng_ml.shape
    eps = _normals(seed, "error", n, 2 * m)
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

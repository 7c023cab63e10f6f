"""Calibrating the virtual patient to published trials, with uncertainty (issue 10;
docs/calibration.md).

- :func:`simulate_rates` runs many parameter sets at once: each set's virtual trial at
  the published arm sizes, all their patients in one course (the free parameters enter
  per patient), adjudicated by the real endpoint engine.
- :func:`calibrate` draws the posterior by ABC-SMC (:func:`itptrial.sim.abc_smc`,
  Beaumont et al., Biometrika 2009;96:983) on the published counts: each proposal's
  trials are simulated at the published sizes, so the binomial sampling of the
  published counts is in the simulation; the distance standardises each rate by its
  binomial standard error.
- :func:`predictive_checks` gives each observed rate's posterior predictive
  distribution at its trial's size: one posterior draw and one virtual trial per
  replicate.
- :func:`identifiability` reports the sensitivity matrix at the posterior median (common
  random numbers, trials 20 x the published size), posterior correlations and the
  prior-to-posterior contraction of each parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from itptrial._streams import children
from itptrial.data import dataset_from_frames
from itptrial.endpoints import adjudicate, endpoint_registry
from itptrial.pk import TacrolimusModel, load_tacrolimus_model
from itptrial.sim._abc import AbcResult, Priors, abc_smc
from itptrial.sim._identifiability import posterior_summary, sensitivity
from itptrial.sim._parameters import ModelParameters
from itptrial.sim._population import Population, draw_population
from itptrial.sim._simulate import allocate
from itptrial.sim._tables import course_tables
from itptrial.sim._targets import Targets, Trial
from itptrial.sim._trial import Course, occasions, run_course

Progress = Callable[[str], None]
SENSITIVITY_SCALE = 20  # trials of the sensitivity matrix: 20 x the published sizes


def _parameter_sets(
    base: ModelParameters, targets: Targets, trial: Trial, values: np.ndarray
) -> list[ModelParameters]:
    """One parameter set per row of ``values``, for ``trial``: its overrides, then the
    shared free parameters and its own."""
    fixed = base.with_values(trial.parameters) if trial.parameters else base
    return [fixed.with_values(targets.values_for(trial, row)) for row in values]


def finite_or_none(x: float) -> float | None:
    """A number for JSON: NaN and infinities become null."""
    return float(x) if np.isfinite(x) else None


def subject_row() -> pl.Expr:
    """A simulated subject's row in its course, from its id (V00001 is row 0)."""
    return pl.col("subject_id").str.slice(1).cast(pl.Int64) - 1


def _group_counts(
    endpoints: pl.DataFrame, trial: Trial, group_size: int, groups: int
) -> np.ndarray:
    """(groups, observations, 2): responders and n of each observed rate per group."""
    registry = {e.name: e for e in endpoint_registry(trial.protocol.endpoints)}
    frame = endpoints.with_columns((subject_row() // group_size).alias("_group"))
    out = np.zeros((groups, len(trial.observed), 2))
    for j, item in enumerate(trial.observed):
        endpoint = registry[item.endpoint]
        rows = frame.filter((pl.col("arm") == item.arm) & endpoint.counted)
        counted = rows.group_by("_group").agg(
            endpoint.responded.sum().alias("r"), pl.len().alias("n")
        )
        g = counted["_group"].to_numpy()
        out[g, j, 0] = counted["r"].to_numpy()
        out[g, j, 1] = counted["n"].to_numpy()
    return out


def batch_course(
    trial: Trial,
    parameter_sets: list[ModelParameters],
    seed: np.random.SeedSequence,
    pk_model: TacrolimusModel,
    scale: int = 1,
) -> Course:
    """One virtual trial per parameter set (arm sizes x ``scale``), all run together in
    one course, set k's patients at rows k x size ... (k + 1) x size - 1. The same seed
    and one set give the same random numbers whatever the set's values (common random
    numbers)."""
    protocol = trial.protocol
    assert protocol.eligibility is not None
    sizes = tuple(n * scale for n in trial.sizes)
    total = sum(sizes)
    population_seed, allocation_seed, course_seed = children(seed, 3)
    populations = children(population_seed, len(parameter_sets))
    allocations = children(allocation_seed, len(parameter_sets))
    horizon_occasions = occasions(protocol, pk_model)
    groups: list[Population] = []
    arms: list[np.ndarray] = []
    for k, params in enumerate(parameter_sets):
        groups.append(
            draw_population(
                populations[k], params, total, protocol.eligibility, pk_model, horizon_occasions
            )
        )
        arms.append(allocate(protocol, sizes, np.random.default_rng(allocations[k])))
    return run_course(
        protocol,
        parameter_sets[0],
        np.concatenate(arms),
        course_seed,
        pk_model=pk_model,
        population=Population.concatenate(groups),
    )


def trial_counts(
    trial: Trial,
    parameter_sets: list[ModelParameters],
    seed: np.random.SeedSequence,
    pk_model: TacrolimusModel,
    scale: int = 1,
) -> np.ndarray:
    """(sets, observations, 2): responders and n of the trial's observed rates, one
    virtual trial per parameter set (:func:`batch_course`), adjudicated by the endpoint
    engine."""
    course = batch_course(trial, parameter_sets, seed, pk_model, scale)
    tables = course_tables(course, trial.protocol, parameter_sets[0])
    endpoints = adjudicate(dataset_from_frames(tables, trial.protocol), trial.protocol)
    total = sum(trial.sizes) * scale
    return _group_counts(endpoints, trial, total, len(parameter_sets))


def simulate_rates(
    targets: Targets,
    base: ModelParameters,
    values: np.ndarray,
    seed: np.random.SeedSequence,
    pk_model: TacrolimusModel | None = None,
    scale: int = 1,
) -> np.ndarray:
    """(sets, observations) simulated rates of every observed rate of ``targets``, one
    row per row of ``values`` (natural-scale values of the free parameters). A rate
    with no subject (no initial responder for relapse) is NaN."""
    pk_model = pk_model or load_tacrolimus_model()
    columns = []
    for trial, child in zip(targets.trials, children(seed, len(targets.trials)), strict=True):
        sets = _parameter_sets(base, targets, trial, values)
        counts = trial_counts(trial, sets, child, pk_model, scale)
        with np.errstate(invalid="ignore", divide="ignore"):
            columns.append(np.where(counts[..., 1] > 0, counts[..., 0] / counts[..., 1], np.nan))
    return np.concatenate(columns, axis=1)


def standard_errors(targets: Targets) -> np.ndarray:
    """Each observed rate's binomial standard error, with the rate kept inside
    [1/(2n), 1 - 1/(2n)] so that a rate of 0 or 1 still has one."""
    out = []
    for _, item in targets.observed:
        rate = min(max(item.rate, 0.5 / item.n), 1 - 0.5 / item.n)
        out.append(np.sqrt(rate * (1 - rate) / item.n))
    return np.array(out)


def distance(targets: Targets) -> Callable[[np.ndarray], np.ndarray]:
    """The root mean square of the standardised differences (simulated - observed) / SE;
    infinite when a rate could not be computed."""
    observed = np.array([item.rate for _, item in targets.observed])
    se = standard_errors(targets)

    def measure(rates: np.ndarray) -> np.ndarray:
        z = (rates - observed) / se
        d = np.sqrt(np.mean(z**2, axis=1))
        return np.where(np.isfinite(d), d, np.inf)

    return measure


@dataclass(frozen=True)
class Calibration:
    """A calibration's posterior (natural scale) and how it was found."""

    targets: Targets
    base: ModelParameters
    abc: AbcResult
    draws: np.ndarray  # (draws, free parameters), natural scale, resampled by weight

    @property
    def names(self) -> tuple[str, ...]:
        return self.targets.names

    def median(self) -> dict[str, float]:
        return {name: float(np.median(self.draws[:, i])) for i, name in enumerate(self.names)}

    def parameters(self) -> ModelParameters:
        """The base parameters with the shared free ones at their posterior medians (a
        trial's own parameters are left out: they describe that trial's population)."""
        shared = set(self.targets.shared)
        return self.base.with_values({k: v for k, v in self.median().items() if k in shared})


def calibrate(
    targets: Targets,
    base: ModelParameters,
    seed: int,
    progress: Progress | None = None,
    pk_model: TacrolimusModel | None = None,
) -> Calibration:
    """The ABC-SMC posterior of the free parameters of ``targets``."""
    model = pk_model or load_tacrolimus_model()
    s = targets.settings
    calls = [0]

    def simulate(theta: np.ndarray, batch_seed: np.random.SeedSequence) -> np.ndarray:
        calls[0] += len(theta)
        if progress is not None:
            progress(f"simulating {len(theta)} parameter sets ({calls[0]} so far)")
        return simulate_rates(targets, base, targets.natural(theta), batch_seed, model)

    result = abc_smc(
        simulate,
        distance(targets),
        Priors(targets.distributions()),
        particles=s.particles,
        seed=seed,
        generations=s.generations,
        first_quantile=s.quantile,
        quantile=s.quantile,
        batch=s.batch,
    )
    draws = targets.natural(result.draws(s.draws, seed))
    return Calibration(targets, base, result, draws)


@dataclass(frozen=True)
class Check:
    """One observed rate against its posterior predictive distribution."""

    trial: str
    arm: str
    endpoint: str
    observed: float
    median: float
    interval_95: tuple[float, float]
    p_value: float  # two-sided: 2 x min(P(sim <= obs), P(sim >= obs)), at most 1

    def as_dict(self) -> dict[str, object]:
        """The ``calibrate check --json`` form (NaN as null)."""
        number = finite_or_none
        return {
            "trial": self.trial,
            "arm": self.arm,
            "endpoint": self.endpoint,
            "observed": self.observed,
            "median": number(self.median),
            "interval_95": [number(self.interval_95[0]), number(self.interval_95[1])],
            "p_value": self.p_value,
        }


def predictive_summary(
    observed: float, simulated: np.ndarray
) -> tuple[float, tuple[float, float], float]:
    """Median, 2.5-97.5% interval and two-sided predictive p-value
    2 x min(P(sim <= obs), P(sim >= obs)) (at most 1) of simulated rates (NaN dropped:
    a replicate without subjects for the rate)."""
    sim = simulated[np.isfinite(simulated)]
    if not sim.size:
        return float("nan"), (float("nan"), float("nan")), 0.0
    low, high = np.quantile(sim, [0.025, 0.975])
    tail = min(float(np.mean(sim <= observed)), float(np.mean(sim >= observed)))
    return float(np.median(sim)), (float(low), float(high)), min(1.0, 2.0 * tail)


def predictive_checks(
    targets: Targets,
    base: ModelParameters,
    draws: np.ndarray,
    seed: int,
    replicates: int | None = None,
    pk_model: TacrolimusModel | None = None,
) -> list[Check]:
    """Posterior predictive distribution of every observed rate at its trial's size:
    replicate k takes posterior draw k (cycling) and its own virtual trial."""
    k = replicates or targets.settings.check_trials
    rows = draws[np.arange(k) % len(draws)]
    rates = simulate_rates(targets, base, rows, np.random.SeedSequence(seed), pk_model)
    checks = []
    for j, (trial, item) in enumerate(targets.observed):
        median, interval, p = predictive_summary(item.rate, rates[:, j])
        checks.append(Check(trial.name, item.arm, item.endpoint, item.rate, median, interval, p))
    return checks


@dataclass(frozen=True)
class Identifiability:
    names: tuple[str, ...]
    singular_values: tuple[float, ...]
    collinearity_index: float
    sensitivity: np.ndarray  # (observations, parameters): d rate / d log parameter
    correlation: np.ndarray
    contraction: np.ndarray


def identifiability(
    calibration: Calibration, seed: int, pk_model: TacrolimusModel | None = None
) -> Identifiability:
    """Sensitivity of the rates to each free parameter at the posterior median, with
    common random numbers on trials 20 x the published size, and the posterior's
    correlations and contraction (on the sampler's transformed scale)."""
    targets, base = calibration.targets, calibration.base
    median = np.array([calibration.median()[n] for n in targets.names])
    model = pk_model or load_tacrolimus_model()

    def rates(values: np.ndarray) -> np.ndarray:
        row = np.asarray(values, dtype=float)[None, :]
        seed_sequence = np.random.SeedSequence(seed)
        result = simulate_rates(targets, base, row, seed_sequence, model, SENSITIVITY_SCALE)
        return np.asarray(result[0])

    local = sensitivity(rates, median, relative_step=0.05)
    summary = posterior_summary(calibration.abc, Priors(targets.distributions()))
    return Identifiability(
        targets.names,
        tuple(float(v) for v in local.singular_values),
        local.collinearity_index,
        local.matrix,
        summary.correlation,
        summary.contraction,
    )

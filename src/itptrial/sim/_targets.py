"""Calibration targets files (docs/interface.md, "The virtual patient's calibration").

A targets file lists published trials (each with its protocol, the parameter values
that trial overrides, and its observed counts), the priors of the free parameters and
the sampler's settings. Every problem is reported with the file and the dotted key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scipy import stats

from itptrial._errors import InputError, Problem, validation_problems
from itptrial._files import read_text_file, read_toml
from itptrial.endpoints import endpoint_registry
from itptrial.protocol import Observed, Protocol, load_protocol
from itptrial.sim._parameters import ModelParameters

# Parameters a calibration may free: those that enter the model per patient (through
# the virtual population), so that one simulation batch can hold patients of many
# parameter sets at once.
FREE_PARAMETERS = (
    "disease.t0_median",
    "disease.omega_t0",
    "disease.regrowth_median",
    "disease.omega_regrowth",
    "disease.cure_threshold",
    "disease.t_help",
    "disease.baseline_median",
    "disease.omega_baseline",
    "dexamethasone.kill_median",
    "dexamethasone.omega_kill",
    "dexamethasone.block_max",
    "tacrolimus.depletion",
    "platelets.kdeg",
    "platelets.omega_kdeg",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PriorSpec(_Strict):
    """A prior: normal on the parameter's ``scale`` (log: lognormal with this median;
    logit: logit-normal, for a fraction), with its source. With ``trial``, the parameter
    is that trial's own (between-trial heterogeneity: its population differs) and is
    not part of the shared posterior that ``--posterior`` gives other trials."""

    parameter: str
    trial: str | None = None
    scale: Literal["log", "logit"]
    median: float = Field(gt=0)
    sd: float = Field(gt=0)  # on the transformed scale
    source: str = Field(min_length=1)


class Settings(_Strict):
    particles: int = Field(200, ge=2)
    generations: int = Field(6, ge=1)
    quantile: float = Field(0.5, gt=0, lt=1)
    batch: int | None = Field(None, ge=2)
    draws: int = Field(1000, ge=1)  # posterior draws written to posterior.parquet
    check_trials: int = Field(200, ge=10)  # simulated trials per posterior predictive check


class TrialSpec(_Strict):
    name: str = Field(min_length=1)
    protocol: str = Field(min_length=1)
    source: str = ""
    parameters: dict[str, float] = Field(default_factory=dict)
    observed: tuple[Observed, ...] = Field(min_length=1)


class _TargetsFile(_Strict):
    trial: tuple[TrialSpec, ...] = Field(min_length=1)
    prior: tuple[PriorSpec, ...] = ()
    calibration: Settings = Settings()


@dataclass(frozen=True)
class Trial:
    """One published trial: its protocol, overrides, observations and arm sizes."""

    name: str
    protocol: Protocol
    parameters: dict[str, float]
    observed: tuple[Observed, ...]
    sizes: tuple[int, ...]  # per protocol arm; 0 for an arm with no observation

    def label(self, item: Observed) -> str:
        return f"{self.name} {item.arm} {item.endpoint}"


@dataclass(frozen=True)
class Targets:
    source: str
    trials: tuple[Trial, ...]
    priors: tuple[PriorSpec, ...]
    settings: Settings

    @property
    def names(self) -> tuple[str, ...]:
        """Column names: the parameter, or "TRIAL: parameter" for a trial's own."""
        return tuple(column_name(p) for p in self.priors)

    @property
    def shared(self) -> tuple[str, ...]:
        return tuple(p.parameter for p in self.priors if p.trial is None)

    def only(self, columns: list[str]) -> Targets:
        """The same targets with only the priors of ``columns`` free."""
        kept = tuple(p for p in self.priors if column_name(p) in columns)
        return Targets(self.source, self.trials, kept, self.settings)

    def values_for(self, trial: Trial, row: np.ndarray) -> dict[str, float]:
        """The parameter values a trial's simulation takes from one row of draws: the
        shared ones, then the trial's own (which replace a shared value of the same
        parameter for this trial only, wherever they appear in the file)."""
        pairs = list(zip(self.priors, row, strict=True))
        values = {p.parameter: float(v) for p, v in pairs if p.trial is None}
        values |= {p.parameter: float(v) for p, v in pairs if p.trial == trial.name}
        return values

    @property
    def observed(self) -> list[tuple[Trial, Observed]]:
        return [(trial, item) for trial in self.trials for item in trial.observed]

    def distributions(self) -> dict[str, stats.rv_continuous | stats.rv_frozen]:
        """The priors on the transformed scale, where the sampler works."""
        return {
            column_name(p): stats.norm(loc=_forward(p.scale, p.median), scale=p.sd)
            for p in self.priors
        }

    def natural(self, theta: np.ndarray) -> np.ndarray:
        """Transformed-scale rows back to parameter values."""
        columns = [_backward(p.scale, theta[:, i]) for i, p in enumerate(self.priors)]
        return np.column_stack(columns) if columns else np.empty((len(theta), 0))

    def transformed(self, values: np.ndarray) -> np.ndarray:
        columns = [_forward(p.scale, values[:, i]) for i, p in enumerate(self.priors)]
        return np.column_stack(columns) if columns else np.empty((len(values), 0))


def column_name(prior: PriorSpec) -> str:
    return prior.parameter if prior.trial is None else f"{prior.trial}: {prior.parameter}"


def _forward(scale: str, x: np.ndarray | float) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return np.log(x) if scale == "log" else np.log(x / (1.0 - x))


def _backward(scale: str, z: np.ndarray) -> np.ndarray:
    value: np.ndarray = np.exp(z) if scale == "log" else 1.0 / (1.0 + np.exp(-z))
    return value


def _arm_sizes(protocol: Protocol, observed: tuple[Observed, ...]) -> tuple[int, ...]:
    """The simulated size of each arm: the n of its intention-to-treat observations
    (every endpoint but relapse, whose n is the arm's initial responders)."""
    sizes = {item.arm: item.n for item in observed if item.endpoint != "relapse"}
    return tuple(sizes.get(code, 0) for code in protocol.arm_codes)


def _trial_problems(
    spec: TrialSpec, index: int, protocol: Protocol, params: ModelParameters, source: str
) -> list[Problem]:
    where = f"trial.{index}"
    binary = {e.name for e in endpoint_registry(protocol.endpoints) if e.kind == "binary"}
    problems: list[Problem] = []
    for j, item in enumerate(spec.observed):
        if item.arm not in protocol.arm_codes:
            message = f"arm {item.arm!r} is not an arm of {protocol.name} ({protocol.arm_codes})"
            problems.append(Problem(source, None, f"{where}.observed.{j}.arm", message))
        if item.endpoint not in binary:
            message = f"{item.endpoint!r} is not a binary endpoint of {protocol.name}"
            problems.append(Problem(source, None, f"{where}.observed.{j}.endpoint", message))
    arms = {item.arm for item in spec.observed}
    itt = {item.arm for item in spec.observed if item.endpoint != "relapse"}
    for arm in sorted(arms - itt):
        message = f"arm {arm} has only relapse: give one of its intention-to-treat rates"
        problems.append(Problem(source, None, f"{where}.observed", message))
    for key in spec.parameters:
        try:
            params.with_values({key: spec.parameters[key]})
        except (ValueError, KeyError, ValidationError):
            problems.append(Problem(source, None, f"{where}.parameters.{key}", "not a valid value"))
    return problems


def load_targets(path: str | Path, params: ModelParameters) -> Targets:
    """Read and check a targets file; protocols are presets or paths relative to it."""
    path = Path(path)
    source = str(path)
    raw = read_toml(read_text_file(path, "calibration targets file"), source)
    try:
        spec = _TargetsFile.model_validate(raw)
    except ValidationError as exc:
        raise InputError(validation_problems(exc, source)) from None
    problems: list[Problem] = []
    trials: list[Trial] = []
    for i, trial in enumerate(spec.trial):
        name = trial.protocol
        relative = path.parent / name
        protocol = load_protocol(str(relative) if name.endswith(".toml") else name)
        problems += _trial_problems(trial, i, protocol, params, source)
        sizes = _arm_sizes(protocol, trial.observed)
        trials.append(Trial(trial.name, protocol, trial.parameters, trial.observed, sizes))
    seen: set[str] = set()
    trial_names = {t.name for t in trials}
    for i, prior in enumerate(spec.prior):
        key = f"prior.{i}.parameter"
        if prior.trial is not None and prior.trial not in trial_names:
            message = f"no trial named {prior.trial!r} ({', '.join(sorted(trial_names))})"
            problems.append(Problem(source, None, f"prior.{i}.trial", message))
        if prior.parameter not in FREE_PARAMETERS:
            message = f"{prior.parameter!r} cannot be freed (free: {', '.join(FREE_PARAMETERS)})"
            problems.append(Problem(source, None, key, message))
        if column_name(prior) in seen:
            problems.append(Problem(source, None, key, f"{column_name(prior)} has two priors"))
        seen.add(column_name(prior))
        if prior.scale == "logit" and not prior.median < 1:
            problems.append(Problem(source, None, f"prior.{i}.median", "a logit prior needs < 1"))
    if len(spec.prior) > len([o for t in trials for o in t.observed]):
        message = "more free parameters than observed rates: fix some (at most one per target)"
        problems.append(Problem(source, None, "prior", message))
    if problems:
        raise InputError(problems)
    return Targets(source, tuple(trials), spec.prior, spec.calibration)

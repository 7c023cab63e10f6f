"""A calibration's posterior on disk: ``posterior.parquet`` (one row per draw, one column
per free parameter), ``parameters.toml`` (the posterior median as a parameter file),
``summary.json`` and ``report.html`` (docs/interface.md). ``target020`` names the
posterior shipped inside the package (``itptrial/sim/posteriors/target020``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import tomli_w

from itptrial._errors import InputError, Problem
from itptrial.endpoints import endpoint_registry
from itptrial.sim._calibrate import (
    Calibration,
    Check,
    Identifiability,
    Progress,
    calibrate,
    finite_or_none,
    identifiability,
    predictive_checks,
)
from itptrial.sim._checks import Outcome, count_bands, unused_outputs
from itptrial.sim._parameters import ModelParameters, load_parameters
from itptrial.sim._targets import Targets

SHIPPED = ("target020",)
POSTERIOR_FILE = "posterior.parquet"
PARAMETERS_FILE = "parameters.toml"
TRIAL_SEPARATOR = ": "  # "TRIAL: parameter", a column of one trial's own parameter


@dataclass(frozen=True)
class Posterior:
    """Posterior draws of the free parameters (natural scale) on top of a parameter file."""

    source: str
    draws: pl.DataFrame
    parameters: ModelParameters

    @property
    def names(self) -> tuple[str, ...]:
        """The shared free parameters (columns "TRIAL: name" are one calibration
        trial's own and are not given to other trials)."""
        return tuple(c for c in self.draws.columns if TRIAL_SEPARATOR not in c)

    def __len__(self) -> int:
        return self.draws.height

    def values(self) -> np.ndarray:
        """All columns, in order, as the calibration wrote them."""
        return self.draws.to_numpy()

    def overrides(self, k: int) -> dict[str, float]:
        """The shared free parameters' values of draw k (cycling through the draws)."""
        row = self.draws.row(k % self.draws.height, named=True)
        return {name: float(row[name]) for name in self.names}

    def draw(self, k: int) -> ModelParameters:
        """The parameters of draw k (cycling through the draws)."""
        return self.parameters.with_values(self.overrides(k))


def posterior_folder(spec: str | Path) -> Path:
    """The folder of a shipped posterior's name, or the given folder."""
    if str(spec) in SHIPPED:
        return Path(str(resources.files("itptrial.sim").joinpath(f"posteriors/{spec}")))
    return Path(spec)


def load_posterior(spec: str | Path) -> Posterior:
    """A posterior folder written by ``itptrial calibrate``, or a shipped one by name."""
    folder = posterior_folder(spec)
    draws_path, parameters_path = folder / POSTERIOR_FILE, folder / PARAMETERS_FILE
    missing = [p.name for p in (draws_path, parameters_path) if not p.is_file()]
    if missing:
        message = (
            f"not a posterior folder: no {' or '.join(missing)} (write one with "
            f"itptrial calibrate, or name a shipped posterior: {', '.join(SHIPPED)})"
        )
        raise InputError([Problem(str(folder), None, "--posterior", message)])
    parameters = load_parameters(parameters_path)
    draws = pl.read_parquet(draws_path)
    problems = []
    for name in (c for c in draws.columns if TRIAL_SEPARATOR not in c):
        try:
            parameters.with_values({name: float(draws[name][0])})
        except (ValueError, KeyError):
            problems.append(Problem(str(draws_path), None, name, "not a model parameter"))
    if draws.height == 0:
        problems.append(Problem(str(draws_path), None, None, "has no draws"))
    if problems:
        raise InputError(problems)
    return Posterior(str(folder), draws, parameters)


def posterior_frame(names: tuple[str, ...], draws: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({name: draws[:, i] for i, name in enumerate(names)})


def parameters_toml(parameters: ModelParameters, header: str) -> str:
    """A parameter file (loads back with :func:`load_parameters`), with a header comment."""
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comment + "\n" + tomli_w.dumps(parameters.model_dump(mode="json"))


def assessment_days(targets: Targets) -> list[int | None]:
    """The study day by which each observed rate is settled, from its trial's protocol
    (the report's visual predictive check places the published rates there)."""
    days = []
    for trial in targets.trials:
        registry = {e.name: e for e in endpoint_registry(trial.protocol.endpoints)}
        days += [registry[item.endpoint].assessed_day for item in trial.observed]
    return days


def calibration_summary(
    calibration: Calibration,
    checks: list[Check],
    identifiability: Identifiability,
    outcomes: list[Outcome],
    seed: int,
) -> dict[str, Any]:
    """Everything ``summary.json`` holds: the targets, the method and its diagnostics,
    each free parameter's prior and posterior, identifiability, the predictive checks
    and the outputs the fit did not use."""
    targets, abc = calibration.targets, calibration.abc
    draws = calibration.draws
    days = assessment_days(targets)
    parameters = []
    for i, prior in enumerate(targets.priors):
        low, median, high = np.quantile(draws[:, i], [0.05, 0.5, 0.95])
        parameters.append(
            {
                "name": calibration.names[i],
                "prior": {
                    "scale": prior.scale,
                    "median": prior.median,
                    "sd": prior.sd,
                    "source": prior.source,
                },
                "posterior": {"median": median, "interval_90": [low, high]},
                "contraction": finite_or_none(identifiability.contraction[i]),
            }
        )
    return {
        "targets": targets.source,
        "seed": seed,
        "method": {
            "name": "ABC-SMC",
            "reference": "Beaumont, Cornuet, Marin & Robert, Biometrika 2009;96:983",
            "distance": "root mean square of (simulated - observed rate) / binomial SE, "
            "each trial simulated at its published arm sizes",
            "particles": len(abc.weights),
            "generations": len(abc.tolerances),
            "tolerances": list(abc.tolerances),
            "acceptance": list(abc.acceptance),
            "simulations": abc.simulations,
            "effective_sample_size": abc.effective_sample_size(),
        },
        "parameters": parameters,
        "identifiability": {
            "names": list(identifiability.names),
            "singular_values": list(identifiability.singular_values),
            "collinearity_index": finite_or_none(identifiability.collinearity_index),
            "sensitivity": identifiability.sensitivity.tolist(),
            "correlation": identifiability.correlation.tolist(),
            "observations": observation_labels(targets),
        },
        "checks": [{**c.as_dict(), "day": day} for c, day in zip(checks, days, strict=True)],
        "unused_outputs": [
            {
                "quantity": o.quantity,
                "arm": o.arm,
                "median": o.median,
                "interval_95": list(o.interval_95),
                "replicates": o.replicates,
            }
            for o in outcomes
        ],
    }


def observation_labels(targets: Targets) -> list[str]:
    return [trial.label(item) for trial, item in targets.observed]


@dataclass(frozen=True)
class CalibrationOutputs:
    """What ``itptrial calibrate`` writes, as data."""

    calibration: Calibration
    summary: dict[str, Any]  # summary.json: no timing, so a seed gives the same bytes
    bands: pl.DataFrame
    seconds: float

    def draws_frame(self) -> pl.DataFrame:
        return posterior_frame(self.calibration.names, self.calibration.draws)

    def parameters_text(self) -> str:
        header = (
            "Posterior median of the shared free parameters "
            f"({', '.join(n for n in self.calibration.names if TRIAL_SEPARATOR not in n)};\n"
            "a calibration trial's own parameters are in posterior.parquet only),\n"
            f"written by itptrial calibrate --targets {self.summary['targets']} "
            f"--seed {self.summary['seed']};\nevery other value as in the parameter file "
            "calibrated from (docs/calibration.md)."
        )
        return parameters_toml(self.calibration.parameters(), header)


def _child_seed(sequence: np.random.SeedSequence) -> int:
    return int(sequence.generate_state(1)[0])


def run_calibration(
    targets: Targets,
    base: ModelParameters,
    seed: int,
    progress: Progress | None = None,
) -> CalibrationOutputs:
    """The whole calibration: posterior, predictive checks, identifiability, the outputs
    the fit did not use and the count bands, each with its own seed from ``seed``."""
    started = time.perf_counter()
    sampler, checks_seed, ident_seed, unused_seed, bands_seed = np.random.SeedSequence(seed).spawn(
        5
    )

    def say(message: str) -> None:
        if progress is not None:
            progress(message)

    calibration = calibrate(targets, base, _child_seed(sampler), say)
    say("posterior predictive checks")
    checks = predictive_checks(targets, base, calibration.draws, _child_seed(checks_seed))
    say("identifiability")
    ident = identifiability(calibration, _child_seed(ident_seed))
    say("outputs the fit did not use")
    replicates = targets.settings.check_trials
    outcomes = unused_outputs(
        targets, base, calibration.draws, _child_seed(unused_seed), replicates
    )
    say("visual predictive check")
    bands = count_bands(
        targets, base, calibration.draws, _child_seed(bands_seed), min(40, replicates)
    )
    summary = calibration_summary(calibration, checks, ident, outcomes, seed)
    return CalibrationOutputs(calibration, summary, bands, time.perf_counter() - started)

"""The virtual trial: a mechanistic dual-target model of ITP executing a protocol."""

from itptrial.sim._abc import AbcResult, Priors, abc_smc
from itptrial.sim._calibrate import Calibration, Check, calibrate, predictive_checks, simulate_rates
from itptrial.sim._engine import STEPPERS, EngineName
from itptrial.sim._identifiability import (
    PosteriorSummary,
    Sensitivity,
    posterior_summary,
    sensitivity,
)
from itptrial.sim._parameters import ModelParameters, load_parameters
from itptrial.sim._posterior import (
    CalibrationOutputs,
    Posterior,
    load_posterior,
    posterior_folder,
    run_calibration,
)
from itptrial.sim._requirements import check_simulation
from itptrial.sim._simulate import (
    batch_endpoints,
    simulate_batch,
    simulate_course,
    simulate_trial,
    simulate_trials,
    trial_seeds,
)
from itptrial.sim._targets import Targets, load_targets

__all__ = [
    "STEPPERS",
    "AbcResult",
    "Calibration",
    "CalibrationOutputs",
    "Check",
    "EngineName",
    "ModelParameters",
    "Posterior",
    "PosteriorSummary",
    "Priors",
    "Sensitivity",
    "Targets",
    "abc_smc",
    "batch_endpoints",
    "calibrate",
    "check_simulation",
    "load_parameters",
    "load_posterior",
    "load_targets",
    "posterior_folder",
    "posterior_summary",
    "predictive_checks",
    "run_calibration",
    "sensitivity",
    "simulate_batch",
    "simulate_course",
    "simulate_rates",
    "simulate_trial",
    "simulate_trials",
    "trial_seeds",
]

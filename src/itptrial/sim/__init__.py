"""The virtual trial: a mechanistic dual-target model of ITP executing a protocol."""

from itptrial.sim._abc import AbcResult, Priors, abc_smc
from itptrial.sim._engine import STEPPERS, EngineName
from itptrial.sim._identifiability import (
    PosteriorSummary,
    Sensitivity,
    posterior_summary,
    sensitivity,
)
from itptrial.sim._parameters import ModelParameters, load_parameters
from itptrial.sim._requirements import check_simulation
from itptrial.sim._simulate import (
    simulate_course,
    simulate_trial,
    simulate_trials,
    trial_seeds,
)

__all__ = [
    "STEPPERS",
    "AbcResult",
    "EngineName",
    "ModelParameters",
    "PosteriorSummary",
    "Priors",
    "Sensitivity",
    "abc_smc",
    "check_simulation",
    "load_parameters",
    "posterior_summary",
    "sensitivity",
    "simulate_course",
    "simulate_trial",
    "simulate_trials",
    "trial_seeds",
]

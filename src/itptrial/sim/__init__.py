"""The virtual TARGET 020: a mechanistic dual-target model of ITP executing a protocol."""

from itptrial.sim._engine import STEPPERS, EngineName
from itptrial.sim._parameters import ModelParameters, load_parameters
from itptrial.sim._simulate import (
    TARGET020_SIZE,
    simulate_course,
    simulate_trial,
    simulate_trials,
    trial_seeds,
)

__all__ = [
    "STEPPERS",
    "TARGET020_SIZE",
    "EngineName",
    "ModelParameters",
    "load_parameters",
    "simulate_course",
    "simulate_trial",
    "simulate_trials",
    "trial_seeds",
]

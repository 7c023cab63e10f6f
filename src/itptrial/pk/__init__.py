"""Pharmacokinetic models shared by the simulator and dose individualization: oral
tacrolimus (docs/tacrolimus.md)."""

from itptrial.pk._tacrolimus import (
    Dosing,
    Genotype,
    TacrolimusModel,
    TacrolimusPatients,
    concentrations,
    draw_patients,
    individual_parameters,
    load_tacrolimus_model,
    observe,
    rhs,
    steady_state_trough,
    twice_daily,
)

__all__ = [
    "Dosing",
    "Genotype",
    "TacrolimusModel",
    "TacrolimusPatients",
    "concentrations",
    "draw_patients",
    "individual_parameters",
    "load_tacrolimus_model",
    "observe",
    "rhs",
    "steady_state_trough",
    "twice_daily",
]

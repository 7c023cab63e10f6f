"""Pharmacokinetic models shared by the simulator and dose individualization: oral
tacrolimus (docs/tacrolimus.md)."""

from itptrial.pk._tacrolimus import (
    DayExposure,
    Dosing,
    Genotype,
    PkState,
    TacrolimusModel,
    TacrolimusPatients,
    advance_day,
    concentrations,
    draw_patients,
    individual_parameters,
    initial_state,
    load_tacrolimus_model,
    measured,
    observe,
    rhs,
    steady_state_trough,
    twice_daily,
)

__all__ = [
    "DayExposure",
    "Dosing",
    "Genotype",
    "PkState",
    "TacrolimusModel",
    "TacrolimusPatients",
    "advance_day",
    "concentrations",
    "draw_patients",
    "individual_parameters",
    "initial_state",
    "load_tacrolimus_model",
    "measured",
    "observe",
    "rhs",
    "steady_state_trough",
    "twice_daily",
]

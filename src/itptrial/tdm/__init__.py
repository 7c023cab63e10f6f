"""Tacrolimus dose individualization (docs/tdm.md): Bayesian MAP estimation from measured
troughs on the population PK model the simulator uses (:mod:`itptrial.pk`), and the
next twice-daily dose with its prediction interval.

::

    from itptrial.protocol import load_protocol
    from itptrial.tdm import dosing_rules, read_history, recommend

    rules = dosing_rules(load_protocol("target020"))  # target, capsule, largest dose
    advice = recommend(read_history("history.csv"), 62, rules, genotype="unknown")
    advice.daily_dose_mg, advice.predicted_trough, advice.interval_90, advice.warnings
"""

from itptrial.tdm._history import (
    History,
    parse_history,
    plausibility_warnings,
    read_history,
    twice_daily_history,
)
from itptrial.tdm._map import Estimate, Fit, MapProblem, estimate, make_problem, objective
from itptrial.tdm._recommend import (
    DoseChoice,
    DosingRules,
    Recommendation,
    choose_dose,
    dosing_rules,
    guided_regimen,
    morning_trough,
    recommend,
    recommendation_text,
    regimen_rules,
    split_daily,
)
from itptrial.tdm._titration import rounded_daily_dose, titrated_dose

__all__ = [
    "DoseChoice",
    "DosingRules",
    "Estimate",
    "Fit",
    "History",
    "MapProblem",
    "Recommendation",
    "choose_dose",
    "dosing_rules",
    "estimate",
    "guided_regimen",
    "make_problem",
    "morning_trough",
    "objective",
    "parse_history",
    "plausibility_warnings",
    "read_history",
    "recommend",
    "recommendation_text",
    "regimen_rules",
    "rounded_daily_dose",
    "split_daily",
    "titrated_dose",
    "twice_daily_history",
]

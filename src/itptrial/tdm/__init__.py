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

from itptrial.tdm._history import History, parse_history, plausibility_warnings, read_history
from itptrial.tdm._map import Estimate, Fit, MapProblem, estimate, make_problem, objective
from itptrial.tdm._recommend import (
    DosingRules,
    Recommendation,
    dosing_rules,
    morning_trough,
    recommend,
    recommendation_text,
    split_daily,
)

__all__ = [
    "DosingRules",
    "Estimate",
    "Fit",
    "History",
    "MapProblem",
    "Recommendation",
    "dosing_rules",
    "estimate",
    "make_problem",
    "morning_trough",
    "objective",
    "parse_history",
    "plausibility_warnings",
    "read_history",
    "recommend",
    "recommendation_text",
    "split_daily",
]

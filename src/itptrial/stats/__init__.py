"""Statistics for ITP trials: binary and time-to-event endpoints, with R-equal results.

Binary endpoints, time to event, stratified versions of both, and Holm's adjustment for
several comparisons. Every function returns a small frozen dataclass whose numbers are
plain floats/ints or ``None``; ``None`` means the statistic is undefined for these data
(an empty arm, no events, a zero-cell bound that does not exist, ...) and the result's
``note`` says why.
No result holds NaN or infinity, and undefined statistics never raise.  Invalid input
(negative counts, responders > n, event flags other than 0/1) raises ``ValueError``.

Validation: tests/test_stats_reference.py (against R, values in tests/reference/),
tests/test_stats_published.py (published examples) and tests/test_stats_properties.py.
"""

from itptrial.stats._binary import chi_square, fisher_exact, proportion, risk_difference
from itptrial.stats._multiplicity import holm
from itptrial.stats._stratified import cmh_test, stratified_risk_difference
from itptrial.stats._survival import (
    cox_hazard_ratio,
    kaplan_meier,
    logrank,
    stratified_cox_hazard_ratio,
    stratified_logrank,
)
from itptrial.stats._types import (
    FisherResult,
    HazardRatio,
    Interval,
    KaplanMeier,
    Proportion,
    RiskDifference,
    TestResult,
)

__all__ = [
    "FisherResult",
    "HazardRatio",
    "Interval",
    "KaplanMeier",
    "Proportion",
    "RiskDifference",
    "TestResult",
    "chi_square",
    "cmh_test",
    "cox_hazard_ratio",
    "fisher_exact",
    "holm",
    "kaplan_meier",
    "logrank",
    "proportion",
    "risk_difference",
    "stratified_cox_hazard_ratio",
    "stratified_logrank",
    "stratified_risk_difference",
]

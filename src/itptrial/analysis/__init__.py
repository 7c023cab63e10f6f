"""Trial analysis: adjudicated endpoints -> statistics and summaries, as data."""

from itptrial.analysis._analysis import Analysis, analyze
from itptrial.analysis._binary import BinaryComparison, BinaryEndpoint, Stratified, binary_counts
from itptrial.analysis._comparisons import Pair, comparisons
from itptrial.analysis._descriptive import (
    GRADES,
    Baseline,
    Continuous,
    Flow,
    SafetySummary,
    Trajectory,
)
from itptrial.analysis._published import PublishedRow, compare_with_published, sampling_note
from itptrial.analysis._results_json import results_dict, results_json
from itptrial.analysis._tte import StratifiedSurvival, TimeToEvent, TimeToEventComparison

__all__ = [
    "GRADES",
    "Analysis",
    "Baseline",
    "BinaryComparison",
    "BinaryEndpoint",
    "Continuous",
    "Flow",
    "Pair",
    "PublishedRow",
    "SafetySummary",
    "Stratified",
    "StratifiedSurvival",
    "TimeToEvent",
    "TimeToEventComparison",
    "Trajectory",
    "analyze",
    "binary_counts",
    "compare_with_published",
    "comparisons",
    "results_dict",
    "results_json",
    "sampling_note",
]

"""Trial analysis: adjudicated endpoints -> statistics and summaries, as data."""

from itptrial.analysis._analysis import Analysis, analyze
from itptrial.analysis._binary import BINARY_ENDPOINTS
from itptrial.analysis._results_json import results_dict, results_json
from itptrial.analysis._tte import TIME_TO_EVENT

__all__ = [
    "BINARY_ENDPOINTS",
    "TIME_TO_EVENT",
    "Analysis",
    "analyze",
    "results_dict",
    "results_json",
]

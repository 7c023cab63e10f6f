"""itptrial: run and analyse randomized trials in immune thrombocytopenia (ITP).

The public API is small; everything else lives in subpackages::

    import itptrial

    protocol = itptrial.load_protocol("target020")
    data = itptrial.load_dataset("examples/target020_example", protocol)  # or InputError
    endpoints = itptrial.adjudicate(data, protocol)   # one row per subject, explained
    analysis = itptrial.analyze(data, protocol)       # every statistic, as data
    itptrial.write_analysis(analysis, "out")          # results.json, report.html, ...
    itptrial.write_adam(itptrial.adam_datasets(data, protocol), "adam")  # ADaM XPORT

    tables = itptrial.simulate_trial(protocol, (48, 56), seed=1)   # a virtual trial
    data = itptrial.dataset_from_frames(tables, protocol)

Names are imported on first use, so ``import itptrial`` (and the command line) stays
fast: the statistics and the simulator load only when asked for.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from itptrial._errors import InputError, Problem
from itptrial._version import __version__

if TYPE_CHECKING:
    from itptrial.adam import adam_datasets, write_adam
    from itptrial.analysis import Analysis, analyze, results_json
    from itptrial.data import Dataset, dataset_from_frames, import_sdtm, load_dataset, write_dataset
    from itptrial.endpoints import ENDPOINT_COLUMNS, adjudicate, endpoint_registry
    from itptrial.protocol import Protocol, load_protocol, published_results
    from itptrial.report import write_analysis
    from itptrial.sim import load_parameters, simulate_trial, simulate_trials

# public name -> the subpackage that defines it
_LAZY = {
    "adam_datasets": "itptrial.adam",
    "write_adam": "itptrial.adam",
    "Analysis": "itptrial.analysis",
    "analyze": "itptrial.analysis",
    "results_json": "itptrial.analysis",
    "Dataset": "itptrial.data",
    "dataset_from_frames": "itptrial.data",
    "import_sdtm": "itptrial.data",
    "load_dataset": "itptrial.data",
    "write_dataset": "itptrial.data",
    "ENDPOINT_COLUMNS": "itptrial.endpoints",
    "adjudicate": "itptrial.endpoints",
    "endpoint_registry": "itptrial.endpoints",
    "Protocol": "itptrial.protocol",
    "load_protocol": "itptrial.protocol",
    "published_results": "itptrial.protocol",
    "write_analysis": "itptrial.report",
    "load_parameters": "itptrial.sim",
    "simulate_trial": "itptrial.sim",
    "simulate_trials": "itptrial.sim",
}

__all__ = [
    "ENDPOINT_COLUMNS",
    "Analysis",
    "Dataset",
    "InputError",
    "Problem",
    "Protocol",
    "__version__",
    "adam_datasets",
    "adjudicate",
    "analyze",
    "dataset_from_frames",
    "endpoint_registry",
    "import_sdtm",
    "load_dataset",
    "load_parameters",
    "load_protocol",
    "published_results",
    "results_json",
    "simulate_trial",
    "simulate_trials",
    "write_adam",
    "write_analysis",
    "write_dataset",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'itptrial' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

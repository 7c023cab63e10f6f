"""itptrial: run and analyse randomized trials in immune thrombocytopenia (ITP).

The public API is small; everything else lives in private modules::

    import itptrial
    protocol = itptrial.load_protocol("target020")
    data = itptrial.load_dataset("examples/target020_example", protocol)
    endpoints = itptrial.adjudicate(data, protocol)   # one row per subject, explained
"""

from itptrial._errors import InputError, Problem
from itptrial._version import __version__
from itptrial.data import Dataset, dataset_from_frames, load_dataset, write_dataset
from itptrial.endpoints import ENDPOINT_COLUMNS, adjudicate
from itptrial.protocol import Protocol, load_protocol

__all__ = [
    "ENDPOINT_COLUMNS",
    "Dataset",
    "InputError",
    "Problem",
    "Protocol",
    "__version__",
    "adjudicate",
    "dataset_from_frames",
    "load_dataset",
    "load_protocol",
    "write_dataset",
]

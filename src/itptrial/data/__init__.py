"""Trial datasets: the native schema, strict loading, and SDTM import."""

from itptrial.data._dataset import Dataset, dataset_from_frames, load_dataset
from itptrial.data._schema import SCHEMA, TABLES, Column, Table
from itptrial.data._write import write_dataset

__all__ = [
    "SCHEMA",
    "TABLES",
    "Column",
    "Dataset",
    "Table",
    "dataset_from_frames",
    "load_dataset",
    "write_dataset",
]

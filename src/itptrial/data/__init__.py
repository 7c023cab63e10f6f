"""Trial datasets: the native schema, strict loading, and SDTM import."""

from itptrial.data._dataset import Dataset, dataset_from_frames, load_dataset
from itptrial.data._read import SUBJECT_KEY
from itptrial.data._schema import SCHEMA, TABLES, Column, Table
from itptrial.data._write import dataset_file_names, dataset_files, write_dataset
from itptrial.data.sdtm import ImportSummary, import_sdtm

__all__ = [
    "SCHEMA",
    "SUBJECT_KEY",
    "TABLES",
    "Column",
    "Dataset",
    "ImportSummary",
    "Table",
    "dataset_file_names",
    "dataset_files",
    "dataset_from_frames",
    "import_sdtm",
    "load_dataset",
    "write_dataset",
]

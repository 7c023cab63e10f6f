"""ADaM analysis datasets (docs/adam.md): ADSL, ADRS, ADTTE and ADLB derived from the
same adjudication as ``analyze``, written as SAS XPORT v5, CSV or Parquet with a
define-style metadata table."""

from itptrial.adam._derive import AdamData, adam_datasets, explanation_parts
from itptrial.adam._spec import ADLB, ADSL, ADTTE, EXPLAN_LENGTH, AdamDataset, Variable, adrs
from itptrial.adam._write import (
    ADAM_FORMATS,
    DATASETS,
    METADATA,
    AdamFormat,
    adam_file_names,
    metadata_rows,
    write_adam,
)

__all__ = [
    "ADAM_FORMATS",
    "ADLB",
    "ADSL",
    "ADTTE",
    "DATASETS",
    "EXPLAN_LENGTH",
    "METADATA",
    "AdamData",
    "AdamDataset",
    "AdamFormat",
    "Variable",
    "adam_datasets",
    "adam_file_names",
    "adrs",
    "explanation_parts",
    "metadata_rows",
    "write_adam",
]

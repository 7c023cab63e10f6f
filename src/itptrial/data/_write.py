"""Writing datasets back to the native schema (CSV or Parquet folders), safely."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import polars as pl

from itptrial._output import staged_output
from itptrial.data._read import INTERNAL_COLUMNS
from itptrial.data._schema import TABLES

FORMATS = {"csv": ".csv", "parquet": ".parquet"}


def _text_frame(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Schema columns first, in schema order, then any extra columns; no line column."""
    schema_columns = [c for c in TABLES[name].column_names if c in frame.columns]
    extra = [c for c in frame.columns if c not in schema_columns and c not in INTERNAL_COLUMNS]
    return frame.select(*schema_columns, *extra)  # polars writes booleans as true/false


def dataset_file_names(tables: Mapping[str, object] | list[str], fmt: str = "csv") -> list[str]:
    """The files a dataset of these tables is written as."""
    return [f"{name}{FORMATS[fmt]}" for name in tables]


def write_dataset(
    tables: Mapping[str, pl.DataFrame],
    folder: str | Path,
    fmt: Literal["csv", "parquet"] = "csv",
    command: str = "write_dataset",
) -> Path:
    """Write tables as a dataset folder: all files appear, or none do.

    Empty optional tables are still written (header only), so the folder documents
    that the table was considered and had no records. Files already in the folder are
    left alone, except the files of these tables that itptrial wrote there earlier
    (either format), which are replaced; a file itptrial did not write is never
    replaced: :class:`InputError` (see :mod:`itptrial._output`).
    """
    folder = Path(folder)
    other = "parquet" if fmt == "csv" else "csv"
    with staged_output(folder, command, replaces=dataset_file_names(tables, other)) as staging:
        dataset_files(tables, staging, fmt)
    return folder


def dataset_files(
    tables: Mapping[str, pl.DataFrame], folder: Path, fmt: Literal["csv", "parquet"] = "csv"
) -> None:
    """The tables as files in ``folder`` (no staging: for writers that stage themselves)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        out = _text_frame(name, frame)
        if fmt == "csv":
            out.write_csv(folder / f"{name}.csv")
        else:
            out.write_parquet(folder / f"{name}.parquet")

"""Writing datasets back to the native schema (CSV or Parquet folders)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import polars as pl

from itptrial.data._read import INTERNAL_COLUMNS
from itptrial.data._schema import TABLES


def _text_frame(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Schema columns first, in schema order, then any extra columns; no line column."""
    schema_columns = [c for c in TABLES[name].column_names if c in frame.columns]
    extra = [c for c in frame.columns if c not in schema_columns and c not in INTERNAL_COLUMNS]
    return frame.select(*schema_columns, *extra)  # polars writes booleans as true/false


def write_dataset(
    tables: Mapping[str, pl.DataFrame],
    folder: str | Path,
    fmt: Literal["csv", "parquet"] = "csv",
) -> Path:
    """Write tables as a dataset folder, atomically: all files appear, or none do.

    Empty optional tables are still written (header only), so the folder documents
    that the table was considered and had no records. In an existing folder only the
    given tables are replaced (in either format); other files are left alone.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for name, frame in tables.items():
            out = _text_frame(name, frame)
            if fmt == "csv":
                out.write_csv(staging / f"{name}.csv")
            else:
                out.write_parquet(staging / f"{name}.parquet")
        if folder.exists():  # replace only the tables written here; keep the rest
            for name in tables:
                for suffix in (".csv", ".parquet"):
                    (folder / f"{name}{suffix}").unlink(missing_ok=True)
            for path in staging.iterdir():
                path.replace(folder / path.name)
            staging.rmdir()
        else:
            staging.replace(folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return folder

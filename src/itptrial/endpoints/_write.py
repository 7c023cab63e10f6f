"""Writing the per-subject endpoints table (CSV or Parquet, chosen by extension)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import polars as pl

from itptrial.endpoints._explain import number

OUTPUT_FORMATS = {".csv": "csv", ".parquet": "parquet"}


def write_endpoints(endpoints: pl.DataFrame, path: str | Path) -> Path:
    """Write atomically (a temporary file renamed into place): no partial output.

    CSV shows counts without a trailing ``.0``; Parquet keeps the typed columns.
    """
    path = Path(path)
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: output must end in .csv or .parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        if fmt == "csv":
            endpoints.with_columns(
                number(pl.col("baseline_count")).alias("baseline_count")
            ).write_csv(temporary)
        else:
            endpoints.write_parquet(temporary)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private; outputs are not
        Path(temporary).replace(path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return path

"""Writing the per-subject endpoints table (CSV or Parquet, chosen by extension)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from itptrial._output import staged_file
from itptrial.endpoints._explain import number

OUTPUT_FORMATS = {".csv": "csv", ".parquet": "parquet"}


def endpoints_file(endpoints: pl.DataFrame, path: Path) -> None:
    """The table as a file at ``path`` (no staging: for writers that stage themselves).

    CSV shows counts without a trailing ``.0``; Parquet keeps the typed columns.
    """
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: output must end in .csv or .parquet")
    if fmt == "csv":
        shown = endpoints.with_columns(number(pl.col("baseline_count")).alias("baseline_count"))
        shown.write_csv(path)
    else:
        endpoints.write_parquet(path)


def write_endpoints(endpoints: pl.DataFrame, path: str | Path, command: str = "adjudicate") -> Path:
    """Write safely: staged, then moved into place, never over a file itptrial did not
    write (:mod:`itptrial._output`); no partial output."""
    path = Path(path)
    if path.suffix.lower() not in OUTPUT_FORMATS:
        raise ValueError(f"{path}: output must end in .csv or .parquet")
    with staged_file(path, command) as staged:
        endpoints_file(endpoints, staged)
    return path

"""Writing the ADaM datasets: SAS XPORT v5 (pyreadstat), CSV or Parquet, with the
define-style ``metadata.csv`` (dataset, variable, label, type, length, derivation).

XPORT v5 is what the FDA accepts for submission (FDA Study Data Technical Conformance
Guide: SAS XPORT version 5): names up to 8 characters, labels up to 40, character values up to
200 bytes of ASCII. The names and labels are checked in the tests; the values come from
the user's data, so a value XPORT cannot hold is an input error naming it, never cut or
changed silently.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path
from typing import Literal

import polars as pl

from itptrial._errors import InputError, Problem
from itptrial._output import staged_output
from itptrial.adam._derive import AdamData
from itptrial.adam._spec import AdamDataset

AdamFormat = Literal["xpt", "csv", "parquet"]
ADAM_FORMATS: tuple[AdamFormat, ...] = ("xpt", "csv", "parquet")
DATASETS = ("ADSL", "ADRS", "ADTTE", "ADLB")
METADATA = "metadata.csv"
METADATA_COLUMNS = ("dataset", "variable", "label", "type", "length", "derivation")
XPORT_TEXT_BYTES = 200
# The created/modified stamps of the XPORT header records (ddMMMyy:hh:mm:ss), and where
# the header ends: they are set from the data so that equal inputs give equal bytes.
XPORT_STAMP = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")
XPORT_DATA_START = b"HEADER RECORD*******OBS     HEADER RECORD"


def adam_file_names(fmt: AdamFormat) -> list[str]:
    """The files :func:`write_adam` writes (adsl.xpt, ..., metadata.csv)."""
    return [f"{name.lower()}.{fmt}" for name in DATASETS] + [METADATA]


def _text_length(frame: pl.DataFrame, name: str) -> int:
    longest = frame.select(pl.col(name).str.len_bytes().max()).item()
    return max(1, int(longest or 0))


def metadata_rows(data: AdamData) -> list[dict[str, str]]:
    """One row per variable: its label, type, length (bytes for text, 8 for numbers and
    dates, as stored in XPORT) and derivation."""
    rows = []
    for name in DATASETS:
        frame, definition = data.frames[name], data.definitions[name]
        for v in definition.variables:
            length = _text_length(frame, v.name) if v.type == "text" else 8
            rows.append(
                {
                    "dataset": name,
                    "variable": v.name,
                    "label": v.label,
                    "type": v.type,
                    "length": str(length),
                    "derivation": v.derivation,
                }
            )
    return rows


def xport_problems(data: AdamData) -> list[Problem]:
    """Text values XPORT v5 cannot hold: non-ASCII, or longer than 200 bytes."""
    problems = []
    for name in DATASETS:
        frame = data.frames[name]
        for column, dtype in frame.schema.items():
            if dtype != pl.String:
                continue
            values = frame.get_column(column).drop_nulls().unique(maintain_order=True)
            for value in values.to_list():
                if not value.isascii():
                    reason = "holds characters other than ASCII"
                elif len(value.encode()) > XPORT_TEXT_BYTES:
                    reason = f"is longer than {XPORT_TEXT_BYTES} bytes"
                else:
                    continue
                message = f"value {value[:60]!r} {reason}, which XPORT v5 cannot store"
                hint = "; write --format csv or parquet, or change the value in the data"
                problems.append(Problem(name.lower(), None, column, message + hint))
    return problems


def data_cut_date(data: AdamData) -> dt.date:
    """The latest date in the datasets: the XPORT files' created and modified stamp."""
    latest = [
        frame.select(pl.max_horizontal(pl.col(pl.Date).max())).item()
        for frame in data.frames.values()
        if any(dtype == pl.Date for dtype in frame.schema.values())
    ]
    found = [d for d in latest if d is not None]
    return max(found) if found else dt.date(1960, 1, 1)  # the SAS epoch when no date


def _stamp_xport(path: Path, when: dt.date) -> None:
    raw = path.read_bytes()
    end = raw.index(XPORT_DATA_START)
    stamp = when.strftime("%d%b%y").upper().encode() + b":00:00:00"
    path.write_bytes(XPORT_STAMP.sub(stamp, raw[:end]) + raw[end:])


def _write_xport(frame: pl.DataFrame, definition: AdamDataset, path: Path, when: dt.date) -> None:
    import pandas as pd  # heavy imports: only when writing XPORT
    import pyreadstat

    labels: dict[str, str | None] = {v.name: v.label for v in definition.variables}
    formats = {v.name: "DATE9." for v in definition.variables if v.type == "date"}
    table = frame.to_pandas(use_pyarrow_extension_array=False)
    for name in formats:  # datetime.date objects, which pyreadstat stores as SAS dates
        dates = frame.get_column(name)
        if dates.null_count() == dates.len():  # no date at all: a numeric missing column
            table[name] = pd.Series([float("nan")] * dates.len(), dtype="float64")
        else:
            table[name] = pd.Series(dates.to_list(), dtype=object)
    pyreadstat.write_xport(
        table,
        str(path),
        file_label=definition.label,
        column_labels=labels,
        table_name=definition.name,
        file_format_version=5,
        variable_format=formats,
    )
    _stamp_xport(path, when)


def _write_metadata(data: AdamData, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=METADATA_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(metadata_rows(data))


def adam_files(data: AdamData, folder: Path, fmt: AdamFormat) -> None:
    """The datasets as files in ``folder`` (no staging: for writers that stage)."""
    when = data_cut_date(data)
    for name in DATASETS:
        frame, path = data.frames[name], folder / f"{name.lower()}.{fmt}"
        if fmt == "xpt":
            _write_xport(frame, data.definitions[name], path, when)
        elif fmt == "csv":
            frame.write_csv(path)
        else:
            frame.write_parquet(path)
    _write_metadata(data, folder / METADATA)


def write_adam(data: AdamData, out: str | Path, fmt: AdamFormat = "xpt") -> Path:
    """Write the four datasets and metadata.csv into ``out``, all or none
    (:mod:`itptrial._output`). XPORT values it cannot hold are an InputError first."""
    if fmt not in ADAM_FORMATS:
        raise ValueError(f"format must be one of {ADAM_FORMATS}, not {fmt!r}")
    if fmt == "xpt":
        problems = xport_problems(data)
        if problems:
            raise InputError(problems)
    out = Path(out)
    with staged_output(out, "export-adam") as staging:
        adam_files(data, staging, fmt)
    return out

"""Reading dataset sources (CSV folder, Parquet folder, DuckDB file) into raw text frames.

Every table is read with *all* columns as text plus a ``__line`` column holding the
file line of each record (header = line 1; for Parquet and DuckDB, row number + 1 with
the first row numbered 1). Parsing and checking happen afterwards in one place
(:mod:`itptrial.data._parse`), so all three sources report problems identically.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from itptrial._errors import Problem
from itptrial.data._schema import TABLES

LINE = "__line"


@dataclass
class RawSource:
    """The raw text tables of a dataset and the files they came from."""

    location: str
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def read_source(path: Path) -> RawSource:
    """Read a dataset folder (CSV/Parquet) or a DuckDB database file."""
    if path.is_dir():
        return _read_folder(path)
    if path.is_file():
        return _read_duckdb(path)
    source = RawSource(str(path))
    message = "no such dataset folder or DuckDB file"
    source.problems.append(Problem(str(path), None, None, message))
    return source


def _with_lines(frame: pl.DataFrame, lines: list[int] | None = None) -> pl.DataFrame:
    if lines is None:
        column = pl.int_range(2, frame.height + 2, dtype=pl.Int64, eager=True)
    else:
        column = pl.Series(values=lines, dtype=pl.Int64)
    return frame.with_columns(column.alias(LINE))


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as text (Parquet/DuckDB types are re-parsed like CSV text)."""
    frame = frame.rename({c: c.lstrip("\ufeff") for c in frame.columns})
    casts = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            continue
        if dtype == pl.Boolean:
            casts.append(
                pl.when(pl.col(name)).then(pl.lit("true")).otherwise(pl.lit("false"))
                .cast(pl.String).alias(name)
            )
            continue
        casts.append(pl.col(name).cast(pl.String).alias(name))
    return frame.with_columns(casts) if casts else frame


def _csv_record_lines(path: Path) -> list[int]:
    """Line numbers of each record when quoted fields span lines (slow path, rare)."""
    lines: list[int] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        start = reader.line_num + 1
        for _ in reader:
            lines.append(start)
            start = reader.line_num + 1
    return lines


def _field_count_problems(table: str, text: str) -> list[Problem]:
    """Records whose field count differs from the header's (blank lines are skipped).

    Vectorized for the usual unquoted file; files with quote characters, where a comma
    or newline may sit inside a field, take the exact (slower) csv-module path.
    """
    if '"' in text:
        return _field_count_problems_quoted(table, text)
    lines = pl.Series("line", text.split("\n"), dtype=pl.String).str.strip_suffix("\r")
    commas = lines.str.count_matches(",", literal=True)
    expected = commas[0]
    frame = pl.DataFrame({"commas": commas, "blank": lines.str.len_bytes() == 0})
    frame = frame.with_row_index("line", offset=1).filter(
        ~pl.col("blank") & (pl.col("commas") != expected)
    )
    return [
        Problem(table, line, None, f"expected {expected + 1} fields as in the header, "
                f"found {count + 1}")
        for line, count in zip(frame["line"], frame["commas"], strict=True)
    ]


def _field_count_problems_quoted(table: str, text: str) -> list[Problem]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    problems = []
    for record in reader:
        if record and len(record) != len(header):
            message = f"expected {len(header)} fields as in the header, found {len(record)}"
            problems.append(Problem(table, reader.line_num, None, message))
    return problems


def _read_csv(table: str, path: Path) -> tuple[pl.DataFrame | None, list[Problem]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem(table, line, None, f"not valid UTF-8 ({path.name})")]
    if not text.strip():
        return None, [Problem(table, 1, None, f"empty file: no header row ({path.name})")]
    ragged = _field_count_problems(table, text)
    if ragged:
        return None, ragged
    try:
        frame = pl.read_csv(io.BytesIO(raw), infer_schema=False, raise_if_empty=False)
    except (pl.exceptions.PolarsError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, [Problem(table, None, None, f"cannot read {path.name}: {first}")]
    frame = _as_text(frame)
    multiline = '"' in text and any(
        frame.get_column(c).str.contains("\n", literal=True).any() for c in frame.columns
    )
    frame = _with_lines(frame, _csv_record_lines(path) if multiline else None)
    # A blank line is not a record (polars reads it as a row of nulls): skip it.
    data_columns = [c for c in frame.columns if c != LINE]
    return frame.filter(~pl.all_horizontal(pl.col(data_columns).is_null())), []


def _read_parquet(table: str, path: Path) -> tuple[pl.DataFrame | None, list[Problem]]:
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, [Problem(table, None, None, f"cannot read {path.name}: {first}")]
    return _with_lines(_as_text(frame)), []


def _duplicate_header_problem(table: str, path: Path) -> Problem | None:
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        header = next(csv.reader(handle), [])
    seen: set[str] = set()
    for name in header:
        if name in seen:
            return Problem(table, 1, name, "column appears twice in the header")
        seen.add(name)
    return None


def _read_folder(folder: Path) -> RawSource:
    source = RawSource(str(folder))
    for name in TABLES:
        csv_path, parquet_path = folder / f"{name}.csv", folder / f"{name}.parquet"
        present = [p for p in (csv_path, parquet_path) if p.is_file()]
        if len(present) == 2:
            message = f"both {csv_path.name} and {parquet_path.name} exist; keep one"
            source.problems.append(Problem(name, None, None, message))
            continue
        if not present:
            continue
        path = present[0]
        source.files.append(path)
        if path.suffix == ".csv":
            duplicate = _duplicate_header_problem(name, path)
            if duplicate is not None:
                source.problems.append(duplicate)
                continue
            frame, problems = _read_csv(name, path)
        else:
            frame, problems = _read_parquet(name, path)
        source.problems.extend(problems)
        if frame is not None:
            source.tables[name] = frame
    return source


def _read_duckdb(path: Path) -> RawSource:
    import duckdb

    source = RawSource(str(path), files=[path])
    try:
        connection = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        message = f"not a dataset folder, and cannot be opened as a DuckDB database: {exc}"
        source.problems.append(Problem(str(path), None, None, message))
        return source
    try:
        present = {row[0] for row in connection.execute("SHOW TABLES").fetchall()}
        for name in TABLES:
            if name not in present:
                continue
            arrow = connection.execute(f'SELECT * FROM "{name}"').arrow()
            frame = pl.from_arrow(arrow)
            assert isinstance(frame, pl.DataFrame)
            source.tables[name] = _with_lines(_as_text(frame))
    finally:
        connection.close()
    return source

"""Reading dataset sources (CSV folder, Parquet folder, DuckDB file) into raw text frames.

Every table is read with *all* columns as text plus a ``__line`` column holding the
file line of each record (header = line 1; for Parquet and DuckDB, row number + 1 with
the first row numbered 1). Parsing and checking happen afterwards in one place
(:mod:`itptrial.data._parse`), so all three sources report problems identically.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from itptrial._errors import Problem
from itptrial.data._paths import FolderContents, folder_contents, table_of, unreadable
from itptrial.data._schema import TABLES

csv.field_size_limit(2**31 - 1)  # long fields are read, then reported by the parser

DUCKDB_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "enable_external_access": False,
}
LINE = "__line"  # the source line of each record
SUBJECT_KEY = "__sid"  # the subject's position in subject_id order (added once loaded)
INTERNAL_COLUMNS = (LINE, SUBJECT_KEY)


@dataclass
class RawSource:
    """The raw text tables of a dataset and the files they came from."""

    location: str
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Tables with records that could not be read (ragged or non-UTF-8 lines): the rows
    # present are checked, but the table cannot vouch for what is absent from it.
    incomplete: set[str] = field(default_factory=set)


def read_source(path: Path) -> RawSource:
    """Read a dataset folder (CSV/Parquet) or a DuckDB database file."""
    if path.is_dir():
        return _read_folder(path)
    if path.is_file():
        not_duckdb = _not_duckdb(path)
        if not_duckdb is None:
            return _read_duckdb(path)
        source = RawSource(str(path))
        source.problems.append(Problem(str(path), None, None, not_duckdb))
        return source
    source = RawSource(str(path))
    why = unreadable(path) if os.path.lexists(path) else None
    message = (
        f"not a dataset folder or DuckDB file: it {why}"
        if why
        else ("no such dataset folder or DuckDB file")
    )
    source.problems.append(Problem(str(path), None, None, message))
    return source


def _not_duckdb(path: Path) -> str | None:
    """Why a file given as DATA is not a DuckDB database (from its first bytes), or None.

    DuckDB is never asked to open anything else: it would try other formats' extensions.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if head[8:12] == b"DUCK":
        return None
    kinds = {b"SQLite format 3\x00": "a SQLite database", b"PAR1": "a single Parquet file"}
    kind = next((name for magic, name in kinds.items() if head.startswith(magic)), None)
    if kind is None and path.suffix.lower() == ".csv":
        kind = "a single CSV file"
    what = f"is {kind}" if kind else "is not a DuckDB database"
    return f"not a dataset: it {what}; DATA is a folder with one file per table, or a DuckDB file"


def with_lines(frame: pl.DataFrame) -> pl.DataFrame:
    """Line = row number + 1, the first row being line 2 (Parquet, DuckDB, frames)."""
    column = pl.int_range(2, frame.height + 2, dtype=pl.Int64, eager=True)
    return frame.with_columns(column.alias(LINE))


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as text (Parquet/DuckDB types are re-parsed like CSV text).

    A plain cast keeps nulls null (booleans become ``true``/``false``). Nested types
    (lists, structs) have no text form: :class:`ValueError` names the column.
    """
    frame = frame.rename({c: c.lstrip("\ufeff") for c in frame.columns})
    nested = [name for name, dtype in frame.schema.items() if dtype.is_nested()]
    if nested:
        raise ValueError(f"column {nested[0]!r} has the nested type {frame.schema[nested[0]]}")
    casts = [
        pl.col(name).cast(pl.String).alias(name)
        for name, dtype in frame.schema.items()
        if dtype != pl.String
    ]
    return frame.with_columns(casts) if casts else frame


def _decode(table: str, name: str, raw: bytes) -> tuple[str, list[Problem]]:
    """The file's text, and one problem per line that is not valid UTF-8.

    Invalid bytes become U+FFFD so the remaining lines can still be checked; only the
    (few) lines holding U+FFFD are re-checked one by one against the original bytes.
    """
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8", errors="replace")
    lines = pl.Series(text.split("\n"), dtype=pl.String)
    candidates = lines.str.contains("\ufffd", literal=True).arg_true().to_list()
    raw_lines = raw.split(b"\n")
    problems = []
    for index in candidates:
        try:
            raw_lines[index].decode("utf-8")
        except UnicodeDecodeError:
            message = f"not valid UTF-8 ({name}); save the file as UTF-8"
            problems.append(Problem(table, index + 1, None, message))
    return text, problems


@dataclass
class _Records:
    """Where each CSV record starts, which are blank lines, and which are ragged."""

    starts: list[int] | pl.Series
    blank: list[bool] | pl.Series
    problems: list[Problem]


def _field_count(expected: int, found: int) -> str:
    return f"expected {expected} fields as in the header, found {found}"


def _records(table: str, text: str) -> _Records:
    """Record start lines, blank lines and field-count problems (blank lines skipped).

    Vectorized when every record is one line (quoted fields are blanked out before
    commas are counted); a file with a quoted field spanning lines takes the exact
    (slower) csv-module path.
    """
    lines = pl.Series("line", text.split("\n"), dtype=pl.String).str.strip_suffix("\r")
    if text.endswith("\n"):
        lines = lines.head(-1)  # the empty string after the final newline is no line
    fields = lines
    if '"' in text:
        if (lines.str.count_matches('"', literal=True) % 2 != 0).any():
            return _records_quoted(table, text)
        fields = lines.str.replace_all(r'"[^"]*"', "")
    commas = fields.str.count_matches(",", literal=True)
    expected = commas[0]
    frame = pl.DataFrame({"commas": commas, "blank": lines.str.len_bytes() == 0})
    frame = frame.with_row_index("line", offset=1).slice(1)
    ragged = frame.filter(~pl.col("blank") & (pl.col("commas") != expected))
    problems = [
        Problem(table, line, None, _field_count(expected + 1, count + 1))
        for line, count in zip(ragged["line"], ragged["commas"], strict=True)
    ]
    return _Records(frame["line"].cast(pl.Int64), frame["blank"], problems)


def _records_quoted(table: str, text: str) -> _Records:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    starts: list[int] = []
    blank: list[bool] = []
    problems = []
    start = reader.line_num + 1
    for record in reader:
        starts.append(start)
        blank.append(not record)
        if record and len(record) != len(header):
            problems.append(Problem(table, start, None, _field_count(len(header), len(record))))
        start = reader.line_num + 1
    return _Records(starts, blank, problems)


def _read_plain_csv(raw: bytes) -> pl.DataFrame | None:
    """The fast path for the usual machine-written file, or None to take the exact path.

    Without quote characters every record is one line, so record i is on line i + 2.
    polars itself rejects invalid UTF-8 and lines with too many fields; a line with too
    few fields, like a blank line, would end in an empty last cell, so any empty last
    cell sends the file down the exact path, which tells these cases apart.
    """
    if b'"' in raw or not raw.strip():
        return None
    try:
        frame = pl.read_csv(io.BytesIO(raw), infer_schema=False, raise_if_empty=False)
    except (pl.exceptions.PolarsError, ValueError):
        return None
    if frame.width == 0 or not _short_lines_absent(raw, frame):
        return None
    return with_lines(as_text(frame))


def _short_lines_absent(raw: bytes, frame: pl.DataFrame) -> bool:
    """True when every record whose last cell is empty really has all its fields.

    Only those records are looked at (each one's physical line is record + 1), so a
    file whose last column is mostly filled costs next to nothing.
    """
    suspects = frame.get_column(frame.columns[-1]).is_null().arg_true().to_numpy()
    if len(suspects) == 0:
        return True
    expected = frame.width - 1
    newlines = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == ord("\n"))
    starts = np.r_[0, newlines + 1]
    ends = np.r_[newlines, len(raw)]
    for record in suspects:
        line = raw[starts[record + 1] : ends[record + 1]].rstrip(b"\r")
        if not line or line.count(b",") != expected:
            return False  # a short or blank line: the exact path reports or skips it
    return True


def read_csv_table(table: str, path: Path) -> tuple[pl.DataFrame | None, list[Problem], bool]:
    """The records as text, the problems, and whether some records could not be read.

    Records on ragged or non-UTF-8 lines are reported and left out; the others are
    still returned so that every problem of the file is found in one run.
    """
    raw = path.read_bytes()
    plain = _read_plain_csv(raw)
    if plain is not None:
        return plain, [], False
    text, problems = _decode(table, path.name, raw)
    if not text.strip():
        return None, [Problem(table, 1, None, f"empty file: no header row ({path.name})")], False
    data = text.encode("utf-8") if problems else raw  # invalid bytes replaced by U+FFFD
    try:
        records = _records(table, text)
        problems += records.problems
        frame = pl.read_csv(
            io.BytesIO(data),
            infer_schema=False,
            raise_if_empty=False,
            truncate_ragged_lines=True,
        )
        frame = as_text(frame)
        if frame.height != len(records.starts):
            raise ValueError("records could not be delimited (check the quotes)")
    except (pl.exceptions.PolarsError, ValueError, csv.Error) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        problems.append(Problem(table, None, None, f"cannot read {path.name}: {first}"))
        return None, problems, True
    starts = pl.Series(LINE, records.starts, dtype=pl.Int64)
    bad = [p.line for p in problems if p.line is not None and p.line > 1]
    # The record holding each bad line (a quoted record may span several lines).
    holders = starts.search_sorted(pl.Series(bad, dtype=pl.Int64), side="right").cast(pl.Int64)
    holders -= 1
    dropped = starts.gather(holders.filter(holders >= 0))
    frame = frame.with_columns(starts, pl.Series("__blank", records.blank, dtype=pl.Boolean))
    # A blank line is not a record (polars reads it as a row of nulls): skip it.
    frame = frame.filter(~pl.col("__blank") & ~pl.col(LINE).is_in(dropped.implode()))
    return frame.drop("__blank"), problems, bool(problems)


def _read_parquet(table: str, path: Path) -> tuple[pl.DataFrame | None, list[Problem]]:
    try:
        frame = as_text(pl.read_parquet(path))
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, [Problem(table, None, None, f"cannot read {path.name}: {first}")]
    return with_lines(frame), []


def duplicate_header_problem(
    table: str, path: Path, fold_case: bool = False, what: str = "column"
) -> Problem | None:
    """The first name that appears twice in a CSV header (``fold_case``: up to case and
    surrounding spaces, as SDTM variable names are compared), or None."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        header = next(csv.reader(handle), [])
    seen: set[str] = set()
    for name in header:
        key = name.strip().upper() if fold_case else name
        if key in seen:
            message = f"{what} appears twice in the header"
            if fold_case:
                message += " (names are case-insensitive)"
            return Problem(table, 1, key, message)
        seen.add(key)
    return None


def _folder_problems(folder: Path, contents: FolderContents) -> list[Problem]:
    """Near misses and unreadable table paths (errors), stray files (one warning)."""
    problems = []
    for table, names in contents.near_misses.items():
        for name in names:
            message = (
                f"file {name!r} is not read: the {table} table must be named exactly "
                f"{table}.csv or {table}.parquet (rename it)"
            )
            problems.append(Problem(table, None, None, message))
    for table, entries in contents.unreadable.items():
        for name, why in entries:
            problems.append(Problem(table, None, None, f"{name} exists but {why}"))
    if contents.strays:
        message = f"not tables of the dataset, so not read: {', '.join(contents.strays)}"
        problems.append(Problem(str(folder), None, None, message, "warning"))
    return problems


def _read_folder(folder: Path) -> RawSource:
    source = RawSource(str(folder))
    try:
        contents = folder_contents(folder)
    except OSError as exc:
        message = f"cannot list the dataset folder ({exc.strerror or exc})"
        source.problems.append(Problem(str(folder), None, None, message))
        return source
    source.problems.extend(_folder_problems(folder, contents))
    for name in TABLES:
        present = contents.tables.get(name, [])
        if name in contents.unreadable or name in contents.near_misses:
            source.incomplete.add(name)  # its records cannot be vouched for
        if len(present) == 2:
            message = f"both {present[0].name} and {present[1].name} exist; keep one"
            source.problems.append(Problem(name, None, None, message))
            continue
        if not present:
            continue
        path = present[0]
        source.files.append(path)
        if path.suffix == ".csv":
            duplicate = duplicate_header_problem(name, path)
            if duplicate is not None:
                source.problems.append(duplicate)
                continue
            frame, problems, incomplete = read_csv_table(name, path)
            if incomplete:
                source.incomplete.add(name)
        else:
            frame, problems = _read_parquet(name, path)
        source.problems.extend(problems)
        if frame is not None:
            source.tables[name] = frame
    return source


def _read_duckdb(path: Path) -> RawSource:
    import duckdb

    source = RawSource(str(path), files=[path])
    try:  # read-only, and no extension is ever installed or loaded (no network)
        connection = duckdb.connect(str(path), read_only=True, config=DUCKDB_CONFIG)
    except duckdb.Error as exc:
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        message = f"not a dataset folder, and cannot be opened as a DuckDB database: {first}"
        source.problems.append(Problem(str(path), None, None, message))
        return source
    try:
        present = {row[0] for row in connection.execute("SHOW TABLES").fetchall()}
        strays = sorted(present - set(TABLES))
        for name in strays:
            table = table_of(name)
            if table is not None:
                message = f"table {name!r} is not read: it must be named exactly {table}"
                source.problems.append(Problem(table, None, None, message))
                source.incomplete.add(table)
        others = [name for name in strays if table_of(name) is None]
        if others:
            message = f"not tables of the dataset, so not read: {', '.join(others)}"
            source.problems.append(Problem(str(path), None, None, message, "warning"))
        for name in TABLES:
            if name not in present:
                continue
            try:
                arrow = connection.sql(f'SELECT * FROM "{name}"').to_arrow_table()
                frame = pl.from_arrow(arrow)
                assert isinstance(frame, pl.DataFrame)
                source.tables[name] = with_lines(as_text(frame))
            except (duckdb.Error, pl.exceptions.PolarsError, ValueError) as exc:
                first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
                source.problems.append(Problem(name, None, None, f"cannot read table: {first}"))
    finally:
        connection.close()
    return source

"""The typed, in-memory trial dataset that everything downstream reads."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import overload

import polars as pl

from itptrial._errors import InputError, Problem, sort_problems
from itptrial.data._parse import (
    PARSED,
    parse_table,
    record_problems,
    subject_keys,
    subject_problems,
)
from itptrial.data._read import INTERNAL_COLUMNS, LINE, SUBJECT_KEY, RawSource, read_source
from itptrial.data._schema import DATE_COLUMN, DTYPES, SCHEMA, TABLES
from itptrial.data._warnings import (
    before_randomization,
    contact_before_randomization,
    doses_of_never_treated,
    out_of_range_dates,
)
from itptrial.protocol import Protocol


class _Table:
    """A table of a :class:`Dataset` as an attribute (``data.platelets``), clean."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, dataset: None, owner: type) -> _Table: ...
    @overload
    def __get__(self, dataset: Dataset, owner: type) -> pl.DataFrame: ...
    def __get__(self, dataset: Dataset | None, owner: type) -> _Table | pl.DataFrame:
        return self if dataset is None else dataset.table(self.name)


class Dataset:
    """A validated trial dataset: one typed polars frame per table of docs/data.md.

    ``subjects``, ``platelets``, ... (and :meth:`table`) are clean frames: the columns
    of docs/data.md in their types, then any extra input columns as text. Optional
    tables that were absent are empty frames with the right columns.

    Inside, every frame also keeps the source line of each record (for messages) and
    an integer subject key: the subject's position in ``subject_id`` order, much faster
    to join and group on than the id. :meth:`keyed` gives a table with that key in the
    column :data:`SUBJECT_KEY`, for the endpoint engine.
    """

    __slots__ = ("_frames", "files", "source", "warnings")

    def __init__(
        self,
        frames: Mapping[str, pl.DataFrame],
        warnings: tuple[Problem, ...] = (),
        source: str = "",
        files: tuple[Path, ...] = (),
    ) -> None:
        self._frames = dict(frames)
        self.warnings = warnings
        self.source = source
        self.files = files

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={frame.height}" for name, frame in self._frames.items())
        return f"Dataset({self.source!r}: {sizes})"

    def table(self, name: str) -> pl.DataFrame:
        """A table by name, without the internal line and key columns."""
        return self._frames[name].drop(INTERNAL_COLUMNS, strict=False)

    def keyed(self, name: str) -> pl.DataFrame:
        """A table with each record's integer subject key in :data:`SUBJECT_KEY`."""
        return self._frames[name].drop(LINE, strict=False)

    subjects = _Table()
    platelets = _Table()
    rescue = _Table()
    bleeding = _Table()
    adverse_events = _Table()
    doses = _Table()
    drug_levels = _Table()

    def input_sha256(self) -> str:
        """SHA-256 identifying this input: over the input files' bytes (in table order),
        or, for a dataset built from frames (simulated, web), over its tables as CSV."""
        digest = hashlib.sha256()
        if self.files:
            for path in self.files:
                digest.update(path.name.encode())
                digest.update(b"\0")
                digest.update(path.read_bytes())
            return digest.hexdigest()
        for name in TABLES:
            digest.update(name.encode() + b"\0")
            digest.update(self.table(name).write_csv().encode())
        return digest.hexdigest()


def _empty_typed(name: str, keys: pl.Enum) -> pl.DataFrame:
    schema = {c.name: DTYPES[c.kind] for c in TABLES[name].columns}
    key_type = pl.Series(dtype=keys).to_physical().dtype
    return pl.DataFrame(schema={**schema, LINE: pl.Int64, SUBJECT_KEY: key_type})


def _by_subject(by_key: pl.DataFrame, column: str, records: pl.DataFrame) -> pl.Series:
    """A subject column looked up for each record through its integer subject key
    (``by_key``: the subjects sorted by that key, so row k is subject k)."""
    return by_key.get_column(column).gather(records.get_column(SUBJECT_KEY))


def _no_baseline_warnings(
    subjects: pl.DataFrame, platelets: pl.DataFrame, window: int
) -> list[Problem]:
    day0 = _by_subject(subjects, "treatment_start_date", platelets)
    t = (platelets.get_column("date") - day0).dt.total_days()
    with_baseline = platelets.filter(t.is_between(-window, 0)).get_column(SUBJECT_KEY).unique()
    missing = subjects.filter(
        pl.col("treatment_start_date").is_not_null()
        & ~pl.col(SUBJECT_KEY).is_in(with_baseline.implode())
    ).sort(LINE)
    return [
        Problem(
            "subjects",
            line,
            "subject_id",
            f"subject '{sid}' has no platelet count in the baseline window "
            f"(days -{window} to 0): not evaluable",
            "warning",
        )
        for line, sid in missing.select(LINE, "subject_id").iter_rows()
    ]


def _after_last_contact(table: str, frame: pl.DataFrame, subjects: pl.DataFrame) -> list[Problem]:
    date_column = DATE_COLUMN[table]
    last = _by_subject(subjects, "last_contact_date", frame)
    late = frame.with_columns(last.alias("last_contact_date")).filter(
        pl.col(date_column) > pl.col("last_contact_date")
    )
    return [
        Problem(
            table,
            row[LINE],
            date_column,
            f"record dated {row[date_column]} is after last_contact_date "
            f"{row['last_contact_date']} of subject '{row['subject_id']}'",
            "warning",
        )
        for row in late.sort(LINE).iter_rows(named=True)
    ]


def raw_problems(raw: RawSource, protocol: Protocol | None) -> list[Problem]:
    """Every problem of the raw tables' records (no dataset is made): for an importer
    that has found errors of its own and wants the loader's too, in one list."""
    return _parsed(raw, protocol)[0]


def _parsed(
    raw: RawSource, protocol: Protocol | None
) -> tuple[list[Problem], dict[str, pl.DataFrame], pl.Enum | None]:
    """The problems, the typed tables and the subject keys (None: no complete subjects)."""
    problems = list(raw.problems)
    unreadable = any(p.where == raw.location and p.severity == "error" for p in problems)
    for table in () if unreadable else SCHEMA:
        if (
            table.required
            and table.name not in raw.tables
            and not any(p.where == table.name for p in problems)
        ):
            problems.append(Problem(table.name, None, None, "missing required table"))
    arms = protocol.arm_codes if protocol is not None else None
    typed: dict[str, pl.DataFrame] = {}
    for table in SCHEMA:
        if table.name in raw.tables:
            frame, cell_problems = parse_table(table, raw.tables[table.name], arms)
            problems += cell_problems
            typed[table.name] = frame
    # Conflicts and repeats are checked in every table read; orphans only against a
    # subjects table that lists every subject (present, with subject_id, all lines read).
    keys = None
    if "subjects" in typed:
        problems += subject_problems(typed["subjects"])
        if "subject_id" in raw.tables["subjects"].columns and "subjects" not in raw.incomplete:
            keys = subject_keys(typed["subjects"].get_column("subject_id"))
    for name, frame in list(typed.items()):
        if name != "subjects":
            typed[name], found = record_problems(TABLES[name], frame, keys)
            problems += found
    return problems, typed, keys


def dataset_from_raw(raw: RawSource, protocol: Protocol | None) -> Dataset:
    """Parse and check raw text tables; raise :class:`InputError` listing every error."""
    problems, typed, keys = _parsed(raw, protocol)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise InputError(problems, source=raw.location)
    assert keys is not None  # without a complete subjects table there were errors
    tables = {
        name: typed[name].drop(PARSED) if name in typed else _empty_typed(name, keys)
        for name in TABLES
    }
    tables["subjects"] = tables["subjects"].with_columns(
        pl.col("subject_id").cast(keys).to_physical().alias(SUBJECT_KEY)
    )
    warnings = [p for p in problems if p.severity == "warning"]
    by_key = tables["subjects"].sort(SUBJECT_KEY)  # sorted once for every lookup below
    for name in DATE_COLUMN:
        warnings += _after_last_contact(name, tables[name], by_key)
    # The baseline window is the protocol's: without one, no warning depends on it.
    window = protocol.endpoints.baseline_window if protocol is not None else None
    if window is not None:
        warnings += _no_baseline_warnings(by_key, tables["platelets"], window)
    warnings += out_of_range_dates(tables)
    warnings += before_randomization(tables, by_key, window)
    warnings += doses_of_never_treated(tables, by_key)
    warnings += contact_before_randomization(tables["subjects"])
    return Dataset(
        tables,
        warnings=tuple(sort_problems(warnings)),
        source=raw.location,
        files=tuple(raw.files),
    )


def load_dataset(path: str | Path, protocol: Protocol | None = None) -> Dataset:
    """Load and validate a dataset folder (CSV/Parquet) or DuckDB file (docs/data.md).

    With a protocol, arm codes are checked against it and the warnings that depend on
    the baseline window (no baseline count; a count before randomization and before the
    window) use its ``baseline_window``; without one, those warnings are not given.
    Raises :class:`InputError` with every problem found.
    """
    return dataset_from_raw(read_source(Path(path)), protocol)


def dataset_from_frames(
    tables: Mapping[str, pl.DataFrame], protocol: Protocol | None = None, source: str = "<frames>"
) -> Dataset:
    """Validate in-memory tables (any column types) exactly as files would be.

    Used by the simulator and the web app: their output goes through the same checks
    as user files. Line numbers refer to row number + 1 (first row = line 2).
    """
    from itptrial.data._read import as_text, with_lines

    raw = RawSource(source)
    for name, frame in tables.items():
        if name not in TABLES:
            raise ValueError(f"unknown table {name!r}")
        raw.tables[name] = with_lines(as_text(frame))
    return dataset_from_raw(raw, protocol)

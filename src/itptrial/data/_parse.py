"""Parsing raw text tables into typed frames, collecting every problem of docs/data.md.

Checks are vectorized: each column gets a "parsed value" expression and an "error
message" expression (null when the value is fine); only the failing rows ever become
Python objects. Cross-record checks (duplicates, conflicts, orphans) run on the rows
whose own values parsed, so one bad cell does not cascade into a screenful of errors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from itptrial._errors import Problem, Severity
from itptrial.data._read import LINE, SUBJECT_KEY
from itptrial.data._schema import Column, Table

_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_ERR = "__err_"
PARSED = "__ok"  # per record: every cell of it parsed (made by parse_table)


QUOTED_CHARS = 60  # a value quoted in a message is cut after this many characters
MAX_CELL_BYTES = 4096  # no value of a schema column is this long; extra columns are free


MISSING_COLUMN = "missing required column"


def quoted(raw: pl.Expr) -> pl.Expr:
    """The cell as written, in quotes (cut, with its length, when long)."""
    long = raw.str.len_chars() > QUOTED_CHARS
    cut = raw.str.slice(0, QUOTED_CHARS) + pl.lit("…(") + raw.str.len_chars().cast(pl.String)
    return (
        pl.lit("'") + pl.when(long).then(cut + pl.lit(" characters)")).otherwise(raw) + pl.lit("'")
    )


def _is_empty(raw: pl.Expr) -> pl.Expr:
    return raw.is_null() | (raw.str.strip_chars() == "")


def _bounds_error(value: pl.Expr, raw: pl.Expr, column: Column, what: str) -> pl.Expr | None:
    """Out-of-range message, quoting the cell as written (``count above 5000: '5001'``)."""
    checks: list[tuple[pl.Expr, str]] = []
    if column.low is not None:
        checks.append((value < column.low, f"{what} below {column.low:g}: "))
    if column.high is not None:
        checks.append((value > column.high, f"{what} above {column.high:g}: "))
    if not checks:
        return None
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for condition, message in reversed(checks):
        expr = pl.when(condition).then(pl.lit(message) + quoted(raw)).otherwise(expr)
    return expr


_VALUE = "__value_"


def _parse_column(column: Column, arms: Sequence[str] | None) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(parsed value, "cell is bad" flag, error message) expressions for one column.

    The value is computed once into ``__value_<name>``; the flag reads it and runs on
    every row; the message builds strings, so it only runs on the few flagged rows.
    """
    raw = pl.col(column.name)
    parsed = pl.col(_VALUE + column.name)
    empty = _is_empty(raw)
    value: pl.Expr
    bad: pl.Expr | None  # the value is present but invalid
    invalid: pl.Expr | None
    if column.kind in ("id", "text"):
        value, bad, invalid = raw, None, None
    elif column.kind == "date":
        value = raw.str.to_date("%Y-%m-%d", strict=False)
        bad = parsed.is_null() | ~raw.str.contains(_ISO_DATE) | (parsed.dt.year() < 1)
        invalid = (
            pl.when(parsed.dt.year() < 1)
            .then(pl.lit("impossible date ") + quoted(raw) + pl.lit(" (there is no year 0)"))
            .otherwise(pl.lit("unparseable date ") + quoted(raw) + pl.lit(" (expected YYYY-MM-DD)"))
        )
    elif column.kind in ("number", "integer"):
        value = raw.cast(pl.Float64, strict=False)
        bad, invalid = _number_checks(column, parsed, raw)
    elif column.kind == "boolean":
        value = raw.str.to_lowercase()
        bad = ~parsed.is_in(["true", "false"])
        invalid = pl.lit("expected true or false, found ") + quoted(raw)
    elif column.kind == "sex":
        value, bad = raw, ~raw.is_in(["M", "F"])
        invalid = pl.lit("expected M or F, found ") + quoted(raw)
    elif column.kind == "arm":
        value, bad, invalid = raw, None, None
        if arms is not None:
            known = ", ".join(arms)
            bad = ~raw.is_in(list(arms))
            invalid = (
                pl.lit("unknown arm code ") + quoted(raw) + pl.lit(f" (protocol arms: {known})")
            )
    else:  # pragma: no cover - the schema only uses the kinds above
        raise AssertionError(column.kind)

    if column.kind in ("date", "number", "integer") and column.required:
        flag = bad if bad is not None else pl.lit(False)  # an empty cell does not parse
    else:
        flag = empty if column.required else pl.lit(False)
        if bad is not None:
            flag = flag | (~empty & bad.fill_null(True))
    long = (raw.str.len_bytes() > MAX_CELL_BYTES).fill_null(False)
    empty_message = pl.lit(f"empty {column.name}" if column.required else None, dtype=pl.String)
    error = (
        pl.when(long)
        .then(pl.lit(f"value longer than {MAX_CELL_BYTES} bytes: ") + quoted(raw))
        .when(empty)
        .then(empty_message)
        .otherwise(pl.when(bad.fill_null(True)).then(invalid) if bad is not None else pl.lit(None))
    )
    return value.alias(_VALUE + column.name), (flag.fill_null(True) | long), error


def _number_checks(column: Column, number: pl.Expr, raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """("bad" flag, message) for a number or integer column, bounds included."""
    what = "count" if column.name == "count" else column.name
    kind_word = "integer" if column.kind == "integer" else "number"
    bad = number.is_null() | ~number.is_finite()
    message = (
        pl.when(number.is_null())
        .then(pl.lit(f"unparseable {kind_word} ") + quoted(raw))
        .when(~number.is_finite())
        .then(pl.lit(f"non-finite {what} ") + quoted(raw))
    )
    if column.kind == "integer":
        bad = bad | (number != number.floor())
        message = message.when(number != number.floor()).then(
            pl.lit("not a whole number ") + quoted(raw)
        )
    if column.low is not None:
        bad = bad | (number < column.low)
    if column.high is not None:
        bad = bad | (number > column.high)
    bounds = _bounds_error(number, raw, column, what)
    return bad, message.otherwise(bounds if bounds is not None else pl.lit(None))


def _typed(column: Column) -> pl.Expr:
    """The final typed column from its parsed value (empty cells are null, and so are
    failing dates and numbers: a lenient parse of a bad cell is never used)."""
    value = pl.col(_VALUE + column.name)
    if column.kind in ("date", "number", "integer"):
        value = pl.when(pl.col(_ERR + column.name)).then(None).otherwise(value)
    if column.kind == "integer":
        value = value.cast(pl.Int64, strict=False)  # failing cells (nan, 1e30) are null
    elif column.kind == "boolean":
        value = value == "true"
    elif column.kind in ("id", "text", "sex", "arm"):
        value = pl.when(_is_empty(pl.col(column.name))).then(None).otherwise(value)
    return value.alias(column.name)


def _near_miss_headers(table: Table, header: Sequence[str]) -> list[Problem]:
    """Header names that match a schema column only after trimming spaces or ignoring
    case (``Treatment_Start_Date``, ``age ``): an error, since the column would otherwise
    be read as absent."""
    schema = {name.lower(): name for name in table.column_names}
    problems = []
    for name in header:
        wanted = schema.get(name.strip().lower())
        if wanted is not None and wanted != name:
            message = (
                f"column {name!r} is not read: the schema's column is {wanted!r} "
                "(check its case and spaces)"
            )
            problems.append(Problem(table.name, 1, name, message))
    return problems


def parse_table(
    table: Table, raw: pl.DataFrame, arms: Sequence[str] | None
) -> tuple[pl.DataFrame, list[Problem]]:
    """Typed frame (all rows, failing cells null) plus the problems of each cell.

    The returned frame has a boolean :data:`PARSED` column: every cell of the row parsed.
    A missing required column is reported once (at line 1) and the columns present are
    still checked cell by cell, so one run lists every problem; no row of such a table
    is ``__ok``, which keeps it out of the cross-record checks.
    """
    missing = [c.name for c in table.columns if c.required and c.name not in raw.columns]
    problems = _near_miss_headers(table, raw.columns)
    problems += [Problem(table.name, 1, name, MISSING_COLUMN) for name in missing]
    absent = [c.name for c in table.columns if c.name not in raw.columns]
    raw = raw.with_columns(pl.lit(None, dtype=pl.String).alias(name) for name in absent)
    checks = {c.name: _parse_column(c, arms) for c in table.columns}
    flagged = raw.with_columns(value for value, _, _ in checks.values()).with_columns(
        (pl.lit(False) if name in missing else flag).alias(_ERR + name)
        for name, (_, flag, _) in checks.items()
    )
    any_bad = pl.any_horizontal(pl.col(_ERR + name) for name in checks)
    bad_rows = flagged.filter(any_bad)
    for name, (_, _, message) in checks.items():
        errors = bad_rows.filter(pl.col(_ERR + name)).select(LINE, message.alias("message"))
        problems += [
            Problem(table.name, line, name, text)
            for line, text in errors.iter_rows()
            if text is not None
        ]
    ok = pl.lit(False) if missing else ~any_bad
    parsed = flagged.with_columns(ok.alias(PARSED), *(_typed(c) for c in table.columns))
    helpers = [prefix + name for name in checks for prefix in (_ERR, _VALUE)]
    return parsed.drop(helpers), problems


def duplicate_id_problems(frame: pl.DataFrame, table: str, column: str) -> list[Problem]:
    """Every record after the first with the same (non-empty) id in ``column``."""
    return _repeat_problems(
        frame.filter(pl.col(column).is_not_null()),
        table,
        [column],
        lambda row: f"duplicate {column} '{row[column]}' (first at line {row['first']})",
        column=column,
    )


def orphan_message(column: str, value: str, table: str) -> str:
    """A record whose subject is not in the table of subjects (one wording everywhere)."""
    return f"{column} '{value}' is not in {table}"


def subject_problems(subjects: pl.DataFrame) -> list[Problem]:
    """Duplicate subject ids and treatment starts before randomization."""
    problems = duplicate_id_problems(subjects, "subjects", "subject_id")
    early = subjects.filter(pl.col("treatment_start_date") < pl.col("randomization_date"))
    problems.extend(
        Problem(
            "subjects",
            row[LINE],
            "treatment_start_date",
            f"treatment_start_date {row['treatment_start_date']} is before "
            f"randomization_date {row['randomization_date']}",
        )
        for row in early.iter_rows(named=True)
    )
    return problems


def _repeat_problems(
    frame: pl.DataFrame,
    table: str,
    key: list[str],
    message: Callable[[dict[str, Any]], str],
    column: str | None = None,
    severity: Severity = "error",
) -> list[Problem]:
    """One problem at every record after the first of each group sharing ``key``.

    ``message`` receives the record's values plus ``first`` (the first record's line).
    """
    ranked = (
        frame.sort(LINE)
        .with_columns(pl.col(LINE).first().over(key).alias("first"))
        .filter(pl.col(LINE) != pl.col("first"))
    )
    return [
        Problem(table, row[LINE], column, message(row), severity)
        for row in ranked.iter_rows(named=True)
    ]


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _may_repeat(frame: pl.DataFrame, key: list[str]) -> bool:
    """False when no two records share ``key`` (fast: one 64-bit hash per record).

    A hash collision only sends the table down the exact (slower) path, never the
    other way: distinct hashes prove distinct keys.
    """
    if frame.height < 2:
        return False
    hashes = frame.select(pl.struct(key).hash(seed=0)).to_series()
    return hashes.n_unique() < frame.height


def subject_keys(subject_ids: pl.Series) -> pl.Enum:
    """The subjects' ids as an enum: its integer codes are the subject keys (position in
    subject_id order), and casting a record's id to it is a fast hash lookup."""
    return pl.Enum(sorted(subject_ids.drop_nulls().unique().to_list()))


def record_problems(
    table: Table, frame: pl.DataFrame, subjects: pl.Enum | None
) -> tuple[pl.DataFrame, list[Problem]]:
    """Orphan records, conflicting values, and identical repeats (warned, used once).

    ``subjects`` (from :func:`subject_keys`) is None when the subjects table cannot say
    which subjects exist (missing, unreadable, or with unreadable lines): orphans are
    then not checked. Returns the frame without the repeats (first occurrence kept),
    with each record's subject key in ``__sid`` when known, and the problems.
    """
    values = list(table.column_names)
    problems: list[Problem] = []
    if subjects is not None:
        key = pl.col("subject_id").cast(subjects, strict=False).to_physical()
        frame = frame.with_columns(key.alias(SUBJECT_KEY))
        orphan = frame.filter(pl.col("subject_id").is_not_null() & pl.col(SUBJECT_KEY).is_null())
        problems += [
            Problem(table.name, line, "subject_id", orphan_message("subject_id", sid, "subjects"))
            for line, sid in orphan.select(LINE, "subject_id").iter_rows()
        ]
    valid = frame.filter(pl.col(PARSED)).select(LINE, *values)
    if not _may_repeat(valid, list(table.key) or values):
        return frame, problems  # the usual case, decided by one hash pass
    if table.key:
        # Every record after the first of its (subject, date) whose value differs from
        # the first record's value is a conflict; equal values are identical repeats.
        value = next(c for c in values if c not in table.key)
        conflicting = (
            valid.sort(LINE)
            .with_columns(
                pl.col(LINE).first().over(list(table.key)).alias("first"),
                pl.col(value).first().over(list(table.key)).alias("first_value"),
            )
            .filter(pl.col(value) != pl.col("first_value"))
        )
        problems += [
            Problem(
                table.name,
                row[LINE],
                value,
                f"conflicting {value} {_number(row[value])} for subject "
                f"'{row['subject_id']}' on {row[table.key[1]]} (line {row['first']} has "
                f"{_number(row['first_value'])})",
            )
            for row in conflicting.iter_rows(named=True)
        ]
    problems += _repeat_problems(
        valid,
        table.name,
        values,
        lambda row: f"identical repeated record (first at line {row['first']}); used once",
        severity="warning",
    )
    return frame.unique(subset=values, keep="first", maintain_order=True), problems

"""The native dataset schema of docs/data.md, as data: tables, columns and value kinds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

Kind = Literal["id", "text", "date", "number", "integer", "boolean", "sex", "arm"]

# The polars type of each kind of column once loaded.
DTYPES: dict[Kind, type[pl.DataType]] = {
    "id": pl.String,
    "text": pl.String,
    "date": pl.Date,
    "number": pl.Float64,
    "integer": pl.Int64,
    "boolean": pl.Boolean,
    "sex": pl.String,
    "arm": pl.String,
}


@dataclass(frozen=True)
class Column:
    """A column of a table: ``required`` means the value may not be empty."""

    name: str
    kind: Kind
    required: bool = True
    low: float | None = None  # inclusive bounds for numbers and integers
    high: float | None = None


@dataclass(frozen=True)
class Table:
    name: str
    required: bool
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()  # columns identifying "the same record" for duplicates

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


SUBJECT_ID = Column("subject_id", "id")

SCHEMA: tuple[Table, ...] = (
    Table(
        "subjects",
        required=True,
        columns=(
            SUBJECT_ID,
            Column("site_id", "text"),
            Column("arm", "arm"),
            Column("randomization_date", "date"),
            Column("treatment_start_date", "date", required=False),
            Column("stratum", "text", required=False),
            Column("sex", "sex", required=False),
            Column("age", "number", required=False, low=0, high=130),
            Column("last_contact_date", "date", required=False),
        ),
    ),
    Table(
        "platelets",
        required=True,
        columns=(SUBJECT_ID, Column("date", "date"), Column("count", "number", low=0, high=5000)),
        key=("subject_id", "date"),
    ),
    Table(
        "rescue",
        required=False,
        columns=(SUBJECT_ID, Column("start_date", "date"), Column("treatment", "text")),
    ),
    Table(
        "bleeding",
        required=False,
        columns=(SUBJECT_ID, Column("date", "date"), Column("who_grade", "integer", low=0, high=4)),
    ),
    Table(
        "adverse_events",
        required=False,
        columns=(
            SUBJECT_ID,
            Column("term", "text"),
            Column("start_date", "date"),
            Column("ctcae_grade", "integer", low=1, high=5),
            Column("serious", "boolean"),
            Column("related", "boolean"),
        ),
    ),
    Table(
        "doses",
        required=False,
        columns=(
            SUBJECT_ID,
            Column("date", "date"),
            Column("drug", "text"),
            Column("dose_mg", "number", low=0, high=100000),
        ),
    ),
    Table(
        "drug_levels",
        required=False,
        columns=(
            SUBJECT_ID,
            Column("date", "date"),
            Column("drug", "text"),
            Column("trough_ng_ml", "number", low=0, high=100000),
        ),
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in SCHEMA}

# The column holding each table's record date (used for horizon and last-contact checks).
DATE_COLUMN: dict[str, str] = {
    "platelets": "date",
    "rescue": "start_date",
    "bleeding": "date",
    "adverse_events": "start_date",
    "doses": "date",
    "drug_levels": "date",
}

"""The warnings of docs/data.md that need more than one table: records a user should look
at, which loading still uses (dates out of range, records before randomization, doses of
a never-treated subject, a last contact before randomization)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from itptrial._errors import Problem
from itptrial.data._read import LINE, SUBJECT_KEY
from itptrial.data._schema import TABLES

EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2100, 12, 31)
BEFORE_RANDOMIZATION = {  # table -> its date column, for "dated before randomization"
    "rescue": "start_date",
    "adverse_events": "start_date",
    "platelets": "date",
}


def _by_subject(by_key: pl.DataFrame, column: str, records: pl.DataFrame) -> pl.Series:
    """A subject column looked up for each record through its integer subject key."""
    return by_key.get_column(column).gather(records.get_column(SUBJECT_KEY))


def out_of_range_dates(tables: dict[str, pl.DataFrame]) -> list[Problem]:
    """Every date before 1900 or after 2100 (a typo in the year, usually)."""
    problems = []
    for name, table in TABLES.items():
        frame = tables[name]
        for column in (c.name for c in table.columns if c.kind == "date"):
            odd = frame.filter(~pl.col(column).is_between(EARLIEST, LATEST)).sort(LINE)
            problems += [
                Problem(name, line, column, f"date {value} is before 1900 or after 2100", "warning")
                for line, value in odd.select(LINE, column).iter_rows()
            ]
    return problems


def before_randomization(
    tables: dict[str, pl.DataFrame], by_key: pl.DataFrame, window: int | None
) -> list[Problem]:
    """Rescue, adverse events and counts dated before the subject's randomization (a
    count only when it is also more than ``window`` days before Day 0: screening counts
    in the baseline window often precede randomization; with no window, no protocol
    says which counts are screening counts, so counts are not looked at)."""
    problems = []
    for name, column in BEFORE_RANDOMIZATION.items():
        if name == "platelets" and window is None:
            continue
        records = tables[name]
        randomized = _by_subject(by_key, "randomization_date", records)
        early = records.with_columns(randomized.alias("randomized")).filter(
            pl.col(column) < pl.col("randomized")
        )  # usually few: the Day 0 look-up below runs on these alone
        if name == "platelets" and window is not None:
            day0 = _by_subject(by_key, "treatment_start_date", early)
            in_window = (early.get_column(column) - day0).dt.total_days() >= -window
            early = early.filter(~in_window.fill_null(False))
        problems += [
            Problem(
                name,
                row[LINE],
                column,
                f"record dated {row[column]} is before randomization_date {row['randomized']} "
                f"of subject '{row['subject_id']}'",
                "warning",
            )
            for row in early.sort(LINE).iter_rows(named=True)
        ]
    return problems


def doses_of_never_treated(tables: dict[str, pl.DataFrame], by_key: pl.DataFrame) -> list[Problem]:
    """One warning per never-treated subject with dose records, at the first of them."""
    doses = tables["doses"]
    untreated = doses.filter(_by_subject(by_key, "treatment_start_date", doses).is_null())
    first = (
        untreated.sort(LINE)
        .group_by("subject_id", maintain_order=True)
        .agg(pl.col(LINE).first(), pl.len().alias("records"))
    )
    return [
        Problem(
            "doses",
            line,
            "subject_id",
            f"subject '{sid}' has {n} dose record(s) but no treatment_start_date (never treated)",
            "warning",
        )
        for sid, line, n in first.select("subject_id", LINE, "records").iter_rows()
    ]


def contact_before_randomization(subjects: pl.DataFrame) -> list[Problem]:
    """A last_contact_date before randomization: one warning for the subject."""
    early = subjects.filter(pl.col("last_contact_date") < pl.col("randomization_date"))
    return [
        Problem(
            "subjects",
            row[LINE],
            "last_contact_date",
            f"last_contact_date {row['last_contact_date']} is before randomization_date "
            f"{row['randomization_date']}",
            "warning",
        )
        for row in early.sort(LINE).iter_rows(named=True)
    ]

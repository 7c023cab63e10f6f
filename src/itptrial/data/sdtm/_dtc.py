"""ISO 8601 ``--DTC`` values (SDTMIG v3.x, section 4.4) to calendar dates, with partial
dates rejected or imputed.

A complete value is a date ``YYYY-MM-DD``, optionally followed by a valid time
(``T14``, ``T14:30``, ``T14:30:05``, ``T14:30:05.250``): its date part is the record's
date. A partial value is ``YYYY``, ``YYYY-MM`` or ``YYYY---DD`` (month unknown). Imputing
the first day follows admiral's ``impute_dtc_dt(highest_imputation = "M",
date_imputation = "first")`` (pharmaverse, admiral reference "impute_dtc_dt"): a missing
day becomes 01 and a missing month becomes January 1st (the day is dropped with the
month, as admiral does: ``2019---07`` -> ``2019-01-01``). With a reference date, an
imputed date never falls before the reference when the partial period contains it:
admiral's ``min_dates``, used so that an event in the month treatment started is not
imputed to a day before Day 0.

Anything else (``2021-02-30``, ``2021-3-5``, ``2021-03-04T25:00``, ``03/05/2021``) is
passed on unchanged, so that the native loader reports it with its one wording
(``unparseable date``).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

_TIME = r"(T([01]\d|2[0-3])(:[0-5]\d(:[0-5]\d(\.\d+)?)?)?)?"
COMPLETE = rf"^\d{{4}}-\d{{2}}-\d{{2}}{_TIME}$"
YEAR = r"^\d{4}$"
YEAR_MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
YEAR_DAY = r"^\d{4}---(0[1-9]|[12]\d|3[01])$"


@dataclass(frozen=True)
class Dtc:
    """Expressions over one ``--DTC`` variable: its complete date (text ``YYYY-MM-DD``
    or the raw value to be reported as unparseable), whether it is partial, and the
    first day it may be (for imputation)."""

    variable: str

    @property
    def raw(self) -> pl.Expr:
        return pl.col(self.variable)

    @property
    def is_partial(self) -> pl.Expr:
        raw = self.raw
        return (
            raw.str.contains(YEAR) | raw.str.contains(YEAR_MONTH) | raw.str.contains(YEAR_DAY)
        ).fill_null(False)

    @property
    def complete(self) -> pl.Expr:
        """The date part of a complete value, the raw value otherwise (null stays null)."""
        raw = self.raw
        date_part = raw.str.slice(0, 10)
        calendar = date_part.str.to_date("%Y-%m-%d", strict=False).is_not_null()
        return pl.when(raw.str.contains(COMPLETE) & calendar).then(date_part).otherwise(raw)

    def imputed(self, reference: pl.Expr | None = None) -> pl.Expr:
        """The first possible day of a partial value (admiral "first"), not before
        ``reference`` (a date) when the partial period contains it; null otherwise."""
        raw = self.raw
        year = raw.str.slice(0, 4)
        first = (
            pl.when(raw.str.contains(YEAR_MONTH))
            .then(raw + pl.lit("-01"))
            .when(raw.str.contains(YEAR) | raw.str.contains(YEAR_DAY))
            .then(year + pl.lit("-01-01"))
        )
        if reference is None:
            return first
        start = first.str.to_date("%Y-%m-%d", strict=False)
        last = (
            pl.when(raw.str.contains(YEAR_MONTH))
            .then(start.dt.month_end())
            .otherwise((year + pl.lit("-12-31")).str.to_date("%Y-%m-%d", strict=False))
        )
        inside = (reference > start) & (reference <= last)
        return (
            pl.when(inside.fill_null(False))
            .then(reference.dt.strftime("%Y-%m-%d"))
            .otherwise(first)
        )


def partial_message(value_quoted: pl.Expr, never_imputed: bool = False) -> pl.Expr:
    """The error for a partial date: the mapping rejects them (the default), or this date
    is one that is never imputed (a reference date every study day counts from)."""
    remedy = (
        "; dates of randomization, Day 0 and exposure are never imputed"
        if never_imputed
        else ' (or impute the first day with [dates] partial = "first" in the mapping)'
    )
    return (
        pl.lit("partial date ")
        + value_quoted
        + pl.lit(": a complete date YYYY-MM-DD is needed" + remedy)
    )

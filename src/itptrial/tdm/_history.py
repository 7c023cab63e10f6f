"""A patient's tacrolimus history: doses, missed doses, troughs and dexamethasone days at
their real times, read strictly from CSV ``datetime, event, value`` (docs/tdm.md).

Events: ``dose`` (mg taken), ``missed`` (a planned dose not taken; value optional, the
planned mg), ``trough`` (measured pre-dose whole-blood concentration, ng/mL) and
``dexamethasone`` (mg of a high-dose dexamethasone course day: the calendar day is an
induction day). Times are hours from midnight of the first event's day.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from itptrial._errors import InputError, Problem

COLUMNS = ("datetime", "event", "value")
EVENTS = ("dose", "missed", "trough", "dexamethasone")
HOURS_PER_DAY = 24.0
# Plausibility limits (issue 12): warnings, not errors
HIGH_TROUGH_NG_ML = 30.0
HIGH_DAILY_DOSE_MG = 10.0
MIN_HOURS_AFTER_DOSE = 10.0
# Input limits (errors): no dose or level is above 1,000 (mg or ng/mL), and a history
# spans at most 400 days (the PK is solved hour by hour over the whole span)
MAX_VALUE = 1000.0
MAX_SPAN_DAYS = 400


@dataclass(frozen=True)
class History:
    """The parsed history, times in hours from ``origin`` (midnight of the first day)."""

    origin: dt.datetime
    dose_times_h: np.ndarray
    doses_mg: np.ndarray
    missed_times_h: np.ndarray
    trough_times_h: np.ndarray
    troughs_ng_ml: np.ndarray
    trough_lines: tuple[int, ...]  # file line of each trough (for warnings)
    dexamethasone_days: tuple[int, ...]  # day numbers (0 = origin's day)

    @property
    def days(self) -> int:
        """Calendar days spanned, to the last event's day inclusive."""
        times = np.concatenate([self.dose_times_h, self.trough_times_h, [0.0]])
        last = max(float(times.max()), HOURS_PER_DAY * max(self.dexamethasone_days, default=0))
        return int(last // HOURS_PER_DAY) + 1

    def dex_mask(self, days: int) -> np.ndarray:
        """(days,) True on a dexamethasone course day."""
        mask = np.zeros(days, dtype=bool)
        for day in self.dexamethasone_days:
            if day < days:
                mask[day] = True
        return mask


TIME_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?")
NUMBER_FORMAT = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")


def _parse_time(text: str) -> dt.datetime | None:
    """``YYYY-MM-DD HH:MM[:SS]`` (or with ``T``), local time without a zone; nothing
    looser (a date alone would silently mean midnight)."""
    if not TIME_FORMAT.fullmatch(text):
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def _parse_value(event: str, text: str) -> tuple[float | None, str | None]:
    """The value, or the reason it is not one."""
    if not text.strip():
        return (None, None) if event == "missed" else (None, "is empty; give a number")
    if not NUMBER_FORMAT.fullmatch(text.strip()):
        return None, f"{text!r} is not a plain decimal number such as 1.5"
    value = float(text)
    if not math.isfinite(value) or not 0 <= value <= MAX_VALUE:
        return None, f"{text!r} must be a number from 0 to {MAX_VALUE:g}"
    if event in ("dose", "dexamethasone") and value == 0:
        return None, "a dose of 0 mg: record a dose not taken as event 'missed'"
    return value, None


@dataclass(frozen=True)
class _Row:
    line: int
    time: dt.datetime
    event: str
    value: float | None


def _records(where: str, text: str) -> list[tuple[int, list[str]]]:
    """(line, fields) of every record, or InputError at the line the CSV breaks."""
    reader = csv.reader(io.StringIO(text, newline=""))
    records = []
    try:
        for record in reader:
            records.append((reader.line_num, record))
    except csv.Error as error:
        line = reader.line_num or 1
        raise InputError([Problem(where, line, None, f"not valid CSV: {error}")]) from None
    return records


def _rows(where: str, text: str) -> list[_Row]:
    records = _records(where, text)
    header = records[0][1] if records else None
    if header is None or [h.strip() for h in header] != list(COLUMNS):
        got = "nothing" if header is None else ",".join(header)
        message = f"the header must be {','.join(COLUMNS)}; got {got!r}"
        raise InputError([Problem(where, 1, None, message)])
    rows, problems = [], []
    for line, record in records[1:]:
        if not record or not "".join(record).strip():
            continue
        if len(record) != len(COLUMNS):
            message = f"expected {len(COLUMNS)} fields, got {len(record)}"
            problems.append(Problem(where, line, None, message))
            continue
        stamp, event, value_text = (field.strip() for field in record)
        time = _parse_time(stamp)
        if time is None:
            message = f"{stamp!r} is not a date and time like 2024-03-01T08:00 (local, no zone)"
            problems.append(Problem(where, line, "datetime", message))
        if event not in EVENTS:
            message = f"{event!r} is not one of {', '.join(EVENTS)}"
            problems.append(Problem(where, line, "event", message))
            continue
        value, reason = _parse_value(event, value_text)
        if reason is not None:
            problems.append(Problem(where, line, "value", reason))
        if time is not None and reason is None:
            rows.append(_Row(line, time, event, value))
    if problems:
        raise InputError(problems)
    if not any(row.event == "dose" for row in rows):
        raise InputError([Problem(where, None, None, "no dose recorded: nothing to estimate")])
    first = min(rows, key=lambda row: row.time).time
    late = [row for row in rows if (row.time - first).days >= MAX_SPAN_DAYS]
    if late:
        message = f"more than {MAX_SPAN_DAYS} days after the first event ({first:%Y-%m-%d})"
        raise InputError([Problem(where, row.line, "datetime", message) for row in late])
    return rows


def _hours(origin: dt.datetime, time: dt.datetime) -> float:
    return (time - origin).total_seconds() / 3600.0


def read_history(path: str | Path) -> History:
    """Read and check a history file; :class:`InputError` names every bad line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError([Problem(str(path), None, None, f"cannot read: {error}")]) from None
    return parse_history(text, str(path))


def parse_history(text: str, where: str = "history") -> History:
    """A history from CSV text (see the module docstring)."""
    rows = sorted(_rows(where, text), key=lambda row: (row.time, row.line))
    first = rows[0].time
    origin = dt.datetime(first.year, first.month, first.day)

    def times(event: str) -> np.ndarray:
        return np.array([_hours(origin, r.time) for r in rows if r.event == event], dtype=float)

    def values(event: str) -> np.ndarray:
        return np.array([r.value for r in rows if r.event == event], dtype=float)

    return History(
        origin=origin,
        dose_times_h=times("dose"),
        doses_mg=values("dose"),
        missed_times_h=times("missed"),
        trough_times_h=times("trough"),
        troughs_ng_ml=values("trough"),
        trough_lines=tuple(r.line for r in rows if r.event == "trough"),
        dexamethasone_days=tuple(
            sorted({(r.time - origin).days for r in rows if r.event == "dexamethasone"})
        ),
    )


HISTORY_ORIGIN = dt.datetime(2000, 1, 1)  # day 0 of a history built from arrays


def twice_daily_history(
    doses_mg: np.ndarray,
    dexamethasone_days: tuple[int, ...] | list[int],
    trough_days: np.ndarray | list[int],
    troughs_ng_ml: np.ndarray | list[float],
    first_hour: float = 8.0,
) -> History:
    """The history of a course given as arrays (a simulated patient's): ``doses_mg[d]``
    the (morning, evening) doses of day d at ``first_hour`` and 12 h later, 0 for a
    missed dose; a trough at ``first_hour`` of each of ``trough_days`` (taken before that
    day's morning dose); dexamethasone course days. Day 0 is :data:`HISTORY_ORIGIN`."""
    doses = np.asarray(doses_mg, dtype=float).reshape(-1, 2)
    times = np.arange(len(doses))[:, None] * HOURS_PER_DAY + np.array([first_hour, first_hour + 12])
    taken = doses > 0.0
    trough_times = np.asarray(trough_days, dtype=float) * HOURS_PER_DAY + first_hour
    return History(
        origin=HISTORY_ORIGIN,
        dose_times_h=times[taken],
        doses_mg=doses[taken],
        missed_times_h=times[~taken],
        trough_times_h=trough_times,
        troughs_ng_ml=np.asarray(troughs_ng_ml, dtype=float),
        trough_lines=tuple(range(1, len(trough_times) + 1)),
        dexamethasone_days=tuple(sorted(set(int(d) for d in dexamethasone_days))),
    )


def plausibility_warnings(history: History, where: str = "history") -> list[Problem]:
    """Implausible but possible inputs (issue 12): a trough above 30 ng/mL, more than
    10 mg in a calendar day, a trough before any dose, a trough less than 10 h after a
    dose (not a trough: it is near the absorption peak)."""
    warnings = []
    doses = history.dose_times_h
    for time, value, line in zip(
        history.trough_times_h, history.troughs_ng_ml, history.trough_lines, strict=True
    ):
        if value > HIGH_TROUGH_NG_ML:
            message = f"trough {value:g} ng/mL is above {HIGH_TROUGH_NG_ML:g}: check the unit"
            warnings.append(Problem(where, line, "value", message, "warning"))
        before = doses[doses < time]  # a dose at the trough's time comes after it
        if before.size == 0:
            message = "a trough before any dose: it is left out of the estimate"
            warnings.append(Problem(where, line, "datetime", message, "warning"))
        elif time - before.max() < MIN_HOURS_AFTER_DOSE:
            hours = time - before.max()
            message = (
                f"taken {hours:.1f} h after a dose (< {MIN_HOURS_AFTER_DOSE:g} h): not a "
                "trough; it is used at its real time"
            )
            warnings.append(Problem(where, line, "datetime", message, "warning"))
    day_totals = np.bincount((doses // HOURS_PER_DAY).astype(int), weights=history.doses_mg)
    for day in np.flatnonzero(day_totals > HIGH_DAILY_DOSE_MG):
        date = (history.origin + dt.timedelta(days=int(day))).date()
        message = f"{day_totals[day]:g} mg of tacrolimus on {date}: above 10 mg a day"
        warnings.append(Problem(where, None, None, message, "warning"))
    return warnings

"""The columnar endpoint engine: observation table -> events -> per-subject endpoints.

No Python loop runs per subject or per record: the whole dataset is one polars table of
observation days sorted by subject and day, the ordered events of :mod:`._events` give
per-row preference keys, and a vectorized minimum per subject block picks each event.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from itptrial.data import SUBJECT_KEY, Dataset
from itptrial.endpoints import _columns as c
from itptrial.endpoints._criteria import observation_flags
from itptrial.endpoints._derive import evaluability, shared_columns
from itptrial.endpoints._events import Event, evaluation_stages
from itptrial.endpoints._explain import explanation
from itptrial.endpoints._registry import endpoint_registry, needed_events, output_columns
from itptrial.protocol import ENDPOINT_COLUMNS, EndpointParameters, Protocol

__all__ = ["ENDPOINT_COLUMNS", "adjudicate"]

SUBJECT = c.SUBJECT


def subject_index(data: Dataset) -> pl.LazyFrame:
    """Subjects in ``subject_id`` order with their integer key ``sid`` and Day 0."""
    return (
        data.keyed("subjects")
        .lazy()
        .select(
            pl.col(SUBJECT_KEY).alias(SUBJECT),
            "subject_id",
            "arm",
            pl.col("treatment_start_date").alias("day0"),
        )
        .sort(SUBJECT)
    )


def _study_days(frame: pl.DataFrame, date_column: str, data: Dataset) -> pl.LazyFrame:
    """Records of treated subjects, keyed by ``sid``, with ``t`` = days from Day 0."""
    day0 = data.keyed("subjects").sort(SUBJECT_KEY).get_column("treatment_start_date")
    return (
        frame.lazy()
        .with_columns(
            pl.col(SUBJECT_KEY).alias(SUBJECT),
            day0.gather(frame.get_column(SUBJECT_KEY)).alias("day0"),
        )
        .filter(pl.col("day0").is_not_null())
        .with_columns((pl.col(date_column) - pl.col("day0")).dt.total_days().alias(c.DAY))
    )


_DAY_OFFSET, _DAY_SPAN = 4096, 8192  # study days t lie within (-4096, 4096)
_ORDER = "observation_order"  # sort key: subject, day, count row before bleeding row


def _per_subject(values: pl.DataFrame, column: str, subjects: int, sid: pl.Series) -> pl.Series:
    """A per-subject value (null when absent) gathered onto rows by subject key."""
    dense = pl.DataFrame({SUBJECT: pl.int_range(subjects, dtype=pl.UInt32, eager=True)})
    full = dense.join(values, on=SUBJECT, how="left", maintain_order="left")
    return full.get_column(column).gather(sid)


def observation_table(data: Dataset, p: EndpointParameters) -> pl.DataFrame:
    """One row per (subject, day) with a count in [-BASELINE_WINDOW, HORIZON] or
    bleeding >= BLEEDING_GRADE in [1, HORIZON], sorted by subject key and day, with the
    worst such bleeding grade that day and the subject's first rescue day and drug."""
    counts = (
        _study_days(data.keyed("platelets"), "date", data)
        .filter(pl.col(c.DAY).is_between(-p.baseline_window, p.horizon))
        .select(SUBJECT, c.DAY, c.COUNT, pl.lit(None, dtype=pl.Int64).alias(c.BLEED_GRADE))
    )
    bleeds = (
        _study_days(data.keyed("bleeding"), "date", data)
        .filter((pl.col("who_grade") >= p.bleeding_grade) & pl.col(c.DAY).is_between(1, p.horizon))
        .group_by(SUBJECT, c.DAY)
        .agg(
            pl.lit(None, dtype=pl.Float64).alias(c.COUNT),
            pl.col("who_grade").max().cast(pl.Int64).alias(c.BLEED_GRADE),
        )
    )
    # One sortable integer per row: subject, then day, then a count row before a
    # bleeding row of the same day (which is then folded into it).
    day_key = pl.col(SUBJECT).cast(pl.Int64) * _DAY_SPAN + pl.col(c.DAY) + _DAY_OFFSET
    order = (day_key * 2 + pl.col(c.COUNT).is_null().cast(pl.Int64)).alias(_ORDER)
    rows = pl.concat([counts, bleeds]).with_columns(order).collect().sort(_ORDER)
    same_day_next = (pl.col(_ORDER) // 2) == (pl.col(_ORDER).shift(-1) // 2)
    same_day_before = ((pl.col(_ORDER) // 2) == (pl.col(_ORDER).shift(1) // 2)).fill_null(False)
    rows = (
        rows.with_columns(
            pl.when(same_day_next)
            .then(pl.col(c.BLEED_GRADE).shift(-1))
            .otherwise(pl.col(c.BLEED_GRADE))
            .alias(c.BLEED_GRADE)
        )
        .filter(~same_day_before)
        .drop(_ORDER)
    )
    rescue = (
        _study_days(data.keyed("rescue"), "start_date", data)
        .filter(pl.col(c.DAY) <= p.horizon)
        .sort(SUBJECT, c.DAY, "treatment")
        .group_by(SUBJECT)
        .agg(
            pl.col(c.DAY).first().alias(c.RESCUE_DAY),
            pl.col("treatment").first().alias(c.RESCUE_TREATMENT),
        )
        .collect()
    )
    sid, subjects = rows.get_column(SUBJECT), data.keyed("subjects").height
    return rows.with_columns(
        _per_subject(rescue, c.RESCUE_DAY, subjects, sid),
        _per_subject(rescue, c.RESCUE_TREATMENT, subjects, sid),
    )


_NO_CANDIDATE = np.iinfo(np.int64).max
EVENT_VALUES = (("day", c.DAY), ("count", c.COUNT), ("bleed_grade", c.BLEED_GRADE))


@dataclass(frozen=True)
class _Subjects:
    """Where each subject's rows start in the (subject, day)-sorted observation table."""

    starts: np.ndarray  # first row of each subject
    group: pl.Series  # per row: the subject's position among ``starts``

    @classmethod
    def of(cls, sid: pl.Series) -> _Subjects:
        values = sid.to_numpy()
        boundary = np.r_[True, values[1:] != values[:-1]] if len(values) else np.zeros(0, bool)
        starts = np.flatnonzero(boundary).astype(np.int64)
        lengths = np.diff(np.r_[starts, len(values)])
        return cls(starts, pl.Series("group", np.repeat(np.arange(len(starts)), lengths)))

    def first_of(self, column: pl.Series) -> pl.Series:
        return column.gather(self.starts)

    def broadcast(self, column: pl.Series) -> pl.Series:
        """A per-subject column repeated onto every observation row of the subject."""
        return column.gather(self.group)


def _choose(
    frame: pl.DataFrame, subjects: _Subjects, stage: list[Event], p: EndpointParameters
) -> dict[str, pl.Series]:
    """Each event's day, count and bleeding grade per subject (null when none)."""
    keys = frame.select(event.preference(p) for event in stage)  # one parallel pass
    chosen: dict[str, pl.Series] = {}
    for event in stage:
        key = keys.get_column(event.name).fill_null(_NO_CANDIDATE).to_numpy()
        smallest = np.minimum.reduceat(key, subjects.starts)
        found = smallest != _NO_CANDIDATE
        rows = pl.Series(np.where(found, event.chosen_rows(smallest), 0)).zip_with(
            pl.Series(found), pl.repeat(None, len(found), dtype=pl.Int64, eager=True)
        )
        for value, column in EVENT_VALUES:
            chosen[f"{event.name}_{value}"] = frame.get_column(column).gather(rows)
    return chosen


def evaluate_events(
    observations: pl.DataFrame, events: tuple[Event, ...], p: EndpointParameters
) -> pl.DataFrame:
    """Per subject: each event's day, count and bleeding grade, plus the first rescue.

    The observation rows are sorted by subject and day, so each subject is a contiguous
    block: an event is one vectorized minimum per block over the event's preference
    keys (numpy ``reduceat``), and the results that later events use are broadcast
    back onto the rows by position, with no joins or per-subject windows.
    """
    later = {name for event in events for name in event.after}
    frame = observations.with_row_index(c.ROW)
    subjects = _Subjects.of(frame.get_column(SUBJECT))
    per_subject = pl.DataFrame(
        [
            subjects.first_of(frame.get_column(column))
            for column in (SUBJECT, c.RESCUE_DAY, c.RESCUE_TREATMENT)
        ]
    )
    if frame.height == 0:  # nobody has an observation: every event is null
        return per_subject.with_columns(
            pl.lit(None, dtype=frame.schema[column]).alias(f"{event.name}_{value}")
            for event in events
            for value, column in EVENT_VALUES
        )
    for stage in evaluation_stages(events):
        per_subject = per_subject.with_columns(**_choose(frame, subjects, stage, p))
        needed = [f"{e.name}_day" for e in stage if e.name in later and e.name != "baseline"]
        if any(e.name == "baseline" and e.name in later for e in stage):
            needed.append(c.BASELINE)
        frame = frame.with_columns(
            subjects.broadcast(per_subject.get_column(column)) for column in needed
        )
        if c.BASELINE in needed:  # every later rule compares with the baseline
            for flags in observation_flags(p):
                frame = frame.with_columns(flags)
    return per_subject


def adjudicate(data: Dataset, protocol: Protocol) -> pl.DataFrame:
    """Adjudicate every subject's endpoints (docs/endpoints.md), with an explanation.

    Returns one row per randomized subject, sorted by ``subject_id``, with the
    ``endpoints.csv`` columns of docs/interface.md (:data:`ENDPOINT_COLUMNS`), then one
    0/1 column per declared endpoint of the protocol.
    """
    p = protocol.endpoints
    registry = endpoint_registry(p)
    events = needed_events(registry)
    per_subject = evaluate_events(observation_table(data, p), events, p).lazy()
    subjects = subject_index(data).select(
        SUBJECT, "subject_id", "arm", pl.col("day0").is_not_null().alias(c.TREATED)
    )
    frame = subjects.join(per_subject, on=SUBJECT, how="left", maintain_order="left")
    for stage in shared_columns(p):
        frame = frame.with_columns(stage)
    outputs = evaluability(p) + [expr for endpoint in registry for expr in endpoint.columns]
    fragments = [endpoint.explain for endpoint in registry if endpoint.explain is not None]
    return (
        frame.with_columns(outputs)
        .with_columns(explanation(fragments, p).alias("explanation"))
        .select(output_columns(p))
        .collect()
    )

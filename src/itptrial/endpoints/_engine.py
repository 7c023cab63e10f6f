"""The columnar endpoint engine: observation table -> events -> per-subject endpoints.

No Python loop runs per subject or per record: the whole dataset is one sorted polars
table of observation days, the ordered events of :mod:`._events` become window
expressions over it, and one group-by collects each subject's event days.
"""

from __future__ import annotations

import polars as pl

from itptrial.data import Dataset
from itptrial.endpoints._criteria import SUBJECT, observation_flags
from itptrial.endpoints._derive import derive_endpoints
from itptrial.endpoints._events import Event, endpoint_events
from itptrial.endpoints._explain import explanation
from itptrial.protocol import EndpointParameters, Protocol

ENDPOINT_COLUMNS: tuple[str, ...] = (
    "subject_id", "arm", "baseline_count", "evaluable", "initial_response",
    "initial_response_category", "response_day", "relapse", "relapse_day",
    "sustained_response_6m", "sustained_response_category", "sustained_assessment_day",
    "ttr_days", "ttr_event", "dor_days", "dor_event", "explanation",
)


def _study_days(frame: pl.DataFrame, date_column: str, day0: pl.LazyFrame) -> pl.LazyFrame:
    """Records of treated subjects with ``t`` = days from treatment start (Day 0)."""
    return (
        frame.lazy()
        .join(day0, on=SUBJECT, how="inner")
        .with_columns((pl.col(date_column) - pl.col("day0")).dt.total_days().alias("t"))
    )


def observation_table(data: Dataset, p: EndpointParameters) -> pl.LazyFrame:
    """One row per (subject, day) with a count in [-BASELINE_WINDOW, HORIZON] or
    bleeding >= BLEEDING_GRADE in [1, HORIZON]; plus the subject's first rescue day."""
    day0 = (
        data.subjects.lazy()
        .filter(pl.col("treatment_start_date").is_not_null())
        .select(SUBJECT, pl.col("treatment_start_date").alias("day0"))
    )
    counts = (
        _study_days(data.platelets, "date", day0)
        .filter(pl.col("t").is_between(-p.baseline_window, p.horizon))
        .select(SUBJECT, "t", "count")
    )
    bleeds = (
        _study_days(data.bleeding, "date", day0)
        .filter((pl.col("who_grade") >= p.bleeding_grade) & pl.col("t").is_between(1, p.horizon))
        .group_by(SUBJECT, "t")
        .agg(pl.col("who_grade").max().alias("bleed_grade"))
    )
    rescue = (
        _study_days(data.rescue, "start_date", day0)
        .filter(pl.col("t") <= p.horizon)
        .sort(SUBJECT, "t", "treatment")
        .group_by(SUBJECT)
        .agg(pl.col("t").first().alias("rescue_day"),
             pl.col("treatment").first().alias("rescue_treatment"))
    )
    return (
        counts.join(bleeds, on=[SUBJECT, "t"], how="full", coalesce=True)
        .join(rescue, on=SUBJECT, how="left")
        .sort(SUBJECT, "t")
    )


def evaluate_events(
    observations: pl.LazyFrame, events: tuple[Event, ...], p: EndpointParameters
) -> pl.LazyFrame:
    """Per subject: each event's day, count and bleeding grade, plus baseline and rescue."""
    frame = observations
    for event in events:
        frame = frame.with_columns(event.expression(p))
        if event.name == "baseline":  # every later rule compares with the baseline count
            baseline = pl.col("count").filter(pl.col("t") == pl.col("baseline_day")).first()
            frame = frame.with_columns(baseline.over(SUBJECT).alias("baseline_count"))
            for stage in observation_flags(p):
                frame = frame.with_columns(stage)
    at_event = [
        pl.col(column).filter(pl.col("t") == pl.col(event.day)).first()
        .alias(f"{event.name}_{column}")
        for event in events
        if event.name != "baseline"  # its count is baseline_count, already collected
        for column in ("count", "bleed_grade")
    ]
    return frame.group_by(SUBJECT).agg(
        pl.col("baseline_count", "rescue_day", "rescue_treatment").first(),
        *(pl.col(event.day).first() for event in events),
        *at_event,
    )


def adjudicate(data: Dataset, protocol: Protocol) -> pl.DataFrame:
    """Adjudicate every subject's endpoints (docs/endpoints.md), with an explanation.

    Returns one row per randomized subject, sorted by ``subject_id``, with the
    ``endpoints.csv`` columns of docs/interface.md (see :data:`ENDPOINT_COLUMNS`).
    """
    p = protocol.endpoints
    events = endpoint_events()
    per_subject = evaluate_events(observation_table(data, p), events, p)
    subjects = data.subjects.lazy().select(
        SUBJECT, "arm", pl.col("treatment_start_date").is_not_null().alias("treated")
    )
    joined = subjects.join(per_subject, on=SUBJECT, how="left")
    derived = derive_endpoints(joined, p)
    return (
        derived.with_columns(explanation(p).alias("explanation"))
        .select(ENDPOINT_COLUMNS)
        .sort(SUBJECT)
        .collect()
    )

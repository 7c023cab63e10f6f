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
from itptrial.endpoints._events import Event, endpoint_events, evaluation_stages
from itptrial.endpoints._explain import explanation
from itptrial.protocol import EndpointParameters, Protocol

ENDPOINT_COLUMNS: tuple[str, ...] = (
    "subject_id",
    "arm",
    "baseline_count",
    "evaluable",
    "initial_response",
    "initial_response_category",
    "response_day",
    "relapse",
    "relapse_day",
    "sustained_response_6m",
    "sustained_response_category",
    "sustained_assessment_day",
    "ttr_days",
    "ttr_event",
    "dor_days",
    "dor_event",
    "explanation",
)


def subject_index(data: Dataset) -> pl.LazyFrame:
    """Subjects sorted by ``subject_id`` with an integer key ``sid`` (their position)."""
    return (
        data.subjects.lazy()
        .select("subject_id", "arm", pl.col("treatment_start_date").alias("day0"))
        .sort("subject_id")
        .with_row_index(SUBJECT)
    )


def _study_days(frame: pl.DataFrame, date_column: str, index: pl.LazyFrame) -> pl.LazyFrame:
    """Records of treated subjects, keyed by ``sid``, with ``t`` = days from Day 0."""
    treated = index.filter(pl.col("day0").is_not_null()).select(SUBJECT, "subject_id", "day0")
    return (
        frame.lazy()
        .join(treated, on="subject_id", how="inner")
        .with_columns((pl.col(date_column) - pl.col("day0")).dt.total_days().alias("t"))
    )


def observation_table(data: Dataset, p: EndpointParameters) -> pl.LazyFrame:
    """One row per (subject, day) with a count in [-BASELINE_WINDOW, HORIZON] or
    bleeding >= BLEEDING_GRADE in [1, HORIZON]; plus the subject's first rescue day.
    Sorted by subject key and day."""
    index = subject_index(data)
    counts = (
        _study_days(data.platelets, "date", index)
        .filter(pl.col("t").is_between(-p.baseline_window, p.horizon))
        .select(SUBJECT, "t", "count")
    )
    bleeds = (
        _study_days(data.bleeding, "date", index)
        .filter((pl.col("who_grade") >= p.bleeding_grade) & pl.col("t").is_between(1, p.horizon))
        .group_by(SUBJECT, "t")
        .agg(pl.col("who_grade").max().alias("bleed_grade"))
    )
    rescue = (
        _study_days(data.rescue, "start_date", index)
        .filter(pl.col("t") <= p.horizon)
        .sort(SUBJECT, "t", "treatment")
        .group_by(SUBJECT)
        .agg(
            pl.col("t").first().alias("rescue_day"),
            pl.col("treatment").first().alias("rescue_treatment"),
        )
    )
    return (
        counts.join(bleeds, on=[SUBJECT, "t"], how="full", coalesce=True)
        .join(rescue, on=SUBJECT, how="left")
        .sort(SUBJECT, "t")
    )


def _join_results(
    frame: pl.DataFrame,
    results: pl.DataFrame,
    stage: list[Event],
    later: set[str],
    p: EndpointParameters,
) -> pl.DataFrame:
    """Bring a stage's event days needed by later stages back onto the observation rows;
    after the baseline, add ``baseline_count`` and the per-observation flags."""
    needed = [e.name for e in stage if e.name in later]
    if not needed:
        return frame
    columns = [f"{name}_day" for name in needed if name != "baseline"]
    if "baseline" in needed:
        columns.append("baseline_count")
    frame = frame.join(
        results.select(SUBJECT, *columns), on=SUBJECT, how="left", maintain_order="left"
    )
    if "baseline" in needed:
        for flags in observation_flags(p):
            frame = frame.with_columns(flags)
    return frame


def _event_values(frame: pl.DataFrame, rows: pl.DataFrame, stage: list[Event]) -> pl.DataFrame:
    """Each event's day, count and bleeding grade, gathered from its chosen row."""
    values = {}
    for event in stage:
        chosen = rows.get_column(f"{event.name}_row")
        for name, column in (("day", "t"), ("count", "count"), ("bleed_grade", "bleed_grade")):
            values[f"{event.name}_{name}"] = frame.get_column(column).gather(chosen)
    return rows.select(SUBJECT).with_columns(**values)


def evaluate_events(
    observations: pl.DataFrame, events: tuple[Event, ...], p: EndpointParameters
) -> pl.DataFrame:
    """Per subject: each event's day, count and bleeding grade, plus the first rescue.

    Each dependency stage is one group-by over the (subject, day)-sorted observation
    rows; the days that later stages use are joined back onto the rows in between.
    """
    later = {name for event in events for name in event.after}
    frame = observations.with_row_index("row")
    per_subject = frame.group_by(SUBJECT).agg(pl.col("rescue_day", "rescue_treatment").first())
    for stage in evaluation_stages(events):
        rows = frame.group_by(SUBJECT).agg(event.chosen_row(p) for event in stage)
        results = _event_values(frame, rows, stage)
        per_subject = per_subject.join(results, on=SUBJECT, how="left")
        frame = _join_results(frame, results, stage, later, p)
    return per_subject


def adjudicate(data: Dataset, protocol: Protocol) -> pl.DataFrame:
    """Adjudicate every subject's endpoints (docs/endpoints.md), with an explanation.

    Returns one row per randomized subject, sorted by ``subject_id``, with the
    ``endpoints.csv`` columns of docs/interface.md (see :data:`ENDPOINT_COLUMNS`).
    """
    p = protocol.endpoints
    events = endpoint_events()
    per_subject = evaluate_events(observation_table(data, p).collect(), events, p).lazy()
    subjects = subject_index(data).select(
        SUBJECT, "subject_id", "arm", pl.col("day0").is_not_null().alias("treated")
    )
    joined = subjects.join(per_subject, on=SUBJECT, how="left", maintain_order="left")
    derived = derive_endpoints(joined, p)
    return (
        derived.with_columns(explanation(p).alias("explanation")).select(ENDPOINT_COLUMNS).collect()
    )

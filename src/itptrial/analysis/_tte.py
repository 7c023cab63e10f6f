"""Time-to-event endpoints: Kaplan-Meier per arm, log-rank test and Cox hazard ratio."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from itptrial.stats import (
    HazardRatio,
    KaplanMeier,
    TestResult,
    cox_hazard_ratio,
    kaplan_meier,
    logrank,
)

# endpoint -> (time column, event column), docs/endpoints.md
TIME_TO_EVENT: dict[str, tuple[str, str]] = {
    "time_to_response": ("ttr_days", "ttr_event"),
    "duration_of_response": ("dor_days", "dor_event"),
}

LABELS = {
    "time_to_response": "Time to response (days)",
    "duration_of_response": "Duration of response (days)",
}


@dataclass(frozen=True)
class TimeToEvent:
    endpoint: str
    by_arm: dict[str, KaplanMeier]
    logrank: TestResult
    hazard_ratio: HazardRatio


def compare_time_to_event(
    frame: pl.DataFrame, endpoint: str, experimental: str, control: str
) -> TimeToEvent:
    """Subjects with a defined time (evaluable for TTR, initial responders for DoR)."""
    time, event = TIME_TO_EVENT[endpoint]
    rows = frame.filter(pl.col(time).is_not_null() & pl.col("arm").is_in([experimental, control]))
    times = rows.get_column(time).cast(pl.Float64).to_list()
    events = rows.get_column(event).cast(pl.Int64).to_list()
    groups = (rows.get_column("arm") == experimental).cast(pl.Int64).to_list()
    by_arm = {}
    for arm in (experimental, control):
        mine = rows.filter(pl.col("arm") == arm)
        by_arm[arm] = kaplan_meier(
            mine.get_column(time).cast(pl.Float64).to_list(),
            mine.get_column(event).cast(pl.Int64).to_list(),
        )
    return TimeToEvent(
        endpoint=endpoint,
        by_arm=by_arm,
        logrank=logrank(times, events, groups),
        hazard_ratio=cox_hazard_ratio(times, events, groups),
    )

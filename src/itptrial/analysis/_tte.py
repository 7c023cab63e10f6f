"""Time-to-event endpoints: Kaplan-Meier per arm; per comparison the log-rank test and
the Cox hazard ratio, unstratified and stratified."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import polars as pl

from itptrial.analysis._comparisons import EndpointResult, Pair, holm_by_test, strata_of
from itptrial.endpoints import Endpoint
from itptrial.stats import (
    HazardRatio,
    KaplanMeier,
    TestResult,
    cox_hazard_ratio,
    kaplan_meier,
    logrank,
    stratified_cox_hazard_ratio,
    stratified_logrank,
)


@dataclass(frozen=True)
class StratifiedSurvival:
    """Stratified log-rank test and Cox model over the subjects with a stratum."""

    strata: tuple[str, ...]
    logrank: TestResult
    hazard_ratio: HazardRatio
    left_out: int


@dataclass(frozen=True)
class TimeToEventComparison:
    """One experimental arm against the control. ``holm``: Holm-adjusted p-values over
    the endpoint's comparisons (``p_logrank``, ``p_logrank_stratified``), or empty."""

    experimental: str
    control: str
    logrank: TestResult
    hazard_ratio: HazardRatio
    stratified: StratifiedSurvival | None
    holm: dict[str, float | None] = field(default_factory=dict)


TimeToEvent = EndpointResult[KaplanMeier, TimeToEventComparison]


@dataclass(frozen=True)
class _Rows:
    times: list[float]
    events: list[int]
    groups: list[int]  # 1 experimental, 0 control
    strata: list[str | None]


def _rows(frame: pl.DataFrame, endpoint: Endpoint, pair: Pair) -> _Rows:
    assert endpoint.time is not None and endpoint.event is not None
    rows = pair.subjects(frame).filter(pl.col(endpoint.time).is_not_null())
    strata = rows.get_column("stratum") if "stratum" in rows.columns else None
    return _Rows(
        rows.get_column(endpoint.time).cast(pl.Float64).to_list(),
        rows.get_column(endpoint.event).cast(pl.Int64).to_list(),
        (rows.get_column("arm") == pair.experimental).cast(pl.Int64).to_list(),
        [None] * rows.height if strata is None else strata.to_list(),
    )


def _stratified(frame: pl.DataFrame, endpoint: Endpoint, pair: Pair) -> StratifiedSurvival | None:
    found = strata_of(pair.subjects(frame))
    if found is None:
        return None
    strata, _ = found
    r = _rows(frame, endpoint, pair)
    kept = [i for i, s in enumerate(r.strata) if s is not None]
    t = [r.times[i] for i in kept]
    e = [r.events[i] for i in kept]
    g = [r.groups[i] for i in kept]
    s = [r.strata[i] for i in kept]
    return StratifiedSurvival(
        strata,
        stratified_logrank(t, e, g, s),
        stratified_cox_hazard_ratio(t, e, g, s),
        len(r.times) - len(kept),
    )


def _compare(frame: pl.DataFrame, endpoint: Endpoint, pair: Pair) -> TimeToEventComparison:
    r = _rows(frame, endpoint, pair)
    return TimeToEventComparison(
        experimental=pair.experimental,
        control=pair.control,
        logrank=logrank(r.times, r.events, r.groups),
        hazard_ratio=cox_hazard_ratio(r.times, r.events, r.groups),
        stratified=_stratified(frame, endpoint, pair),
    )


def kaplan_meier_by_arm(
    frame: pl.DataFrame, endpoint: Endpoint, arms: tuple[str, ...]
) -> dict[str, KaplanMeier]:
    assert endpoint.time is not None and endpoint.event is not None
    rows = frame.filter(pl.col(endpoint.time).is_not_null())
    by_arm = {}
    for arm in arms:
        mine = rows.filter(pl.col("arm") == arm)
        by_arm[arm] = kaplan_meier(
            mine.get_column(endpoint.time).cast(pl.Float64).to_list(),
            mine.get_column(endpoint.event).cast(pl.Int64).to_list(),
        )
    return by_arm


def analyze_time_to_event(
    frame: pl.DataFrame, endpoint: Endpoint, arms: tuple[str, ...], pairs: tuple[Pair, ...]
) -> TimeToEvent:
    """Subjects with a defined time (evaluable for TTR, initial responders for DoR)."""
    comparisons = [_compare(frame, endpoint, pair) for pair in pairs]
    if len(comparisons) > 1:
        tests = {"p_logrank": [c.logrank.p_value for c in comparisons]}
        if all(c.stratified is not None for c in comparisons):
            tests["p_logrank_stratified"] = [
                c.stratified.logrank.p_value for c in comparisons if c.stratified
            ]
        adjusted = holm_by_test(tests)
        comparisons = [replace(c, holm=h) for c, h in zip(comparisons, adjusted, strict=True)]
    return TimeToEvent(
        endpoint=endpoint.name,
        label=endpoint.label,
        denominator=endpoint.denominator,
        by_arm=kaplan_meier_by_arm(frame, endpoint, arms),
        comparisons={pair.key: c for pair, c in zip(pairs, comparisons, strict=True)},
    )

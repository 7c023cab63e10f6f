"""The endpoint rules as an ordered list of declarative event definitions.

Like admiral's ``event()`` objects, each :class:`Event` says *which* observation days
are candidates (a condition) and *which one* is the event (first, last, closest to a
target day, or highest count). Events are evaluated in order on the sorted observation
table, and a later event's condition may refer to an earlier event's day column
(``loss`` only looks after ``response``). Subject-level endpoints are then derived from
the event days in :mod:`itptrial.endpoints._derive`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import polars as pl

from itptrial.endpoints._criteria import SUBJECT, has_count
from itptrial.protocol import EndpointParameters

Pick = Literal["first", "last", "closest", "highest"]


@dataclass(frozen=True)
class Event:
    """One event per subject: the ``pick`` among observation days meeting ``where``.

    ``target`` is the day aimed at by ``closest`` (ties go to the later day); ``highest``
    takes the largest count (ties go to the earlier day). The event's day lands in
    column ``<name>_day`` (null when no day meets the condition).
    """

    name: str
    description: str
    where: Callable[[EndpointParameters], pl.Expr]
    pick: Pick = "first"
    target: Callable[[EndpointParameters], int] | None = None

    @property
    def day(self) -> str:
        return f"{self.name}_day"

    def expression(self, p: EndpointParameters) -> pl.Expr:
        t = pl.col("t")
        condition = self.where(p).fill_null(False)
        candidates = t.filter(condition)
        if self.pick == "first":
            chosen = candidates.min()
        elif self.pick == "last":
            chosen = candidates.max()
        elif self.pick == "closest":
            assert self.target is not None
            target = self.target(p)
            # distance first, then the later day: rank = 2|t - target| + (t < target)
            rank = 2 * (t - target).abs() + (t < target).cast(pl.Int64)
            chosen = candidates.sort_by(rank.filter(condition)).first()
        else:  # highest count, earlier day on ties (rows are sorted by day)
            chosen = candidates.sort_by(
                pl.col("count").filter(condition), descending=True, maintain_order=True
            ).first()
        return chosen.over(SUBJECT).alias(self.day)


def _t() -> pl.Expr:
    return pl.col("t")


def _in_observation_period(p: EndpointParameters) -> pl.Expr:
    return _t().is_between(1, p.horizon)


def endpoint_events() -> tuple[Event, ...]:
    """The events of docs/endpoints.md, in evaluation order."""
    return (
        Event(
            "baseline",
            "latest count with -BASELINE_WINDOW <= t <= 0",
            lambda p: has_count() & _t().is_between(-p.baseline_window, 0),
            pick="last",
        ),
        Event(
            "response",
            "first observation starting a confirmed run at RESPONSE_LEVEL",
            lambda p: _in_observation_period(p) & pl.col("confirmed_response"),
        ),
        Event(
            "confirmation",
            "first qualifying observation >= CONFIRM_DAYS after the response (explains it)",
            lambda p: _in_observation_period(p)
            & (_t() >= pl.col("response_day") + max(p.confirm_days, 1))
            & pl.col("qualifies_response"),
        ),
        Event(
            "initial_complete",
            "first observation in INITIAL_WINDOW starting a confirmed run at COMPLETE_LEVEL",
            lambda p: _t().is_between(1, p.initial_window)
            & pl.col("confirmed_complete"),
        ),
        Event(
            "loss",
            "first confirmed non-qualifying observation after the response day",
            lambda p: _in_observation_period(p) & (_t() > pl.col("response_day"))
            & pl.col("confirmed_loss"),
        ),
        Event(
            "loss_next",
            "the observation after the loss day (explains a confirmed loss)",
            lambda p: _in_observation_period(p) & (_t() > pl.col("loss_day")),
        ),
        Event(
            "sustained",
            "count closest to SUSTAINED_DAY within SUSTAINED_WINDOW (ties: later day)",
            lambda p: has_count() & _in_observation_period(p)
            & ((_t() - p.sustained_day).abs() <= p.sustained_window),
            pick="closest",
            target=lambda p: p.sustained_day,
        ),
        Event(
            "best_initial",
            "highest count in INITIAL_WINDOW (explains a non-response)",
            lambda p: has_count() & _t().is_between(1, p.initial_window),
            pick="highest",
        ),
        Event(
            "last_count",
            "last observation day carrying a count",
            lambda p: has_count() & _in_observation_period(p),
            pick="last",
        ),
    )

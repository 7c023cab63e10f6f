"""The endpoint rules as an ordered list of declarative event definitions.

Like admiral's ``event()`` objects, each :class:`Event` says *which* observation days
are candidates (a condition) and *which one* is the event (first, last, closest to a
target day, or highest count). An event's condition may use the per-observation flags
(``qualifies_response``, ``confirmed_response``, ...; they need the ``baseline``) or an
earlier event's day (``loss`` only looks after ``response``); ``after`` names those
events, and the engine evaluates events in dependency order. The endpoint registry
(:mod:`itptrial.endpoints._registry`) says which events each endpoint needs; its
subject-level columns are then derived from the event days (:mod:`._derive`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from itptrial.endpoints import _columns as c
from itptrial.endpoints._criteria import has_count
from itptrial.protocol import EndpointParameters, Landmark

Pick = Literal["first", "last", "closest", "highest"]


@dataclass(frozen=True)
class Event:
    """One event per subject: the ``pick`` among observation days meeting ``where``.

    ``target`` is the day aimed at by ``closest`` (ties go to the later day); ``highest``
    takes the largest count (ties go to the earlier day). Per subject the event yields
    ``<name>_day``, ``<name>_count`` and ``<name>_bleed_grade`` (null when no day meets
    the condition). ``after`` lists the events whose results ``where`` uses.
    """

    name: str
    description: str
    where: Callable[[EndpointParameters], pl.Expr]
    pick: Pick = "first"
    target: Callable[[EndpointParameters], int] | None = None
    after: tuple[str, ...] = ()

    def preference(self, p: EndpointParameters) -> pl.Expr:
        """Per observation row: an integer key, null unless the row is a candidate.

        Each subject's event is its candidate with the smallest key (rows are numbered
        in subject-then-day order in ``row``): ``first`` uses the row number, ``last``
        its negation, and ``closest``/``highest`` put their ranking in the high bits
        above the row number, so that ties go to the earliest row. The engine reduces
        the keys per subject with one vectorized minimum and decodes the row with
        :meth:`chosen_rows`.
        """
        row = pl.col(c.ROW).cast(pl.Int64)
        condition = self.where(p).fill_null(False)
        if self.pick == "first":
            key = row
        elif self.pick == "last":
            key = -row
        elif self.pick == "closest":
            assert self.target is not None
            t, target = pl.col(c.DAY), self.target(p)
            # distance first, then the later day: rank = 2|t - target| + (t < target)
            rank = 2 * (t - target).abs() + (t < target).cast(pl.Int64)
            key = rank * ROW_SPAN + row
        else:  # highest count first: rank counts among the candidates, largest = 1
            rank = pl.when(condition).then(pl.col(c.COUNT)).rank("dense", descending=True)
            key = rank.cast(pl.Int64) * ROW_SPAN + row
        return pl.when(condition).then(key).otherwise(None).alias(self.name)

    def chosen_rows(self, smallest_keys: np.ndarray) -> np.ndarray:
        """The row numbers encoded in the per-subject smallest keys."""
        if self.pick == "last":
            return -smallest_keys
        return smallest_keys % ROW_SPAN


ROW_SPAN = 2**32  # row numbers are below this; rankings sit in the bits above


def _t() -> pl.Expr:
    return pl.col(c.DAY)


def _in_observation_period(p: EndpointParameters) -> pl.Expr:
    return _t().is_between(1, p.horizon)


# The events of docs/endpoints.md. Each endpoint of the registry (._registry) names the
# events it needs; the engine evaluates every needed event once, in dependency order.
BASELINE = Event(
    "baseline",
    "latest count with -BASELINE_WINDOW <= t <= 0",
    lambda p: has_count() & _t().is_between(-p.baseline_window, 0),
    pick="last",
)
RESPONSE = Event(
    "response",
    "first observation starting a confirmed run at RESPONSE_LEVEL",
    lambda p: _in_observation_period(p) & pl.col(c.confirmed("response")),
    after=("baseline",),
)
CONFIRMATION = Event(
    "confirmation",
    "first qualifying observation >= CONFIRM_DAYS after the response (explains it)",
    lambda p: (
        _in_observation_period(p)
        & (_t() >= pl.col("response_day") + max(p.confirm_days, 1))
        & pl.col(c.qualifies("response"))
    ),
    after=("baseline", "response"),
)
INITIAL_COMPLETE = Event(
    "initial_complete",
    "first observation in INITIAL_WINDOW starting a confirmed run at COMPLETE_LEVEL",
    lambda p: _t().is_between(1, p.initial_window) & pl.col(c.confirmed("complete")),
    after=("baseline",),
)
LOSS = Event(
    "loss",
    "first confirmed non-qualifying observation after the response day",
    lambda p: (
        _in_observation_period(p) & (_t() > pl.col("response_day")) & pl.col(c.CONFIRMED_LOSS)
    ),
    after=("baseline", "response"),
)
LOSS_NEXT = Event(
    "loss_next",
    "the observation after the loss day (explains a confirmed loss)",
    lambda p: _in_observation_period(p) & (_t() > pl.col("loss_day")),
    after=("loss",),
)
SUSTAINED = Event(
    "sustained",
    "count closest to SUSTAINED_DAY within SUSTAINED_WINDOW (ties: later day)",
    lambda p: (
        has_count()
        & _in_observation_period(p)
        & ((_t() - p.sustained_day).abs() <= p.sustained_window)
    ),
    pick="closest",
    target=lambda p: p.sustained_day,
)
BEST_INITIAL = Event(
    "best_initial",
    "highest count in INITIAL_WINDOW (explains a non-response)",
    lambda p: has_count() & _t().is_between(1, p.initial_window),
    pick="highest",
)
LAST_COUNT = Event(
    "last_count",
    "last observation day carrying a count",
    lambda p: has_count() & _in_observation_period(p),
    pick="last",
)


def landmark_event(landmark: Landmark) -> Event:
    """The event of a declared endpoint: the first day starting a confirmed run at its
    level within its window, or its assessment count (closest to its day, ties later)."""
    name, level = f"landmark_{landmark.name}", landmark.level
    if landmark.kind == "response_in_window":
        low, high = landmark.from_day, landmark.to_day
        return Event(
            name,
            f"first observation in [{low}, {high}] starting a confirmed run at the {level} level",
            lambda p: _t().is_between(low, high) & pl.col(c.confirmed(level)),
            after=("baseline",),
        )
    day, window = landmark.day, landmark.window
    assert day is not None and window is not None
    return Event(
        name,
        f"count closest to day {day} within {window} days (ties: later day)",
        lambda p: has_count() & _in_observation_period(p) & ((_t() - day).abs() <= window),
        pick="closest",
        target=lambda p: day,
    )


def evaluation_stages(events: tuple[Event, ...]) -> list[list[Event]]:
    """Events grouped so that each stage only uses the results of earlier stages."""
    stage: dict[str, int] = {}
    for event in events:
        unknown = [name for name in event.after if name not in stage]
        if unknown:
            raise ValueError(f"event {event.name!r} comes after unknown/later {unknown}")
        stage[event.name] = 1 + max((stage[name] for name in event.after), default=-1)
    return [[e for e in events if stage[e.name] == k] for k in range(max(stage.values()) + 1)]

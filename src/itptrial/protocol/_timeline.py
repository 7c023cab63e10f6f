"""Study days as outputs show them, all derived from the protocol: phrases for labels,
the platelet-trajectory bins, the numbers-at-risk grid and the time axis.

No output repeats a protocol number: a label says "days 1-14" because the protocol's
initial window is 14, and a Kaplan-Meier axis ends at the protocol's horizon.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from itptrial.protocol._model import Protocol

DAYS_PER_MONTH = 365.25 / 12
# Steps of the numbers-at-risk grid (days): weeks and multiples of four weeks, so the
# grid falls on usual visit days; the smallest step giving at most this many intervals.
RISK_STEPS = (7, 14, 28, 56, 84, 112, 168, 336, 364)
MAX_RISK_INTERVALS = 8
TRAJECTORY_WEEKLY_UNTIL_WINDOW = 7  # weekly bins over the initial window, then 4-weekly
TRAJECTORY_LATER_STEP = 28


def months(day: int) -> int | None:
    """Whole months that ``day`` stands for (180 -> 6, 365 -> 12), or None (day 200).

    A day counts as m months when it is 30 m, or within a day of m calendar months.
    """
    for m in range(1, 121):
        if day == 30 * m or abs(day - m * DAYS_PER_MONTH) <= 1:
            return m
    return None


def day_phrase(day: int) -> str:
    """``6 months (day 180)``, or ``day 200`` when the day is no whole month."""
    m = months(day)
    if m is None:
        return f"day {day}"
    return f"{m} month{'s' if m != 1 else ''} (day {day})"


def days_phrase(first: int, last: int) -> str:
    """``days 1-28`` (``day 7`` for a single day)."""
    return f"day {first}" if first == last else f"days {first}-{last}"


@dataclass(frozen=True)
class Timeline:
    """The protocol's study days as figures and tables show them."""

    horizon: int
    trajectory_edges: tuple[int, ...]  # bin i holds edges[i] <= t < edges[i + 1]
    risk_times: tuple[int, ...]  # where the numbers at risk are printed
    axis_end: int  # the last day on a time axis


def _visit_edges(visit_days: list[int], horizon: int) -> list[int]:
    """Edges halfway between consecutive visits (rounded up), so each visit, with its
    jitter, falls in a bin of its own."""
    days = [d for d in visit_days if 1 <= d <= horizon]
    edges = [1] + [-(-(a + b) // 2) for a, b in pairwise(days)]
    return [*edges, horizon + 1]


def _grid_edges(protocol: Protocol) -> list[int]:
    """Weekly over the initial window, four-weekly after it, and the sustained
    assessment window as a bin of its own (a protocol without visits)."""
    p = protocol.endpoints
    low, high = p.sustained_day - p.sustained_window, p.sustained_day + p.sustained_window + 1
    edges = set(range(1, p.initial_window + 1, TRAJECTORY_WEEKLY_UNTIL_WINDOW))
    edges |= set(range(p.initial_window + 1, low, TRAJECTORY_LATER_STEP))
    edges |= {low, high, p.horizon + 1}
    return sorted(e for e in edges if 1 <= e <= p.horizon + 1)


def risk_times(horizon: int) -> tuple[int, ...]:
    step = next((s for s in RISK_STEPS if horizon / s <= MAX_RISK_INTERVALS), RISK_STEPS[-1])
    return tuple(range(0, horizon + 1, step))


def timeline(protocol: Protocol) -> Timeline:
    """The trajectory bins (around the protocol's visits when it has them), the
    numbers-at-risk grid and the axis, all within [-BASELINE_WINDOW, HORIZON]."""
    p = protocol.endpoints
    if protocol.visits is not None and any(d >= 1 for d in protocol.visits.days):
        later = _visit_edges(list(protocol.visits.days), p.horizon)
    else:
        later = _grid_edges(protocol)
    edges = tuple(sorted({-p.baseline_window, *later}))
    return Timeline(p.horizon, edges, risk_times(p.horizon), p.horizon)

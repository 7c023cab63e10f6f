"""Criteria on one observation day: the building blocks of every endpoint rule.

Each criterion is a polars expression over columns named by :class:`Obs`, so the same
rule is evaluated on the full observation table (millions of rows) and on the few
subject-level rows that explanations describe.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from itptrial.endpoints import _columns as c
from itptrial.protocol import EndpointParameters


@dataclass(frozen=True)
class Obs:
    """Column names describing one observation day (defaults: the observation table)."""

    t: str = c.DAY
    count: str = c.COUNT
    bleed_grade: str = c.BLEED_GRADE  # worst WHO grade >= BLEEDING_GRADE that day, or null
    baseline: str = c.BASELINE
    rescue_day: str = c.RESCUE_DAY  # t_r: earliest rescue start, null when none

    def prefixed(self, prefix: str) -> Obs:
        """The columns of a subject-level event (``<prefix>_day`` and so on)."""
        return Obs(f"{prefix}_day", f"{prefix}_count", f"{prefix}_bleed_grade")


def has_count(o: Obs = Obs()) -> pl.Expr:
    return pl.col(o.count).is_not_null()


def bled(o: Obs = Obs()) -> pl.Expr:
    """Bleeding at or above BLEEDING_GRADE that day (the table keeps only those)."""
    return pl.col(o.bleed_grade).is_not_null()


def before_rescue(o: Obs = Obs()) -> pl.Expr:
    return pl.col(o.rescue_day).is_null() | (pl.col(o.t) < pl.col(o.rescue_day))


def at_least_level(level: float, o: Obs = Obs()) -> pl.Expr:
    return pl.col(o.count) >= level


def at_least_fold(p: EndpointParameters, o: Obs = Obs()) -> pl.Expr:
    return pl.col(o.count) >= p.fold * pl.col(o.baseline)


def qualifies(level: float, p: EndpointParameters, o: Obs = Obs()) -> pl.Expr:
    """endpoints.md: count >= L, >= FOLD x baseline, no bleeding that day, before rescue."""
    return (
        has_count(o)
        & (pl.col(o.t) >= 1)  # baseline-period rows share the table but never qualify
        & at_least_level(level, o)
        & at_least_fold(p, o)
        & ~bled(o)
        & before_rescue(o)
    ).fill_null(False)


def _runs(flag: str) -> pl.Expr:
    """A table-wide id for each run of equal consecutive ``flag`` values of one subject.

    Rows are sorted by subject and day, so a run is contiguous: a new run starts where
    the flag or the subject changes, and a cumulative sum numbers them without any
    per-subject window (much faster than ``over``).
    """
    subject = pl.col(c.SUBJECT)
    starts = (pl.col(flag) != pl.col(flag).shift(1)) | (subject != subject.shift(1))
    return starts.fill_null(True).cum_sum()


def observation_flags(p: EndpointParameters) -> list[list[pl.Expr]]:
    """Named per-observation flags, as successive ``with_columns`` stages.

    Rows must be sorted by subject and day and carry ``baseline_count``.

    - ``qualifies_response`` / ``qualifies_complete``: :func:`qualifies` at each level.
    - ``confirmed_response`` / ``confirmed_complete``: the observation starts a confirmed
      run: it qualifies and a later qualifying observation >= CONFIRM_DAYS later has every
      observation in between qualifying. Within a run of consecutive qualifying
      observations the best confirmer is the run's last one, so the rule reduces to
      ``qualifies and (run end - t) >= CONFIRM_DAYS``.
    - ``confirmed_loss``: it fails RESPONSE_LEVEL and so do the next LOSS_CONFIRM - 1
      observations, i.e. its run of failing observations has that many left.

    With CONFIRM_DAYS = 0 and LOSS_CONFIRM = 1 (target020) no runs are needed at all.
    """
    levels = {"response": p.response_level, "complete": p.complete_level}
    qualify = [qualifies(level, p).alias(c.qualifies(name)) for name, level in levels.items()]
    if p.confirm_days == 0:
        confirmed = [pl.col(c.qualifies(name)).alias(c.confirmed(name)) for name in levels]
    else:
        day = pl.col(c.DAY)
        confirmed = [
            (
                pl.col(c.qualifies(name))
                & (day.max().over(_runs(c.qualifies(name))) - day >= p.confirm_days)
            ).alias(c.confirmed(name))
            for name in levels
        ]
    fails = ~pl.col(c.qualifies("response"))
    if p.loss_confirm == 1:
        loss = fails
    else:
        run = _runs(c.qualifies("response"))
        left_in_run = pl.len().over(run) - pl.int_range(pl.len()).over(run)
        loss = fails & (left_in_run >= p.loss_confirm)
    return [qualify, [*confirmed, loss.alias(c.CONFIRMED_LOSS)]]

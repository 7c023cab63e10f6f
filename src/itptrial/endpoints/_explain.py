"""One readable line per subject naming the days and counts that decided its endpoints.

Built column-wise (string expressions), like everything else in the engine, e.g.
``baseline 12 on day -1; initial PR on day 14 (45 >= 30 and >= 2x baseline 12); no loss
of response through day 180; sustained PR: 85 on day 180``.
"""

from __future__ import annotations

import polars as pl

from itptrial.endpoints import _columns as c
from itptrial.endpoints._criteria import Obs, at_least_fold, at_least_level, before_rescue, bled
from itptrial.protocol import EndpointParameters, Landmark

col = pl.col


def number(value: pl.Expr) -> pl.Expr:
    """A count as text: integers without a decimal point, others to one decimal."""
    whole = value == value.floor()
    return (
        pl.when(whole)
        .then(value.cast(pl.Int64).cast(pl.String))
        .otherwise(value.round(1).cast(pl.String))
    )


def _text(value: float) -> str:
    return f"{value:g}"


def _day(column: str) -> pl.Expr:
    return pl.lit("day ") + col(column).cast(pl.String)


def _rescue() -> pl.Expr:
    return pl.lit("rescue ") + col(c.RESCUE_TREATMENT) + pl.lit(" on ") + _day(c.RESCUE_DAY)


def why_not(o: Obs, level: float, p: EndpointParameters) -> pl.Expr:
    """The first criterion an observation fails at ``level`` (null when it qualifies)."""
    baseline = pl.lit(f"< {_text(p.fold)}x baseline ") + number(col(o.baseline))
    return (
        pl.when(col(o.count).is_null())
        .then(pl.lit("no count, WHO bleeding grade ") + col(o.bleed_grade).cast(pl.String))
        .when(bled(o))
        .then(pl.lit("with WHO bleeding grade ") + col(o.bleed_grade).cast(pl.String))
        .when(~before_rescue(o))
        .then(pl.lit("on or after ") + _rescue())
        .when(~at_least_level(level, o))
        .then(pl.lit(f"< {_text(level)}"))
        .when(~at_least_fold(p, o))
        .then(baseline)
        .otherwise(None)
    )


def _count_at(o: Obs) -> pl.Expr:
    return (
        pl.when(col(o.count).is_null())
        .then(pl.lit(""))
        .otherwise(number(col(o.count)) + pl.lit(" "))
    )


def _qualified(level: float, o: Obs, p: EndpointParameters) -> pl.Expr:
    return (
        number(col(o.count))
        + pl.lit(f" >= {_text(level)} and >= {_text(p.fold)}x baseline ")
        + number(col(o.baseline))
    )


def initial_response(p: EndpointParameters) -> pl.Expr:
    """``initial PR on day 14 (45 >= 30 and >= 2x baseline 12)``, or why there is none."""
    response, complete = Obs().prefixed("response"), Obs().prefixed("initial_complete")
    confirmation = Obs().prefixed("confirmation")
    confirmed = (
        pl.lit(", confirmed by ")
        + number(col(confirmation.count))
        + pl.lit(" on ")
        + _day(confirmation.t)
        if p.confirm_days > 0
        else pl.lit("")
    )
    same_day_cr = col("initial_complete_day") == col("response_day")
    level = pl.when(same_day_cr).then(pl.lit(p.complete_level)).otherwise(pl.lit(p.response_level))
    first = (
        pl.lit("initial ")
        + col("initial_response_category")
        + pl.lit(" on ")
        + _day(response.t)
        + pl.lit(" (")
        + number(col(response.count))
        + pl.lit(" >= ")
        + number(level)
        + pl.lit(f" and >= {_text(p.fold)}x baseline ")
        + number(col("baseline_count"))
        + confirmed
        + pl.lit(")")
    )
    later_cr = (
        pl.when(col("initial_complete_day").is_not_null() & ~same_day_cr)
        .then(
            pl.lit("; CR from ")
            + _day(complete.t)
            + pl.lit(" (")
            + _qualified(p.complete_level, complete, p)
            + pl.lit(")")
        )
        .otherwise(pl.lit(""))
    )
    best = Obs().prefixed("best_initial")
    best_reason = pl.coalesce(
        why_not(best, p.response_level, p),
        pl.lit(f"not confirmed by a qualifying observation >= {p.confirm_days} days later"),
    )
    no_response = (
        pl.lit(f"no initial response in days 1-{p.initial_window}")
        + pl.when(col(best.t).is_null())
        .then(pl.lit(": no count in the window"))
        .otherwise(
            pl.lit(": best count ")
            + number(col(best.count))
            + pl.lit(" on ")
            + _day(best.t)
            + pl.lit(" (")
            + best_reason
            + pl.lit(")")
        )
        + pl.when(col("response_day").is_not_null())
        .then(
            pl.lit("; later response on ")
            + _day(response.t)
            + pl.lit(" (")
            + _qualified(p.response_level, response, p)
            + pl.lit(")")
        )
        .otherwise(pl.lit(""))
    )
    return pl.when(col(c.INITIAL)).then(first + later_cr).otherwise(no_response)


def relapse(p: EndpointParameters) -> pl.Expr:
    """``relapse on day 14: 24 < 30``, or ``no loss of response through day 180``."""
    loss = Obs().prefixed("loss")
    by_rescue = col(c.RESCUE_DAY) == col(c.LOSS_DAY)
    confirmed = (
        pl.lit(", confirmed by the next observation on ") + _day("loss_next_day")
        if p.loss_confirm == 2
        else pl.lit(f", confirmed by the next {p.loss_confirm - 1} observations")
        if p.loss_confirm > 2
        else pl.lit("")
    )
    by_count = (
        pl.lit("relapse on ")
        + _day(c.LOSS_DAY)
        + pl.lit(": ")
        + _count_at(loss)
        + why_not(loss, p.response_level, p)
        + confirmed
    )
    return (
        pl.when(~col(c.INITIAL))
        .then(None)
        .when(col(c.RELAPSED) & by_rescue)
        .then(
            pl.lit("relapse on ")
            + _day(c.LOSS_DAY)
            + pl.lit(": rescue ")
            + col(c.RESCUE_TREATMENT)
            + pl.lit(" started")
        )
        .when(col(c.RELAPSED))
        .then(by_count)
        .otherwise(pl.lit("no loss of response through ") + _day(c.LAST_COUNT_DAY))
    )


def sustained_response(p: EndpointParameters) -> pl.Expr:
    """``sustained PR: 85 on day 180``, with the reason when it does not qualify."""
    s = Obs().prefixed("sustained")
    low, high = p.sustained_day - p.sustained_window, p.sustained_day + p.sustained_window
    assessed = (
        pl.lit("sustained ")
        + col("sustained_response_category")
        + pl.lit(": ")
        + number(col(s.count))
        + pl.lit(" on ")
        + _day(s.t)
        + pl.when(col("sustained_response_6m") == 0)
        .then(pl.lit(" (") + why_not(s, p.response_level, p) + pl.lit(")"))
        .otherwise(pl.lit(""))
    )
    missing = pl.lit(f"sustained NE: no count in days {low}-{min(high, p.horizon)}")
    return pl.when(col(c.ASSESSED)).then(assessed).otherwise(missing)


def landmark_response(landmark: Landmark, p: EndpointParameters) -> pl.Expr:
    """A declared endpoint: ``response_by_day_14: yes, from day 7 (45 >= 30 and >= 2x
    baseline 12)``, ``sustained_response_12m: no, 20 on day 363 (< 30)``, or why not."""
    event = Obs().prefixed(f"landmark_{landmark.name}")
    level = p.level(landmark.level)
    head = pl.lit(f"{landmark.name}: ")
    if landmark.kind == "response_in_window":
        window = f"days {landmark.from_day}-{landmark.to_day}"
        yes = (
            pl.lit("yes, from ")
            + _day(event.t)
            + pl.lit(" (")
            + _qualified(level, event, p)
            + pl.lit(")")
        )
        no = pl.lit(f"no confirmed run at {_text(level)} starting in {window}")
        found = col(event.t).is_not_null()
        return head + pl.when(found).then(yes).otherwise(no)
    assert landmark.day is not None and landmark.window is not None
    low, high = landmark.day - landmark.window, min(landmark.day + landmark.window, p.horizon)
    responded = col(c.landmark_column(landmark.name)) == 1
    assessed = (
        pl.when(responded).then(pl.lit("yes, ")).otherwise(pl.lit("no, "))
        + number(col(event.count))
        + pl.lit(" on ")
        + _day(event.t)
        + pl.when(responded)
        .then(pl.lit(""))
        .otherwise(pl.lit(" (") + why_not(event, level, p) + pl.lit(")"))
    )
    missing = pl.lit(f"NE, no count in days {low}-{high}")
    return head + pl.when(col(event.t).is_not_null()).then(assessed).otherwise(missing)


def baseline() -> pl.Expr:
    """``baseline 12 on day -1``."""
    return pl.lit("baseline ") + number(col(c.BASELINE)) + pl.lit(" on ") + _day("baseline_day")


def explanation(fragments: list[pl.Expr], p: EndpointParameters) -> pl.Expr:
    """The ``explanation`` column: the baseline and each endpoint's fragment, joined by
    ``; `` (a fragment that is null is left out), or why the subject is not evaluable."""
    not_evaluable = (
        pl.when(~col(c.TREATED))
        .then(pl.lit("not evaluable: never treated (no treatment_start_date)"))
        .otherwise(
            pl.lit(
                f"not evaluable: no platelet count in the baseline window "
                f"(days -{p.baseline_window} to 0)"
            )
        )
    )
    evaluable = pl.concat_str([baseline(), *fragments], separator="; ", ignore_nulls=True)
    return pl.when(col(c.EVALUABLE)).then(evaluable).otherwise(not_evaluable)

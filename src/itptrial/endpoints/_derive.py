"""Subject-level endpoint columns derived from the event days (docs/endpoints.md).

Each function returns the expressions of one endpoint's columns, over a frame of
subjects joined with their event days (``<event>_day``, ``<event>_count``, ...) and the
shared quantities of :func:`shared_columns`. The endpoint registry (:mod:`._registry`)
says which function belongs to which endpoint.
"""

from __future__ import annotations

import polars as pl

from itptrial.endpoints import _columns as c
from itptrial.endpoints._criteria import Obs, qualifies
from itptrial.protocol import EndpointParameters, Landmark

col = pl.col


def flag(condition: pl.Expr) -> pl.Expr:
    """A 0/1 column."""
    return condition.cast(pl.Int8)


def only(condition: pl.Expr, value: pl.Expr) -> pl.Expr:
    """``value`` where ``condition`` holds, else null (the "not defined" empty cell)."""
    return pl.when(condition).then(value).otherwise(None)


def shared_columns(p: EndpointParameters) -> list[list[pl.Expr]]:
    """The subject-level quantities several endpoints read, as successive stages."""
    evaluable = col(c.TREATED) & col("baseline_day").is_not_null()
    initial = col(c.EVALUABLE) & (col("response_day") <= p.initial_window).fill_null(False)
    rescue_loss = only(col(c.RESCUE_DAY) > col("response_day"), col(c.RESCUE_DAY))
    return [
        [evaluable.alias(c.EVALUABLE), col("last_count_day").fill_null(0).alias(c.LAST_COUNT_DAY)],
        [
            initial.alias(c.INITIAL),
            pl.min_horizontal(rescue_loss, col("loss_day")).alias(c.LOSS_DAY),
            (col(c.EVALUABLE) & col("sustained_day").is_not_null()).alias(c.ASSESSED),
        ],
        [(col(c.INITIAL) & (col(c.LOSS_DAY) <= p.horizon).fill_null(False)).alias(c.RELAPSED)],
    ]


def evaluability(p: EndpointParameters) -> list[pl.Expr]:
    """``baseline_count`` and ``evaluable`` (every endpoint depends on them)."""
    return [
        only(col(c.EVALUABLE), col(c.BASELINE)).alias("baseline_count"),
        flag(col(c.EVALUABLE)).alias("evaluable"),
    ]


def initial_response(p: EndpointParameters) -> list[pl.Expr]:
    category = (
        pl.when(~col(c.EVALUABLE))
        .then(pl.lit("NE"))
        .when(~col(c.INITIAL))
        .then(pl.lit("NR"))
        .when(col("initial_complete_day").is_not_null())
        .then(pl.lit("CR"))
        .otherwise(pl.lit("PR"))
    )
    return [
        flag(col(c.INITIAL)).alias("initial_response"),
        category.alias("initial_response_category"),
        only(col(c.EVALUABLE), col("response_day")).alias("response_day"),
    ]


def relapse(p: EndpointParameters) -> list[pl.Expr]:
    return [
        only(col(c.INITIAL), flag(col(c.RELAPSED))).alias("relapse"),
        only(col(c.RELAPSED), col(c.LOSS_DAY)).alias("relapse_day"),
    ]


SUSTAINED = Obs().prefixed("sustained")


def sustained_response(p: EndpointParameters) -> list[pl.Expr]:
    sustained = col(c.ASSESSED) & qualifies(p.response_level, p, SUSTAINED)
    sustained_cr = col(c.ASSESSED) & qualifies(p.complete_level, p, SUSTAINED)
    category = (
        pl.when(~col(c.ASSESSED))
        .then(pl.lit("NE"))
        .when(sustained_cr)
        .then(pl.lit("CR"))
        .when(sustained)
        .then(pl.lit("PR"))
        .otherwise(pl.lit("NR"))
    )
    return [
        flag(sustained).alias("sustained_response_6m"),
        category.alias("sustained_response_category"),
        only(col(c.ASSESSED), col("sustained_day")).alias("sustained_assessment_day"),
    ]


def time_to_response(p: EndpointParameters) -> list[pl.Expr]:
    """Event at the response day; else censored at max(0, min(t_r, last count day))."""
    last = col(c.LAST_COUNT_DAY)
    censored = pl.max_horizontal(pl.lit(0), pl.min_horizontal(col(c.RESCUE_DAY), last))
    return [
        only(col(c.EVALUABLE), pl.coalesce(col("response_day"), censored)).alias("ttr_days"),
        only(col(c.EVALUABLE), flag(col("response_day").is_not_null())).alias("ttr_event"),
    ]


def duration_of_response(p: EndpointParameters) -> list[pl.Expr]:
    """Event at loss day - response day; else censored at last count day - response day."""
    end = pl.when(col(c.RELAPSED)).then(col(c.LOSS_DAY)).otherwise(col(c.LAST_COUNT_DAY))
    return [
        only(col(c.INITIAL), end - col("response_day")).alias("dor_days"),
        only(col(c.INITIAL), flag(col(c.RELAPSED))).alias("dor_event"),
    ]


def landmark_assessed(landmark: Landmark) -> pl.Expr:
    """The declared endpoint's event exists for an evaluable subject."""
    return col(c.EVALUABLE) & col(f"landmark_{landmark.name}_day").is_not_null()


def landmark_response(landmark: Landmark, p: EndpointParameters) -> list[pl.Expr]:
    """1 when the window holds the start of a confirmed run at the level
    (``response_in_window``), or the assessment count qualifies (``response_at_day``)."""
    responded = landmark_assessed(landmark)
    if landmark.kind == "response_at_day":
        assessment = Obs().prefixed(f"landmark_{landmark.name}")
        responded = responded & qualifies(p.level(landmark.level), p, assessment)
    return [flag(responded).alias(c.landmark_column(landmark.name))]

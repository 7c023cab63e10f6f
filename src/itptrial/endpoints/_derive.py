"""Subject-level endpoints derived from the event days (docs/endpoints.md)."""

from __future__ import annotations

import polars as pl

from itptrial.endpoints._criteria import Obs, qualifies
from itptrial.protocol import EndpointParameters

SUSTAINED = Obs().prefixed("sustained")


def _flag(condition: pl.Expr) -> pl.Expr:
    return condition.cast(pl.Int8)


def _only(condition: pl.Expr, value: pl.Expr) -> pl.Expr:
    """``value`` where ``condition`` holds, else null (the "not defined" empty cell)."""
    return pl.when(condition).then(value).otherwise(None)


def derive_endpoints(frame: pl.LazyFrame, p: EndpointParameters) -> pl.LazyFrame:
    """Add the endpoint columns to a frame of subjects joined with their event days."""
    col = pl.col
    evaluable = col("treated") & col("baseline_day").is_not_null()
    initial = evaluable & (col("response_day") <= p.initial_window).fill_null(False)
    rescue_loss = _only(col("rescue_day") > col("response_day"), col("rescue_day"))
    loss_day = pl.min_horizontal(rescue_loss, col("loss_day"))
    relapse = initial & (loss_day <= p.horizon).fill_null(False)
    assessed = evaluable & col("sustained_day").is_not_null()
    sustained = assessed & qualifies(p.response_level, p, SUSTAINED)
    sustained_cr = assessed & qualifies(p.complete_level, p, SUSTAINED)
    last_count_day = col("last_count_day").fill_null(0)
    censor_ttr = pl.max_horizontal(pl.lit(0), pl.min_horizontal(col("rescue_day"), last_count_day))
    return frame.with_columns(
        evaluable.alias("_evaluable"),
        initial.alias("_initial"),
        relapse.alias("_relapse"),
        loss_day.alias("_loss_day"),
        assessed.alias("_assessed"),
        last_count_day.alias("_last_count_day"),
    ).with_columns(
        _only(evaluable, col("baseline_count")).alias("baseline_count"),
        _flag(evaluable).alias("evaluable"),
        _flag(initial).alias("initial_response"),
        pl.when(~evaluable)
        .then(pl.lit("NE"))
        .when(~initial)
        .then(pl.lit("NR"))
        .when(col("initial_complete_day").is_not_null())
        .then(pl.lit("CR"))
        .otherwise(pl.lit("PR"))
        .alias("initial_response_category"),
        _only(evaluable, col("response_day")).alias("response_day"),
        _only(initial, _flag(relapse)).alias("relapse"),
        _only(relapse, loss_day).alias("relapse_day"),
        _flag(sustained).alias("sustained_response_6m"),
        pl.when(~assessed)
        .then(pl.lit("NE"))
        .when(sustained_cr)
        .then(pl.lit("CR"))
        .when(sustained)
        .then(pl.lit("PR"))
        .otherwise(pl.lit("NR"))
        .alias("sustained_response_category"),
        _only(assessed, col("sustained_day")).alias("sustained_assessment_day"),
        _only(evaluable, pl.coalesce(col("response_day"), censor_ttr)).alias("ttr_days"),
        _only(evaluable, _flag(col("response_day").is_not_null())).alias("ttr_event"),
        _only(
            initial,
            pl.when(relapse).then(loss_day).otherwise(last_count_day) - col("response_day"),
        ).alias("dor_days"),
        _only(initial, _flag(relapse)).alias("dor_event"),
    )

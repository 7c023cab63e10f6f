"""ADSL, ADRS, ADTTE and ADLB from a dataset and its adjudication (the same
:func:`itptrial.endpoints.adjudicate` that ``analyze`` runs), as typed polars frames.

Conventions are those of the ADaM IG v1.3 as admiral implements them: one ADRS record
per subject and parameter with AVAL/AVALC; ADTTE with CNSR 1 = censored
(``admiral::derive_param_tte``); ADY without a day 0 (``admiral::derive_vars_dy``);
ADLB with BASE, CHG and ABLFL (``admiral::derive_var_base``, ``derive_var_chg``).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from itptrial.adam._spec import (
    ADLB,
    ADSL,
    ADTTE,
    EXPLAN_LENGTH,
    SUBJECT_KEYS,
    AdamDataset,
    adrs,
)
from itptrial.data import Dataset
from itptrial.endpoints import Endpoint, adjudicate, endpoint_registry
from itptrial.protocol import Protocol

PLATELET_PARAMCD = "PLAT"
PLATELET_PARAM = "Platelets (10^9/L)"
RESPONSE_CATEGORIES = {  # the endpoints whose AVALC is the category, not Y/N
    "initial_response": "initial_response_category",
    "sustained_response_6m": "sustained_response_category",
}
DECISION_DAY = {  # the endpoints.csv day column dating each response parameter
    "initial_response": "response_day",
    "relapse": "relapse_day",
    "sustained_response_6m": "sustained_assessment_day",
    "sustained_complete_response_6m": "sustained_assessment_day",
}


@dataclass(frozen=True)
class AdamData:
    """The four datasets with their definitions (ADRS's EXPLAN parts vary in number)."""

    frames: dict[str, pl.DataFrame]
    definitions: dict[str, AdamDataset]


def flag(condition: pl.Expr) -> pl.Expr:
    """A Y/N flag (ADaM population flags are never empty)."""
    return pl.when(condition.fill_null(False)).then(pl.lit("Y")).otherwise(pl.lit("N"))


def study_day(date: pl.Expr, start: pl.Expr) -> pl.Expr:
    """CDISC study day: no day 0 (admiral ``derive_vars_dy``)."""
    days = (date - start).dt.total_days()
    return pl.when(days >= 0).then(days + 1).otherwise(days)


def explanation_parts(text: str) -> list[str]:
    """Cut at spaces into parts of at most EXPLAN_LENGTH characters, so that joining the
    parts with one space gives the text back (a word longer than that is cut hard)."""
    parts: list[str] = []
    while len(text) > EXPLAN_LENGTH:
        cut = text.rfind(" ", 1, EXPLAN_LENGTH + 1)
        if cut <= 0:
            parts.append(text[:EXPLAN_LENGTH])
            text = text[EXPLAN_LENGTH:]
        else:
            parts.append(text[:cut])
            text = text[cut + 1 :]
    return [*parts, text]


def _subject_frame(data: Dataset, protocol: Protocol, endpoints: pl.DataFrame) -> pl.DataFrame:
    labels = {arm.code: arm.label for arm in protocol.arms}
    order = {arm.code: i for i, arm in enumerate(protocol.arms, start=1)}
    last_dose = data.doses.group_by("subject_id").agg(pl.col("date").max().alias("TRTEDT"))
    subjects = data.subjects.join(last_dose, on="subject_id", how="left", maintain_order="left")
    subjects = subjects.join(
        endpoints.select("subject_id", "evaluable", "baseline_count"),
        on="subject_id",
        how="left",
        maintain_order="left",
    )
    treated = pl.col("treatment_start_date").is_not_null()
    return subjects.select(
        pl.lit(protocol.name).alias("STUDYID"),
        pl.col("subject_id").alias("USUBJID"),
        pl.col("site_id").alias("SITEID"),
        pl.col("arm").replace_strict(labels).alias("ARM"),
        pl.col("arm").alias("ARMCD"),
        pl.col("arm").replace_strict(labels).alias("TRT01P"),
        pl.col("arm").replace_strict(order, return_dtype=pl.Int64).alias("TRT01PN"),
        pl.col("randomization_date").alias("RANDDT"),
        pl.col("treatment_start_date").alias("TRTSDT"),
        pl.when(treated).then(pl.col("TRTEDT")).alias("TRTEDT"),
        flag(pl.lit(True)).alias("ITTFL"),
        flag(pl.col("evaluable") == 1).alias("EFFFL"),
        flag(treated).alias("SAFFL"),
        pl.col("age").alias("AGE"),
        pl.when(pl.col("age").is_not_null()).then(pl.lit("YEARS")).alias("AGEU"),
        pl.col("sex").alias("SEX"),
        pl.col("stratum").alias("STRATA"),
        pl.col("baseline_count").cast(pl.Float64).alias("BASEPLAT"),
    )


def _keys(adsl: pl.DataFrame) -> pl.DataFrame:
    return adsl.select(*(v.name for v in SUBJECT_KEYS), "TRTSDT")


def _parameter(endpoint: Endpoint, paramcd: str, paramn: int) -> list[pl.Expr | str]:
    """The subject keys and the endpoint's PARAMCD, PARAM and PARAMN."""
    return [
        *(v.name for v in SUBJECT_KEYS),
        pl.lit(paramcd).alias("PARAMCD"),
        pl.lit(endpoint.label).alias("PARAM"),
        pl.lit(paramn, pl.Int64).alias("PARAMN"),
    ]


def _response_records(
    frame: pl.DataFrame, endpoint: Endpoint, paramcd: str, paramn: int
) -> pl.DataFrame:
    in_population, responder = endpoint.counted, endpoint.responded
    category = RESPONSE_CATEGORIES.get(endpoint.name)
    if category is not None:
        avalc = pl.col(category)
    else:
        avalc = pl.when(responder).then(pl.lit("Y")).otherwise(pl.lit("N"))
    day_column = DECISION_DAY.get(endpoint.name)
    day = pl.lit(None, pl.Int64) if day_column is None else pl.col(day_column)
    decided = responder if endpoint.name in ("initial_response", "relapse") else pl.lit(True)
    day = pl.when(in_population & decided).then(day)
    adt = (pl.col("TRTSDT") + pl.duration(days=day)).cast(pl.Date)
    return frame.select(
        *_parameter(endpoint, paramcd, paramn),
        pl.when(in_population).then(responder.cast(pl.Int64)).alias("AVAL"),
        pl.when(in_population).then(avalc).alias("AVALC"),
        adt.alias("ADT"),
        study_day(adt, pl.col("TRTSDT")).alias("ADY"),
        flag(in_population).alias("ANL01FL"),
    )


def _explan_columns(endpoints: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Each subject's explanation in parts (USUBJID, EXPLAN, EXPLAN2, ...): cut once per
    subject, then joined onto every record of that subject."""
    texts = endpoints.get_column("explanation").to_list()
    parts = [explanation_parts(text) for text in texts]
    chunks = max((len(p) for p in parts), default=1)
    names = ["EXPLAN", *(f"EXPLAN{i}" for i in range(2, chunks + 1))]
    columns = [
        pl.Series(name, [p[i] if i < len(p) else None for p in parts], pl.String)
        for i, name in enumerate(names)
    ]
    return pl.DataFrame([endpoints.get_column("subject_id").alias("USUBJID"), *columns]), chunks


def _adrs(keys: pl.DataFrame, endpoints: pl.DataFrame, protocol: Protocol) -> AdamData:
    frame = keys.join(endpoints, left_on="USUBJID", right_on="subject_id", maintain_order="left")
    codes = protocol.endpoints.paramcds()
    binary = [e for e in endpoint_registry(protocol.endpoints) if e.kind == "binary"]
    records = pl.concat(
        [_response_records(frame, e, codes[e.name], n) for n, e in enumerate(binary, start=1)]
    ).sort("USUBJID", "PARAMN", maintain_order=True)
    explan, chunks = _explan_columns(endpoints)
    records = records.join(explan, on="USUBJID", how="left", maintain_order="left")
    definition = adrs(chunks)
    return AdamData({"ADRS": records.select(definition.names)}, {"ADRS": definition})


def _first_rescue_day(data: Dataset) -> pl.DataFrame:
    """Each subject's earliest rescue, as a study day (t_r of docs/endpoints.md)."""
    first = data.rescue.group_by("subject_id").agg(pl.col("start_date").min().alias("rescue"))
    return data.subjects.join(first, on="subject_id", how="left").select(
        pl.col("subject_id").alias("USUBJID"),
        (pl.col("rescue") - pl.col("treatment_start_date")).dt.total_days().alias("rescue_day"),
    )


def _tte_records(
    frame: pl.DataFrame, endpoint: Endpoint, paramcd: str, paramn: int
) -> pl.DataFrame:
    assert endpoint.time is not None and endpoint.event is not None
    time, event = pl.col(endpoint.time), pl.col(endpoint.event)
    if endpoint.name == "duration_of_response":
        start = (pl.col("TRTSDT") + pl.duration(days=pl.col("response_day"))).cast(pl.Date)
        at_rescue = pl.col("rescue_day") == pl.col("relapse_day")
        happened = (
            pl.when(at_rescue)
            .then(pl.lit("LOSS OF RESPONSE: RESCUE THERAPY"))
            .otherwise(pl.lit("LOSS OF RESPONSE: PLATELETS OR BLEEDING"))
        )
    else:
        start = pl.col("TRTSDT")
        at_rescue = pl.col("rescue_day").clip(lower_bound=0) == time
        happened = pl.lit("RESPONSE")
    censored = (
        pl.when(at_rescue)
        .then(pl.lit("CENSORED AT RESCUE THERAPY"))
        .otherwise(pl.lit("CENSORED AT LAST PLATELET COUNT"))
    )
    adt = (start + pl.duration(days=time)).cast(pl.Date)
    return frame.filter(time.is_not_null()).select(
        *_parameter(endpoint, paramcd, paramn),
        time.cast(pl.Float64).alias("AVAL"),
        (1 - event).cast(pl.Int64).alias("CNSR"),
        start.alias("STARTDT"),
        adt.alias("ADT"),
        study_day(adt, pl.col("TRTSDT")).alias("ADY"),
        pl.when(event == 1).then(happened).otherwise(censored).alias("EVNTDESC"),
    )


def _adtte(
    keys: pl.DataFrame, endpoints: pl.DataFrame, data: Dataset, protocol: Protocol
) -> pl.DataFrame:
    frame = keys.join(
        endpoints, left_on="USUBJID", right_on="subject_id", maintain_order="left"
    ).join(_first_rescue_day(data), on="USUBJID", how="left", maintain_order="left")
    codes = protocol.endpoints.paramcds()
    timed = [e for e in endpoint_registry(protocol.endpoints) if e.kind == "time_to_event"]
    records = pl.concat(
        [_tte_records(frame, e, codes[e.name], n) for n, e in enumerate(timed, start=1)]
    )
    return records.sort("USUBJID", "PARAMN", maintain_order=True).select(ADTTE.names)


def _adlb(
    keys: pl.DataFrame, endpoints: pl.DataFrame, data: Dataset, protocol: Protocol
) -> pl.DataFrame:
    p = protocol.endpoints
    counts = data.platelets.join(
        keys, left_on="subject_id", right_on="USUBJID", maintain_order="left"
    ).join(endpoints.select("subject_id", "baseline_count"), on="subject_id", how="left")
    t = (pl.col("date") - pl.col("TRTSDT")).dt.total_days()
    # The baseline of docs/endpoints.md: the latest count with -BASELINE_WINDOW <= t <= 0.
    in_window = t.is_between(-p.baseline_window, 0)
    baseline_dates = (
        counts.filter(in_window)
        .group_by("subject_id")
        .agg(pl.col("date").max().alias("baseline_date"))
    )
    counts = counts.join(baseline_dates, on="subject_id", how="left", maintain_order="left")
    counts = counts.sort("subject_id", "date", maintain_order=True)
    first_on_date = pl.struct("subject_id", "date").is_first_distinct()
    counts = counts.with_columns(
        ((pl.col("date") == pl.col("baseline_date")) & first_on_date)
        .fill_null(False)
        .alias("is_baseline")
    )
    base = pl.col("baseline_count").cast(pl.Float64)
    after_baseline = pl.col("date") > pl.col("baseline_date")
    used = pl.col("is_baseline") | t.is_between(1, p.horizon)
    return counts.select(
        pl.col("STUDYID"),
        pl.col("subject_id").alias("USUBJID"),
        "ARMCD",
        "TRT01P",
        pl.lit(PLATELET_PARAMCD).alias("PARAMCD"),
        pl.lit(PLATELET_PARAM).alias("PARAM"),
        pl.col("count").alias("AVAL"),
        pl.col("date").alias("ADT"),
        study_day(pl.col("date"), pl.col("TRTSDT")).alias("ADY"),
        base.alias("BASE"),
        pl.when(after_baseline).then(pl.col("count") - base).alias("CHG"),
        pl.when(pl.col("is_baseline")).then(pl.lit("Y")).alias("ABLFL"),
        flag(used).alias("ANL01FL"),
    ).select(ADLB.names)


def adam_datasets(data: Dataset, protocol: Protocol) -> AdamData:
    """ADSL, ADRS, ADTTE and ADLB (docs/adam.md), from the adjudication ``analyze`` uses,
    so that the statistics recomputed from ADRS and ADTTE alone are those of
    results.json."""
    endpoints = adjudicate(data, protocol)
    adsl = _subject_frame(data, protocol, endpoints).select(ADSL.names)
    keys = _keys(adsl)
    adrs_data = _adrs(keys, endpoints, protocol)
    return AdamData(
        {
            "ADSL": adsl,
            **adrs_data.frames,
            "ADTTE": _adtte(keys, endpoints, data, protocol),
            "ADLB": _adlb(keys, endpoints, data, protocol),
        },
        {"ADSL": ADSL, **adrs_data.definitions, "ADTTE": ADTTE, "ADLB": ADLB},
    )

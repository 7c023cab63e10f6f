"""Build small datasets from per-subject day-based descriptions (for hand-made cases)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from itptrial import Dataset, Protocol, dataset_from_frames, load_protocol, write_dataset

DAY0 = dt.date(2021, 3, 1)


@dataclass
class Subject:
    """A subject in study days: ``counts`` maps t -> count (t = 0 is Day 0)."""

    subject_id: str
    counts: dict[int, float] = field(default_factory=dict)
    bleeding: dict[int, int] = field(default_factory=dict)
    rescue: dict[int, str] = field(default_factory=dict)
    arm: str = "TAC_DXM"
    treated: bool = True
    day0: dt.date = DAY0
    randomized_days_before: int = 2


def tables(subjects: list[Subject]) -> dict[str, pl.DataFrame]:
    def date(s: Subject, t: int) -> dt.date:
        return s.day0 + dt.timedelta(days=t)

    rows: dict[str, list[dict[str, object]]] = {
        "subjects": [],
        "platelets": [],
        "bleeding": [],
        "rescue": [],
    }
    for s in subjects:
        rows["subjects"].append(
            {
                "subject_id": s.subject_id,
                "site_id": "S01",
                "arm": s.arm,
                "randomization_date": s.day0 - dt.timedelta(days=s.randomized_days_before),
                "treatment_start_date": s.day0 if s.treated else None,
            }
        )
        rows["platelets"] += [
            {"subject_id": s.subject_id, "date": date(s, t), "count": float(c)}
            for t, c in s.counts.items()
        ]
        rows["bleeding"] += [
            {"subject_id": s.subject_id, "date": date(s, t), "who_grade": g}
            for t, g in s.bleeding.items()
        ]
        rows["rescue"] += [
            {"subject_id": s.subject_id, "start_date": date(s, t), "treatment": r}
            for t, r in s.rescue.items()
        ]
    schemas = {
        "subjects": {
            "subject_id": pl.String,
            "site_id": pl.String,
            "arm": pl.String,
            "randomization_date": pl.Date,
            "treatment_start_date": pl.Date,
        },
        "platelets": {"subject_id": pl.String, "date": pl.Date, "count": pl.Float64},
        "bleeding": {"subject_id": pl.String, "date": pl.Date, "who_grade": pl.Int64},
        "rescue": {"subject_id": pl.String, "start_date": pl.Date, "treatment": pl.String},
    }
    return {
        name: pl.DataFrame(r, schema=schemas[name], orient="row")
        if r
        else pl.DataFrame(schema=schemas[name])
        for name, r in rows.items()
    }


def dataset(subjects: list[Subject], protocol: Protocol | None = None) -> Dataset:
    return dataset_from_frames(tables(subjects), protocol or load_protocol("target020"))


def write(subjects: list[Subject], folder: Path) -> Path:
    return write_dataset(tables(subjects), folder)

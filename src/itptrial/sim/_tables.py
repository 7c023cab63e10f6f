"""A simulated course written as the native dataset tables (docs/data.md)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from itptrial.sim._trial import Course

TRIAL_START = dt.date(2021, 3, 1)
SITES = 10
# (term, probability in the experimental arm, in the control arm, related to treatment)
ADVERSE_EVENTS = (
    ("hyperglycaemia", 0.20, 0.18, True),
    ("insomnia", 0.15, 0.14, True),
    ("headache", 0.10, 0.08, True),
    ("tremor", 0.12, 0.01, True),
    ("hypertension", 0.06, 0.03, True),
    ("infection", 0.08, 0.06, False),
    ("mood change", 0.08, 0.10, True),
)


def _dates(start: np.ndarray, days: np.ndarray) -> pl.Series:
    return pl.Series(start + days.astype("timedelta64[D]")).cast(pl.Date)


def course_tables(
    course: Course, experimental: str, id_prefix: str = "V"
) -> dict[str, pl.DataFrame]:
    """subjects, platelets, bleeding, rescue, adverse_events, doses, drug_levels."""
    n = len(course.arms)
    calendar = course.rng("calendar")
    randomized = np.datetime64(TRIAL_START) + calendar.integers(0, 365, n).astype("timedelta64[D]")
    day0 = randomized + calendar.integers(0, 3, n).astype("timedelta64[D]")
    ids = np.array([f"{id_prefix}{i + 1:05d}" for i in range(n)])
    baseline = course.counts[:, 0]
    pop = course.population
    subjects = pl.DataFrame(
        {
            "subject_id": ids,
            "site_id": [f"SITE{1 + i % SITES:02d}" for i in calendar.permutation(n)],
            "arm": course.arms,
            "randomization_date": _dates(randomized, np.zeros(n, dtype=int)),
            "treatment_start_date": _dates(day0, np.zeros(n, dtype=int)),
            "stratum": np.where(baseline < 10, "plt<10", "plt>=10"),
            "sex": np.where(pop.female, "F", "M"),
            "age": pop.age.astype(int),
        }
    )

    def records(mask: np.ndarray, **columns: np.ndarray) -> pl.DataFrame:
        rows, days = np.nonzero(mask)
        return pl.DataFrame(
            {
                "subject_id": ids[rows],
                "date": _dates(day0[rows], days),
                **{name: values[rows, days] for name, values in columns.items()},
            }
        )

    seen = course.visits
    platelets = records(seen, count=np.nan_to_num(course.counts).astype(int))
    bleeding = records(seen, who_grade=course.bleeding)
    schedule = course.schedule
    rescue = (
        records(schedule.rescue)
        .rename({"date": "start_date"})
        .with_columns(pl.lit(course.rescue_treatment).alias("treatment"))
    )
    observed = np.arange(schedule.dex.shape[1])[None, :] < course.dropout_day[:, None]
    dex = records((schedule.dex > 0) & observed, dose_mg=schedule.dex * 40.0)
    tac = records((schedule.tac_mg > 0) & observed, dose_mg=schedule.tac_mg)
    doses = (
        pl.concat(
            [
                dex.with_columns(pl.lit("dexamethasone").alias("drug")),
                tac.with_columns(pl.lit("tacrolimus").alias("drug")),
            ]
        )
        .select("subject_id", "date", "drug", "dose_mg")
        .sort("subject_id", "date", "drug")
    )
    levels = (
        records(~np.isnan(course.troughs), trough_ng_ml=course.troughs)
        .with_columns(pl.lit("tacrolimus").alias("drug"))
        .select("subject_id", "date", "drug", "trough_ng_ml")
    )
    tables = {
        "subjects": subjects,
        "platelets": platelets,
        "bleeding": bleeding,
        "rescue": rescue,
        "adverse_events": _adverse_events(course, ids, day0, experimental),
        "doses": doses,
        "drug_levels": levels,
    }
    tables["subjects"] = _with_last_contact(tables)
    return tables


def _with_last_contact(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """last_contact_date = the subject's latest record of any kind (visit, dose, event)."""
    dated = [
        frame.select("subject_id", pl.col(column).alias("date"))
        for name, column in (
            ("platelets", "date"),
            ("bleeding", "date"),
            ("rescue", "start_date"),
            ("adverse_events", "start_date"),
            ("doses", "date"),
            ("drug_levels", "date"),
        )
        for frame in (tables[name],)
    ]
    last = pl.concat(dated).group_by("subject_id").agg(pl.col("date").max())
    return tables["subjects"].join(
        last.rename({"date": "last_contact_date"}),
        on="subject_id",
        how="left",
        maintain_order="left",
    )


def _adverse_events(
    course: Course, ids: np.ndarray, day0: np.ndarray, experimental: str
) -> pl.DataFrame:
    """Grade 1-2 events at plausible rates by arm (the trial reported no grade >= 3)."""
    rng = course.rng("events")
    n = len(ids)
    frames = []
    for term, p_exp, p_ctl, related in ADVERSE_EVENTS:
        p = np.where(course.arms == experimental, p_exp, p_ctl)
        has = rng.random(n) < p
        start = rng.integers(1, 85, n)
        grade = np.where(rng.random(n) < 0.8, 1, 2)
        serious = (term == "infection") & (grade == 2) & (rng.random(n) < 0.25)
        keep = has & (start < course.dropout_day)
        frames.append(
            pl.DataFrame(
                {
                    "subject_id": ids[keep],
                    "term": term,
                    "start_date": _dates(day0[keep], start[keep]),
                    "ctcae_grade": grade[keep],
                    "serious": serious[keep],
                    "related": related,
                }
            )
        )
    return pl.concat(frames).sort("subject_id", "start_date", "term")

"""A simulated course written as the native dataset tables (docs/data.md)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from itptrial.protocol import Protocol
from itptrial.sim._parameters import ModelParameters
from itptrial.sim._trial import Course

TRIAL_START = dt.date(2021, 3, 1)
SITES = 10
ADVERSE_EVENT_SCHEMA = {
    "subject_id": pl.String,
    "term": pl.String,
    "start_date": pl.Date,
    "ctcae_grade": pl.Int64,
    "serious": pl.Boolean,
    "related": pl.Boolean,
}


def _dates(start: np.ndarray, days: np.ndarray) -> pl.Series:
    return pl.Series(start + days.astype("timedelta64[D]")).cast(pl.Date)


class _Writer:
    """Builds a course's tables: subject ids and dates once, then one record per
    (subject, day) of a mask."""

    def __init__(self, course: Course, id_prefix: str) -> None:
        n = len(course.arms)
        self.course = course
        self.calendar = course.rng("calendar")
        start = np.datetime64(TRIAL_START)
        self.randomized = start + self.calendar.integers(0, 365, n).astype("timedelta64[D]")
        self.day0 = self.randomized + self.calendar.integers(0, 3, n).astype("timedelta64[D]")
        self.ids = np.array([f"{id_prefix}{i + 1:05d}" for i in range(n)])
        self.id_series = pl.Series("subject_id", self.ids)

    def records(self, mask: np.ndarray, **columns: np.ndarray) -> pl.DataFrame:
        rows, days = np.nonzero(mask)
        return pl.DataFrame(
            {
                "subject_id": self.id_series.gather(rows),  # (no numpy string copies)
                "date": _dates(self.day0[rows], days),
                **{name: values[rows, days] for name, values in columns.items()},
            }
        )

    def subjects(self) -> pl.DataFrame:
        course, n = self.course, len(self.course.arms)
        baseline = course.counts[:, 0]
        pop = course.population
        return pl.DataFrame(
            {
                "subject_id": self.id_series,
                "site_id": [f"SITE{1 + i % SITES:02d}" for i in self.calendar.permutation(n)],
                "arm": course.arms,
                "randomization_date": _dates(self.randomized, np.zeros(n, dtype=int)),
                "treatment_start_date": _dates(self.day0, np.zeros(n, dtype=int)),
                "stratum": np.where(baseline < 10, "plt<10", "plt>=10"),
                "sex": np.where(pop.female, "F", "M"),
                "age": pop.age.astype(int),
            }
        )

    def observations(self) -> dict[str, pl.DataFrame]:
        """The tables the endpoint engine reads: platelets, bleeding, rescue."""
        course = self.course
        seen = course.visits
        rescue = (
            self.records(course.schedule.rescue)
            .rename({"date": "start_date"})
            .with_columns(pl.lit(course.rescue_treatment).alias("treatment"))
        )
        return {
            "platelets": self.records(seen, count=np.nan_to_num(course.counts).astype(int)),
            "bleeding": self.records(seen, who_grade=course.bleeding),
            "rescue": rescue,
        }


def endpoint_tables(
    course: Course, protocol: Protocol, id_prefix: str = "V"
) -> dict[str, pl.DataFrame]:
    """subjects (without ``last_contact_date``), platelets, bleeding and rescue: all the
    endpoint engine reads, the same records as :func:`course_tables` (for simulated power:
    doses, drug levels and adverse events are not written)."""
    writer = _Writer(course, id_prefix)
    return {"subjects": writer.subjects(), **writer.observations()}


def course_tables(
    course: Course, protocol: Protocol, params: ModelParameters, id_prefix: str = "V"
) -> dict[str, pl.DataFrame]:
    """subjects, platelets, bleeding, rescue, adverse_events, doses, drug_levels."""
    writer = _Writer(course, id_prefix)
    subjects = writer.subjects()
    observations = writer.observations()
    schedule = course.schedule
    observed = np.arange(schedule.dex.shape[1])[None, :] < course.dropout_day[:, None]
    given = [
        writer.records((mg > 0) & observed, dose_mg=mg).with_columns(
            pl.lit(protocol.regimens[key].drug).alias("drug")
        )
        for key, mg in schedule.given.items()
    ]
    doses = (
        pl.concat(given)
        .select("subject_id", "date", "drug", "dose_mg")
        .sort("subject_id", "date", "drug")
    )
    levels = (
        writer.records(~np.isnan(course.troughs), trough_ng_ml=course.troughs)
        .with_columns(pl.lit(course.trough_drug).alias("drug"))
        .select("subject_id", "date", "drug", "trough_ng_ml")
    )
    tables = {
        "subjects": subjects,
        **observations,
        "adverse_events": _adverse_events(course, protocol, params, writer.ids, writer.day0),
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


def _modules_by_arm(protocol: Protocol) -> dict[str, set[str]]:
    return {
        arm: {r.model for r in protocol.regimens.values() if arm in r.arms}
        for arm in protocol.arm_codes
    }


def _adverse_events(
    course: Course,
    protocol: Protocol,
    params: ModelParameters,
    ids: np.ndarray,
    day0: np.ndarray,
) -> pl.DataFrame:
    """Adverse events at the parameter file's rates for the drug modules each arm gets,
    starting on a day from Day 1 through the day after the protocol's last dose."""
    rng = course.rng("events")
    n = len(ids)
    safety = params.safety
    period = max(r.last_day() for r in protocol.regimens.values()) + 1
    modules = _modules_by_arm(protocol)
    frames = []
    for event in safety.events:
        rate_by_arm = {
            arm: max((event.rate.get(m, 0.0) for m in given), default=0.0)
            for arm, given in modules.items()
        }
        p = np.array([rate_by_arm[arm] for arm in course.arms])
        has = rng.random(n) < p
        start = rng.integers(1, period + 1, n)
        grade = np.where(rng.random(n) < 1.0 - safety.grade2_fraction, 1, 2)
        serious = (grade == 2) & (rng.random(n) < event.serious_if_grade2)
        keep = has & (start < course.dropout_day)
        count = int(keep.sum())
        frames.append(
            pl.DataFrame(
                {
                    "subject_id": ids[keep],
                    "term": [event.term] * count,
                    "start_date": _dates(day0[keep], start[keep]),
                    "ctcae_grade": grade[keep],
                    "serious": serious[keep],
                    "related": [event.related] * count,
                },
                schema=ADVERSE_EVENT_SCHEMA,  # also when a term has no event at all
            )
        )
    if not frames:
        return pl.DataFrame(schema=ADVERSE_EVENT_SCHEMA)
    return pl.concat(frames).sort("subject_id", "start_date", "term")

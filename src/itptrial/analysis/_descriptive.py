"""Descriptive summaries: trial flow, baseline characteristics, safety, trajectories."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from itptrial.data import Dataset

GRADES = ("1", "2", "3", "4", "5")


@dataclass(frozen=True)
class Flow:
    """CONSORT-style counts per arm."""

    randomized: int
    treated: int
    evaluable: int
    analysed: int  # ITT: every randomized subject


def flow(subjects: pl.DataFrame, endpoints: pl.DataFrame, arm: str) -> Flow:
    mine = subjects.filter(pl.col("arm") == arm)
    evaluable = endpoints.filter((pl.col("arm") == arm) & (pl.col("evaluable") == 1)).height
    return Flow(
        randomized=mine.height,
        treated=mine.filter(pl.col("treatment_start_date").is_not_null()).height,
        evaluable=evaluable,
        analysed=mine.height,
    )


@dataclass(frozen=True)
class Continuous:
    n: int
    median: float | None
    q1: float | None
    q3: float | None
    minimum: float | None
    maximum: float | None


def continuous(values: pl.Series) -> Continuous:
    present = values.drop_nulls().cast(pl.Float64)
    if present.len() == 0:
        return Continuous(0, None, None, None, None, None)
    return Continuous(
        n=present.len(),
        median=float(present.median()),  # type: ignore[arg-type]
        q1=float(present.quantile(0.25, "linear")),  # type: ignore[arg-type]
        q3=float(present.quantile(0.75, "linear")),  # type: ignore[arg-type]
        minimum=float(present.min()),  # type: ignore[arg-type]
        maximum=float(present.max()),  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class Baseline:
    """Baseline characteristics of one arm (counts by level for categorical ones)."""

    n: int
    age: Continuous
    baseline_count: Continuous
    sex: dict[str, int]
    stratum: dict[str, int]


def _levels(values: pl.Series) -> dict[str, int]:
    counts = values.fill_null("missing").value_counts(sort=False)
    pairs = sorted(zip(counts[values.name or ""].to_list(), counts["count"].to_list(), strict=True))
    return {str(level): int(n) for level, n in pairs}


def baseline(subjects: pl.DataFrame, endpoints: pl.DataFrame, arm: str) -> Baseline:
    mine = subjects.filter(pl.col("arm") == arm)
    counts = endpoints.filter(pl.col("arm") == arm).get_column("baseline_count")
    return Baseline(
        n=mine.height,
        age=continuous(mine.get_column("age")),
        baseline_count=continuous(counts),
        sex=_levels(mine.get_column("sex")),
        stratum=_levels(mine.get_column("stratum")),
    )


@dataclass(frozen=True)
class SafetySummary:
    any_ae: int
    grade_3_plus: int
    serious: int
    related: int


def _with_arm(data: Dataset) -> pl.DataFrame:
    """Adverse events with the subject's arm and whether they are treatment-emergent
    (start_date on or after treatment_start_date, treated subjects only; endpoints.md)."""
    subjects = data.subjects.select("subject_id", "arm", "treatment_start_date")
    emergent = (pl.col("start_date") >= pl.col("treatment_start_date")).fill_null(False)
    return data.adverse_events.join(subjects, on="subject_id").with_columns(
        emergent.alias("emergent")
    )


def treatment_emergent(data: Dataset) -> pl.DataFrame:
    """The treatment-emergent adverse events, which every safety count uses."""
    return _with_arm(data).filter(pl.col("emergent"))


def pre_treatment_events(data: Dataset) -> pl.DataFrame:
    """Adverse events before treatment (or of never-treated subjects): listed apart."""
    return (
        _with_arm(data)
        .filter(~pl.col("emergent"))
        .select("subject_id", "arm", "term", "start_date", "ctcae_grade", "serious", "related")
        .sort("subject_id", "start_date", "term")
    )


def safety_by_arm(events: pl.DataFrame, arm: str) -> SafetySummary:
    """Subjects of ``arm`` with any, grade >= 3, serious, related event among ``events``."""
    mine = events.filter(pl.col("arm") == arm)

    def subjects_with(condition: pl.Expr) -> int:
        return mine.filter(condition).get_column("subject_id").n_unique()

    return SafetySummary(
        any_ae=subjects_with(pl.lit(True)),
        grade_3_plus=subjects_with(pl.col("ctcae_grade") >= 3),
        serious=subjects_with(pl.col("serious")),
        related=subjects_with(pl.col("related")),
    )


def safety_by_term(
    events: pl.DataFrame, arms: tuple[str, ...]
) -> dict[str, dict[str, dict[str, int]]]:
    """term -> arm -> worst grade ("1".."5") -> subjects (each counted once per term)."""
    worst = (
        events.group_by("term", "arm", "subject_id")
        .agg(pl.col("ctcae_grade").max().alias("grade"))
        .group_by("term", "arm", "grade")
        .len()
    )
    table: dict[str, dict[str, dict[str, int]]] = {}
    for term in sorted(worst.get_column("term").unique().to_list()):
        table[term] = {arm: dict.fromkeys(GRADES, 0) for arm in arms}
    for term, arm, grade, n in worst.iter_rows():
        if arm in table[term]:
            table[term][arm][str(grade)] = int(n)
    return table


@dataclass(frozen=True)
class Trajectory:
    """Platelet counts of one arm summarised per study-day bin (median and IQR)."""

    day: tuple[float, ...]  # bin centre
    n: tuple[int, ...]
    median: tuple[float, ...]
    q1: tuple[float, ...]
    q3: tuple[float, ...]


def trajectories(
    data: Dataset, arms: tuple[str, ...], edges: tuple[int, ...]
) -> dict[str, Trajectory]:
    """Per arm, counts binned by study day and summarised, so that the figure stays
    small however many subjects there are. Bin i holds ``edges[i] <= t < edges[i + 1]``
    (the protocol's timeline: around its visit days, from the baseline window to the
    horizon)."""
    day0 = data.subjects.select("subject_id", "arm", "treatment_start_date").filter(
        pl.col("treatment_start_date").is_not_null()
    )
    counts = (
        data.platelets.join(day0, on="subject_id")
        .with_columns((pl.col("date") - pl.col("treatment_start_date")).dt.total_days().alias("t"))
        .filter(pl.col("t").is_between(edges[0], edges[-1] - 1))
        .with_columns(
            pl.lit(pl.Series(edges)).search_sorted(pl.col("t"), side="right").alias("bin")
        )
    )
    result = {}
    for arm in arms:
        summary = (
            counts.filter(pl.col("arm") == arm)
            .group_by("bin")
            .agg(
                pl.col("t").median().alias("day"),
                pl.len().alias("n"),
                pl.col("count").median().alias("median"),
                pl.col("count").quantile(0.25, "linear").alias("q1"),
                pl.col("count").quantile(0.75, "linear").alias("q3"),
            )
            .sort("bin")
        )
        result[arm] = Trajectory(
            day=tuple(summary.get_column("day").to_list()),
            n=tuple(summary.get_column("n").to_list()),
            median=tuple(summary.get_column("median").to_list()),
            q1=tuple(summary.get_column("q1").to_list()),
            q3=tuple(summary.get_column("q3").to_list()),
        )
    return result

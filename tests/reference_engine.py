"""A slow, deliberately plain reference implementation of docs/endpoints.md.

Written straight from the specification text (not from the columnar engine), one subject
at a time with ordinary Python loops, so that it can serve as a second opinion on
``itptrial.adjudicate``. Polars is only used to read the input frames and to hand the
result back in the engine's column types.

Every rule below quotes (or paraphrases) the spec sentence it implements.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from itptrial import Dataset, Protocol

INF = math.inf

# The endpoints.csv columns (interface.md) except ``explanation``, with the engine's types.
REFERENCE_SCHEMA: dict[str, Any] = {
    "subject_id": pl.String,
    "arm": pl.String,
    "baseline_count": pl.Float64,
    "evaluable": pl.Int8,
    "initial_response": pl.Int8,
    "initial_response_category": pl.String,
    "response_day": pl.Int64,
    "relapse": pl.Int8,
    "relapse_day": pl.Int64,
    "sustained_response_6m": pl.Int8,
    "sustained_response_category": pl.String,
    "sustained_assessment_day": pl.Int64,
    "ttr_days": pl.Int64,
    "ttr_event": pl.Int8,
    "dor_days": pl.Int64,
    "dor_event": pl.Int8,
}
COLUMNS = tuple(REFERENCE_SCHEMA)


@dataclass
class SubjectRecords:
    """Everything the endpoints need about one subject, in calendar dates."""

    subject_id: str
    arm: str
    treatment_start: dt.date | None
    counts: list[tuple[dt.date, float]] = field(default_factory=list)
    bleeding: list[tuple[dt.date, int]] = field(default_factory=list)
    rescue: list[dt.date] = field(default_factory=list)


def _not_evaluable(subject: SubjectRecords, protocol: Protocol) -> dict[str, Any]:
    # "Not evaluable subjects (no treatment start or no baseline): evaluable = 0,
    #  initial_response = 0, sustained_response_6m = 0, both categories NE, every other
    #  endpoint column empty."  Declared endpoints are binary: NE counts as 0.
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(dict.fromkeys((lm.name for lm in protocol.endpoints.landmark), 0))
    row.update(
        subject_id=subject.subject_id,
        arm=subject.arm,
        evaluable=0,
        initial_response=0,
        initial_response_category="NE",
        sustained_response_6m=0,
        sustained_response_category="NE",
    )
    return row


def adjudicate_subject(subject: SubjectRecords, protocol: Protocol) -> dict[str, Any]:
    """The endpoints of one subject (a dict keyed by :data:`COLUMNS`)."""
    p = protocol.endpoints
    horizon = p.horizon

    # "A subject with no treatment_start_date (never treated) is NE everywhere."
    if subject.treatment_start is None:
        return _not_evaluable(subject, protocol)

    # "t(date) = days from treatment_start_date (Day 0 = first dose)."
    def t_of(date: dt.date) -> int:
        return (date - subject.treatment_start).days  # type: ignore[operator]

    # "Only records with t <= HORIZON are used for any endpoint."
    count_at: dict[int, float] = {}
    for date, value in subject.counts:
        t = t_of(date)
        if t <= horizon:
            assert t not in count_at or count_at[t] == value, "conflicting counts"
            count_at[t] = value
    bleeding_days: set[int] = set()
    for date, grade in subject.bleeding:
        t = t_of(date)
        if t <= horizon and grade >= p.bleeding_grade:
            bleeding_days.add(t)
    rescue_days = [t_of(date) for date in subject.rescue]
    rescue_days = [t for t in rescue_days if t <= horizon]

    # "B = the platelet count with the latest date such that -BASELINE_WINDOW <= t <= 0.
    #  No such count: the subject is NE everywhere."
    baseline_day = None
    for t in count_at:
        if -p.baseline_window <= t <= 0 and (baseline_day is None or t > baseline_day):
            baseline_day = t
    if baseline_day is None:
        return _not_evaluable(subject, protocol)
    baseline = count_at[baseline_day]

    # "t_r = the earliest rescue start_date (any t <= HORIZON, also before Day 0);
    #  none: infinity."
    t_r: float = min(rescue_days) if rescue_days else INF

    # "An observation is a day t in [1, HORIZON] carrying a platelet count, a bleeding
    #  assessment with who_grade >= BLEEDING_GRADE, or both."
    observation_days: set[int] = set()
    for t in count_at:
        if 1 <= t <= horizon:
            observation_days.add(t)
    for t in bleeding_days:
        if 1 <= t <= horizon:
            observation_days.add(t)
    observations = sorted(observation_days)

    # "qualifies at level L when it has a count, count >= L, count >= FOLD * B, no bleeding
    #  with who_grade >= BLEEDING_GRADE on that day, and t < t_r."
    def qualifies(t: int, level: float) -> bool:
        if t not in count_at:
            return False
        count = count_at[t]
        if count < level:
            return False
        if count < p.fold * baseline:
            return False
        if t in bleeding_days:
            return False
        return t < t_r

    # "starts a confirmed run at level L when CONFIRM_DAYS = 0, or there is a later
    #  observation t_j >= t_i + CONFIRM_DAYS that qualifies at L and every observation
    #  between t_i and t_j inclusive qualifies at L."
    def starts_confirmed_run(i: int, level: float) -> bool:
        t_i = observations[i]
        if not qualifies(t_i, level):
            return False
        if p.confirm_days == 0:
            return True
        for j in range(i + 1, len(observations)):
            t_j = observations[j]
            if not qualifies(t_j, level):
                return False  # every later t_j would have this one in between
            if t_j >= t_i + p.confirm_days:
                return True
        return False

    # "Response day t_resp: the first t that starts a confirmed run at level 30."
    t_resp: int | None = None
    for i, t in enumerate(observations):
        if starts_confirmed_run(i, p.response_level):
            t_resp = t
            break

    # "Initial response: some t in INITIAL_WINDOW [1, 28] starts a confirmed run at 30.
    #  Category: CR if some t in the window starts a confirmed run at level 100, else PR;
    #  NR if no initial response."
    initial = False
    complete = False
    for i, t in enumerate(observations):
        if 1 <= t <= p.initial_window:
            if starts_confirmed_run(i, p.response_level):
                initial = True
            if starts_confirmed_run(i, p.complete_level):
                complete = True
    category = ("CR" if complete else "PR") if initial else "NR"

    # "Last count day = the last day in [1, HORIZON] carrying a count (0 if none)."
    last_count_day = 0
    for t in count_at:
        if 1 <= t <= horizon and t > last_count_day:
            last_count_day = t

    # Relapse (initial responders only).
    relapse: int | None = None
    relapse_day: int | None = None
    loss_day: float = INF
    if initial:
        assert t_resp is not None
        # "(a) t_r when t_r > t_resp"
        if t_r > t_resp:
            loss_day = t_r
        # "(b) the earliest observation t > t_resp that does not qualify at level 30 and is
        #  confirmed (unconfirmed ones are skipped): LOSS_CONFIRM = 1 means it alone
        #  suffices; LOSS_CONFIRM = 2 means the next observation after it also does not
        #  qualify (a non-qualifying last observation is then not a loss)."
        for i, t in enumerate(observations):
            if t <= t_resp or qualifies(t, p.response_level):
                continue
            following = observations[i + 1 : i + p.loss_confirm]
            if len(following) < p.loss_confirm - 1:
                continue
            if all(not qualifies(u, p.response_level) for u in following):
                loss_day = min(loss_day, t)
                break
        # "relapse = 1 when a loss day <= HORIZON exists; relapse_day = that loss day."
        if loss_day <= horizon:
            relapse = 1
            relapse_day = int(loss_day)
        else:
            relapse = 0

    # "the assessment is the platelet count with t closest to SUSTAINED_DAY among counts
    #  with |t - 180| <= SUSTAINED_WINDOW; a tie goes to the later date."
    assessment_day: int | None = None
    for t in count_at:
        if abs(t - p.sustained_day) > p.sustained_window:
            continue
        if assessment_day is None:
            assessment_day = t
            continue
        best_distance = abs(assessment_day - p.sustained_day)
        distance = abs(t - p.sustained_day)
        if distance < best_distance or (distance == best_distance and t > assessment_day):
            assessment_day = t
    # "It is 1 when the assessment exists, qualifies at level 30 ... Category CR
    #  (count >= 100) / PR / NR; NE when there is no assessment."
    if assessment_day is None:
        sustained = 0
        sustained_category = "NE"
    elif qualifies(assessment_day, p.response_level):
        sustained = 1
        sustained_category = "CR" if count_at[assessment_day] >= p.complete_level else "PR"
    else:
        sustained = 0
        sustained_category = "NR"

    # "Time to response: event at t_resp if it exists; else censored at
    #  max(0, min(t_r, last count day))."
    if t_resp is not None:
        ttr_days, ttr_event = t_resp, 1
    else:
        ttr_days, ttr_event = int(max(0, min(t_r, last_count_day))), 0

    # "Duration of response (initial responders): event at loss day - t_resp when
    #  relapse = 1; else censored at last count day - t_resp."
    dor_days: int | None = None
    dor_event: int | None = None
    if initial:
        assert t_resp is not None
        if relapse == 1:
            assert relapse_day is not None
            dor_days, dor_event = relapse_day - t_resp, 1
        else:
            dor_days, dor_event = last_count_day - t_resp, 0

    # Declared endpoints (interface.md, "Declared extra endpoints"):
    #  response_in_window: "a confirmed run at `level` starts in [from_day, to_day]";
    #  response_at_day: "the count closest to `day` within +/- `window` (ties to the later
    #  date) qualifies at `level`, exactly as the sustained assessment".
    declared: dict[str, int] = {}
    for landmark in p.landmark:
        level = p.complete_level if landmark.level == "complete" else p.response_level
        if landmark.kind == "response_in_window":
            declared[landmark.name] = int(
                any(
                    landmark.from_day <= t <= landmark.to_day and starts_confirmed_run(i, level)
                    for i, t in enumerate(observations)
                )
            )
            continue
        closest: int | None = None
        for t in sorted(count_at):
            if abs(t - landmark.day) > landmark.window:
                continue
            if closest is None or abs(t - landmark.day) <= abs(closest - landmark.day):
                closest = t  # ascending days: an equal distance later replaces earlier
        declared[landmark.name] = int(closest is not None and qualifies(closest, level))

    return {
        **declared,
        "subject_id": subject.subject_id,
        "arm": subject.arm,
        "baseline_count": float(baseline),
        "evaluable": 1,
        "initial_response": 1 if initial else 0,
        "initial_response_category": category,
        "response_day": t_resp,
        "relapse": relapse,
        "relapse_day": relapse_day,
        "sustained_response_6m": sustained,
        "sustained_response_category": sustained_category,
        "sustained_assessment_day": assessment_day,
        "ttr_days": ttr_days,
        "ttr_event": ttr_event,
        "dor_days": dor_days,
        "dor_event": dor_event,
    }


def subject_records(dataset: Dataset) -> list[SubjectRecords]:
    """The dataset's subjects with their records, sorted by subject_id."""
    by_id: dict[str, SubjectRecords] = {}
    for row in dataset.subjects.iter_rows(named=True):
        by_id[row["subject_id"]] = SubjectRecords(
            row["subject_id"], row["arm"], row["treatment_start_date"]
        )
    counts: dict[str, set[tuple[dt.date, float]]] = defaultdict(set)
    for row in dataset.platelets.iter_rows(named=True):
        counts[row["subject_id"]].add((row["date"], float(row["count"])))
    for sid, values in counts.items():
        by_id[sid].counts = sorted(values)
    for row in dataset.bleeding.iter_rows(named=True):
        by_id[row["subject_id"]].bleeding.append((row["date"], int(row["who_grade"])))
    for row in dataset.rescue.iter_rows(named=True):
        by_id[row["subject_id"]].rescue.append(row["start_date"])
    return [by_id[sid] for sid in sorted(by_id)]


def reference_rows(dataset: Dataset, protocol: Protocol) -> list[dict[str, Any]]:
    return [adjudicate_subject(s, protocol) for s in subject_records(dataset)]


def reference_schema(protocol: Protocol) -> dict[str, Any]:
    """The reference's columns: endpoints.csv without ``explanation``, then one 0/1
    column per declared endpoint."""
    declared = {lm.name: pl.Int8 for lm in protocol.endpoints.landmark}
    return {**REFERENCE_SCHEMA, **declared}


def reference_adjudicate(dataset: Dataset, protocol: Protocol) -> pl.DataFrame:
    """The endpoints.csv columns except ``explanation`` (and the declared endpoints'),
    one row per subject by id."""
    schema = reference_schema(protocol)
    rows = [{c: row[c] for c in schema} for row in reference_rows(dataset, protocol)]
    return pl.DataFrame(rows, schema=schema, orient="row")


def differences(engine: pl.DataFrame, reference: pl.DataFrame) -> dict[str, list[str]]:
    """subject_id -> the columns where ``engine`` and ``reference`` disagree.

    Both frames must hold the same subjects in the same order; ``explanation`` is ignored.
    Values are compared exactly, null only equal to null.
    """
    assert (
        engine.get_column("subject_id").to_list() == reference.get_column("subject_id").to_list()
    ), "the two frames hold different subjects (or a different order)"
    found: dict[str, list[str]] = {}
    ids = reference.get_column("subject_id").to_list()
    for column in reference.columns:
        mine = reference.get_column(column).to_list()
        theirs = engine.get_column(column).to_list()
        for sid, a, b in zip(ids, theirs, mine, strict=True):
            if a != b or (a is None) != (b is None):
                found.setdefault(sid, []).append(column)
    return found


def describe_differences(
    engine: pl.DataFrame,
    reference: pl.DataFrame,
    found: dict[str, list[str]],
    describe: Any = None,
    limit: int = 8,
) -> str:
    """A readable report of the first ``limit`` disagreeing subjects."""
    engine_rows = {r["subject_id"]: r for r in engine.iter_rows(named=True)}
    reference_rows_ = {r["subject_id"]: r for r in reference.iter_rows(named=True)}
    lines = [f"{len(found)} subject(s) disagree; first {min(limit, len(found))}:"]
    for sid in list(found)[:limit]:
        lines.append(f"--- subject {sid}: columns {found[sid]}")
        for column in found[sid]:
            lines.append(
                f"    {column}: engine={engine_rows[sid][column]!r} "
                f"reference={reference_rows_[sid][column]!r}"
            )
        if describe is not None:
            lines.append("    data: " + describe(sid))
        if "explanation" in engine.columns:
            lines.append(f"    engine explanation: {engine_rows[sid]['explanation']}")
    return "\n".join(lines)

"""Property-based tests of the endpoint engine (hypothesis).

(a) shifting every date of a subject by a constant changes no endpoint;
(b) records after the horizon change nothing;
(c) the order of subjects and of records in the input tables changes nothing;
(d) the engine agrees with the plain reference implementation (tests/reference_engine.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from itptrial import Protocol, adjudicate, dataset_from_frames, load_protocol

from builders import Subject, tables
from reference_engine import COLUMNS, describe_differences, differences, reference_adjudicate

# Declared endpoints that restate built-in ones (so that they must agree with them for
# every subject), and others on the borders of their windows.
LANDMARKS = [
    {"name": "as_initial", "label": "As initial response", "kind": "response_in_window",
     "from_day": 1, "to_day": 28},
    {"name": "as_sustained", "label": "As sustained response", "kind": "response_at_day",
     "day": 180, "window": 14},
    {"name": "as_sustained_cr", "label": "As sustained CR", "kind": "response_at_day",
     "day": 180, "window": 14, "level": "complete"},
    {"name": "cr_days_7_35", "label": "CR in days 7-35", "kind": "response_in_window",
     "from_day": 7, "to_day": 35, "level": "complete"},
    {"name": "at_day_90", "label": "Response at day 90", "kind": "response_at_day",
     "day": 90, "window": 7},
]  # fmt: skip


def with_landmarks(preset: str) -> Protocol:
    raw = load_protocol(preset).model_dump(mode="json", exclude_none=True)
    raw["name"] = f"{preset}-landmarks"
    raw["endpoints"]["landmark"] = LANDMARKS
    return Protocol.model_validate(raw)


PROTOCOLS = {
    **{name: load_protocol(name) for name in ("target020", "iwg2009")},
    "iwg2009-landmarks": with_landmarks("iwg2009"),
}


def endpoint_columns(protocol: Protocol) -> list[str]:
    """Every endpoints.csv column except the free-text explanation, declared ones too."""
    return [*COLUMNS, *(landmark.name for landmark in protocol.endpoints.landmark)]


# No shrinking: every call adjudicates whole datasets, so shrinking a failure would take
# minutes; the failure messages print the data of the offending subjects instead.
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Days and values that sit on the borders of the rules of docs/endpoints.md.
BORDER_DAYS = (
    -16, -15, -14, -13, -1, 0, 1, 6, 7, 8, 14, 21, 27, 28, 29, 35, 36, 90, 165, 166, 167,
    173, 176, 179, 180, 181, 184, 187, 193, 194, 195, 200,
)  # fmt: skip
BORDER_COUNTS = (0.0, 9.0, 10.0, 29.9, 30.0, 30.1, 45.0, 99.9, 100.0, 100.1, 250.0)
RESCUE_NAMES = ("IVIG", "platelet transfusion", "methylprednisolone")

days = st.one_of(st.sampled_from(BORDER_DAYS), st.integers(-20, 200))
follow_up_days = st.one_of(st.sampled_from(BORDER_DAYS), st.integers(1, 200))
plain_counts = st.one_of(
    st.sampled_from(BORDER_COUNTS),
    st.integers(0, 400).map(float),
    st.floats(0, 500, allow_nan=False, allow_infinity=False).map(lambda x: round(x, 1)),
)


@st.composite
def subjects(draw: st.DrawFn, subject_id: str = "P001") -> Subject:
    """One subject in study days, biased to border values (incl. exactly 2 x baseline)."""
    counts: dict[int, float] = {}
    baseline_day = draw(st.one_of(st.none(), st.sampled_from((-15, -14, -7, -1, 0))))
    baseline = draw(st.sampled_from((0.0, 5.0, 12.0, 12.5, 15.0, 20.0, 50.0, 60.0)))
    if baseline_day is not None:
        counts[baseline_day] = baseline
    values = st.one_of(plain_counts, st.sampled_from((2 * baseline, max(0.0, 2 * baseline - 0.1))))
    if draw(st.booleans()):  # a symmetric pair around the sustained day (a tie)
        d = draw(st.integers(0, 15))
        counts.setdefault(180 - d, draw(values))
        counts.setdefault(180 + d, draw(values))
    if draw(st.booleans()):  # a few counts one week apart (the confirmation borders)
        start = draw(st.sampled_from((1, 7, 14, 21, 22, 28, 29, 160, 166, 173, 180)))
        step = draw(st.sampled_from((6, 7, 7, 8)))
        high = (30.0, 100.0, 150.0, max(30.0, 2 * baseline), max(100.0, 2 * baseline))
        level = draw(st.sampled_from(high))
        for k in range(draw(st.integers(1, 3))):
            counts.setdefault(start + k * step, level)
    for t, c in draw(st.dictionaries(follow_up_days, values, max_size=12)).items():
        counts.setdefault(t, c)
    for t, c in draw(st.dictionaries(days, values, max_size=2)).items():
        counts.setdefault(t, c)
    bleeding = draw(st.dictionaries(days, st.integers(0, 4), max_size=4))
    on_count_day = st.sampled_from(sorted(t for t in counts if t >= 1) or [7])
    rescue_days = st.one_of(on_count_day, on_count_day, st.sampled_from((-20, -3, -1, 0)), days)
    rescue = draw(
        st.dictionaries(rescue_days, st.sampled_from(RESCUE_NAMES), min_size=1, max_size=2)
    )
    return Subject(
        subject_id=subject_id,
        counts=counts,
        bleeding=bleeding,
        rescue=rescue if draw(st.booleans()) else {},
        arm=draw(st.sampled_from(("TAC_DXM", "DXM"))),
        treated=draw(st.integers(0, 9)) > 0,
        day0=draw(st.dates(dt.date(2019, 1, 1), dt.date(2026, 12, 31))),
        randomized_days_before=draw(st.integers(0, 30)),
    )


@st.composite
def cohorts(draw: st.DrawFn) -> list[Subject]:
    n = draw(st.integers(1, 6))
    return [draw(subjects(f"P{i:03d}")) for i in range(n)]


presets = st.sampled_from(sorted(PROTOCOLS))


def run(subject_list: list[Subject], protocol: Protocol) -> pl.DataFrame:
    return adjudicate(dataset_from_frames(tables(subject_list), protocol), protocol)


def describe(subject_list: list[Subject]) -> dict[str, str]:
    return {s.subject_id: repr(s) for s in subject_list}


def assert_same(
    before: pl.DataFrame, after: pl.DataFrame, columns: list[str], data: dict[str, str]
) -> None:
    """Equal on ``columns``; on failure list the differing subjects and their data."""
    if before.select(columns).equals(after.select(columns)):
        return
    lines = []
    for row_a, row_b in zip(
        before.select(columns).iter_rows(named=True),
        after.select(columns).iter_rows(named=True),
        strict=True,
    ):
        changed = {c: (row_a[c], row_b[c]) for c in columns if row_a[c] != row_b[c]}
        if changed:
            sid = row_a["subject_id"]
            lines.append(f"{sid}: {changed}\n    data: {data.get(sid, '?')}")
    raise AssertionError("endpoints changed:\n" + "\n".join(lines))


# (a) ------------------------------------------------------------------------------------
@SETTINGS
@given(cohort=cohorts(), preset=presets, shift=st.integers(-3000, 3000), which=st.integers(0, 5))
def test_shifting_a_subjects_dates_changes_no_endpoint(
    cohort: list[Subject], preset: str, shift: int, which: int
) -> None:
    """Day0 and randomization move with every record (the builders work in study days)."""
    protocol = PROTOCOLS[preset]
    which = which % len(cohort)
    shifted = [
        dataclasses.replace(s, day0=s.day0 + dt.timedelta(days=shift)) if i == which else s
        for i, s in enumerate(cohort)
    ]
    columns = endpoint_columns(protocol)
    assert_same(run(cohort, protocol), run(shifted, protocol), columns, describe(cohort))


# (b) ------------------------------------------------------------------------------------
@st.composite
def after_horizon(draw: st.DrawFn, subject: Subject, horizon: int) -> Subject:
    later = st.one_of(
        st.sampled_from((horizon + 1, horizon + 2, horizon + 7)),
        st.integers(horizon + 1, horizon + 120),
    )
    counts = dict(subject.counts)
    for t, c in draw(st.dictionaries(later, plain_counts, max_size=4)).items():
        counts.setdefault(t, c)
    bleeding = dict(subject.bleeding)
    for t, g in draw(st.dictionaries(later, st.integers(0, 4), max_size=3)).items():
        bleeding.setdefault(t, g)
    rescue = dict(subject.rescue)
    for t, r in draw(st.dictionaries(later, st.sampled_from(RESCUE_NAMES), max_size=2)).items():
        rescue.setdefault(t, r)
    return dataclasses.replace(subject, counts=counts, bleeding=bleeding, rescue=rescue)


@SETTINGS
@given(cohort=cohorts(), preset=presets, data=st.data())
def test_records_after_the_horizon_change_nothing(
    cohort: list[Subject], preset: str, data: st.DataObject
) -> None:
    protocol = PROTOCOLS[preset]
    horizon = protocol.endpoints.horizon
    extended = [data.draw(after_horizon(s, horizon)) for s in cohort]
    assert_same(
        run(cohort, protocol),
        run(extended, protocol),
        [*endpoint_columns(protocol), "explanation"],
        describe(extended),
    )


# (c) ------------------------------------------------------------------------------------
@SETTINGS
@given(cohort=cohorts(), preset=presets, data=st.data())
def test_order_of_subjects_and_records_changes_nothing(
    cohort: list[Subject], preset: str, data: st.DataObject
) -> None:
    protocol = PROTOCOLS[preset]
    frames = tables(cohort)
    shuffled = {}
    for name, frame in frames.items():
        order = data.draw(st.permutations(range(frame.height)), label=f"{name} order")
        shuffled[name] = frame[list(order)] if frame.height else frame
    before = adjudicate(dataset_from_frames(frames, protocol), protocol)
    after = adjudicate(dataset_from_frames(shuffled, protocol), protocol)
    assert_same(before, after, [*endpoint_columns(protocol), "explanation"], describe(cohort))


# (d) ------------------------------------------------------------------------------------
@settings(SETTINGS, max_examples=120)
@given(cohort=cohorts())
def test_engine_agrees_with_reference(cohort: list[Subject]) -> None:
    frames = tables(cohort)
    for preset, protocol in PROTOCOLS.items():
        data = dataset_from_frames(frames, protocol)
        engine = adjudicate(data, protocol)
        reference = reference_adjudicate(data, protocol)
        found = differences(engine, reference)
        info = describe(cohort)
        assert not found, f"[{preset}] " + describe_differences(
            engine, reference, found, describe=lambda sid, info=info: info[sid]
        )


@SETTINGS
@given(cohort=cohorts(), base=st.sampled_from(["target020", "iwg2009"]))
def test_declared_endpoints_that_restate_built_ins_agree_with_them(
    cohort: list[Subject], base: str
) -> None:
    """endpoints.md defines the initial response as a confirmed run starting in [1,
    INITIAL_WINDOW], and the sustained response as the closest count to SUSTAINED_DAY
    qualifying: the same rules declared as landmarks must give the same answer."""
    protocol = with_landmarks(base)
    row = run(cohort, protocol)
    assert row["as_initial"].to_list() == row["initial_response"].to_list()
    assert row["as_sustained"].to_list() == row["sustained_response_6m"].to_list()
    complete = (row["sustained_response_category"] == "CR").cast(pl.Int8).to_list()
    assert row["as_sustained_cr"].to_list() == complete


@pytest.mark.parametrize("preset", sorted(PROTOCOLS))
def test_records_after_the_horizon_hand_made(preset: str) -> None:
    """Fixed cases for (b): a loss that only a count after the horizon would confirm,
    a rescue and bleedings just after the horizon, a low count on Day HORIZON + 1."""
    protocol = PROTOCOLS[preset]
    horizon = protocol.endpoints.horizon
    base = [
        Subject("A", counts={0: 10, 7: 50, 14: 60, horizon - 4: 10}),
        Subject("B", counts={0: 10, 7: 50, 14: 60, horizon: 60}),
        Subject("C", counts={0: 10, 7: 50, 180: 60}),
    ]
    extended = [
        dataclasses.replace(base[0], counts={**base[0].counts, horizon + 1: 5}),
        dataclasses.replace(
            base[1], rescue={horizon + 1: "IVIG"}, bleeding={horizon + 1: 4, horizon + 2: 4}
        ),
        dataclasses.replace(base[2], counts={**base[2].counts, horizon + 1: 5}),
    ]
    assert_same(
        run(base, protocol),
        run(extended, protocol),
        [*endpoint_columns(protocol), "explanation"],
        describe(extended),
    )

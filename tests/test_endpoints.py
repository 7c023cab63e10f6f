"""Hand-worked endpoint cases: the worked examples of endpoints.md and every border."""

from __future__ import annotations

from typing import Any

import pytest

from itptrial import adjudicate, load_protocol

from builders import Subject, dataset

TARGET = load_protocol("target020")
IWG = load_protocol("iwg2009")


def judge(subject: Subject, protocol: Any = TARGET) -> dict[str, Any]:
    """The endpoints row of one subject."""
    rows = adjudicate(dataset([subject], protocol), protocol).to_dicts()
    assert len(rows) == 1
    return rows[0]


def pick(row: dict[str, Any], *columns: str) -> tuple[Any, ...]:
    return tuple(row[c] for c in columns)


# --- the worked examples of endpoints.md

EXAMPLE_1 = Subject("E1", {0: 12, 7: 20, 14: 45, 28: 60, 180: 85})


def test_example_1_initial_pr_sustained_pr() -> None:
    row = judge(EXAMPLE_1)
    assert pick(row, "initial_response", "initial_response_category", "response_day") == (
        1,
        "PR",
        14,
    )
    assert pick(row, "relapse", "relapse_day") == (0, None)
    assert pick(row, "sustained_response_6m", "sustained_response_category") == (1, "PR")
    assert pick(row, "ttr_days", "ttr_event", "dor_days", "dor_event") == (14, 1, 166, 0)
    assert "initial PR on day 14 (45 >= 30 and >= 2x baseline 12)" in row["explanation"]
    assert "sustained PR: 85 on day 180" in row["explanation"]


def test_example_2_cr_relapse_then_sustained_cr() -> None:
    row = judge(Subject("E2", {0: 12, 7: 110, 14: 24, 21: 150, 183: 120}))
    assert pick(row, "initial_response_category", "response_day") == ("CR", 7)
    assert pick(row, "relapse", "relapse_day") == (1, 14)
    assert pick(row, "sustained_response_6m", "sustained_response_category") == (1, "CR")
    assert pick(row, "sustained_assessment_day", "dor_days", "dor_event") == (183, 7, 1)


def test_example_3_below_twice_baseline_is_nr() -> None:
    row = judge(Subject("E3", {0: 20, 10: 35}))
    assert pick(row, "evaluable", "initial_response", "initial_response_category") == (1, 0, "NR")
    assert pick(row, "relapse", "dor_days", "response_day") == (None, None, None)
    assert pick(row, "ttr_days", "ttr_event") == (10, 0)
    assert "35 on day 10" in row["explanation"] and "2x baseline 20" in row["explanation"]


def test_example_4_rescue_is_relapse_and_fails_sustained() -> None:
    row = judge(Subject("E4", {0: 8, 7: 60, 178: 140}, rescue={90: "IVIG"}))
    assert pick(row, "initial_response_category", "relapse", "relapse_day") == ("PR", 1, 90)
    assert pick(row, "sustained_response_6m", "sustained_response_category") == (0, "NR")
    assert pick(row, "dor_days", "dor_event") == (83, 1)
    assert "IVIG" in row["explanation"]


def test_example_5_iwg_confirmed_by_later_count() -> None:
    row = judge(EXAMPLE_1, IWG)
    assert pick(row, "initial_response", "initial_response_category", "response_day") == (
        1,
        "PR",
        14,
    )
    assert "confirmed by 60 on day 28" in row["explanation"]


def test_example_2_under_iwg_unconfirmed_cr_then_confirmed_cr() -> None:
    # 110 on day 7 is followed by 24 on day 14: not confirmed; 150 on day 21 is confirmed
    # by 120 on day 183 (nothing in between), so the response starts on day 21.
    row = judge(Subject("E2", {0: 12, 7: 110, 14: 24, 21: 150, 183: 120}), IWG)
    assert pick(row, "initial_response_category", "response_day", "relapse") == ("CR", 21, 0)


def test_example_4_under_iwg_single_count_is_not_a_response() -> None:
    row = judge(Subject("E4", {0: 8, 7: 60, 178: 140}, rescue={90: "IVIG"}), IWG)
    assert pick(row, "initial_response", "initial_response_category") == (0, "NR")
    assert pick(row, "ttr_days", "ttr_event") == (90, 0)  # censored at rescue


# --- baseline


@pytest.mark.parametrize(
    ("counts", "baseline"),
    [
        ({-14: 10, 7: 50}, 10.0),  # window edge -14 is inside
        ({-15: 10, 7: 50}, None),  # -15 is outside: no baseline
        ({-10: 20, -3: 10, 7: 50}, 10.0),  # the latest date wins
        ({-3: 10, 0: 15, 7: 50}, 15.0),  # Day 0 is inside
        ({1: 10, 7: 50}, None),  # Day 1 is not baseline
    ],
)
def test_baseline_window_edges(counts: dict[int, float], baseline: float | None) -> None:
    row = judge(Subject("B", counts))
    assert row["baseline_count"] == baseline
    assert row["evaluable"] == (baseline is not None)


def test_missing_baseline_is_not_evaluable_everywhere() -> None:
    row = judge(Subject("NB", {-20: 10, 7: 50, 180: 90}))
    assert pick(row, "evaluable", "initial_response", "sustained_response_6m") == (0, 0, 0)
    assert pick(row, "initial_response_category", "sustained_response_category") == ("NE", "NE")
    for column in (
        "baseline_count",
        "response_day",
        "relapse",
        "relapse_day",
        "sustained_assessment_day",
        "ttr_days",
        "ttr_event",
        "dor_days",
        "dor_event",
    ):
        assert row[column] is None, column
    assert "no platelet count in the baseline window" in row["explanation"]


def test_never_treated_is_not_evaluable() -> None:
    row = judge(Subject("NT", {0: 10, 7: 50}, treated=False))
    assert pick(row, "evaluable", "initial_response_category", "ttr_days") == (0, "NE", None)
    assert "never treated" in row["explanation"]


# --- levels and fold


@pytest.mark.parametrize(
    ("baseline", "count", "category"),
    [
        (10, 30, "PR"),  # exactly RESPONSE_LEVEL
        (10, 29.9, "NR"),
        (10, 100, "CR"),  # exactly COMPLETE_LEVEL
        (10, 99, "PR"),
        (20, 40, "PR"),  # exactly 2x baseline
        (20, 39, "NR"),
        (50, 100, "CR"),  # CR at exactly 2x baseline
        (60, 110, "NR"),  # >= 100 but < 2x baseline
    ],
)
def test_level_and_fold_borders(baseline: float, count: float, category: str) -> None:
    row = judge(Subject("L", {0: baseline, 7: count}))
    assert row["initial_response_category"] == category


def test_zero_baseline_needs_only_the_level() -> None:
    assert judge(Subject("Z", {0: 0, 7: 30}))["initial_response_category"] == "PR"


# --- initial window


@pytest.mark.parametrize(("day", "initial"), [(1, 1), (28, 1), (29, 0)])
def test_initial_window_edges(day: int, initial: int) -> None:
    row = judge(Subject("W", {0: 10, day: 50}))
    assert row["initial_response"] == initial
    assert row["response_day"] == day  # response_day exists also after the window
    assert row["ttr_days"] == day and row["ttr_event"] == 1
    if not initial:
        assert row["relapse"] is None and row["dor_days"] is None
        assert "later response on day 29" in row["explanation"]


def test_day_zero_count_is_not_a_response() -> None:
    row = judge(Subject("D0", {0: 100}))
    assert row["initial_response"] == 0 and row["response_day"] is None


def test_cr_later_in_window_makes_category_cr() -> None:
    row = judge(Subject("C", {0: 10, 7: 40, 21: 120}))
    assert pick(row, "initial_response_category", "response_day") == ("CR", 7)
    assert "CR from day 21" in row["explanation"]


def test_cr_after_window_keeps_pr() -> None:
    row = judge(Subject("C", {0: 10, 7: 40, 35: 120}))
    assert row["initial_response_category"] == "PR"


# --- sustained response


@pytest.mark.parametrize(
    ("counts", "day"),
    [
        ({166: 80}, 166),  # window edges are inside
        ({194: 80}, 194),
        ({165: 80}, None),
        ({195: 80}, None),  # also beyond the horizon
        ({176: 80, 184: 20}, 184),  # equidistant: the later date wins
        ({176: 20, 184: 80}, 184),
        ({179: 80, 182: 20}, 179),  # closest wins
        ({178: 80, 181: 20}, 181),
    ],
)
def test_sustained_window_and_tie_rule(counts: dict[int, float], day: int | None) -> None:
    row = judge(Subject("S", {0: 10, **counts}))
    assert row["sustained_assessment_day"] == day
    expected = 1 if day is not None and counts[day] >= 30 else 0
    assert row["sustained_response_6m"] == expected
    if day is None:
        assert row["sustained_response_category"] == "NE"


@pytest.mark.parametrize(("rescue_day", "sustained"), [(179, 0), (180, 0), (181, 1), (-3, 0)])
def test_rescue_on_or_before_the_assessment_fails_it(rescue_day: int, sustained: int) -> None:
    row = judge(Subject("R", {-1: 10, 180: 80}, rescue={rescue_day: "IVIG"}))
    assert row["sustained_response_6m"] == sustained


def test_sustained_is_cross_sectional() -> None:
    row = judge(Subject("X", {0: 10, 7: 12, 60: 15, 180: 150}))
    assert pick(row, "initial_response", "sustained_response_category") == (0, "CR")


def test_bleeding_on_the_assessment_day_fails_it() -> None:
    row = judge(Subject("Bl", {0: 10, 180: 80}, bleeding={180: 2}))
    assert pick(row, "sustained_response_6m", "sustained_response_category") == (0, "NR")
    assert "bleeding grade 2" in row["explanation"]


# --- bleeding


@pytest.mark.parametrize(("grade", "initial"), [(1, 1), (2, 0), (4, 0)])
def test_bleeding_grade_one_does_not_block_a_response(grade: int, initial: int) -> None:
    row = judge(Subject("G", {0: 10, 7: 50}, bleeding={7: grade}))
    assert row["initial_response"] == initial


def test_bleeding_only_day_is_a_loss_observation() -> None:
    row = judge(Subject("BO", {0: 10, 7: 50, 21: 60}, bleeding={14: 2}))
    assert pick(row, "relapse", "relapse_day") == (1, 14)
    assert "no count, WHO bleeding grade 2" in row["explanation"]


def test_grade_one_bleeding_only_day_is_not_an_observation() -> None:
    row = judge(Subject("B1", {0: 10, 7: 50, 21: 60}, bleeding={14: 1}))
    assert pick(row, "relapse", "dor_days") == (0, 14)


def test_bleeding_only_day_breaks_iwg_confirmation() -> None:
    row = judge(Subject("BC", {0: 10, 7: 50, 14: 60}, bleeding={10: 3}), IWG)
    assert row["initial_response"] == 0


# --- rescue


def test_rescue_before_day_zero_blocks_every_response() -> None:
    row = judge(Subject("RB", {-1: 10, 7: 80, 180: 90}, rescue={-2: "IVIG"}))
    assert pick(row, "initial_response", "sustained_response_6m") == (0, 0)
    assert pick(row, "ttr_days", "ttr_event") == (0, 0)  # censored at max(0, t_r)


def test_count_on_the_rescue_day_does_not_qualify() -> None:
    row = judge(Subject("RD", {0: 10, 7: 80}, rescue={7: "IVIG"}))
    assert row["initial_response"] == 0


def test_rescue_after_horizon_is_ignored() -> None:
    row = judge(Subject("RH", {0: 10, 7: 80, 180: 90}, rescue={195: "IVIG"}))
    assert pick(row, "relapse", "sustained_response_6m") == (0, 1)


def test_time_to_response_censored_at_rescue() -> None:
    row = judge(Subject("TR", {0: 10, 7: 15, 120: 12}, rescue={50: "IVIG"}))
    assert pick(row, "ttr_days", "ttr_event") == (50, 0)


def test_time_to_response_censored_at_last_count() -> None:
    row = judge(Subject("TL", {0: 10, 7: 15, 120: 12}, bleeding={150: 3}))
    assert pick(row, "ttr_days", "ttr_event") == (120, 0)


def test_no_counts_after_day_zero_censors_at_zero() -> None:
    row = judge(Subject("T0", {0: 10}))
    assert pick(row, "ttr_days", "ttr_event", "sustained_response_category") == (0, 0, "NE")


# --- horizon


def test_records_after_the_horizon_are_ignored() -> None:
    base = Subject("H", {0: 10, 7: 50, 150: 60})
    late = Subject("H", {0: 10, 7: 50, 150: 60, 195: 5, 250: 5}, bleeding={200: 4})
    assert judge(base) == judge(late)
    assert judge(late)["dor_days"] == 143


# --- loss of response


def test_target020_single_low_count_is_a_loss() -> None:
    row = judge(Subject("LS", {0: 10, 7: 50, 14: 25, 21: 60}))
    assert pick(row, "relapse", "relapse_day", "dor_days") == (1, 14, 7)


def test_iwg_loss_needs_two_consecutive_failures() -> None:
    counts = {0: 10, 7: 50, 14: 60, 21: 25, 28: 60, 35: 20, 42: 15, 56: 70}
    row = judge(Subject("LI", counts), IWG)
    assert pick(row, "response_day", "relapse", "relapse_day") == (7, 1, 35)
    assert "confirmed by the next observation on day 42" in row["explanation"]
    assert judge(Subject("LT", counts))["relapse_day"] == 21


def test_iwg_last_failing_observation_is_not_a_loss() -> None:
    row = judge(Subject("LL", {0: 10, 7: 50, 14: 60, 21: 25}), IWG)
    assert pick(row, "relapse", "dor_days", "dor_event") == (0, 14, 0)


def test_iwg_rescue_is_a_loss_without_confirmation() -> None:
    row = judge(Subject("LR", {0: 10, 7: 50, 14: 60, 28: 70}, rescue={40: "IVIG"}), IWG)
    assert pick(row, "relapse", "relapse_day") == (1, 40)


def test_earliest_of_rescue_and_count_loss() -> None:
    row = judge(Subject("LE", {0: 10, 7: 50, 30: 20}, rescue={20: "IVIG"}))
    assert row["relapse_day"] == 20
    row = judge(Subject("LE", {0: 10, 7: 50, 15: 20}, rescue={20: "IVIG"}))
    assert row["relapse_day"] == 15


# --- iwg2009 confirmation gaps


@pytest.mark.parametrize(("gap", "initial"), [(6, 0), (7, 1), (8, 1)])
def test_iwg_confirmation_gap(gap: int, initial: int) -> None:
    row = judge(Subject("CG", {0: 10, 7: 50, 7 + gap: 55}), IWG)
    assert row["initial_response"] == initial
    assert judge(Subject("CG", {0: 10, 7: 50, 7 + gap: 55}))["response_day"] == 7  # target020


def test_iwg_confirmation_through_a_run() -> None:
    # 6 days then 7 days: the run 7, 13, 14 confirms day 7 (14 - 7 >= 7).
    row = judge(Subject("CR", {0: 10, 7: 50, 13: 55, 14: 52}), IWG)
    assert pick(row, "initial_response", "response_day") == (1, 7)


def test_iwg_confirming_observation_may_lie_after_the_window() -> None:
    row = judge(Subject("CW", {0: 10, 25: 50, 35: 55}), IWG)
    assert pick(row, "initial_response", "response_day") == (1, 25)


def test_iwg_failure_in_between_breaks_confirmation() -> None:
    row = judge(Subject("CB", {0: 10, 7: 50, 10: 25, 14: 55, 21: 60}), IWG)
    assert pick(row, "initial_response", "response_day") == (1, 14)


def test_iwg_complete_response_needs_its_own_confirmation() -> None:
    row = judge(Subject("CC", {0: 10, 7: 120, 14: 50}), IWG)
    assert pick(row, "initial_response_category", "response_day") == ("PR", 7)
    row = judge(Subject("CC", {0: 10, 7: 120, 14: 130}), IWG)
    assert row["initial_response_category"] == "CR"

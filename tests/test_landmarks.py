"""Declared extra endpoints (``[[endpoints.landmark]]``), worked by hand, and the endpoint
registry that the engine, the analysis, results.json and the report share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from itptrial import ENDPOINT_COLUMNS, adjudicate, load_protocol
from itptrial.analysis import analyze, results_dict
from itptrial.cli import app
from itptrial.endpoints import endpoint_columns, endpoint_registry
from itptrial.protocol import BUILT_IN_ENDPOINTS, Protocol

from builders import Subject, dataset, write

LANDMARKS = """
extends = "target020"
name = "landmarks"
[endpoints]
horizon = 400
[[endpoints.landmark]]
name = "response_by_day_14"
label = "Response by day 14"
kind = "response_in_window"
from_day = 1
to_day = 14
[[endpoints.landmark]]
name = "cr_by_day_28"
label = "Complete response by day 28"
kind = "response_in_window"
from_day = 1
to_day = 28
level = "complete"
[[endpoints.landmark]]
name = "sustained_response_12m"
label = "Sustained response at 12 months"
kind = "response_at_day"
day = 365
window = 28
"""


def protocol_file(tmp_path: Path, text: str, name: str = "protocol.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def landmarks(tmp_path_factory: pytest.TempPathFactory) -> Protocol:
    return load_protocol(str(protocol_file(tmp_path_factory.mktemp("p"), LANDMARKS)))


def judge(subject: Subject, protocol: Protocol) -> dict[str, Any]:
    rows = adjudicate(dataset([subject], protocol), protocol).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_worked_example_one_of_each(landmarks: Protocol) -> None:
    row = judge(Subject("L1", {0: 12, 7: 20, 14: 45, 28: 60, 365: 85}), landmarks)
    assert (row["response_by_day_14"], row["cr_by_day_28"], row["sustained_response_12m"]) == (
        1,
        0,
        1,
    )
    explanation = row["explanation"]
    assert "response_by_day_14: yes, from day 14 (45 >= 30 and >= 2x baseline 12)" in explanation
    assert "cr_by_day_28: no confirmed run at 100 starting in days 1-28" in explanation
    assert "sustained_response_12m: yes, 85 on day 365" in explanation


def test_assessment_tie_goes_to_the_later_day(landmarks: Protocol) -> None:
    row = judge(Subject("L2", {0: 10, 7: 50, 355: 20, 375: 40}), landmarks)
    assert row["sustained_response_12m"] == 1
    assert "sustained_response_12m: yes, 40 on day 375" in row["explanation"]


def test_rescue_before_the_assessment_fails_it(landmarks: Protocol) -> None:
    row = judge(Subject("L3", {0: 10, 7: 50, 360: 150}, rescue={300: "IVIG"}), landmarks)
    assert (row["response_by_day_14"], row["sustained_response_12m"]) == (1, 0)
    assert (
        "sustained_response_12m: no, 150 on day 360 (on or after rescue IVIG on day 300)"
        in (row["explanation"])
    )


def test_no_count_in_the_window(landmarks: Protocol) -> None:
    row = judge(Subject("L4", {0: 10, 7: 50, 300: 60, 394: 60}), landmarks)
    assert row["sustained_response_12m"] == 0
    assert "sustained_response_12m: NE, no count in days 337-393" in row["explanation"]


def test_bleeding_day_does_not_qualify_in_the_window(landmarks: Protocol) -> None:
    bled = judge(Subject("L5", {0: 10, 10: 45, 20: 50}, bleeding={10: 2}), landmarks)
    assert bled["response_by_day_14"] == 0 and bled["response_day"] == 20
    graded_one = judge(Subject("L6", {0: 10, 10: 45}, bleeding={10: 1}), landmarks)
    assert graded_one["response_by_day_14"] == 1


def test_complete_level_in_window(landmarks: Protocol) -> None:
    row = judge(Subject("L7", {0: 10, 7: 60, 21: 140}), landmarks)
    assert (row["cr_by_day_28"], row["initial_response_category"]) == (1, "CR")
    assert (
        "cr_by_day_28: yes, from day 21 (140 >= 100 and >= 2x baseline 10)" in (row["explanation"])
    )


def test_not_evaluable_subjects_are_zero(landmarks: Protocol) -> None:
    never = judge(Subject("L8", {0: 10, 7: 60, 365: 90}, treated=False), landmarks)
    no_baseline = judge(Subject("L9", {7: 60, 365: 90}), landmarks)
    for row in (never, no_baseline):
        assert (row["response_by_day_14"], row["cr_by_day_28"]) == (0, 0)
        assert row["sustained_response_12m"] == 0
        assert row["explanation"].startswith("not evaluable")


def test_confirmation_may_lie_after_the_window(tmp_path: Path) -> None:
    confirmed = protocol_file(
        tmp_path,
        LANDMARKS.replace('name = "landmarks"', 'name = "confirmed"\n').replace(
            "horizon = 400", "horizon = 400\nconfirm_days = 7"
        ),
    )
    protocol = load_protocol(str(confirmed))
    later = judge(Subject("C1", {0: 12, 14: 45, 28: 60}), protocol)
    assert later["response_by_day_14"] == 1 and later["response_day"] == 14
    broken = judge(Subject("C2", {0: 12, 14: 45, 18: 20, 28: 60}), protocol)
    assert broken["response_by_day_14"] == 0


# --- the registry ------------------------------------------------------------------------


def test_registry_declares_exactly_the_built_in_endpoints_and_columns() -> None:
    p = load_protocol("target020").endpoints
    registry = endpoint_registry(p)
    assert {e.name: e.kind for e in registry} == BUILT_IN_ENDPOINTS
    derived = [e.meta.output_name() for entry in registry for e in entry.columns]
    assert set(derived) | {"subject_id", "arm", "baseline_count", "evaluable", "explanation"} == (
        set(ENDPOINT_COLUMNS)
    )
    assert endpoint_columns(p) == ENDPOINT_COLUMNS
    for endpoint in registry:
        if endpoint.kind == "binary":
            assert endpoint.responders is not None and endpoint.time is None
        else:
            assert endpoint.time and endpoint.event and endpoint.figure is not None


def test_a_declared_endpoint_is_one_more_registry_entry(landmarks: Protocol) -> None:
    registry = endpoint_registry(landmarks.endpoints)
    declared = [e for e in registry if e.declared]
    assert [e.name for e in declared] == [lm.name for lm in landmarks.endpoints.landmark]
    assert [e.label for e in declared] == [lm.label for lm in landmarks.endpoints.landmark]
    assert all(e.kind == "binary" and e.explain is not None for e in declared)
    names = [lm.name for lm in landmarks.endpoints.landmark]
    assert endpoint_columns(landmarks.endpoints) == (*ENDPOINT_COLUMNS, *names)


def test_labels_follow_the_protocol(landmarks: Protocol) -> None:
    labels = {e.name: e.label for e in endpoint_registry(landmarks.endpoints)}
    assert labels["initial_response"] == "Initial response (days 1-28)"
    assert labels["sustained_response_6m"] == "Sustained response at 6 months (day 180)"
    assert labels["relapse"] == "Relapse among initial responders (by day 400)"
    assert labels["sustained_response_12m"] == "Sustained response at 12 months"


# --- analysed and reported like the built-ins ---------------------------------------------


def test_declared_endpoints_are_analysed_written_and_reported(
    landmarks: Protocol, tmp_path: Path
) -> None:
    subjects = [
        Subject("A1", {0: 12, 7: 45, 365: 85}, arm="TAC_DXM"),
        Subject("A2", {0: 12, 7: 20, 21: 60, 365: 20}, arm="TAC_DXM"),
        Subject("B1", {0: 12, 7: 45, 365: 85}, arm="DXM"),
        Subject("B2", {0: 12, 7: 15, 365: 15}, arm="DXM"),
        Subject("B3", {0: 12, 7: 15, 365: 15}, arm="DXM"),
    ]
    analysis = analyze(dataset(subjects, landmarks), landmarks)
    results = results_dict(analysis)
    block = results["binary"]["sustained_response_12m"]
    assert block["label"] == "Sustained response at 12 months"
    assert block["by_arm"]["TAC_DXM"]["responders"] == 1 and block["by_arm"]["DXM"]["n"] == 3
    assert block["p_chisq"] == block["comparisons"]["TAC_DXM vs DXM"]["p_chisq"]
    assert results["binary"]["response_by_day_14"]["by_arm"]["TAC_DXM"]["responders"] == 1

    path = protocol_file(tmp_path, LANDMARKS)
    data = write(subjects, tmp_path / "data")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["analyze", str(data), "-p", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    csv = pl.read_csv(out / "endpoints.csv")
    assert csv.columns[-4:] == [
        "explanation",
        "response_by_day_14",
        "cr_by_day_28",
        "sustained_response_12m",
    ]
    assert json.loads((out / "results.json").read_text())["binary"]["cr_by_day_28"]
    html = (out / "report.html").read_text()
    for label in ("Response by day 14", "Complete response by day 28", "at 12 months"):
        assert label in html

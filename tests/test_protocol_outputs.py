"""Everything from the protocol, end to end: a phase-3-like protocol (examples/phase3)
through simulate, adjudicate and analyze, and a protocol whose every endpoint parameter
differs from TARGET 020, checked in every label, heading, window, axis and grid."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from itptrial import load_dataset, load_protocol
from itptrial.cli import app

PHASE3 = Path(__file__).parent.parent / "examples" / "phase3" / "protocol.toml"

# Every endpoint parameter differs from the target020 preset, and the visits too.
DIFFERENT = """
extends = "target020"
name = "every-parameter-differs"
title = "A protocol unlike TARGET 020"
[endpoints]
horizon = 300
baseline_window = 10
response_level = 50
complete_level = 150
fold = 1.5
bleeding_grade = 3
confirm_days = 5
initial_window = 21
loss_confirm = 2
sustained_day = 270
sustained_window = 20
[visits]
days = [0, 4, 8, 12, 21, 35, 63, 91, 119, 147, 175, 203, 231, 259, 270, 287]
jitter_days = 1
jitter_after_day = 21
"""


def run(*args: str | Path) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def svg_texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


@pytest.fixture(scope="module")
def phase3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("phase3")
    run("simulate", "-p", PHASE3, "--n-per-arm", "30,30,30", "--seed", "4", "--out", root / "d")
    run("adjudicate", root / "d", "-p", PHASE3, "--out", root / "endpoints.parquet")
    run("analyze", root / "d", "-p", PHASE3, "--out", root / "a")
    return root


def test_phase3_simulation_follows_its_protocol(phase3: Path) -> None:
    protocol = load_protocol(str(PHASE3))
    data = load_dataset(phase3 / "d", protocol)
    subjects = data.subjects
    assert subjects.group_by("arm").len().sort("arm").rows() == [
        ("DEX", 30),
        ("TAC12", 30),
        ("TAC24", 30),
    ]
    day = (pl.col("date") - pl.col("treatment_start_date")).dt.total_days()
    doses = data.doses.join(subjects.select("subject_id", "arm", "treatment_start_date"),
                            on="subject_id").with_columns(day.alias("t"))  # fmt: skip
    tacrolimus = doses.filter(pl.col("drug") == "tacrolimus")
    last = dict(tacrolimus.group_by("arm").agg(pl.col("t").max()).rows())
    assert last == {"TAC24": 167, "TAC12": 83}  # 24 and 12 weeks; none in the control arm
    dexamethasone = doses.filter(pl.col("drug") == "dexamethasone")
    assert set(dexamethasone.get_column("t").unique()) <= {0, 1, 2, 3, 14, 15, 16, 17}
    levels = data.drug_levels.join(subjects, on="subject_id").with_columns(day.alias("t"))
    assert set(levels.get_column("arm").unique()) == {"TAC24", "TAC12"}
    assert 5 in set(levels.get_column("t"))  # measure_days = [5], not a visit day
    counts = data.platelets.join(subjects, on="subject_id").with_columns(day.alias("t"))
    early = set(counts.filter(pl.col("t") <= 28).get_column("t"))
    assert early <= {0, 3, 7, 10, 14, 21, 28}  # no jitter up to jitter_after_day
    assert counts.get_column("t").max() <= 400


def test_phase3_endpoints_and_results(phase3: Path) -> None:
    endpoints = pl.read_parquet(phase3 / "endpoints.parquet")
    assert endpoints.columns[-2:] == ["sustained_response_12m", "response_by_day_7"]
    results = json.loads((phase3 / "a" / "results.json").read_text())
    assert results["arms"] == {"experimental": ["TAC24", "TAC12"], "control": "DEX"}
    primary = results["binary"]["sustained_response_12m"]
    assert primary["primary"] is True and primary["label"] == "Sustained response at 12 months"
    assert results["binary"]["initial_response"]["label"] == "Initial response (days 1-14)"
    assert set(primary["comparisons"]) == {"TAC24 vs DEX", "TAC12 vs DEX"}
    assert "holm" in primary["comparisons"]["TAC12 vs DEX"]


def test_phase3_report_labels_and_axes(phase3: Path) -> None:
    html = (phase3 / "a" / "report.html").read_text()
    assert "Sustained response at 12 months · Tacrolimus 24 weeks + dexamethasone" in html
    assert "Initial response (days 1-14)" in html and "days 1-28" not in html
    assert "Relapse among initial responders (by day 400)" in html
    km = (phase3 / "a" / "figures" / "km_duration_of_response.svg").read_text()
    assert {"0", "56", "112", "168", "224", "280", "336", "392"} <= set(svg_texts(km))
    for arm in ("TAC24", "TAC12", "DEX"):
        assert arm in svg_texts(km)  # a numbers-at-risk row per arm
    trajectory = (phase3 / "a" / "figures" / "platelet_trajectories.svg").read_text()
    assert "400" in svg_texts(trajectory)  # the axis reaches the horizon


@pytest.fixture(scope="module")
def different(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("different")
    protocol = root / "protocol.toml"
    protocol.write_text(DIFFERENT)
    run("simulate", "-p", protocol, "--n-per-arm", "40,40", "--seed", "9", "--out", root / "d")
    run("analyze", root / "d", "-p", protocol, "--out", root / "a")
    return protocol, root / "a"


def test_every_label_comes_from_the_protocol(different: tuple[Path, Path]) -> None:
    _, out = different
    html = (out / "report.html").read_text()
    for shown in (
        "Initial response (days 1-21)",
        "Initial complete response (days 1-21)",
        "Sustained response at 9 months (day 270)",
        "Sustained complete response at 9 months (day 270)",
        "Relapse among initial responders (by day 300)",
        "response (50) and complete response (150) levels",
        "every-parameter-differs",
    ):
        assert shown in html, shown
    for target020 in ("days 1-28", "6 months", "day 180", "day 194", "(30)", "(100)"):
        assert target020 not in html, target020
    results: dict[str, Any] = json.loads((out / "results.json").read_text())
    labels = {name: block["label"] for name, block in results["binary"].items()}
    assert labels["sustained_response_6m"] == "Sustained response at 9 months (day 270)"
    explanations = " ".join(pl.read_csv(out / "endpoints.csv").get_column("explanation"))
    assert "days 1-21" in explanations and "days 1-28" not in explanations
    assert "(days -10 to 0)" in explanations or "baseline" in explanations


def test_every_axis_and_grid_comes_from_the_protocol(different: tuple[Path, Path]) -> None:
    protocol_path, out = different
    km = (out / "figures" / "km_time_to_response.svg").read_text()
    assert {"0", "56", "112", "168", "224", "280"} <= set(svg_texts(km))
    assert "336" not in svg_texts(km)  # the grid stops at the horizon (300)
    trajectory = (out / "figures" / "platelet_trajectories.svg").read_text()
    assert "300" in svg_texts(trajectory)
    html = (out / "report.html").read_text()
    parameters = dict(
        re.findall(r"<tr><td><code>(\w+)</code></td><td class=\"num\">([^<]*)</td>", html)
    )
    protocol = load_protocol(str(protocol_path))
    for key, value in protocol.endpoints.model_dump(exclude={"landmark"}).items():
        assert parameters[key] == f"{value:g}", key

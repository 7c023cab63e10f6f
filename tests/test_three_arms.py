"""A three-arm trial: every arm and both comparisons with the control, equal to R.

The dataset is a virtual trial of examples/phase3/protocol.toml, committed with its
endpoints (tests/reference/make_three_arm.py); R's pairwise analysis of those endpoints
is in r_reference.json (make_reference.R, "three_arm"). The tests compare `itptrial
analyze` with it: per-arm rates and Kaplan-Meier medians, each comparison's tests on
that pair's subjects alone, stratified and unstratified, and Holm-adjusted p-values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from itptrial import adjudicate, dataset_from_frames, load_dataset, load_protocol
from itptrial.analysis import analyze, results_dict
from itptrial.cli import app

from r_compare import close, close_fisher, solves

ROOT = Path(__file__).parent.parent
PROTOCOL = load_protocol(str(ROOT / "examples" / "phase3" / "protocol.toml"))
FOLDER = ROOT / "tests" / "reference" / "three_arm"
R = json.loads((ROOT / "tests" / "reference" / "r_reference.json").read_text())["three_arm"]
PAIRS = ("TAC24 vs DEX", "TAC12 vs DEX")


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    data = load_dataset(FOLDER / "data", PROTOCOL)
    return results_dict(analyze(data, PROTOCOL))


def test_the_engine_gives_the_committed_endpoints() -> None:
    """R analysed the committed endpoints.csv: they must be what itptrial adjudicates."""
    endpoints = adjudicate(load_dataset(FOLDER / "data", PROTOCOL), PROTOCOL)
    committed = pl.read_csv(FOLDER / "endpoints.csv", infer_schema=False)
    ours = endpoints.with_columns(pl.all().cast(pl.String))
    ours = ours.with_columns(pl.col("baseline_count").str.replace(r"\.0$", ""))
    assert ours.columns == committed.columns
    assert ours.fill_null("").equals(committed.fill_null(""))


def test_every_arm_and_both_comparisons(results: dict[str, Any]) -> None:
    assert results["arms"] == {"experimental": ["TAC24", "TAC12"], "control": "DEX"}
    assert list(results["n"]) == ["TAC24", "TAC12", "DEX"]
    for kind in ("binary", "time_to_event"):
        for name, block in results[kind].items():
            assert list(block["by_arm"]) == ["TAC24", "TAC12", "DEX"], name
            assert list(block["comparisons"]) == list(PAIRS), name
            # more than two arms: no top-level comparison keys
            assert not {"difference", "p_chisq", "p_logrank", "hazard_ratio"} & set(block)
    assert list(results["safety"]["by_arm"]) == ["TAC24", "TAC12", "DEX"]


def _table(block: dict[str, Any], pair: str) -> dict[str, int]:
    experimental, control = pair.split(" vs ")
    e, c = block["by_arm"][experimental], block["by_arm"][control]
    return {"x1": e["responders"], "n1": e["n"], "x0": c["responders"], "n0": c["n"]}


@pytest.mark.parametrize("endpoint", sorted(R["binary"]))
def test_binary_endpoints_equal_r(results: dict[str, Any], endpoint: str) -> None:
    ours, theirs = results["binary"][endpoint], R["binary"][endpoint]
    for arm, ref in theirs["by_arm"].items():
        mine = ours["by_arm"][arm]
        assert (mine["responders"], mine["n"]) == (ref["responders"], ref["n"])
        assert close(mine["ci"][0], ref["lower"]) and close(mine["ci"][1], ref["upper"])
    for index, pair in enumerate(PAIRS):
        mine, ref = ours["comparisons"][pair], theirs["comparisons"][pair]
        assert close(mine["p_chisq"], ref["p_chisq"]), pair
        assert close(mine["p_fisher"], ref["p_fisher"]), pair
        odds = (mine["odds_ratio"]["estimate"], *mine["odds_ratio"]["ci"])
        table = _table(ours, pair)
        for value, r_value, kind in zip(odds, (ref["odds_ratio"], ref["or_low"], ref["or_high"]),
                                        ("mle", "lower", "upper"), strict=True):  # fmt: skip
            assert close_fisher(value, r_value), (pair, kind)
            assert solves(table, value, kind), (pair, kind)  # the exact root
        assert close(mine["stratified"]["cmh"]["p_value"], ref["p_cmh"]), pair
        for key in ("p_chisq", "p_fisher", "p_cmh"):
            assert close(mine["holm"][key], theirs["holm"][key][index]), (pair, key)


@pytest.mark.parametrize("endpoint", sorted(R["time_to_event"]))
def test_time_to_event_equals_r(results: dict[str, Any], endpoint: str) -> None:
    ours, theirs = results["time_to_event"][endpoint], R["time_to_event"][endpoint]
    for arm, ref in theirs["by_arm"].items():
        mine = ours["by_arm"][arm]
        assert (mine["n"], mine["events"]) == (ref["n"], ref["events"])
        assert close(mine["median"], ref["median"])
        assert close(mine["median_ci"][0], ref["lower"])
        assert close(mine["median_ci"][1], ref["upper"])
    for index, pair in enumerate(PAIRS):
        mine, ref = ours["comparisons"][pair], theirs["comparisons"][pair]
        assert close(mine["p_logrank"], ref["p_logrank"]), pair
        assert close(mine["hazard_ratio"]["estimate"], ref["hr"]), pair
        assert close(mine["hazard_ratio"]["ci"][0], ref["hr_low"]), pair
        assert close(mine["hazard_ratio"]["ci"][1], ref["hr_high"]), pair
        stratified = mine["stratified"]
        assert close(stratified["p_logrank"], ref["p_logrank_stratified"]), pair
        assert close(stratified["hazard_ratio"]["estimate"], ref["hr_stratified"]), pair
        assert close(stratified["hazard_ratio"]["ci"][0], ref["hr_stratified_low"]), pair
        assert close(stratified["hazard_ratio"]["ci"][1], ref["hr_stratified_high"]), pair
        for key in ("p_logrank", "p_logrank_stratified"):
            assert close(mine["holm"][key], theirs["holm"][key][index]), (pair, key)


def test_a_comparison_uses_only_its_pair(results: dict[str, Any]) -> None:
    """Removing the other experimental arm changes no number of a comparison."""
    data = load_dataset(FOLDER / "data", PROTOCOL)
    subset = {
        name: data.table(name).filter(
            ~pl.col("subject_id").is_in(
                data.subjects.filter(pl.col("arm") == "TAC12").get_column("subject_id").implode()
            )
        )
        for name in ("subjects", "platelets", "bleeding", "rescue")
    }
    alone = results_dict(analyze(dataset_from_frames(subset, PROTOCOL), PROTOCOL))
    for name, block in results["binary"].items():
        mine = {k: v for k, v in block["comparisons"]["TAC24 vs DEX"].items() if k != "holm"}
        theirs = alone["binary"][name]["comparisons"]["TAC24 vs DEX"]
        assert mine == {k: v for k, v in theirs.items() if k != "holm"}, name


def test_the_report_shows_every_arm_and_holm(tmp_path: Path) -> None:
    out = tmp_path / "out"
    protocol = ROOT / "examples" / "phase3" / "protocol.toml"
    result = CliRunner().invoke(
        app, ["analyze", str(FOLDER / "data"), "--protocol", str(protocol), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text()
    for label in (arm.label for arm in PROTOCOL.arms):
        assert label in html
    for pair in PAIRS:
        assert pair in html
    assert "Holm-adjusted" in html and "Holm 1979" in html
    assert html.count('<tr class="sub"') >= 2 * len(PAIRS)

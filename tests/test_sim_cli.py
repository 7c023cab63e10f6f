"""`itptrial simulate` and `itptrial demo` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from itptrial import load_dataset, load_protocol
from itptrial.cli import app


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_simulate_several_trials_writes_loadable_datasets(tmp_path: Path) -> None:
    code, output = run(
        "simulate",
        "--n-per-arm",
        "6,4",
        "--trials",
        "2",
        "--seed",
        "3",
        "--out",
        str(tmp_path / "sims"),
    )
    assert code == 0, output
    for name in ("trial_0001", "trial_0002"):
        data = load_dataset(tmp_path / "sims" / name, load_protocol("target020"))
        arms = data.subjects["arm"].value_counts().sort("arm").rows()
        assert arms == [("DXM", 4), ("TAC_DXM", 6)]
    first = (tmp_path / "sims" / "trial_0001" / "platelets.csv").read_bytes()
    second = (tmp_path / "sims" / "trial_0002" / "platelets.csv").read_bytes()
    assert first != second  # independent streams


def test_single_trial_goes_straight_into_the_folder(tmp_path: Path) -> None:
    code, output = run("simulate", "--n-per-arm", "6,4", "--seed", "3", "--out", str(tmp_path))
    assert code == 0, output
    assert (tmp_path / "subjects.csv").is_file() and not (tmp_path / "trial_0001").exists()
    code, output = run(
        "simulate",
        "--n-per-arm",
        "6,4",
        "--trials",
        "2",
        "--seed",
        "3",
        "--out",
        str(tmp_path / "many"),
    )
    assert code == 0, output
    # trial 1 of K is the single trial of the same seed: streams do not depend on K
    for name in ("subjects.csv", "platelets.csv", "doses.csv"):
        assert (tmp_path / "many" / "trial_0001" / name).read_bytes() == (
            tmp_path / name
        ).read_bytes()


def test_reference_engine_from_the_command_line(tmp_path: Path) -> None:
    code, output = run(
        "simulate",
        "--n-per-arm",
        "1,1",
        "--engine",
        "reference",
        "--seed",
        "1",
        "--out",
        str(tmp_path / "ref"),
    )
    assert code == 0, output
    assert load_dataset(tmp_path / "ref").subjects.height == 2


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    for args in (
        ["--n-per-arm", "48"],
        ["--n-per-arm", "a,b"],
        ["--n-per-arm", "0,5"],
        ["--engine", "euler"],
    ):
        code, output = run("simulate", *args, "--out", str(tmp_path / "x"))
        assert code == 2, (args, output)
        assert "Traceback" not in output
        assert not (tmp_path / "x").exists()


def test_demo_simulates_analyses_and_compares_with_the_publication(tmp_path: Path) -> None:
    code, output = run("demo", "--out", str(tmp_path / "demo"), "--seed", "5")
    assert code == 0, output
    assert "published" in output and "37/48" in output and "23/56" in output
    results = json.loads((tmp_path / "demo" / "results.json").read_text())
    assert results["n"] == {"TAC_DXM": 48, "DXM": 56}
    assert (tmp_path / "demo" / "report.html").stat().st_size > 10_000
    assert load_dataset(tmp_path / "demo" / "data").subjects.height == 104
    again = tmp_path / "again"
    assert run("demo", "--out", str(again), "--seed", "5")[0] == 0
    assert (again / "results.json").read_text().replace(str(again), "") == (
        tmp_path / "demo" / "results.json"
    ).read_text().replace(str(tmp_path / "demo"), "")

"""The design commands end to end: `design sample-size` and `design assurance` against
the R fixtures (rpact 3.3.4; tests/reference/assurance.R), `randomize` files, and their
bad-input exits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from itptrial.cli import app

REFERENCE = Path(__file__).parent / "reference"
RPACT = json.loads((REFERENCE / "rpact_grid.json").read_text())["cases"]
ASSURANCE = json.loads((REFERENCE / "assurance.json").read_text())["cases"]
runner = CliRunner()


def _json(args: list[str]) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _options(case: dict[str, Any]) -> list[str]:
    given = case["input"]
    args = ["design", "sample-size", "--control", str(given["control"])]
    args += ["--experimental", str(given["experimental"]), "--alpha", str(given["alpha"])]
    args += ["--power", str(given["power"]), "--ratio", str(given["ratio"])]
    if given["margin"] is not None:
        args += ["--margin", str(given["margin"])]
    else:
        args += ["--sided", str(given["sided"])]
    if given["looks"] > 1:
        args += ["--looks", str(given["looks"]), "--boundary", given["boundary"]]
    return args


CLI_CASES = [
    c
    for c in RPACT
    if "n_total_exact" in c.get("output", {}) and c["input"]["information_rates"] is None
]


def _close(actual: float, expected: float) -> bool:
    return abs(actual - expected) <= 1e-6 * max(abs(expected), 1e-12)


def test_the_fixture_gives_the_command_enough_cases() -> None:
    assert len(CLI_CASES) >= 40
    assert sum(c["input"]["looks"] > 1 for c in CLI_CASES) >= 30


@pytest.mark.parametrize("case", CLI_CASES, ids=[c["id"] for c in CLI_CASES])
def test_sample_size_json_equals_rpact(case: dict[str, Any]) -> None:
    out, expected = _json(_options(case)), case["output"]
    assert _close(out["n_total_exact"], expected["n_total_exact"])
    assert out["n_experimental"] + out["n_control"] == out["n_total"]
    if case["input"]["looks"] == 1:
        assert out["boundaries"] is None
        return
    pairs = [
        ("boundaries", "critical_values"),
        ("boundaries_p", "critical_values_p"),
        ("alpha_spent", "alpha_spent"),
        ("stop_probability_h1", "reject_per_stage"),
        ("information_fraction", "information_rates"),
    ]
    for ours, theirs in pairs:
        for a, b in zip(out[ours], expected[theirs], strict=True):
            assert _close(a, b), (ours, a, b)
    if case["input"]["margin"] is None and case["input"]["sided"] == 2:
        side = "effect_scale_upper" if expected["direction_upper"] else "effect_scale_lower"
        # null where the boundary lies beyond every rate in (0, 1) (docs/design.md)
        effects = [(a, b) for a, b in zip(out["boundaries_effect"], expected[side], strict=True)]
        assert all(_close(a, b) for a, b in effects if a is not None)
        assert any(a is not None for a, _ in effects)
    assert _close(out["expected_n_h0"], expected["expected_n_h0"])
    assert _close(out["expected_n_h1"], expected["expected_n_h1"])


def test_dropout_inflates_the_ceiled_arms_and_not_the_exact_total() -> None:
    base = ["design", "sample-size", "--control", "0.411", "--experimental", "0.646"]
    plain, inflated = _json(base), _json([*base, "--dropout", "0.2"])
    assert plain["n_experimental"] == 70  # ceil(139.28 / 2)
    assert inflated["n_experimental"] == 88  # ceil(70 / 0.8) = ceil(87.5)
    assert inflated["n_total_exact"] == plain["n_total_exact"]


def test_sample_size_prints_a_readable_design_table() -> None:
    args = ["design", "sample-size", "--control", "0.411", "--experimental", "0.646"]
    result = runner.invoke(app, [*args, "--looks", "3", "--boundary", "asof"])
    assert result.exit_code == 0
    for line in ("Information fraction", "Efficacy boundary (z)", "Cumulative alpha spent"):
        assert line in result.stdout
    assert "Lan-DeMets alpha spending, O'Brien-Fleming type" in result.stdout


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--experimental", "1.5"], "experimental"),
        (["--experimental", "0.6", "--looks", "3"], "--boundary"),
        (["--experimental", "0.6", "--margin", "0.1", "--sided", "2"], "sided"),
        (["--experimental", "0.6", "--dropout", "1"], "dropout"),
    ],
)
def test_sample_size_refuses_bad_arguments_with_exit_2(extra: list[str], named: str) -> None:
    result = runner.invoke(app, ["design", "sample-size", "--control", "0.4", *extra])
    assert result.exit_code == 2
    assert named in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("case", ASSURANCE, ids=[c["id"] for c in ASSURANCE])
def test_assurance_json_equals_the_r_sums(case: dict[str, Any]) -> None:
    given = case["input"]
    re, ne = given["prior_experimental"]
    rc, nc = given["prior_control"]
    args = ["design", "assurance", "--prior-experimental", f"{re}/{ne}"]
    args += ["--prior-control", f"{rc}/{nc}", "--alpha", str(given["alpha"])]
    # target020's arms in protocol order: TAC_DXM (experimental), DXM (control)
    args += ["--n-per-arm", f"{given['n_experimental']},{given['n_control']}"]
    out = _json([*args, "--sided", str(given["sided"])])
    assert out["assurance"] == pytest.approx(case["assurance"], abs=1e-10)
    assert out["power_at_estimate"] == pytest.approx(case["power_at_estimate"], abs=1e-10)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--prior-experimental", "31x48"], "--prior-experimental"),
        (["--prior-experimental", "49/48"], "prior"),
        (["--prior-experimental", "31/48", "--n-per-arm", "70"], "--n-per-arm"),
    ],
)
def test_assurance_refuses_bad_arguments(args: list[str], named: str) -> None:
    base = ["design", "assurance", "--prior-control", "23/56", "--n-per-arm", "70,70"]
    result = runner.invoke(app, [*base, *args])
    assert result.exit_code == 2
    assert named in result.stderr


def _randomize(out: Path, *args: str) -> Any:
    return runner.invoke(app, ["randomize", "--n", "30", "--out", str(out), *args])


def test_randomize_writes_the_contract_columns_reproducibly(tmp_path: Path) -> None:
    args = ("--strata", "site1,site2", "--seed", "7", "--block-sizes", "4,6")
    first, second = tmp_path / "a" / "list.csv", tmp_path / "b" / "list.csv"
    assert _randomize(first, *args).exit_code == 0
    assert _randomize(second, *args).exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    lines = first.read_text().splitlines()
    assert lines[0].split(",")[:3] == ["sequence", "stratum", "arm"]
    assert len(lines) == 1 + 2 * 30
    arms = {line.split(",")[2] for line in lines[1:]}
    assert arms == {"TAC_DXM", "DXM"}  # the protocol's arm codes
    assert _randomize(tmp_path / "c.csv", "--seed", "8").exit_code == 0
    assert (tmp_path / "c.csv").read_bytes() != first.read_bytes()


def test_randomize_without_a_seed_draws_a_secret_one_and_says_it(tmp_path: Path) -> None:
    """No --seed: not a fixed default anyone could replay, but a seed drawn from the
    operating system, printed once (stderr) so that the list can be regenerated."""
    import re

    first, second = _randomize(tmp_path / "a.csv"), _randomize(tmp_path / "b.csv")
    assert first.exit_code == 0 and second.exit_code == 0
    seeds = [re.search(r"secret seed (\d+)", r.stderr) for r in (first, second)]
    assert all(seeds), first.stderr
    drawn = [int(m.group(1)) for m in seeds if m]
    assert drawn[0] != drawn[1] and min(drawn) > 2**64  # 128 random bits (P fail ~ 2^-64)
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "b.csv").read_bytes()
    again = _randomize(tmp_path / "c.csv", "--seed", str(drawn[0]))
    assert again.exit_code == 0 and "secret seed" not in again.stderr
    assert (tmp_path / "c.csv").read_bytes() == (tmp_path / "a.csv").read_bytes()
    assert _randomize(tmp_path / "d.csv", "--seed", "0").exit_code == 0
    assert (tmp_path / "d.csv").read_bytes() != (tmp_path / "a.csv").read_bytes()


def test_randomize_takes_the_ratio_in_protocol_order(tmp_path: Path) -> None:
    out = tmp_path / "list.csv"
    assert _randomize(out, "--ratio", "2:1", "--block-sizes", "3,6").exit_code == 0
    arms = [line.split(",")[2] for line in out.read_text().splitlines()[1:]]
    assert arms.count("TAC_DXM") == 20 and arms.count("DXM") == 10


def test_randomize_never_overwrites_a_file_it_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "list.csv"
    out.write_text("someone's list\n")
    result = _randomize(out)
    assert result.exit_code == 2
    assert out.read_text() == "someone's list\n"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--block-sizes", "3"), "block sizes"),
        (("--ratio", "1-1"), "--ratio"),
        (("--ratio", "1:1:1"), "ratio"),
        (("--strata", "a,a"), "strat"),
    ],
)
def test_randomize_refuses_bad_arguments(tmp_path: Path, args: tuple[str, ...], named: str) -> None:
    out = tmp_path / "list.csv"
    result = _randomize(out, *args)
    assert result.exit_code == 2
    assert named in result.stderr
    assert not out.exists()


def test_two_lists_in_one_folder_are_both_kept(tmp_path: Path) -> None:
    # each file is its own output: writing b.csv does not remove an earlier a.csv
    for name, seed in (("a.csv", "1"), ("b.csv", "2")):
        assert _randomize(tmp_path / name, "--seed", seed).exit_code == 0
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == ["a.csv", "b.csv"]
    assert (tmp_path / "a.csv").read_text() != (tmp_path / "b.csv").read_text()

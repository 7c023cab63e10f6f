"""The calibration machinery (issue 10): targets files, batched simulation, distances,
predictive checks, the posterior on disk and the commands ``calibrate``, ``calibrate
check`` and ``simulate --posterior``.

The sampler's correctness is tests/test_abc.py (exact conjugate posteriors); here a
tiny run (tests/calibration/tiny_targets.toml) checks that everything around it works.
Whether the shipped posterior fits is tests/test_sim_calibration.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from itptrial import adjudicate, dataset_from_frames, load_protocol
from itptrial.analysis import binary_counts
from itptrial.cli import main
from itptrial.pk import load_tacrolimus_model
from itptrial.sim import load_parameters, load_posterior, load_targets, simulate_rates
from itptrial.sim._calibrate import (
    _group_counts,
    _parameter_sets,
    batch_course,
    distance,
    predictive_summary,
    standard_errors,
)
from itptrial.sim._tables import course_tables

TINY = Path(__file__).parent / "calibration" / "tiny_targets.toml"
SHIPPED = Path(__file__).parents[1] / "examples" / "calibration" / "targets.toml"
BASE = load_parameters()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


# --- targets files


def test_the_shipped_targets_load() -> None:
    targets = load_targets(SHIPPED, BASE)
    assert [t.name for t in targets.trials] == ["TARGET 020", "Wei 2016"]
    assert targets.trials[0].sizes == (48, 56)
    assert targets.trials[1].sizes == (95, 0)  # Wei's prednisone arm is not simulated
    assert len(targets.observed) == 8
    assert len(targets.priors) <= len(targets.observed)  # at most one free per target
    assert "Wei 2016: dexamethasone.kill_median" in targets.names
    assert "dexamethasone.kill_median" in targets.shared  # and a value of Wei's own


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "targets.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD_TRIAL = """
[[trial]]
name = "T"
protocol = "target020"
observed = [{ arm = "DXM", endpoint = "initial_response", responders = 31, n = 56 }]
"""


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        (
            GOOD_TRIAL.replace('arm = "DXM"', 'arm = "XYZ"'),
            "trial.0.observed.0.arm",
            "is not an arm",
        ),
        (
            GOOD_TRIAL.replace("initial_response", "cure"),
            "trial.0.observed.0.endpoint",
            "not a binary endpoint",
        ),
        (
            GOOD_TRIAL.replace("initial_response", "relapse"),
            "trial.0.observed",
            "only relapse",
        ),
        (
            GOOD_TRIAL
            + '[[prior]]\nparameter = "rescue.ivig_effect"\nscale = "logit"\nmedian = 0.5\n'
            'sd = 1.0\nsource = "x"\n',
            "prior.0.parameter",
            "cannot be freed",
        ),
        (
            GOOD_TRIAL
            + '[[prior]]\nparameter = "disease.t0_median"\ntrial = "Nope"\nscale = "log"\n'
            'median = 0.5\nsd = 1.0\nsource = "x"\n',
            "prior.0.trial",
            "no trial named",
        ),
        (
            GOOD_TRIAL + '[[prior]]\nparameter = "disease.t0_median"\nscale = "log"\nmedian = 0.5\n'
            'sd = 1.0\nsource = "x"\n' * 2,
            "prior",
            "more free parameters than observed rates",
        ),
        (
            GOOD_TRIAL.replace('protocol = "target020"', 'protocol = "target020"\nsize = 3'),
            "trial.0.size",
            "",
        ),
    ],
    ids=["arm", "endpoint", "relapse-only", "not-free", "unknown-trial", "too-many", "extra"],
)
def test_bad_targets_are_exit_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, key: str, reason: str
) -> None:
    path = _write(tmp_path, text)
    argv = ["calibrate", "--targets", str(path), "--out", str(tmp_path / "o")]
    code, _, err = run(argv, capsys)
    assert code == 2
    assert f"{path}:-:{key}" in err
    assert reason in err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_calibrate_needs_targets_and_out(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["calibrate"], capsys)
    assert code == 2
    assert "--targets" in err and "--out" in err


# --- batched simulation


def test_batch_counts_equal_the_analysis_counts_of_each_group() -> None:
    """The per-group counts of one batch of 3 parameter sets equal what the analysis
    package counts on each group's subjects alone (an independent path)."""
    targets = load_targets(TINY, BASE)
    trial = targets.trials[0]
    centre = np.array([d.mean() for d in targets.distributions().values()])
    values = targets.natural(np.tile(centre, (3, 1)))
    values[1, 1] *= 3.0  # a different dexamethasone kill for set 1
    sets = _parameter_sets(BASE, targets, trial, values)
    model = load_tacrolimus_model()
    course = batch_course(trial, sets, np.random.SeedSequence(4), model)
    tables = course_tables(course, trial.protocol, sets[0])
    endpoints = adjudicate(dataset_from_frames(tables, trial.protocol), trial.protocol)
    size = sum(trial.sizes)
    counts = _group_counts(endpoints, trial, size, 3)
    for group in range(3):
        ids = [f"V{i + 1:05d}" for i in range(group * size, (group + 1) * size)]
        subset = endpoints.filter(pl.col("subject_id").is_in(ids))
        expected = binary_counts(subset, trial.protocol)
        for j, item in enumerate(trial.observed):
            assert tuple(counts[group, j]) == expected[(item.arm, item.endpoint)]
        arms = subset.group_by("arm").len()
        assert dict(arms.iter_rows()) == {"TAC_DXM": 48, "DXM": 56}


def test_one_parameter_set_has_common_random_numbers() -> None:
    """The same seed and values give the same rates; a 1% step of one parameter moves
    the rates of 20x-size trials by little (the same patients, visits and errors)."""
    targets = load_targets(TINY, BASE)
    row = targets.natural(np.array([[d.mean() for d in targets.distributions().values()]]))
    seed = np.random.SeedSequence(8)
    first = simulate_rates(targets, BASE, row, seed, scale=20)
    again = simulate_rates(targets, BASE, row, np.random.SeedSequence(8), scale=20)
    np.testing.assert_array_equal(first, again)
    stepped = row.copy()
    stepped[0, 1] *= 1.01
    moved = simulate_rates(targets, BASE, stepped, np.random.SeedSequence(8), scale=20)
    assert np.max(np.abs(moved - first)) < 0.02
    other = simulate_rates(targets, BASE, row, np.random.SeedSequence(9), scale=20)
    assert np.any(other != first)


def test_a_seed_object_used_twice_gives_the_same_rates() -> None:
    """SeedSequence.spawn counts its children: a second spawn on the same object gives
    other streams. The simulation derives its streams without that state, so passing
    one SeedSequence twice is the same as passing two equal ones."""
    targets = load_targets(TINY, BASE)
    row = targets.natural(np.array([[d.mean() for d in targets.distributions().values()]]))
    seed = np.random.SeedSequence(8)
    first = simulate_rates(targets, BASE, row, seed)
    np.testing.assert_array_equal(simulate_rates(targets, BASE, row, seed), first)


def test_a_trials_own_parameter_applies_to_that_trial_only() -> None:
    """Wei's own kill rate replaces the shared one for Wei, and only for Wei; each has
    its own prior (one sampler column each)."""
    targets = load_targets(SHIPPED, BASE)
    row = np.arange(1.0, len(targets.priors) + 1.0)
    shared = targets.names.index("dexamethasone.kill_median")
    own = targets.names.index("Wei 2016: dexamethasone.kill_median")
    target020, wei = targets.trials
    assert targets.values_for(target020, row)["dexamethasone.kill_median"] == row[shared]
    assert targets.values_for(wei, row)["dexamethasone.kill_median"] == row[own]
    assert set(targets.distributions()) == set(targets.names)


def test_a_trials_own_value_wins_wherever_its_prior_is_listed(tmp_path: Path) -> None:
    text = SHIPPED.read_text()
    first_prior = text.index("[[prior]]")
    own = text.index('[[prior]]\nparameter = "dexamethasone.kill_median"\ntrial = "Wei 2016"')
    moved = text[:first_prior] + text[own:] + "\n" + text[first_prior:own]
    (tmp_path / "wei2016.toml").write_text((SHIPPED.parent / "wei2016.toml").read_text())
    path = tmp_path / "targets.toml"
    path.write_text(moved)
    targets = load_targets(path, BASE)
    assert targets.names[0] == "Wei 2016: dexamethasone.kill_median"
    row = np.arange(1.0, len(targets.priors) + 1.0)
    wei = targets.trials[1]
    assert targets.values_for(wei, row)["dexamethasone.kill_median"] == row[0]


def test_distance_by_hand() -> None:
    targets = load_targets(TINY, BASE)
    observed = np.array([item.rate for _, item in targets.observed])
    se = standard_errors(targets)
    # one observation off by 2 SE, the others exact: RMS = sqrt(4 / 8) = 0.7071
    rates = observed.copy()[None, :]
    rates[0, 3] += 2 * se[3]
    np.testing.assert_allclose(distance(targets)(rates), [np.sqrt(4 / 8)], rtol=1e-12)
    rates[0, 0] = np.nan  # a relapse rate without initial responders
    assert distance(targets)(rates)[0] == np.inf
    # SE of 31/56: sqrt(p (1 - p) / n)
    p = 31 / 56
    assert se[3] == pytest.approx(np.sqrt(p * (1 - p) / 56))


def test_predictive_summary_by_hand() -> None:
    sim = np.array([0.1, 0.2, 0.3, 0.4, np.nan])
    median, (low, high), p = predictive_summary(0.2, sim)
    assert median == pytest.approx(0.25)
    assert low == pytest.approx(0.1 + 0.025 * 3 * 0.1)  # numpy's linear quantile
    assert high == pytest.approx(0.1 + 0.975 * 3 * 0.1)
    assert p == pytest.approx(2 * 0.5)  # P(sim <= 0.2) = 0.5, P(sim >= 0.2) = 0.75
    assert predictive_summary(0.9, sim)[2] == 0.0
    assert predictive_summary(0.5, np.array([np.nan]))[2] == 0.0


# --- the commands, end to end on the tiny sampler


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cal") / "out"
    with pytest.raises(SystemExit) as exit_info:
        main(["calibrate", "--targets", str(TINY), "--out", str(out), "--seed", "5"])
    assert exit_info.value.code in (0, None)
    return out


def test_calibrate_writes_the_four_files(calibrated: Path) -> None:
    names = {p.name for p in calibrated.iterdir() if not p.name.startswith(".")}
    assert names == {"posterior.parquet", "parameters.toml", "summary.json", "report.html"}
    targets = load_targets(TINY, BASE)
    draws = pl.read_parquet(calibrated / "posterior.parquet")
    assert draws.columns == list(targets.names)
    assert draws.height == targets.settings.draws
    summary = json.loads((calibrated / "summary.json").read_text())
    assert {c["endpoint"] for c in summary["checks"]} >= {"initial_response", "relapse"}
    assert len(summary["checks"]) == 8
    assert summary["method"]["name"] == "ABC-SMC"
    assert len(summary["identifiability"]["singular_values"]) == len(targets.priors)
    html = (calibrated / "report.html").read_text()
    assert "Visual predictive check" in html and "<svg" in html


def test_each_published_rate_has_the_day_its_endpoint_is_settled(calibrated: Path) -> None:
    """TARGET 020's protocol settles initial response by day 28, sustained response at
    day 180 and relapse by day 194 (the end of follow-up); Wei 2016's protocol file keeps
    the 28-day initial window. The visual predictive check places each published rate
    there, below the count bands, and labels it."""
    summary = json.loads((calibrated / "summary.json").read_text())
    days = {(c["trial"], c["endpoint"]): c["day"] for c in summary["checks"]}
    assert days == {
        ("TARGET 020", "initial_response"): 28,
        ("TARGET 020", "relapse"): 194,
        ("TARGET 020", "sustained_response_6m"): 180,
        ("Wei 2016", "initial_response"): 28,
        ("Wei 2016", "initial_complete_response"): 28,
    }
    html = (calibrated / "report.html").read_text()
    figures = html.split("<h2>Visual predictive check")[1].split("<h2>")[0]
    for label in ("initial response", "relapse", "sustained response 6m"):
        assert figures.count(f">{label}<") >= 1, label
    assert figures.count(">initial complete response<") == 1  # Wei's own target only


def test_a_declared_landmark_is_settled_on_its_day() -> None:
    from itptrial.endpoints import endpoint_registry

    protocol = load_protocol(
        TINY.parents[2] / "examples" / "scenarios" / "sustained_12_months.toml"
    )
    registry = {e.name: e for e in endpoint_registry(protocol.endpoints)}
    assert registry["sustained_response_12m"].assessed_day == 365  # its day, not the window
    assert registry["initial_response"].assessed_day == 28
    assert all(e.assessed_day is None for e in registry.values() if e.kind != "binary")


def test_the_posterior_median_is_a_parameter_file(calibrated: Path) -> None:
    params = load_parameters(calibrated / "parameters.toml")
    draws = pl.read_parquet(calibrated / "posterior.parquet")
    assert params.disease.t0_median == pytest.approx(float(draws["disease.t0_median"].median()))
    # a trial's own parameter stays out of the shared parameter file
    assert params.dexamethasone.kill_median == pytest.approx(
        float(draws["dexamethasone.kill_median"].median())
    )


def test_the_same_seed_gives_the_same_bytes(calibrated: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    with pytest.raises(SystemExit):
        main(["calibrate", "--targets", str(TINY), "--out", str(again), "--seed", "5"])
    for name in ("posterior.parquet", "parameters.toml", "summary.json", "report.html"):
        assert (again / name).read_bytes() == (calibrated / name).read_bytes(), name


def test_calibrate_check_json(calibrated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["calibrate", "check", "--targets", str(TINY), "--posterior", str(calibrated)]
    code, out, _ = run([*argv, "--json"], capsys)
    assert code == 0
    checks = json.loads(out)["checks"]
    assert len(checks) == 8
    keys = {"trial", "arm", "endpoint", "observed", "median", "interval_95", "p_value"}
    assert all(set(c) == keys for c in checks)
    assert all(c["interval_95"][0] <= c["median"] <= c["interval_95"][1] for c in checks)
    assert all(0 <= c["p_value"] <= 1 for c in checks)
    code, out, _ = run(argv, capsys)
    assert code == 0 and "Wei 2016" in out


def test_posterior_draw_k_cycles() -> None:
    """On the shipped posterior (the tiny calibration's draws may all be one particle)."""
    posterior = load_posterior("target020")
    n, rows = len(posterior), posterior.values()
    first = posterior.draw(0)
    k = next(i for i in range(1, n) if not np.array_equal(rows[i], rows[0]))
    other = posterior.draw(k)
    assert other != first
    assert posterior.draw(n) == first and posterior.draw(n + k) == other
    kill = posterior.draws["dexamethasone.kill_median"][k]
    assert other.dexamethasone.kill_median == pytest.approx(kill)


def test_simulate_with_a_posterior(
    calibrated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sim"
    argv = ["simulate", "--posterior", str(calibrated), "--trials", "2", "--out", str(out)]
    code, stdout, _ = run([*argv, "--n-per-arm", "5,5"], capsys)
    assert code == 0 and "posterior" in stdout
    assert (out / "trial_0001" / "subjects.csv").exists()
    both = ["simulate", "--posterior", str(calibrated), "--parameters", str(calibrated)]
    code, _, err = run([*both, "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "not both" in err


def test_a_folder_without_a_posterior_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["simulate", "--posterior", str(tmp_path), "--out", str(tmp_path / "o")]
    code, _, err = run(argv, capsys)
    assert code == 2 and "not a posterior folder" in err and "Traceback" not in err


def test_the_shipped_posterior_loads() -> None:
    posterior = load_posterior("target020")
    assert len(posterior) >= 500
    assert set(posterior.names) <= set(load_targets(SHIPPED, BASE).shared)
    protocol = load_protocol("target020")
    assert protocol.name == "target020"


def test_an_arm_left_out_needs_no_drug_module() -> None:
    """Wei 2016's prednisone arm has no drug module in the model: with 0 subjects it is
    not simulated (and nobody gets prednisone); with subjects it is refused, naming the
    key; with no subject at all the sizes are refused."""
    from itptrial._errors import InputError
    from itptrial.sim import check_simulation, simulate_course

    wei = load_protocol(str(SHIPPED.parent / "wei2016.toml"))
    course = simulate_course(wei, (6, 0), seed=2)
    assert set(course.arms) == {"DXM"}
    assert set(course.schedule.given) == {"dexamethasone"}
    assert np.all(course.schedule.dex[:, 10:14].sum(axis=1) % 4 == 0)  # whole repeat courses
    with pytest.raises(InputError) as refused:
        check_simulation(wei, BASE, (6, 3))
    [problem] = refused.value.problems
    assert problem.column == "regimens.prednisone.model"
    assert "no drug module 'prednisone'" in problem.message
    with pytest.raises(InputError) as empty:
        check_simulation(wei, BASE, (0, 0))
    assert "at least one positive" in empty.value.problems[0].message


def test_troughs_are_grouped_by_the_visit_they_were_taken_at() -> None:
    """A trough belongs to the scheduled visit whose window holds it: the day itself up
    to the jitter day (TARGET 020: day 14), +/- the jitter (2 days) after it."""
    from types import SimpleNamespace

    from itptrial.sim._checks import _troughs_at_visits

    protocol = load_protocol("target020")
    troughs = np.full((3, protocol.endpoints.horizon + 1), np.nan)
    troughs[0, 22] = 4.0  # the day-21 visit, a day late
    troughs[1, 3] = 2.0  # the day-3 visit
    troughs[2, 19] = 6.0  # the day-21 visit, two days early
    found = dict(_troughs_at_visits(SimpleNamespace(troughs=troughs), protocol))  # type: ignore[arg-type]
    assert sorted(found) == [3, 21]
    np.testing.assert_array_equal(found[21], [4.0, np.nan, 6.0])
    np.testing.assert_array_equal(found[3], [np.nan, 2.0, np.nan])
    troughs[0, 20] = 3.0  # a second trough in one visit's window cannot be placed
    with pytest.raises(ValueError, match="day-21 visit"):
        _troughs_at_visits(SimpleNamespace(troughs=troughs), protocol)  # type: ignore[arg-type]

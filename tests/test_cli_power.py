"""`itptrial design power --simulate` end to end, on a Dask LocalCluster of 2 workers:
the same seed gives the same result with 2 workers, 1 worker and in this process; the
grid writes its power-curves page; bad arguments exit 2."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from itptrial.cli import app
from itptrial.design import dask_client, group_sequential_design, simulated_power
from itptrial.protocol import load_protocol
from itptrial.sim import load_parameters, load_posterior

runner = CliRunner()
SIZES = "24,26"
POWER = ["design", "power", "--simulate"]
PHASE3 = "examples/phase3/protocol.toml"  # three arms


@pytest.fixture(scope="module")
def two_workers() -> Iterator[Any]:
    with dask_client(workers=2) as client:
        yield client


def _run(args: list[str]) -> Any:
    result = runner.invoke(app, ["design", "power", "--simulate", *args])
    assert result.exit_code == 0, result.output
    return result


def _json(args: list[str]) -> Any:
    return json.loads(_run([*args, "--json"]).stdout)


def test_same_result_with_two_workers_one_worker_and_in_process(two_workers: Any) -> None:
    protocol, params = load_protocol("target020"), load_parameters()
    here = simulated_power(protocol, (24, 26), params, trials=30, seed=5).as_dict()
    assert len(two_workers.scheduler_info()["workers"]) == 2
    two = simulated_power(protocol, (24, 26), params, trials=30, seed=5, client=two_workers)
    assert two.as_dict() == here
    with dask_client(workers=1) as one_worker:
        one = simulated_power(protocol, (24, 26), params, trials=30, seed=5, client=one_worker)
    assert one.as_dict() == here


def test_cli_json_on_an_existing_scheduler(two_workers: Any) -> None:
    address = two_workers.scheduler.address
    out = _json(["--n-per-arm", SIZES, "--trials", "20", "--seed", "3", "--scheduler", address])
    assert out["trials"] == 20 and out["endpoint"] == "sustained_response_6m"
    assert out["design"] == "fixed" and out["power"] == out["fixed_power"]
    assert out["n_per_arm"] == {"TAC_DXM": 24, "DXM": 26}
    assert out["looks"] is None and out["posterior"] is None
    assert 0 <= out["assurance"] <= 1 and out["assurance_prior"].startswith("TARGET 020")
    again = _json(["--n-per-arm", SIZES, "--trials", "20", "--seed", "3", "--scheduler", address])
    assert again == out


def test_cli_posterior_each_trial_its_own_draw(two_workers: Any) -> None:
    address = two_workers.scheduler.address
    args = ["--n-per-arm", SIZES, "--trials", "12", "--seed", "8", "--scheduler", address]
    out = _json([*args, "--posterior", "target020"])
    assert out["posterior"].endswith("target020")  # the posterior folder read
    posterior = load_posterior("target020")
    expected = simulated_power(
        load_protocol("target020"),
        (24, 26),
        posterior.parameters,
        trials=12,
        seed=8,
        posterior=posterior,
    )
    assert out["power"] == expected.power
    assert out["endpoints"] == json.loads(json.dumps(expected.as_dict()["endpoints"]))
    plain = _json(args)
    assert plain["endpoints"] != out["endpoints"]


def test_cli_grid_writes_the_power_curves_page(two_workers: Any, tmp_path: Path) -> None:
    page = tmp_path / "power.html"
    address = two_workers.scheduler.address
    args = ["--n-per-arm", "20,20", "30,30", "--trials", "10", "--scheduler", address]
    out = _json([*args, "--html", str(page)])
    assert [d["n_per_arm"]["DXM"] for d in out["designs"]] == [20, 30]
    html = page.read_text()
    assert "<svg" in html and "analytic" in html and "assurance" in html
    repeated = _json(["--n-per-arm", "20,20", "--n-per-arm", "30,30", *args[3:]])
    assert repeated == out  # the option repeated is the same grid
    text = _run(args).stdout
    assert "Simulated power" in text and "MC SE" in text


def test_cli_looks_report_stopping_and_the_null_type_i_error(two_workers: Any) -> None:
    address = two_workers.scheduler.address
    out = _json(
        [
            *("--n-per-arm", SIZES, "--trials", "20", "--looks", "3", "--boundary", "obf"),
            *("--scheduler", address),
        ]
    )
    looks = out["looks"]
    assert looks["boundary"] == "obf" and len(looks["per_look"]) == 3
    assert [x["subjects"] for x in looks["per_look"]] == [17, 33, 50]
    design = group_sequential_design(3, "obf", alpha=0.05, sided=2)
    assert [x["critical_value_z"] for x in looks["per_look"]] == list(design.critical_values)
    assert out["design"] == "group-sequential" and out["power"] == looks["power"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["design", "power", "--n-per-arm", SIZES], "--simulate"),
        (["design", "power", "--simulate", "--n-per-arm", "24"], "--n-per-arm"),
        (["design", "power", "--simulate", "--n-per-arm", SIZES, "--looks", "2"], "--boundary"),
        (
            [*POWER, "--n-per-arm", "10,10,10", "--protocol", PHASE3],
            "two arms",
        ),
        (
            [*POWER, "--n-per-arm", SIZES, "--trials", "4", "--scheduler", "tcp://127.0.0.1:9"],
            "--scheduler",
        ),
        ([*POWER, "--n-per-arm", SIZES, "--scheduler", "http://127.0.0.1:9"], "--scheduler"),
        ([*POWER, "--n-per-arm", SIZES, "--scheduler", "tcp://h:1", "--workers", "2"], "both"),
        ([*POWER, "--n-per-arm", SIZES, "--boundary", "obf"], "boundary needs"),
        ([*POWER, "--n-per-arm", SIZES, "--looks", "11", "--boundary", "obf"], "looks"),
        ([*POWER, "--n-per-arm", "2,2", "--looks", "3", "--boundary", "obf"], "too many looks"),
        (
            [*POWER, "--n-per-arm", SIZES, "--alpha", "0.7", "--looks", "2", "--boundary", "asof"],
            "",
        ),
    ],
)
def test_bad_arguments_exit_2(
    args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import itptrial.design._power as power

    def never(*_: object, **__: object) -> None:  # the arguments fail before any trial runs
        raise AssertionError("simulated before the arguments were checked")

    monkeypatch.setattr(power, "run_tasks", never)
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_the_default_local_cluster_from_the_console(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "itptrial.cli", "design", "power", "--simulate"]
    command += ["--n-per-arm", "20,20", "--trials", "6", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["trials"] == 6


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_exits_130_and_writes_nothing(tmp_path: Path, sig: int) -> None:
    page = tmp_path / "power.html"
    command = [str(Path(sys.executable).parent / "itptrial"), *POWER, "--n-per-arm", "150,150"]
    command += ["--trials", "4000", "--workers", "2", "--html", str(page)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_sigint_default,  # the SIGINT a terminal user has (see test_output_safety)
    )
    time.sleep(8)  # the cluster started, trials under way (4,000 take minutes)
    assert process.poll() is None
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    assert not page.exists() and list(tmp_path.iterdir()) == []


def test_pages_of_two_runs_side_by_side_are_both_kept(two_workers: Any, tmp_path: Path) -> None:
    address = two_workers.scheduler.address

    def page(name: str) -> None:
        args = ["--n-per-arm", "20,20", "--trials", "4", "--scheduler", address, "--html"]
        _run([*args, str(tmp_path / name)])

    for name in ("a.html", "b.html"):
        page(name)
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".html") == ["a.html", "b.html"]
    first = (tmp_path / "a.html").read_text()
    page("a.html")  # a re-run replaces its own page, same bytes
    assert (tmp_path / "a.html").read_text() == first

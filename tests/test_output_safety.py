"""Outputs are safe (docs/interface.md): for every command that writes, pre-existing user
files survive, the input is never written, a re-run replaces exactly its own unchanged
files, and an interrupted command leaves no staging folder and no partial output."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from itptrial._output import MANIFEST, STAGING_PREFIX
from itptrial.cli import main

from test_sdtm import sample, write_sdtm

EXAMPLE = Path(__file__).parent.parent / "examples" / "target020_example"
ITPTRIAL = Path(sys.executable).with_name("itptrial")


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main([str(a) for a in args])
    code = exited.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().err


def snapshot(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` with its SHA-256."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def dataset(tmp: Path) -> Path:
    return Path(shutil.copytree(EXAMPLE, tmp / "data"))


# command -> (arguments writing into OUT, a file name that command writes in OUT)
Command = Callable[[Path, Path], list[str]]
COMMANDS: dict[str, tuple[Command, str]] = {
    "adjudicate": (lambda tmp, out: ["adjudicate", dataset(tmp), "--out", out / "e.csv"], "e.csv"),
    "analyze": (lambda tmp, out: ["analyze", dataset(tmp), "--out", out], "report.html"),
    "simulate": (
        lambda tmp, out: ["simulate", "--n-per-arm", "3,3", "--out", out],
        "platelets.csv",
    ),
    "demo": (lambda tmp, out: ["demo", "--out", out], "results.json"),
    "import-sdtm": (
        lambda tmp, out: [
            *("import-sdtm", write_sdtm(tmp / "sdtm", sample())),
            *("--out", out, "--force"),
        ],
        "subjects.csv",
    ),
    "export-adam": (lambda tmp, out: ["export-adam", dataset(tmp), "--out", out], "adrs.xpt"),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_user_files_survive_and_a_user_file_is_never_replaced(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, written = COMMANDS[command]
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("my notes\n")
    (out / "figures").mkdir()
    (out / "figures" / "mine.svg").write_text("<svg/>")
    args = make(tmp_path, out)
    code, err = run(args, capsys)
    assert code == 0, err
    assert (out / "notes.txt").read_text() == "my notes\n"
    assert (out / "figures" / "mine.svg").read_text() == "<svg/>"
    assert (out / written).is_file() and (out / MANIFEST).is_file()

    # a re-run replaces its own files (unchanged since) ...
    before = snapshot(out)
    code, err = run(args, capsys)
    assert code == 0, err
    assert snapshot(out) == before  # same inputs, same bytes
    # ... but not one the user changed, nor one the user put there: exit 2, nothing moved
    (out / written).write_text("edited by hand\n")
    edited = snapshot(out)
    code, err = run(args, capsys)
    assert code == 2 and written in err and "did not write" in err, err
    assert snapshot(out) == edited
    assert not [p for p in out.rglob(f"{STAGING_PREFIX}*")]


@pytest.mark.parametrize("command", ["adjudicate", "analyze", "export-adam"])
def test_the_input_is_never_written(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = dataset(tmp_path)
    before = snapshot(data)
    targets = {
        "adjudicate": (data / "platelets.csv", data / "out.csv", data / "sub" / "e.parquet"),
        "analyze": (data, data / "analysis", data / "sub" / "analysis"),
        "export-adam": (data, data / "adam", data / "sub" / "adam"),
    }[command]
    for target in targets:
        code, err = run([command, data, "--out", target], capsys)
        assert code == 2 and "is inside the input" in err, (target, err)
    assert snapshot(data) == before


def test_analyze_into_a_project_folder_keeps_its_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "figures").mkdir(parents=True)
    (project / "figures" / "km_time_to_response.svg").write_text("my own figure")
    data = dataset(tmp_path)
    monkeypatch.chdir(project)
    code, err = run(["analyze", data, "--out", "."], capsys)
    assert code == 2 and "figures/km_time_to_response.svg" in err, err  # refused, before work
    assert (project / "figures" / "km_time_to_response.svg").read_text() == "my own figure"
    assert sorted(p.name for p in project.iterdir()) == ["figures"]


def test_a_new_output_folder_appears_whole_with_the_usual_permissions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "new" / "sim"
    code, err = run(["simulate", "--n-per-arm", "3,3", "--out", out], capsys)
    assert code == 0, err
    umask = os.umask(0)
    os.umask(umask)
    assert (out.stat().st_mode & 0o777) == 0o777 & ~umask  # not mkdtemp's private 0700
    assert [p.name for p in out.parent.iterdir()] == ["sim"]  # no staging left beside it


def test_import_sdtm_refuses_a_non_empty_folder_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "native"
    out.mkdir()
    (out / "readme.txt").write_text("keep")
    sdtm = write_sdtm(tmp_path / "sdtm", sample())
    code, err = run(["import-sdtm", sdtm, "--out", out], capsys)
    assert code == 2 and "give --force" in err
    assert [p.name for p in out.iterdir()] == ["readme.txt"]


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupted(tmp_path: Path, sig: int) -> tuple[int, str, Path]:
    out = tmp_path / "sims"
    process = subprocess.Popen(
        [str(ITPTRIAL), "simulate", "--n-per-arm", "400,400", "--trials", "30", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a shell's background job ignores SIGINT, and a child inherits that: give the
        # command the SIGINT a terminal user has, whatever runs the tests
        preexec_fn=_sigint_default,
    )
    deadline = time.monotonic() + 120
    while not (out / "trial_0001").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # well inside a later trial
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    return process.returncode, err, out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_command_leaves_only_complete_outputs(tmp_path: Path, sig: int) -> None:
    code, err, out = _interrupted(tmp_path, sig)
    assert code == 130, err
    assert "Traceback" not in err and "interrupted" in err
    left = sorted(p.name for p in out.iterdir())
    assert left and all(name.startswith("trial_") for name in left), left  # no staging
    for trial in out.iterdir():
        assert len([p for p in trial.iterdir() if p.suffix == ".csv"]) == 7  # whole trials


def test_a_signal_during_the_move_waits_for_it_and_is_never_lost() -> None:
    # The files of a staged output move under a held signal; the signal then acts, with
    # the handler that was there before (here Python's: KeyboardInterrupt).
    from itptrial._output import _signals_held

    moved = []
    # as a terminal user has it (a background job would inherit SIGINT ignored)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), _signals_held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # a handler would have run by now
            moved.append("all files")
        assert moved == ["all files"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_swallowed_interrupt_still_stops_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """A KeyboardInterrupt that a library swallows (seen under load inside a trial's
    simulation) is not lost: the signal is recorded, and the trial loop stops at its next
    check. Without the record, the command ran to its end and exited 0."""
    from itptrial import cli

    monkeypatch.setattr(cli, "_RECEIVED", [])
    with contextlib.suppress(KeyboardInterrupt):  # a library swallows the exception ...
        cli._stop(signal.SIGINT, None)  # ... of the handler that ran inside it
    with pytest.raises(KeyboardInterrupt):
        cli._stop_if_signalled()
    monkeypatch.setattr(cli, "_RECEIVED", [])
    cli._stop_if_signalled()  # no signal: nothing happens


LONG_COMMANDS = {  # command -> (the library call it spends its time in, its arguments)
    "calibrate": (
        "run_calibration",
        lambda tmp: ["calibrate", "--targets", TINY_TARGETS, "--out", tmp / "out"],
    ),
    "calibrate check": (
        "predictive_checks",
        lambda tmp: ["calibrate", "check", "--targets", TINY_TARGETS, "--posterior", "target020"],
    ),
    "demo": ("simulate_trial", lambda tmp: ["demo", "--out", tmp / "out"]),
}
TINY_TARGETS = Path(__file__).parent / "calibration" / "tiny_targets.toml"


@pytest.mark.parametrize("reports_progress", [True, False], ids=["progress", "no-progress"])
@pytest.mark.parametrize("command", sorted(LONG_COMMANDS))
def test_long_commands_stop_at_a_swallowed_interrupt(
    command: str,
    reports_progress: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """calibrate, calibrate check and demo end with exit 130 and write or print nothing
    when the library they call swallows the interrupt, whether the library reports
    progress afterwards (the check inside the callback) or simply returns (the check
    after the call)."""
    import itptrial.sim
    from itptrial import cli

    function, arguments = LONG_COMMANDS[command]

    def swallowing(*args: object, progress: Callable[[object], None] | None = None) -> None:
        with contextlib.suppress(KeyboardInterrupt):
            cli._stop(signal.SIGINT, None)
        if reports_progress and progress is not None:
            progress(1)
        # returns nothing usable: the command must stop before it uses the result

    monkeypatch.setattr(cli, "_RECEIVED", [])
    monkeypatch.setattr(itptrial.sim, function, swallowing)
    code, err = run(arguments(tmp_path), capsys)
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())

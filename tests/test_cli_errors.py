"""Exit codes hold everywhere: one shared matrix of bad arguments and files over every
command (in the style of tests/test_bad_input.py: one contract, many cases).

Every case must exit 2 with one clear ``error: ...`` line on stderr naming what is wrong
(and where), print nothing on stdout, show no traceback, and write nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from itptrial.cli import main

EXAMPLE = Path(__file__).parent.parent / "examples" / "target020_example"
PHASE3 = Path(__file__).parent.parent / "examples" / "phase3" / "protocol.toml"


@dataclass(frozen=True)
class Case:
    """A command line built in a scratch folder, and what its one error line says."""

    args: Callable[[Path], list[str]]
    says: str


def text_file(tmp: Path, name: str, text: str | bytes) -> str:
    path = tmp / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def fifo(tmp: Path, name: str) -> str:
    """A named pipe: reading it would block for ever."""
    path = tmp / name
    if not path.exists():
        os.mkfifo(path)
    return str(path)


def folder(tmp: Path, name: str = "a_folder") -> str:
    path = tmp / name
    path.mkdir(exist_ok=True)
    return str(path)


def protocol(tmp: Path, text: str) -> str:
    return text_file(tmp, "protocol.toml", 'extends = "target020"\n' + text)


def out(tmp: Path, name: str = "out") -> str:
    return str(tmp / name)


PROTOCOL_FILES: dict[str, tuple[Callable[[Path], str], str]] = {
    "missing": (lambda t: str(t / "nope.toml"), "no such protocol file, and not a preset"),
    "folder": (lambda t: folder(t), "is a folder, not a protocol file"),
    "fifo": (lambda t: fifo(t, "p.toml"), "is not a regular file, not a protocol file"),
    "not_toml": (lambda t: text_file(t, "p.toml", "subject_id,arm\nS1,A\n"), "invalid TOML"),
    "latin1": (lambda t: text_file(t, "p.toml", b'title = "S\xe9ville"\n'), "not valid UTF-8"),
    "unknown_key": (lambda t: protocol(t, "[endpoints]\nhorizn = 3\n"), "unknown key"),
    "no_control": (
        lambda t: protocol(
            t,
            "replace = ['regimens']\n[[arms]]\ncode = 'A'\nlabel = 'a'\n"
            "experimental = true\n[[arms]]\ncode = 'B'\nlabel = 'b'\n"
            "experimental = true\n[regimens.x]\ndrug = 'x'\nmodel = 'x'\n"
            "arms = ['A']\ndose_mg = 1.0\ndays = [0]\n",
        ),
        "exactly one arm must have experimental = false (the control); found 0",
    ),
}
SIMULATION_PROTOCOLS: dict[str, tuple[str, str]] = {
    "no_visits": ('remove = ["visits"]\n', "visits: the protocol has no [visits]"),
    "no_day_0": ("[visits]\ndays = [3, 7]\n", "visits.days: must include day 0"),
    "no_eligibility": ('remove = ["eligibility"]\n', "eligibility: the protocol has no"),
    "unknown_model": (
        '[regimens.tacrolimus]\nmodel = "ciclosporin"\n',
        "regimens.tacrolimus.model: the model parameter file has no drug module 'ciclosporin'",
    ),
    "route": ('[regimens.dexamethasone]\nroute = "iv"\n', "the dexamethasone model is oral"),
    "untreated_arm": (
        '[regimens.dexamethasone]\narms = ["TAC_DXM"]\n',
        "regimens: no regimen treats arm DXM",
    ),
}

SHIPPED_PARAMETERS = (
    Path(__file__).parent.parent / "src" / "itptrial" / "sim" / "parameters" / "target020.toml"
).read_text()
PARAMETER_FILES: dict[str, tuple[Callable[[Path], str], str]] = {
    "missing": (lambda t: str(t / "none.toml"), "no such model parameter file"),
    "folder": (lambda t: folder(t), "is a folder, not a model parameter file"),
    "fifo": (lambda t: fifo(t, "m.toml"), "is not a regular file, not a model parameter file"),
    "not_toml": (lambda t: text_file(t, "m.toml", "[["), "invalid TOML"),
    "bad_value": (
        lambda t: text_file(t, "m.toml", SHIPPED_PARAMETERS.replace("kdeg = 0.1 ", "kdeg = -1 ")),
        "m.toml:-:platelets.kdeg: Input should be greater than 0",
    ),
    "unknown_module_rate": (
        lambda t: text_file(
            t, "m.toml", SHIPPED_PARAMETERS.replace("tacrolimus = 0.12 }", "ciclosporin = 0.12 }")
        ),
        "unknown drug module(s) ['ciclosporin']",
    ),
}

CASES: dict[str, Case] = {
    # --- DATA and the protocol, for every command that reads them
    "validate_missing_data": Case(
        lambda t: ["validate", str(t / "nothing")], "no such dataset folder or DuckDB file"
    ),
    "validate_text_file_as_data": Case(
        lambda t: ["validate", text_file(t, "data.txt", "hello\n")], "it is not a DuckDB database"
    ),
    "analyze_missing_data": Case(
        lambda t: ["analyze", str(t / "nothing"), "--out", out(t)], "no such dataset folder"
    ),
    "adjudicate_missing_data": Case(
        lambda t: ["adjudicate", str(t / "nothing"), "--out", out(t, "e.csv")],
        "no such dataset folder",
    ),
    # --- output paths
    "adjudicate_out_suffix": Case(
        lambda t: ["adjudicate", str(EXAMPLE), "--out", out(t, "e.txt")],
        "--out: must end in .csv or .parquet",
    ),
    "adjudicate_out_is_a_folder": Case(
        lambda t: ["adjudicate", str(EXAMPLE), "--out", folder(t, "e.csv")], "is a folder"
    ),
    "adjudicate_out_below_a_file": Case(
        lambda t: ["adjudicate", str(EXAMPLE), "--out", text_file(t, "f", "") + "/e.csv"],
        "is a file, not a folder",
    ),
    "analyze_out_is_a_file": Case(
        lambda t: ["analyze", str(EXAMPLE), "--out", text_file(t, "o", "")], "is a file"
    ),
    "simulate_out_is_a_file": Case(
        lambda t: ["simulate", "--out", text_file(t, "o", "")], "is a file; give a folder"
    ),
    "demo_out_is_a_file": Case(
        lambda t: ["demo", "--out", text_file(t, "o", "")], "is a file; give a folder"
    ),
    "import_sdtm_out_is_a_file": Case(
        lambda t: ["import-sdtm", folder(t, "sdtm"), "--out", text_file(t, "o", "")],
        "is a file; give a folder",
    ),
    "export_adam_out_is_a_file": Case(
        lambda t: ["export-adam", str(EXAMPLE), "--out", text_file(t, "o", "")],
        "is a file; give a folder",
    ),
    "export_adam_unknown_format": Case(
        lambda t: ["export-adam", str(EXAMPLE), "--out", out(t), "--format", "sas"],
        "'sas' is not one of 'xpt', 'csv', 'parquet'",
    ),
    # --- SDTM input
    "import_sdtm_missing_folder": Case(
        lambda t: ["import-sdtm", str(t / "nothing"), "--out", out(t)], "no such SDTM folder"
    ),
    "import_sdtm_file_as_folder": Case(
        lambda t: ["import-sdtm", text_file(t, "dm.xpt", "x"), "--out", out(t)],
        "no such SDTM folder",
    ),
    # --- simulate's own arguments
    "simulate_n_per_arm_words": Case(
        lambda t: ["simulate", "--n-per-arm", "a,b", "--out", out(t)], "expected 2 positive"
    ),
    "simulate_n_per_arm_one_number": Case(
        lambda t: ["simulate", "--n-per-arm", "10", "--out", out(t)], "expected 2 positive"
    ),
    "simulate_n_per_arm_zero": Case(
        lambda t: ["simulate", "--n-per-arm", "10,0", "--out", out(t)], "expected 2 positive"
    ),
    "simulate_three_arms_two_sizes": Case(
        lambda t: ["simulate", "-p", str(PHASE3), "--n-per-arm", "5,5", "--out", out(t)],
        "expected 3 positive integers, one per arm in protocol order (TAC24, TAC12, DEX)",
    ),
    "simulate_no_default_size": Case(
        lambda t: ["simulate", "-p", str(PHASE3), "--out", out(t)], "give the subjects per arm"
    ),
    "simulate_engine": Case(
        lambda t: ["simulate", "--engine", "euler", "--out", out(t)], "must be fast or reference"
    ),
    "simulate_trials_zero": Case(
        lambda t: ["simulate", "--trials", "0", "--out", out(t)], "Invalid value for '--trials'"
    ),
    "simulate_missing_out": Case(lambda t: ["simulate"], "Missing option '--out'"),
    "unknown_option": Case(lambda t: ["validate", str(EXAMPLE), "--nope"], "No such option"),
    "unknown_command": Case(lambda t: ["validat"], "No such command 'validat'"),
    "demo_negative_seed": Case(lambda t: ["demo", "--seed", "-1"], "Invalid value for '--seed'"),
    "protocol_show_missing": Case(
        lambda t: ["protocol", "show", str(t / "p.toml")], "no such protocol file"
    ),
    "protocol_show_no_control": Case(
        lambda t: ["protocol", "show", PROTOCOL_FILES["no_control"][0](t)],
        "exactly one arm must have experimental = false",
    ),
}
for name, (make, says) in PROTOCOL_FILES.items():
    CASES[f"validate_protocol_{name}"] = Case(
        lambda t, make=make: ["validate", str(EXAMPLE), "--protocol", make(t)], says
    )
    CASES[f"analyze_protocol_{name}"] = Case(
        lambda t, make=make: ["analyze", str(EXAMPLE), "-p", make(t), "--out", out(t)], says
    )
    CASES[f"simulate_protocol_{name}"] = Case(
        lambda t, make=make: ["simulate", "-p", make(t), "--n-per-arm", "2,2", "--out", out(t)],
        says,
    )
for name, (text, says) in SIMULATION_PROTOCOLS.items():
    CASES[f"simulate_{name}"] = Case(
        lambda t, text=text: ["simulate", "-p", protocol(t, text), "--out", out(t)], says
    )
CASES["simulate_tdm_on_dexamethasone"] = Case(
    lambda t: [
        "simulate",
        "-p",
        protocol(
            t,
            'replace = ["regimens.dexamethasone"]\n[regimens.dexamethasone]\n'
            'drug = "dexamethasone"\nmodel = "dexamethasone"\narms = ["DXM"]\n'
            "dose_mg_per_kg_day = 0.6\nstart_day = 0\nduration_days = 4\ndose_step_mg = 4\n"
            "[regimens.dexamethasone.tdm]\ntrough_low_ng_ml = 1\ntrough_high_ng_ml = 2\n",
        ),
        "--out",
        out(t),
    ],
    "regimens.dexamethasone.tdm: the dexamethasone model has no measurable trough",
)
for name, (make, says) in PARAMETER_FILES.items():
    CASES[f"simulate_parameters_{name}"] = Case(
        lambda t, make=make: ["simulate", "--parameters", make(t), "--out", out(t)], says
    )


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(args)
    captured = capsys.readouterr()
    code = exited.value.code
    return code if isinstance(code, int) else 1, captured.out, captured.err


def files_below(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_argument_or_file_is_one_clear_line(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    args = case.args(tmp_path)
    before = files_below(tmp_path)
    code, stdout, stderr = run(args, capsys)
    assert code == 2, (args, stdout, stderr)
    assert stdout == ""
    assert "Traceback" not in stderr and "internal error" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, lines  # one clear line
    assert lines[0].startswith("error: ") and case.says in lines[0], lines[0]
    assert files_below(tmp_path) == before  # nothing written


def test_a_dataset_with_problems_lists_them_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The one exception to one line: a dataset's problems are all listed, under a count."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "subjects.csv").write_text("subject_id,site_id,arm,randomization_date\nS1,A,X,2021\n")
    code, stdout, stderr = run(["validate", str(data)], capsys)
    lines = stderr.splitlines()
    assert code == 2 and stdout == ""
    assert lines[0] == f"error: 3 problem(s) in {data}:"
    assert set(lines[1:]) == {
        "platelets:-:-: missing required table",
        "subjects:2:arm: unknown arm code 'X' (protocol arms: TAC_DXM, DXM)",
        "subjects:2:randomization_date: unparseable date '2021' (expected YYYY-MM-DD)",
    }


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--help"], ["simulate", "--help"], ["--version"], ["protocol", "show"]):
        code, stdout, stderr = run(args, capsys)
        assert code == 0 and stdout and stderr == "", args


def test_the_console_command_exits_2_without_a_traceback(tmp_path: Path) -> None:
    """The installed entry point (a real process) keeps the same contract."""
    command = Path(sys.executable).with_name("itptrial")
    for args in (
        ["simulate", "--n-per-arm", "x", "--out", str(tmp_path / "o")],
        ["analyze", str(EXAMPLE), "--protocol", str(tmp_path), "--out", str(tmp_path / "o")],
        ["validate"],
    ):
        process = subprocess.run([str(command), *args], capture_output=True, text=True)
        assert process.returncode == 2, (args, process.stderr)
        assert process.stdout == "" and "Traceback" not in process.stderr
        assert len(process.stderr.splitlines()) == 1, process.stderr


def test_no_arguments_shows_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    for args in ([], ["protocol"]):
        code, stdout, stderr = run(args, capsys)
        assert code == 2 and "Usage:" in stdout + stderr and "COMMAND" in stdout + stderr, args
        assert "error:" not in stderr  # the help is the message: no empty error line

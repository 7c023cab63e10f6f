"""The ``itptrial`` command line: a thin layer over the package's public functions.

Exit codes (docs/interface.md): 0 success, 2 invalid input or arguments (every problem
listed on stderr as ``where:line:column: message``), 1 internal error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from functools import wraps
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console

from itptrial._errors import InputError, Problem
from itptrial._version import __version__

app = typer.Typer(
    name="itptrial",
    help="Run and analyse randomized trials in immune thrombocytopenia (ITP).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
protocol_app = typer.Typer(help="Show and check protocols.", no_args_is_help=True)
app.add_typer(protocol_app, name="protocol")

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")

ProtocolOption = Annotated[
    str,
    typer.Option("--protocol", "-p", help="Preset name (target020, iwg2009) or TOML path."),
]
DataArgument = Annotated[
    Path, typer.Argument(help="Dataset folder (CSV/Parquet tables) or DuckDB file.")
]


def _print_problems(problems: Iterable[Problem]) -> None:
    for problem in problems:
        prefix = "warning: " if problem.severity == "warning" else ""
        stderr.print(f"{prefix}{problem}", markup=False)


def reports_input_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn :class:`InputError` into the listed problems and exit code 2."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except InputError as error:
            errors = [p for p in error.problems if p.severity == "error"]
            where = f" in {error.source}" if error.source else ""
            stderr.print(f"error: {len(errors)} problem(s){where}:", markup=False)
            _print_problems(error.problems)
            raise typer.Exit(2) from None

    return wrapper


def _load(data: Path, protocol_spec: str):  # type: ignore[no-untyped-def]
    from itptrial.data import load_dataset
    from itptrial.protocol import load_protocol

    protocol = load_protocol(protocol_spec)
    dataset = load_dataset(data, protocol)
    _print_problems(dataset.warnings)
    return dataset, protocol


def _version_callback(value: bool) -> None:
    if value:
        stdout.print(f"itptrial {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
) -> None:
    """Run and analyse randomized trials in immune thrombocytopenia (ITP)."""


@app.command()
@reports_input_errors
def validate(data: DataArgument, protocol: ProtocolOption = "target020") -> None:
    """Check a dataset against the schema (docs/data.md); list every problem."""
    dataset, _ = _load(data, protocol)
    subjects, counts = dataset.subjects.height, dataset.platelets.height
    stdout.print(
        f"valid: {data} ({subjects} subjects, {counts} platelet counts, "
        f"{len(dataset.warnings)} warning(s))",
        markup=False,
    )


@app.command()
@reports_input_errors
def adjudicate(
    data: DataArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .csv or .parquet file.")],
    protocol: ProtocolOption = "target020",
) -> None:
    """Adjudicate every subject's endpoints (docs/endpoints.md) into one table."""
    from itptrial.endpoints import adjudicate as run_adjudication
    from itptrial.endpoints import write_endpoints
    from itptrial.endpoints._write import OUTPUT_FORMATS

    if out.suffix.lower() not in OUTPUT_FORMATS:
        message = "output must end in .csv or .parquet"
        raise InputError([Problem(str(out), None, "--out", message)])
    dataset, protocol_obj = _load(data, protocol)
    endpoints = run_adjudication(dataset, protocol_obj)
    write_endpoints(endpoints, out)
    responders = int(endpoints["initial_response"].sum())
    sustained = int(endpoints["sustained_response_6m"].sum())
    stdout.print(
        f"wrote {out}: {endpoints.height} subjects, {responders} initial responders, "
        f"{sustained} sustained responders at 6 months",
        markup=False,
    )


@app.command()
@reports_input_errors
def analyze(
    data: DataArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    protocol: ProtocolOption = "target020",
) -> None:
    """Adjudicate and analyse a trial: endpoints.csv, results.json and report.html."""
    from itptrial.analysis import analyze as run_analysis
    from itptrial.report import write_analysis

    dataset, protocol_obj = _load(data, protocol)
    analysis = run_analysis(dataset, protocol_obj)
    write_analysis(analysis, out)
    primary = analysis.binary["sustained_response_6m"]
    rates = ", ".join(f"{arm} {p.responders}/{p.n}" for arm, p in primary.by_arm.items())
    p_value = primary.chi_square.p_value
    shown = "n/a" if p_value is None else f"{p_value:.4f}"
    stdout.print(
        f"wrote {out}/endpoints.csv, results.json, report.html; sustained response at "
        f"6 months: {rates} (chi-square p {shown})",
        markup=False,
    )


def _arm_sizes(text: str) -> tuple[int, int]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if len(sizes) != 2 or min(sizes) < 1:
        message = "expected two positive integers A,B (experimental, control), e.g. 48,56"
        raise InputError([Problem("--n-per-arm", None, None, f"{message}; got {text!r}")])
    return sizes[0], sizes[1]


def _progress(total: int, label: str):  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
        disable=not stderr.is_terminal,
    )


@app.command()
@reports_input_errors
def simulate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    protocol: ProtocolOption = "target020",
    n_per_arm: Annotated[str, typer.Option(help="Subjects per arm: experimental,control.")] = (
        "48,56"
    ),
    trials: Annotated[int, typer.Option(min=1, help="Independent virtual trials.")] = 1,
    seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 20211211,
    engine: Annotated[str, typer.Option(help="fast (vectorized) or reference (LSODA).")] = ("fast"),
    parameters: Annotated[
        Path | None, typer.Option(help="Model parameter TOML (default: calibrated).")
    ] = None,
) -> None:
    """Simulate virtual trials, written as native datasets (docs/model.md)."""
    from itptrial.data import write_dataset
    from itptrial.protocol import load_protocol
    from itptrial.sim import load_parameters, simulate_trial, trial_seeds

    if engine not in ("fast", "reference"):
        raise InputError([Problem("--engine", None, None, "must be fast or reference")])
    sizes = _arm_sizes(n_per_arm)
    protocol_obj = load_protocol(protocol)
    params = load_parameters(parameters)
    days = protocol_obj.endpoints.horizon + 1
    written = 0
    with _progress(trials * days, "simulating") as bar:
        task = bar.add_task("simulate", total=trials * days)
        try:
            for k, sequence in enumerate(trial_seeds(seed, trials), start=1):
                tables = simulate_trial(
                    protocol_obj,
                    sizes,
                    sequence,
                    params,
                    engine,  # type: ignore[arg-type]
                    progress=lambda step: bar.advance(task, step),
                )
                folder = out if trials == 1 else out / f"trial_{k:04d}"
                write_dataset(tables, folder)
                written += 1
        except KeyboardInterrupt:
            stderr.print(f"interrupted: {written} complete trial(s) written to {out}")
            raise typer.Exit(130) from None
    shown = str(out) if trials == 1 else f"{out}/trial_0001 ... trial_{trials:04d}"
    stdout.print(
        f"wrote {trials} virtual trial(s) of {sizes[0]} + {sizes[1]} subjects: {shown}",
        markup=False,
    )


@app.command()
@reports_input_errors
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "itptrial-demo"
    ),
    seed: Annotated[int, typer.Option(min=0, help="Random seed (default 1).")] = 1,
) -> None:
    """Simulate one TARGET 020-sized virtual trial (48 vs 56), analyse it and report."""
    from itptrial.analysis import analyze as run_analysis
    from itptrial.data import dataset_from_frames, write_dataset
    from itptrial.protocol import load_protocol
    from itptrial.report import write_analysis
    from itptrial.sim import TARGET020_SIZE, simulate_trial

    protocol_obj = load_protocol("target020")
    days = protocol_obj.endpoints.horizon + 1
    with _progress(days, "simulating") as bar:
        task = bar.add_task("simulate", total=days)
        tables = simulate_trial(
            protocol_obj, TARGET020_SIZE, seed, progress=lambda step: bar.advance(task, step)
        )
    write_dataset(tables, out / "data")
    dataset = dataset_from_frames(tables, protocol_obj, source=str(out / "data"))
    analysis = run_analysis(dataset, protocol_obj)
    write_analysis(analysis, out)
    _print_demo_summary(analysis, out)


PUBLISHED = {  # TARGET 020 (docs/domain.md): (responders, n) per arm
    "initial_response": ((37, 48), (31, 56)),
    "relapse": ((7, 37), (9, 31)),
    "sustained_response_6m": ((31, 48), (23, 56)),
}


def _print_demo_summary(analysis, out: Path) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    table = Table(
        title="Virtual TARGET 020 (simulated) against the published trial", title_justify="left"
    )
    table.add_column("endpoint")
    for header in (
        f"{analysis.arms[0]} sim",
        "published",
        f"{analysis.arms[1]} sim",
        "published",
        "p sim",
    ):
        table.add_column(header, justify="right", no_wrap=True)
    for endpoint, published in PUBLISHED.items():
        result = analysis.binary[endpoint]
        cells = [endpoint.replace("_response", "").replace("_6m", " 6m").replace("_", " ")]
        for arm, (x, n) in zip(analysis.arms, published, strict=True):
            p = result.by_arm[arm]
            rate = "n/a" if p.rate is None else f"{100 * p.rate:.0f}%"
            cells += [f"{p.responders}/{p.n} {rate}", f"{x}/{n} {100 * x / n:.0f}%"]
        p_value = result.chi_square.p_value
        cells.append("n/a" if p_value is None else f"{p_value:.3f}")
        table.add_row(*cells)
    stdout.print(table)
    stdout.print(
        "One trial of this size varies: a rate near 50% has a standard error of about 7 "
        "points at 48-56 patients. At 20,000 patients per arm the model is within 2 points "
        "of every published rate (docs/calibration.md); try other --seed values.",
        markup=False,
    )
    stdout.print(
        f"wrote {out}/data (the virtual trial), {out}/endpoints.csv, results.json and report.html",
        markup=False,
    )


@app.command("import-sdtm")
@reports_input_errors
def import_sdtm(
    sdtm_dir: Annotated[Path, typer.Argument(help="Folder of SDTM domains (.xpt or .csv).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Native dataset folder to write.")],
    rescue_category: Annotated[
        list[str] | None,
        typer.Option(help="CMCAT/CMSCAT value marking rescue therapy (repeatable)."),
    ] = None,
) -> None:
    """Convert CDISC SDTM domains (DM, DS, LB, CM, AE, EX, PC) into a native dataset."""
    from itptrial.data.sdtm import import_sdtm as run_import

    categories = tuple(rescue_category) if rescue_category else ("RESCUE",)
    summary = run_import(sdtm_dir, out, rescue_categories=categories)
    _print_problems(summary.warnings)
    stdout.print(summary.report(), markup=False)


@protocol_app.command("show")
@reports_input_errors
def protocol_show(
    name: Annotated[str, typer.Argument(help="Preset name or TOML path.")] = "target020",
) -> None:
    """Print a preset's TOML text, or the fully resolved settings of a protocol file."""
    from itptrial.protocol import PRESETS, load_protocol, preset_text

    if name in PRESETS:
        stdout.print(preset_text(name), markup=False)
        return
    stdout.print_json(load_protocol(name).model_dump_json())


def main() -> None:
    """Console entry point: no tracebacks for users (set ITPTRIAL_DEBUG=1 to see them)."""
    try:
        app()
    except KeyboardInterrupt:
        stderr.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # internal error: exit 1 with a one-line message
        if os.environ.get("ITPTRIAL_DEBUG"):
            raise
        stderr.print(f"internal error: {type(exc).__name__}: {exc}", markup=False)
        stderr.print("set ITPTRIAL_DEBUG=1 to see the traceback", markup=False)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()

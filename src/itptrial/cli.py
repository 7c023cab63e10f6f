"""The ``itptrial`` command line: a thin layer over the package's public functions.

Exit codes (docs/interface.md): 0 success, 2 invalid input or arguments (every problem
listed on stderr as ``where:line:column: message``; a single problem of an argument in
one line), 1 internal error, 130 interrupted. :func:`main` maps every outcome to its
code, so no command shows a traceback.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from enum import StrEnum
from functools import partial, wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from itptrial._errors import InputError, Problem, summary
from itptrial._output import (
    check_output_file,
    check_output_folder,
    staged_file,
    staged_output,
)
from itptrial._version import __version__

if TYPE_CHECKING:
    from itptrial.analysis import Analysis
    from itptrial.data import Dataset
    from itptrial.design import Boundary
    from itptrial.protocol import Protocol

app = typer.Typer(
    name="itptrial",
    help="Run and analyse randomized trials in immune thrombocytopenia (ITP).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
protocol_app = typer.Typer(help="Show and check protocols.", no_args_is_help=True)
app.add_typer(protocol_app, name="protocol")
calibrate_app = typer.Typer(
    help="Calibrate the virtual patient to published trials (docs/calibration.md)."
)
app.add_typer(calibrate_app, name="calibrate")
design_app = typer.Typer(
    help="Design a trial: sample size, assurance (docs/design.md).", no_args_is_help=True
)
app.add_typer(design_app, name="design")
tdm_app = typer.Typer(
    help="Dose individualization from measured troughs (docs/tdm.md).",
    no_args_is_help=True,
)
app.add_typer(tdm_app, name="tdm")
user_app = typer.Typer(help="Accounts of the web application (docs/web.md).", no_args_is_help=True)
app.add_typer(user_app, name="user")
audit_app = typer.Typer(
    help="The web application's audit trail (docs/web.md).", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")

# No markup, emoji or highlighting: a problem line prints exactly as written (rich would
# turn "platelets:100:count" into an emoji and "[x]" into markup).
stdout = Console(highlight=False, soft_wrap=True, emoji=False, markup=False)
stderr = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False, markup=False)

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

ProtocolOption = Annotated[
    str,
    typer.Option("--protocol", "-p", help="Preset name (target020, iwg2009) or TOML path."),
]
DataArgument = Annotated[
    Path, typer.Argument(help="Dataset folder (CSV/Parquet tables) or DuckDB file.")
]
SchedulerOption = Annotated[
    str | None, typer.Option(help="Dask scheduler tcp://HOST:PORT (default: local).")
]
WorkersOption = Annotated[
    int | None, typer.Option(min=1, help="Local Dask workers (default: one per CPU).")
]


def _print_problems(problems: Iterable[Problem]) -> None:
    for problem in problems:
        prefix = "warning: " if problem.severity == "warning" else ""
        stderr.print(f"{prefix}{problem}", markup=False)


def _report(error: InputError) -> None:
    """Every problem, one per line, under a count; a lone problem of an argument or of
    the source as a whole (a dataset that does not exist) in a single line."""
    errors = [p for p in error.problems if p.severity == "error"]
    lone = len(error.problems) == 1 and error.problems[0].where in (error.source, None)
    if lone or (error.source is None and len(error.problems) == 1):
        stderr.print(f"error: {error.problems[0]}", markup=False)
        return
    where = f" in {error.source}" if error.source else ""
    stderr.print(f"error: {len(errors)} problem(s){where}:", markup=False)
    _print_problems(error.problems)
    for line in summary(error.problems):
        stderr.print(line, markup=False)


def reports_input_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn :class:`InputError` into the listed problems and exit code 2."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except InputError as error:
            _report(error)
            raise typer.Exit(2) from None

    return wrapper


def _load(data: Path, protocol_spec: str) -> tuple[Dataset, Protocol]:
    from itptrial.data import load_dataset
    from itptrial.protocol import load_protocol

    protocol = load_protocol(protocol_spec)
    dataset = load_dataset(data, protocol)
    _print_problems(dataset.warnings)
    for line in summary(dataset.warnings):
        stderr.print(line, markup=False)
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


def _primary_summary(endpoints: Any, protocol: Protocol) -> str:
    """``12 initial responders, 9 responders for <primary label>``."""
    from itptrial.endpoints import endpoint_registry

    registry = {e.name: e for e in endpoint_registry(protocol.endpoints)}
    primary = registry[protocol.primary_endpoint]
    responders = int(endpoints.select(primary.responded.sum()).item())
    initial = int(endpoints["initial_response"].sum())
    return f"{initial} initial responders, {responders} with {primary.label.lower()}"


@app.command()
@reports_input_errors
def adjudicate(
    data: DataArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .csv or .parquet file.")],
    protocol: ProtocolOption = "target020",
) -> None:
    """Adjudicate every subject's endpoints (docs/endpoints.md) into one table."""
    from itptrial.endpoints import OUTPUT_FORMATS, write_endpoints
    from itptrial.endpoints import adjudicate as run_adjudication

    if out.suffix.lower() not in OUTPUT_FORMATS:
        raise InputError([Problem(str(out), None, "--out", "must end in .csv or .parquet")])
    check_output_file(out, inputs=[data])
    dataset, protocol_obj = _load(data, protocol)
    endpoints = run_adjudication(dataset, protocol_obj)
    write_endpoints(endpoints, out)
    stdout.print(
        f"wrote {out}: {endpoints.height} subjects, {_primary_summary(endpoints, protocol_obj)}",
        markup=False,
    )


def _analysis_summary(analysis: Analysis) -> str:
    primary = analysis.primary
    rates = ", ".join(f"{arm} {p.responders}/{p.n}" for arm, p in primary.by_arm.items())
    tests = []
    for key, comparison in primary.comparisons.items():
        p_value = comparison.chi_square.p_value
        tests.append(f"{key} chi-square p {'n/a' if p_value is None else f'{p_value:.4f}'}")
    return f"{primary.label.lower()}: {rates} ({'; '.join(tests)})"


@app.command()
@reports_input_errors
def analyze(
    data: DataArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    protocol: ProtocolOption = "target020",
) -> None:
    """Adjudicate and analyse a trial: endpoints.csv, results.json and report.html."""
    from itptrial.analysis import analyze as run_analysis
    from itptrial.protocol import load_protocol
    from itptrial.report import output_names, write_analysis

    check_output_folder(out, inputs=[data], names=output_names(load_protocol(protocol)))
    dataset, protocol_obj = _load(data, protocol)
    analysis = run_analysis(dataset, protocol_obj)
    write_analysis(analysis, out)
    stdout.print(
        f"wrote {out}/endpoints.csv, results.json, report.html; {_analysis_summary(analysis)}",
        markup=False,
    )


def _arm_sizes(text: str | None, protocol: Protocol) -> tuple[int, ...]:
    """Subjects per arm from ``A,B,...`` in protocol order, or, when not given, the
    published sizes of the preset's trial."""
    from itptrial.protocol import published_results

    arms = ", ".join(protocol.arm_codes)
    if text is None:
        try:
            sizes = published_results(protocol.name).arm_sizes()
        except KeyError:
            message = f"give the subjects per arm, in protocol order ({arms}), e.g. 50,50"
            raise InputError([Problem("--n-per-arm", None, None, message)]) from None
        return tuple(sizes[arm] for arm in protocol.arm_codes)
    try:
        parsed = tuple(int(part) for part in text.split(","))
    except ValueError:
        parsed = ()
    if len(parsed) != len(protocol.arm_codes) or min(parsed, default=0) < 1:
        message = (
            f"expected {len(protocol.arm_codes)} positive integers, one per arm in protocol "
            f"order ({arms}); got {text!r}"
        )
        raise InputError([Problem("--n-per-arm", None, None, message)])
    return parsed


def _progress(label: str) -> Any:
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
    n_per_arm: Annotated[
        str | None,
        typer.Option(
            help="Subjects per arm, in protocol order (default for a preset: the published "
            "trial's sizes)."
        ),
    ] = None,
    trials: Annotated[int, typer.Option(min=1, help="Independent virtual trials.")] = 1,
    seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 20211211,
    engine: Annotated[str, typer.Option(help="fast (vectorized) or reference (LSODA).")] = ("fast"),
    parameters: Annotated[
        Path | None, typer.Option(help="Model parameter TOML (default: calibrated).")
    ] = None,
    posterior: Annotated[
        str | None,
        typer.Option(
            help="Posterior folder of itptrial calibrate, or target020 (shipped): trial k "
            "takes draw k."
        ),
    ] = None,
) -> None:
    """Simulate virtual trials, written as native datasets (docs/model.md)."""
    from itptrial.data import TABLES, dataset_file_names, write_dataset
    from itptrial.protocol import load_protocol
    from itptrial.sim import (
        check_simulation,
        load_parameters,
        load_posterior,
        simulate_trial,
        trial_seeds,
    )

    if engine not in ("fast", "reference"):
        raise InputError([Problem("--engine", None, None, "must be fast or reference")])
    folders = [out] if trials == 1 else [out / f"trial_{k:04d}" for k in range(1, trials + 1)]
    check_output_folder(out, names=dataset_file_names(list(TABLES)) if trials == 1 else ())
    for folder in folders[1:] if trials == 1 else folders:
        check_output_folder(folder, names=dataset_file_names(list(TABLES)))
    if posterior is not None and parameters is not None:
        message = "give --parameters or --posterior, not both (a posterior has its own)"
        raise InputError([Problem("--posterior", None, None, message)])
    protocol_obj = load_protocol(protocol)
    sizes = _arm_sizes(n_per_arm, protocol_obj)
    draws = load_posterior(posterior) if posterior is not None else None
    params = draws.parameters if draws is not None else load_parameters(parameters)
    check_simulation(protocol_obj, params, sizes)
    days = protocol_obj.endpoints.horizon + 1
    written = 0
    with _progress("simulating") as bar:
        task = bar.add_task("simulate", total=trials * days)
        try:
            for k, (folder, sequence) in enumerate(
                zip(folders, trial_seeds(seed, trials), strict=True)
            ):
                tables = simulate_trial(
                    protocol_obj,
                    sizes,
                    sequence,
                    draws.draw(k) if draws is not None else params,
                    engine,  # type: ignore[arg-type]
                    progress=_checked(lambda step: bar.advance(task, step)),
                )
                _stop_if_signalled()  # before writing: a trial interrupted is not written
                write_dataset(tables, folder, command="simulate")
                written += 1
                _stop_if_signalled()
        except KeyboardInterrupt:
            _interrupted(f"interrupted: {written} complete trial(s) written to {out}")
    shown = str(out) if trials == 1 else f"{out}/trial_0001 ... trial_{trials:04d}"
    arms = " + ".join(str(n) for n in sizes)
    drawn = f", each with its own draw of posterior {posterior}" if draws is not None else ""
    stdout.print(
        f"wrote {trials} virtual trial(s) of {arms} subjects{drawn}: {shown}", markup=False
    )


DEMO_PRESET = "target020"
DEMO_DATA = "data"  # the demo's virtual trial, inside its output folder


@app.command()
@reports_input_errors
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "itptrial-demo"
    ),
    seed: Annotated[int, typer.Option(min=0, help="Random seed (default 1).")] = 1,
) -> None:
    """Simulate, analyse and report one virtual trial beside the published results."""
    from itptrial.analysis import analyze as run_analysis
    from itptrial.data import TABLES, dataset_file_names, dataset_files, dataset_from_frames
    from itptrial.protocol import load_protocol, published_results
    from itptrial.report import analysis_files, output_names
    from itptrial.sim import simulate_trial

    protocol_obj = load_protocol(DEMO_PRESET)
    data_names = [f"{DEMO_DATA}/{name}" for name in dataset_file_names(list(TABLES))]
    check_output_folder(out, names=[*data_names, *output_names(protocol_obj)])
    published = published_results(DEMO_PRESET)
    sizes = tuple(published.arm_sizes()[arm] for arm in protocol_obj.arm_codes)
    with _progress("simulating") as bar:
        task = bar.add_task("simulate", total=protocol_obj.endpoints.horizon + 1)
        try:
            tables = simulate_trial(
                protocol_obj, sizes, seed, progress=_checked(lambda step: bar.advance(task, step))
            )
            _stop_if_signalled()
            dataset = dataset_from_frames(tables, protocol_obj, source=str(out / DEMO_DATA))
            analysis = run_analysis(dataset, protocol_obj)
            _stop_if_signalled()
            with staged_output(out, "demo") as staging:  # the data and its analysis, all or none
                dataset_files(tables, staging / DEMO_DATA)
                analysis_files(analysis, staging)
        except KeyboardInterrupt:
            _interrupted("interrupted: nothing written")
    _print_published_comparison(analysis, published)
    stdout.print(
        f"wrote {out}/{DEMO_DATA} (the virtual trial), {out}/endpoints.csv, results.json and "
        "report.html",
        markup=False,
    )


def _print_published_comparison(analysis: Analysis, published: Any) -> None:
    from rich.table import Table

    from itptrial.analysis import compare_with_published, sampling_note

    rows = compare_with_published(analysis, published)
    title = f"Virtual {published.name} (simulated) against the published trial"
    table = Table(title=title, title_justify="left")
    table.add_column("endpoint")
    arms = list(rows[0].analysed) if rows else []
    for arm in arms:
        table.add_column(f"{arm} sim", justify="right", no_wrap=True)
        table.add_column("published", justify="right", no_wrap=True)
    table.add_column("p sim", justify="right", no_wrap=True)
    for row in rows:
        cells = [row.label]
        for arm in arms:
            sim, pub = row.analysed[arm], row.published[arm]
            rate = "n/a" if sim.rate is None else f"{100 * sim.rate:.0f}%"
            cells += [f"{sim.responders}/{sim.n} {rate}", f"{pub.responders}/{pub.n} "
                      f"{100 * pub.rate:.0f}%"]  # fmt: skip
        cells.append("n/a" if row.p_chisq is None else f"{row.p_chisq:.3f}")
        table.add_row(*cells)
    stdout.print(table)
    stdout.print(sampling_note(published), markup=False)


@app.command("import-sdtm")
@reports_input_errors
def import_sdtm(
    sdtm_dir: Annotated[Path, typer.Argument(help="Folder of SDTM domains (.xpt or .csv).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Native dataset folder to write.")],
    mapping: Annotated[
        Path | None,
        typer.Option(help="Mapping file (TOML): arms, test codes, recodes (docs/sdtm.md)."),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Write into a folder that is not empty (never over others' files).")
    ] = False,
) -> None:
    """Convert CDISC SDTM domains (DM, DS, LB, CM, AE, EX, PC) into a native dataset."""
    from itptrial.data import dataset_file_names
    from itptrial.data import import_sdtm as run_import
    from itptrial.data.sdtm import OUTPUT_TABLES

    # only the tables the import writes: a bleeding.csv added by hand stays (docs/sdtm.md)
    names = dataset_file_names(list(OUTPUT_TABLES))
    check_output_folder(out, inputs=[sdtm_dir], names=names)
    if not force and out.is_dir() and any(out.iterdir()):
        message = "is not empty: give --force to write the tables into it"
        raise InputError([Problem(str(out), None, "--out", message)])
    summary = run_import(sdtm_dir, out, mapping=mapping)
    _print_problems(summary.warnings)
    stdout.print(summary.report(), markup=False)


class AdamFormatOption(StrEnum):
    xpt = "xpt"
    csv = "csv"
    parquet = "parquet"


@app.command("export-adam")
@reports_input_errors
def export_adam(
    data: DataArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the ADaM datasets.")],
    protocol: ProtocolOption = "target020",
    fmt: Annotated[
        AdamFormatOption, typer.Option("--format", help="SAS XPORT v5, CSV or Parquet.")
    ] = AdamFormatOption.xpt,
) -> None:
    """Write ADaM ADSL, ADRS, ADTTE and ADLB with metadata.csv (docs/adam.md)."""
    from itptrial.adam import adam_datasets, adam_file_names, write_adam

    check_output_folder(out, inputs=[data], names=adam_file_names(fmt.value))
    dataset, protocol_obj = _load(data, protocol)
    adam = adam_datasets(dataset, protocol_obj)
    write_adam(adam, out, fmt.value)
    sizes = ", ".join(f"{name.lower()} {frame.height}" for name, frame in adam.frames.items())
    stdout.print(f"wrote {out}: {sizes} records, and metadata.csv", markup=False)


CALIBRATION_FILES = ("posterior.parquet", "parameters.toml", "summary.json", "report.html")


@calibrate_app.callback(invoke_without_command=True)
@reports_input_errors
def calibrate(
    context: typer.Context,
    targets: Annotated[
        Path | None, typer.Option(help="Calibration targets TOML (trials, priors).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder.")] = None,
    parameters: Annotated[
        Path | None,
        typer.Option(help="Parameter TOML for every value not freed (default: shipped)."),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 20261201,
) -> None:
    """Fit the model's free parameters by ABC-SMC: posterior.parquet, parameters.toml,
    summary.json and report.html."""
    if context.invoked_subcommand is not None:
        return
    from itptrial.report import render_calibration
    from itptrial.sim import load_parameters, load_targets, run_calibration

    missing = [name for name, value in (("--targets", targets), ("--out", out)) if value is None]
    if missing:
        raise InputError([Problem(m, None, None, "is required") for m in missing])
    assert targets is not None and out is not None
    check_output_folder(out, inputs=[targets], names=CALIBRATION_FILES)
    base = load_parameters(parameters)
    spec = load_targets(targets, base)
    with _progress("calibrating") as bar:
        task = bar.add_task("calibrating", total=None)
        try:
            result = run_calibration(
                spec, base, seed, progress=_checked(lambda m: bar.update(task, description=m))
            )
            _stop_if_signalled()  # before writing: an interrupted calibration is not written
            with staged_output(out, command="calibrate") as staging:
                result.draws_frame().write_parquet(staging / "posterior.parquet")
                (staging / "parameters.toml").write_text(result.parameters_text(), "utf-8")
                text = json.dumps(result.summary, indent=2, allow_nan=False)
                (staging / "summary.json").write_text(text + "\n", "utf-8")
                html = render_calibration(result.summary, result.bands)
                (staging / "report.html").write_text(html, "utf-8")
        except KeyboardInterrupt:
            _interrupted("interrupted: nothing written")
    outside = [c for c in result.summary["checks"] if c["p_value"] < 0.05]
    stdout.print(
        f"wrote {out}: {len(result.calibration.draws)} posterior draws of "
        f"{len(result.calibration.names)} parameters; {len(outside)} of "
        f"{len(result.summary['checks'])} published rates outside their 95% predictive "
        f"interval ({result.seconds:.0f} s)",
        markup=False,
    )


@calibrate_app.command("check")
@reports_input_errors
def calibrate_check(
    targets: Annotated[Path, typer.Option(help="Calibration targets TOML.")],
    posterior: Annotated[
        str, typer.Option(help="Posterior folder of itptrial calibrate, or target020.")
    ],
    seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 20261202,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Posterior predictive distribution of every observed rate at its trial's size."""
    from itptrial.sim import load_posterior, load_targets, predictive_checks

    draws = load_posterior(posterior)
    spec = load_targets(targets, draws.parameters)
    columns = [name for name in spec.names if name in draws.draws.columns]
    for name in (n for n in spec.names if n not in columns):
        stderr.print(f"warning: {name} is not in the posterior: its value is fixed", markup=False)
    values = draws.draws.select(columns).to_numpy()
    spec = spec.only(columns)
    with _progress("checking") as bar:
        bar.add_task(f"simulating {spec.settings.check_trials} trials per target", total=None)
        try:
            checks = predictive_checks(spec, draws.parameters, values, seed)
            _stop_if_signalled()  # an interrupted check prints no result
        except KeyboardInterrupt:
            _interrupted("interrupted")
    if json_output:
        stdout.print(json.dumps({"checks": [c.as_dict() for c in checks]}), markup=False)
        return
    stdout.print(f"{'trial':<12} {'arm':<8} {'endpoint':<28} observed  median  95% interval  p")
    for c in checks:
        low, high = c.interval_95
        stdout.print(
            f"{c.trial:<12} {c.arm:<8} {c.endpoint:<28} {100 * c.observed:7.1f}% "
            f"{100 * c.median:6.1f}%  {100 * low:5.1f}-{100 * high:5.1f}%  {c.p_value:.3f}",
            markup=False,
        )


def _argument_error(option: str, error: ValueError) -> InputError:
    return InputError([Problem(option, None, None, str(error))])


def _print_json(value: object) -> None:
    stdout.print(json.dumps(value, indent=2, allow_nan=False), markup=False)


class BoundaryChoice(StrEnum):
    obf = "obf"
    pocock = "pocock"
    asof = "asof"
    asp = "asp"


def _boundary(looks: int, boundary: BoundaryChoice | None) -> Boundary | None:
    """The boundary's name, required with more than one look."""
    if looks > 1 and boundary is None:
        message = "give --boundary obf, pocock, asof or asp with --looks"
        raise InputError([Problem("--boundary", None, None, message)])
    return boundary.value if boundary is not None else None


@design_app.command("sample-size")
@reports_input_errors
def design_sample_size(
    control: Annotated[float, typer.Option(help="Control arm's response rate P0.")],
    experimental: Annotated[float, typer.Option(help="Experimental arm's rate P1.")],
    alpha: Annotated[float, typer.Option(help="Total alpha (two-sided when --sided 2).")] = 0.05,
    power: Annotated[float, typer.Option(help="Power under P1 vs P0.")] = 0.8,
    sided: Annotated[
        int | None,
        typer.Option(help="1 or 2 (default 2; 1 with --margin)."),
    ] = None,
    ratio: Annotated[float, typer.Option(help="Allocation experimental:control.")] = 1.0,
    margin: Annotated[
        float | None, typer.Option(help="Non-inferiority margin M > 0 (one-sided).")
    ] = None,
    looks: Annotated[int, typer.Option(help="Analyses, equally spaced (1: fixed).")] = 1,
    boundary: Annotated[
        BoundaryChoice | None, typer.Option(help="Group-sequential boundary (with --looks).")
    ] = None,
    dropout: Annotated[float, typer.Option(help="Dropout fraction D in [0, 1).")] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Sample size for two proportions, fixed or group-sequential, equal to rpact."""
    from itptrial.design import sample_size_rates, sample_size_text

    boundary_name = _boundary(looks, boundary)
    try:
        plan = sample_size_rates(
            control,
            experimental,
            alpha=alpha,
            power=power,
            sided=sided,
            ratio=ratio,
            margin=margin,
            looks=looks,
            boundary=boundary_name,
            dropout=dropout,
        )
    except ValueError as error:
        raise _argument_error("design sample-size", error) from None
    if as_json:
        _print_json(plan.as_dict())
    else:
        stdout.print(sample_size_text(plan), markup=False)


def _counts(text: str, option: str) -> tuple[int, int]:
    """``R/N`` as two integers."""
    parts = text.split("/")
    try:
        responders, n = (int(part) for part in parts)
    except ValueError:
        message = f"expected R/N (responders/subjects, e.g. 12/40); got {text!r}"
        raise InputError([Problem(option, None, None, message)]) from None
    return responders, n


@design_app.command("assurance")
@reports_input_errors
def design_assurance(
    prior_experimental: Annotated[
        str, typer.Option(help="Earlier trial's experimental responders/subjects, R/N.")
    ],
    prior_control: Annotated[str, typer.Option(help="Earlier trial's control R/N.")],
    n_per_arm: Annotated[str, typer.Option(help="Planned subjects per arm, protocol order (A,B).")],
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    sided: Annotated[int, typer.Option(help="1 or 2.")] = 2,
    protocol: ProtocolOption = "target020",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Exact assurance over the earlier trial's Beta posteriors (O'Hagan et al. 2005)."""
    from itptrial.design import assurance, assurance_text
    from itptrial.protocol import load_protocol

    protocol_obj = load_protocol(protocol)
    sizes = dict(zip(protocol_obj.arm_codes, _arm_sizes(n_per_arm, protocol_obj), strict=True))
    if len(sizes) != 2:
        message = "assurance compares two arms; the protocol has " + str(len(sizes))
        raise InputError([Problem("--protocol", None, None, message)])
    control = protocol_obj.control_arm
    experimental = next(code for code in protocol_obj.arm_codes if code != control)
    try:
        result = assurance(
            _counts(prior_experimental, "--prior-experimental"),
            _counts(prior_control, "--prior-control"),
            sizes[experimental],
            sizes[control],
            alpha=alpha,
            sided=sided,
        )
    except ValueError as error:
        raise _argument_error("design assurance", error) from None
    if as_json:
        _print_json(result.as_dict())
    else:
        stdout.print(assurance_text(result), markup=False)


def _grid(options: list[str], extra: list[str] | None, protocol: Protocol) -> list[tuple[int, ...]]:
    """Designs of ``--n-per-arm 60,60 80,80`` (spaces, or the option repeated)."""
    texts = [part for text in [*options, *(extra or [])] for part in text.split()]
    if not texts:
        message = "give the subjects per arm, e.g. --n-per-arm 60,60 80,80"
        raise InputError([Problem("--n-per-arm", None, None, message)])
    return [_arm_sizes(text, protocol) for text in texts]


@design_app.command("power")
@reports_input_errors
def design_power(
    n_per_arm: Annotated[
        list[str],
        typer.Option(help="Subjects per arm in protocol order (A,B); several: a grid."),
    ],
    more_sizes: Annotated[
        list[str] | None, typer.Argument(help="More designs of the grid (A,B ...).")
    ] = None,
    simulate: Annotated[
        bool, typer.Option("--simulate", help="Simulate virtual trials (required).")
    ] = False,
    trials: Annotated[int, typer.Option(min=2, help="Virtual trials per design.")] = 1000,
    seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 20211211,
    protocol: ProtocolOption = "target020",
    parameters: Annotated[
        Path | None, typer.Option(help="Model parameter TOML (default: calibrated).")
    ] = None,
    posterior: Annotated[
        str | None,
        typer.Option(help="Posterior folder, or target020: trial k takes draw k (assurance)."),
    ] = None,
    alpha: Annotated[float, typer.Option(help="Two-sided significance level.")] = 0.05,
    looks: Annotated[int, typer.Option(min=1, help="Equally spaced analyses (1: fixed).")] = 1,
    boundary: Annotated[
        BoundaryChoice | None, typer.Option(help="Group-sequential boundary (with --looks).")
    ] = None,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    html: Annotated[Path | None, typer.Option(help="Write the power curves page.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Power by simulated virtual trials through the endpoint engine (docs/design.md)."""
    from itptrial.design import (
        check_power_arguments,
        phase2_assurance,
        power_text,
        simulated_power,
    )
    from itptrial.protocol import load_protocol
    from itptrial.report import render_power
    from itptrial.sim import load_parameters, load_posterior

    _check_power_options(simulate, posterior, parameters, scheduler, workers)
    boundary_name = _boundary(looks, boundary)
    if html is not None:
        check_output_file(html, option="--html")
    protocol_obj = load_protocol(protocol)
    grid = _grid(n_per_arm, more_sizes, protocol_obj)
    for sizes in grid:  # every argument checked before anything runs
        try:
            check_power_arguments(protocol_obj, sizes, trials, alpha, looks, boundary_name)
        except ValueError as error:
            raise _argument_error("design power", error) from None
    draws = load_posterior(posterior) if posterior is not None else None
    params = draws.parameters if draws is not None else load_parameters(parameters)
    run = partial(
        simulated_power,
        protocol_obj,
        params=params,
        trials=trials,
        seed=seed,
        alpha=alpha,
        posterior=draws,
        looks=looks,
        boundary=boundary_name,
        check=_stop_if_signalled,
    )
    total = trials * len(grid) * (2 if looks > 1 else 1)
    results = _simulate_grid(grid, run, total, scheduler, workers)
    phase2 = [phase2_assurance(protocol_obj, sizes, alpha) for sizes in grid]
    designs = [
        {
            **result.as_dict(),
            "assurance": None if a is None else a.assurance,
            "assurance_prior": None if a is None else a.prior,
        }
        for result, a in zip(results, phase2, strict=True)
    ]
    if html is not None:
        with staged_file(html, command="design power") as staged:
            staged.write_text(render_power(designs), encoding="utf-8")
    if as_json:
        _print_json(designs[0] if len(designs) == 1 else {"designs": designs})
        return
    stdout.print("\n\n".join(power_text(r, a) for r, a in zip(results, phase2, strict=True)))
    if html is not None:
        stdout.print(f"wrote {html}", markup=False)


def _check_power_options(
    simulate: bool,
    posterior: str | None,
    parameters: Path | None,
    scheduler: str | None,
    workers: int | None,
) -> None:
    if not simulate:
        message = "only simulated power is built here: add --simulate (exact: design assurance)"
        raise InputError([Problem("--simulate", None, None, message)])
    if posterior is not None and parameters is not None:
        message = "give --parameters or --posterior, not both (a posterior has its own)"
        raise InputError([Problem("--posterior", None, None, message)])
    if scheduler is not None and workers is not None:
        message = "give --workers (a local cluster) or --scheduler (an existing one), not both"
        raise InputError([Problem("--workers", None, None, message)])


def _simulate_grid(
    grid: list[tuple[int, ...]],
    run: Callable[..., Any],
    total: int,
    scheduler: str | None,
    workers: int | None,
) -> list[Any]:
    """Each design of the grid in turn on one cluster, with one progress bar."""
    results = []
    with _progress("simulating trials") as bar, _cluster(scheduler, workers) as client:
        task = bar.add_task("power", total=total)
        try:
            for sizes in grid:
                results.append(run(sizes, client=client, progress=lambda k: bar.advance(task, k)))
        except KeyboardInterrupt:
            _interrupted("interrupted: nothing written")
    return results


@contextmanager
def _cluster(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """The Dask client of ``--scheduler``, or of a local cluster (an address that
    cannot be reached, or whose workers run another itptrial, is an argument error)."""
    from itptrial.design import dask_client

    option = "--scheduler" if scheduler is not None else "--workers"
    with ExitStack() as stack:
        try:
            client = stack.enter_context(dask_client(scheduler, workers))
        except (OSError, TimeoutError, ValueError) as error:
            what = "reach the Dask scheduler" if scheduler else "start a local Dask cluster"
            raise InputError([Problem(option, None, None, f"cannot {what}: {error}")]) from None
        yield client


def _integers(text: str, separator: str, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(separator))
    except ValueError:
        message = f"expected integers separated by {separator!r}; got {text!r}"
        raise InputError([Problem(option, None, None, message)]) from None


@app.command()
@reports_input_errors
def randomize(
    n: Annotated[int, typer.Option("--n", help="Allocations per stratum.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write.")],
    ratio: Annotated[
        str | None, typer.Option(help="Allocation ratio in protocol arm order, e.g. 1:1.")
    ] = None,
    block_sizes: Annotated[
        str, typer.Option(help="Block sizes, drawn at random per block.")
    ] = "4,6",
    strata: Annotated[str, typer.Option(help="Strata, comma-separated.")] = "all",
    seed: Annotated[
        int | None,
        typer.Option(min=0, help="Random seed (default: a secret one, drawn and printed)."),
    ] = None,
    protocol: ProtocolOption = "target020",
) -> None:
    """A stratified permuted-block randomization list (docs/randomization.md)."""
    from itptrial.design import randomization_list
    from itptrial.protocol import load_protocol

    check_output_file(out)
    protocol_obj = load_protocol(protocol)
    ratios = _integers(ratio, ":", "--ratio") if ratio is not None else None
    try:
        allocation = randomization_list(
            protocol_obj.arm_codes,
            n,
            strata=tuple(strata.split(",")),
            ratio=ratios,
            block_sizes=_integers(block_sizes, ",", "--block-sizes"),
            seed=seed,
        )
    except ValueError as error:
        raise _argument_error("randomize", error) from None
    with staged_file(out, command="randomize") as staged:
        staged.write_text(allocation.csv_text(), encoding="utf-8", newline="")
    stdout.print(allocation.balance_report(), markup=False)
    stdout.print(f"wrote {allocation.n_total} allocations to {out}", markup=False)
    if seed is None:
        stderr.print(
            f"note: --seed was not given; the list was drawn from the secret seed "
            f"{allocation.seed}. Keep it as confidential as the list: --seed "
            f"{allocation.seed} regenerates exactly this list.",
            markup=False,
        )


class GenotypeChoice(StrEnum):
    expresser = "expresser"
    non = "non"
    unknown = "unknown"


def _target(text: str) -> tuple[float, float]:
    """``LOW-HIGH`` in ng/mL."""
    try:
        low, high = (float(part) for part in text.split("-"))
    except ValueError:
        message = f"expected LOW-HIGH in ng/mL, e.g. 2.5-6; got {text!r}"
        raise InputError([Problem("--target", None, None, message)]) from None
    return low, high


@tdm_app.command("recommend")
@reports_input_errors
def tdm_recommend(
    history: Annotated[Path, typer.Option(help="CSV: datetime, event, value (docs/tdm.md).")],
    weight: Annotated[float, typer.Option(help="Body weight, kg.")],
    cyp3a5: Annotated[
        GenotypeChoice, typer.Option(help="CYP3A5 genotype (unknown: the population mix).")
    ] = GenotypeChoice.unknown,
    target: Annotated[
        str | None,
        typer.Option(help="Target trough LOW-HIGH, ng/mL (default: the protocol's)."),
    ] = None,
    protocol: ProtocolOption = "target020",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The next twice-daily dose by Bayesian MAP on the population PK model."""
    from itptrial.protocol import load_protocol
    from itptrial.tdm import dosing_rules, read_history, recommend, recommendation_text

    protocol_obj = load_protocol(protocol)
    parsed = read_history(history)
    try:
        rules = dosing_rules(protocol_obj, _target(target) if target is not None else None)
        advice = recommend(parsed, weight, rules, cyp3a5.value, where=str(history))
    except ValueError as error:
        raise _argument_error("tdm recommend", error) from None
    _print_problems(advice.warnings)
    if as_json:
        _print_json(advice.as_dict())
    else:
        stdout.print(recommendation_text(advice), markup=False)


@tdm_app.command("evaluate")
@reports_input_errors
def tdm_evaluate(
    patients: Annotated[int, typer.Option(min=2, help="Virtual patients.")],
    seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 20211211,
    protocol: ProtocolOption = "target020",
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """MAP-guided, rule-based and fixed dosing on virtual patients (docs/tdm.md)."""
    from itptrial.design import dosing_text, evaluate_dosing, protocol_dosing_setup
    from itptrial.protocol import load_protocol

    if scheduler is not None and workers is not None:
        message = "give --workers (a local cluster) or --scheduler (an existing one), not both"
        raise InputError([Problem("--workers", None, None, message)])
    try:
        setup = protocol_dosing_setup(load_protocol(protocol))
    except ValueError as error:
        raise _argument_error("tdm evaluate", error) from None
    with _progress("dosing virtual patients") as bar, _cluster(scheduler, workers) as client:
        task = bar.add_task("patients", total=patients)
        try:
            result = evaluate_dosing(
                setup,
                patients,
                seed,
                client=client,
                progress=lambda k: bar.advance(task, k),
                check=_stop_if_signalled,
            )
        except KeyboardInterrupt:
            _interrupted("interrupted: nothing written")
    if as_json:
        _print_json(result.as_dict())
    else:
        stdout.print(dosing_text(result), markup=False)


DbOption = Annotated[
    str, typer.Option("--db", help="Database URL (sqlite:///FILE or postgresql+psycopg://...).")
]


def _database(url: str, create: bool = True) -> Any:
    """The database at ``url`` (migrated); ``create=False``: an SQLite file that does not
    exist is an error, not a new empty database (auditing nothing would pass)."""
    from itptrial.web import open_database

    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None
    if not create and path is not None and not Path(path).is_file():
        raise InputError([Problem("--db", None, None, f"no database file {path}")])
    try:
        return open_database(url)
    except Exception as error:  # a URL SQLAlchemy cannot open, a server not reachable
        message = f"cannot open the database: {str(error).splitlines()[0]}"
        raise InputError([Problem("--db", None, None, message)]) from None


@app.command()
@reports_input_errors
def serve(
    db: DbOption = "sqlite:///itptrial.db",
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    protocol: ProtocolOption = "target020",
) -> None:
    """Run the web application: migrations applied, then the URL printed (docs/web.md)."""
    import uvicorn

    from itptrial.protocol import load_protocol
    from itptrial.web import create_app

    protocol_obj = load_protocol(protocol)
    database = _database(db)
    stdout.print(f"itptrial serving {protocol_obj.name} at http://{host}:{port}/", markup=False)
    uvicorn.run(create_app(database, protocol_obj), host=host, port=port, log_level="warning")


@user_app.command("add")
@reports_input_errors
def user_add(
    name: Annotated[str, typer.Argument(help="Username.")],
    role: Annotated[str, typer.Option(help="admin, investigator, monitor or statistician.")],
    site: Annotated[str | None, typer.Option(help="The investigator's site.")] = None,
    full_name: Annotated[
        str | None, typer.Option(help="Printed with the user's signatures (default: NAME).")
    ] = None,
    db: DbOption = "sqlite:///itptrial.db",
) -> None:
    """Add an account; the password is read from stdin (one line)."""
    from itptrial.web import ServiceError, add_user

    password = sys.stdin.readline().rstrip("\n")
    database = _database(db)
    try:
        add_user(database, name, password, role, site, full_name=full_name)
    except ServiceError as error:
        raise InputError([Problem("user add", None, None, error.message)]) from None
    stdout.print(f"added {role} {name}" + (f" of site {site}" if site else ""), markup=False)


@user_app.command("change")
@reports_input_errors
def user_change(
    name: Annotated[str, typer.Argument(help="Username.")],
    role: Annotated[str | None, typer.Option(help="The new role.")] = None,
    site: Annotated[str | None, typer.Option(help="The new site (investigators).")] = None,
    deactivate: Annotated[bool, typer.Option("--deactivate", help="End the account.")] = False,
    db: DbOption = "sqlite:///itptrial.db",
) -> None:
    """Change an account's role or site, or deactivate it (logged; never deleted)."""
    from itptrial.web import ServiceError, change_user

    database = _database(db, create=False)
    try:
        change_user(database, name, role, False if deactivate else None, site)
    except ServiceError as error:
        raise InputError([Problem("user change", None, None, error.message)]) from None
    stdout.print(f"changed {name}", markup=False)


@audit_app.command("head")
@reports_input_errors
def audit_head_command(db: DbOption = "sqlite:///itptrial.db") -> None:
    """Print the audit chain's head hash (keep it outside the database)."""
    from itptrial.web import audit_head

    stdout.print(audit_head(_database(db, create=False)), markup=False)


@audit_app.command("verify")
@reports_input_errors
def audit_verify(
    db: DbOption = "sqlite:///itptrial.db",
    head: Annotated[str | None, typer.Option(help="The head kept outside the database.")] = None,
) -> None:
    """Exit 0 when the hash chain is intact (and ends at --head), else 1."""
    from itptrial.web import verify_chain

    broken = verify_chain(_database(db, create=False), head)
    if broken is None:
        stdout.print("audit trail intact", markup=False)
        return
    where = "the chain" if broken.entry_id == 0 else f"entry {broken.entry_id}"
    stderr.print(f"audit trail broken at {where}: {broken.reason}", markup=False)
    raise typer.Exit(1)


@protocol_app.command("show")
@reports_input_errors
def protocol_show(
    name: Annotated[str, typer.Argument(help="Preset name or TOML path.")] = "target020",
) -> None:
    """Print a preset's TOML, or a protocol file resolved into TOML that loads back."""
    from itptrial.protocol import PRESETS, load_protocol, preset_text, protocol_toml

    if name in PRESETS:
        stdout.print(preset_text(name), markup=False, end="")
        return
    protocol = load_protocol(name)
    stdout.print(f"# {name}, resolved by itptrial protocol show\n", markup=False, end="")
    stdout.print(protocol_toml(protocol), markup=False, end="")


def _usage_message(error: typer.TyperException) -> str:
    """A usage error (bad or missing option) in one line: the command, the reason and
    where to look."""
    context = getattr(error, "ctx", None)
    command = context.command_path if context is not None else "itptrial"
    format_message = getattr(error, "format_message", None)
    reason = format_message() if format_message is not None else str(error)
    return f"error: {command}: {reason} (see '{command} --help')"


_SAID: list[str] = []  # what a command said when interrupted (main then says no more)


def _interrupted(message: str) -> None:
    stderr.print(message, markup=False)
    _SAID.append(message)
    raise typer.Exit(130)


_RECEIVED: list[int] = []  # Ctrl-C and SIGTERM received, whatever became of their exception


def _stop(signum: int, frame: object) -> None:
    """Ctrl-C and SIGTERM end a command: staging folders are removed, exit 130. The
    signal is recorded as well as raised: a KeyboardInterrupt raised while a library runs
    Python code of its own can be swallowed there (seen under load with the compiled
    simulator: the command then ran to its end), and long loops check the record between
    their units of work (:func:`_stop_if_signalled`)."""
    _RECEIVED.append(signum)
    raise KeyboardInterrupt


def _stop_if_signalled() -> None:
    if _RECEIVED:
        raise KeyboardInterrupt


def _checked(callback: Callable[[T], object]) -> Callable[[T], None]:
    """A progress callback that also stops the command at a signal a library swallowed:
    long library calls report progress between their units of work."""

    def report(value: T) -> None:
        callback(value)
        _stop_if_signalled()

    return report


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: every outcome is an exit code and one clear message; no
    tracebacks for users (set ITPTRIAL_DEBUG=1 to see internal ones)."""
    signal.signal(signal.SIGTERM, _stop)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when ignored
        signal.signal(signal.SIGINT, _stop)
    try:
        code = app(args=list(argv) if argv is not None else None, standalone_mode=False)
    except (KeyboardInterrupt, typer.Abort):
        stderr.print("interrupted")
        sys.exit(130)
    except typer.TyperException as error:  # click's usage and parameter errors
        format_message = getattr(error, "format_message", None)
        if format_message is None or format_message():  # (no arguments: help was shown)
            stderr.print(_usage_message(error), markup=False)
        sys.exit(getattr(error, "exit_code", 2))
    except Exception as exc:  # internal error: exit 1 with a one-line message
        if os.environ.get("ITPTRIAL_DEBUG"):
            raise
        stderr.print(f"internal error: {type(exc).__name__}: {exc}", markup=False)
        stderr.print("set ITPTRIAL_DEBUG=1 to see the traceback", markup=False)
        sys.exit(1)
    if code == 130 and not _SAID:
        stderr.print("interrupted")
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()

"""Writing an analysis folder: endpoints.csv, results.json, report.html and figures/."""

from __future__ import annotations

from pathlib import Path

from itptrial._output import staged_output
from itptrial.analysis import Analysis, results_json
from itptrial.endpoints import endpoint_registry, endpoints_file
from itptrial.protocol import Protocol
from itptrial.report._render import Report, render_report

OUTPUTS = ("endpoints.csv", "results.json", "report.html", "figures")
ENDPOINTS_FILE = "endpoints.csv"


def output_names(protocol: Protocol) -> list[str]:
    """The files :func:`write_analysis` writes for this protocol (relative paths)."""
    figures = [
        f"figures/km_{e.name}.svg"
        for e in endpoint_registry(protocol.endpoints)
        if e.kind == "time_to_event"
    ]
    return [
        ENDPOINTS_FILE,
        "results.json",
        "report.html",
        *figures,
        "figures/platelet_trajectories.svg",
    ]


def write_analysis(analysis: Analysis, out: str | Path) -> Path:
    """Write every output into ``out`` at once: staged, and moved in only when all are
    complete; files itptrial did not write are never replaced (:mod:`itptrial._output`),
    and figures of an earlier analysis that this one no longer draws are removed."""
    out = Path(out)
    report = render_report(analysis)
    with staged_output(out, "analyze") as staging:
        analysis_files(analysis, staging, report)
    return out


def analysis_files(analysis: Analysis, folder: Path, report: Report | None = None) -> None:
    """The outputs as files in ``folder`` (no staging: for writers that stage themselves)."""
    report = report or render_report(analysis)
    endpoints_file(analysis.endpoints, folder / ENDPOINTS_FILE)
    (folder / "results.json").write_text(results_json(analysis), encoding="utf-8")
    (folder / "report.html").write_text(report.html, encoding="utf-8")
    (folder / "figures").mkdir(exist_ok=True)
    for name, svg in report.figures.items():
        (folder / "figures" / name).write_text(svg, encoding="utf-8")

"""Writing an analysis folder: endpoints.csv, results.json, report.html and figures/."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from itptrial.analysis import Analysis, results_json
from itptrial.endpoints import write_endpoints
from itptrial.report._render import render_report

OUTPUTS = ("endpoints.csv", "results.json", "report.html", "figures")


def write_analysis(analysis: Analysis, out: str | Path) -> Path:
    """Write every output into ``out`` at once: they are staged in a temporary folder
    beside it and moved in only when all are complete (no partial output)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        write_endpoints(analysis.endpoints, staging / "endpoints.csv")
        (staging / "results.json").write_text(results_json(analysis), encoding="utf-8")
        report = render_report(analysis)
        (staging / "report.html").write_text(report.html, encoding="utf-8")
        (staging / "figures").mkdir()
        for name, svg in report.figures.items():
            (staging / "figures" / name).write_text(svg, encoding="utf-8")
        out.mkdir(exist_ok=True)
        for name in OUTPUTS:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            (staging / name).replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out

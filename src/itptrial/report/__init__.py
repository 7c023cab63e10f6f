"""The HTML report of an analysis: tables and inline figures, no network requests."""

from itptrial.report._calibration import render_calibration
from itptrial.report._power import render_power
from itptrial.report._render import Report, render_report
from itptrial.report._write import OUTPUTS, analysis_files, output_names, write_analysis

__all__ = [
    "OUTPUTS",
    "Report",
    "analysis_files",
    "output_names",
    "render_calibration",
    "render_power",
    "render_report",
    "write_analysis",
]

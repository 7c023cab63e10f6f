"""The HTML report of an analysis: tables and inline figures, no network requests."""

from itptrial.report._render import Report, render_report
from itptrial.report._write import OUTPUTS, write_analysis

__all__ = ["OUTPUTS", "Report", "render_report", "write_analysis"]

"""The calibration report (``report.html`` of ``itptrial calibrate``): observed rates
against their posterior predictive intervals, the visual predictive check of platelet
counts, each parameter's prior and posterior, and the identifiability diagnostics.
Rendered from the data of ``summary.json`` and the count bands, nothing recomputed."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import polars as pl

from itptrial.report._figures import STYLE, _svg, arm_colour
from itptrial.report._render import _ENVIRONMENT


def _checks_figure(checks: list[dict[str, Any]]) -> str:
    """Each observed rate (dot) against its 95% posterior predictive interval (bar)."""
    with plt.rc_context(STYLE):  # type: ignore[arg-type]
        figure, axes = plt.subplots(figsize=(8.2, 0.35 * len(checks) + 0.9))
        for row, c in enumerate(reversed(checks)):
            low, high = c["interval_95"]
            if low is not None and high is not None:
                axes.plot([low * 100, high * 100], [row, row], color="#5f6b73", lw=3, alpha=0.6)
            if c["median"] is not None:
                axes.plot(c["median"] * 100, row, "|", color="#1d2327", ms=10)
            axes.plot(c["observed"] * 100, row, "o", color="#c0392b", ms=5)
        labels = [f"{c['trial']} {c['arm']} {c['endpoint']}" for c in reversed(checks)]
        axes.set_yticks(range(len(checks)), labels)
        axes.set_xlabel("rate (%): published (dot), predictive median (tick) and 95% interval")
        axes.set_xlim(0, 100)
        axes.grid(axis="x", color="#e5e5e5", lw=0.6)
        figure.tight_layout()
        return _svg(figure)


def _bands_figure(bands: pl.DataFrame, trial: str) -> str:
    """Median and 5-95% band of the platelet count by visit day, per arm, log scale."""
    with plt.rc_context(STYLE):  # type: ignore[arg-type]
        figure, axes = plt.subplots(figsize=(7.2, 3.4))
        rows = bands.filter(pl.col("trial") == trial)
        for index, arm in enumerate(rows["arm"].unique(maintain_order=True)):
            arm_rows = rows.filter(pl.col("arm") == arm)
            colour = arm_colour(index)
            days = arm_rows["day"].to_list()
            axes.fill_between(
                days,
                [max(v, 1.0) for v in arm_rows["p05"]],
                [max(v, 1.0) for v in arm_rows["p95"]],
                color=colour,
                alpha=0.15,
                lw=0,
            )
            axes.plot(days, arm_rows["median"].to_list(), color=colour, lw=1.6, label=arm)
        axes.set_yscale("log")
        axes.set_xlabel("study day")
        axes.set_ylabel("platelet count (x10^9/L)")
        axes.grid(axis="y", color="#e5e5e5", lw=0.6)
        axes.legend(frameon=False, loc="lower right")
        figure.tight_layout()
        return _svg(figure)


def render_calibration(summary: dict[str, Any], bands: pl.DataFrame) -> str:
    """The calibration report as one self-contained HTML document."""
    trials = list(dict.fromkeys(bands["trial"].to_list()))
    ident = summary["identifiability"]
    correlations = [
        (a, b, ident["correlation"][i][j])
        for i, a in enumerate(ident["names"])
        for j, b in enumerate(ident["names"])
        if j > i
    ]
    context = {
        "summary": summary,
        "checks_figure": _checks_figure(summary["checks"]),
        "bands": [(trial, _bands_figure(bands, trial)) for trial in trials],
        "strong_correlations": sorted(correlations, key=lambda r: -abs(r[2]))[:8],
    }
    return _ENVIRONMENT.get_template("calibration.html.j2").render(**context)

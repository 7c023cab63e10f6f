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


def _bands_figure(bands: pl.DataFrame, trial: str, checks: list[dict[str, Any]]) -> str:
    """The visual predictive check of one trial: above, the median and 5-95% band of
    the platelet count by visit day per arm (log scale); below, on the same days, each
    published rate the model was fitted to (dot) at the day its endpoint is settled, with
    its predictive median (tick) and 95% interval (bar)."""
    rows = bands.filter(pl.col("trial") == trial)
    arms = rows["arm"].unique(maintain_order=True).to_list()
    with plt.rc_context(STYLE):  # type: ignore[arg-type]
        figure, (counts, rates) = plt.subplots(
            2, 1, figsize=(7.2, 5.6), sharex=True, height_ratios=(3, 2)
        )
        for index, arm in enumerate(arms):
            arm_rows = rows.filter(pl.col("arm") == arm)
            colour = arm_colour(index)
            days = arm_rows["day"].to_list()
            counts.fill_between(
                days,
                [max(v, 1.0) for v in arm_rows["p05"]],
                [max(v, 1.0) for v in arm_rows["p95"]],
                color=colour,
                alpha=0.15,
                lw=0,
            )
            counts.plot(days, arm_rows["median"].to_list(), color=colour, lw=1.6, label=arm)
        counts.set_yscale("log")
        counts.set_ylabel("platelet count (x10^9/L)")
        counts.grid(axis="y", color="#e5e5e5", lw=0.6)
        counts.legend(frameon=False, loc="lower right")
        span = float(max([*rows["day"].to_list(), *(c.get("day") or 0 for c in checks)]))
        _published_rates(rates, [c for c in checks if c["trial"] == trial], arms, span)
        rates.set_xlabel("study day")
        figure.tight_layout()
        return _svg(figure)


def _published_rates(axes: Any, checks: list[dict[str, Any]], arms: list[str], span: float) -> None:
    """Published rates (dots) with their predictive median (tick) and 95% interval, each
    at its endpoint's assessment day; rates settled on the same day are spread apart by
    2.5% of the time axis (``span`` days)."""
    placed = [c for c in checks if c.get("day") is not None and c["arm"] in arms]
    spread = 0.025 * span
    for day in sorted({c["day"] for c in placed}):
        same_day = [c for c in placed if c["day"] == day]
        for j, c in enumerate(same_day):
            x = day + (j - (len(same_day) - 1) / 2) * spread
            colour = arm_colour(arms.index(c["arm"]))
            low, high = c["interval_95"]
            if low is not None and high is not None:
                axes.plot([x, x], [low * 100, high * 100], color=colour, lw=3, alpha=0.45)
            if c["median"] is not None:
                axes.plot(x, c["median"] * 100, "_", color=colour, ms=9, mew=1.6)
            axes.plot(x, c["observed"] * 100, "o", color=colour, mec="#1d2327", ms=5)
            axes.annotate(
                c["endpoint"].replace("_", " "),
                (x, 2),
                xytext=(3, 0),
                textcoords="offset points",
                rotation=90,
                fontsize=6,
                color="#5f6b73",
                ha="left",
                va="bottom",
            )
    axes.set_ylim(0, 100)
    axes.set_ylabel("rate (%)")
    axes.grid(axis="y", color="#e5e5e5", lw=0.6)


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
        "bands": [(trial, _bands_figure(bands, trial, summary["checks"])) for trial in trials],
        "strong_correlations": sorted(correlations, key=lambda r: -abs(r[2]))[:8],
    }
    return _ENVIRONMENT.get_template("calibration.html.j2").render(**context)

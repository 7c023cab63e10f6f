"""Figures as inline SVG text (matplotlib, no files, no network, reproducible bytes)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from itptrial.analysis import Trajectory
from itptrial.stats import KaplanMeier

# One colour per arm, in protocol order; the first two as in earlier reports, then the
# Okabe-Ito palette (distinguishable with colour-vision deficiency).
ARM_COLOURS = ("#1b6ca8", "#c0392b", "#009e73", "#e69f00", "#cc79a7", "#56b4e9", "#d55e00")
STYLE: dict[str, Any] = {
    "svg.hashsalt": "itptrial",  # stable element ids: same input, same bytes
    "svg.fonttype": "none",  # text stays text: smaller, selectable, prints sharply
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog: the SVG is inlined in HTML


def arm_colour(index: int) -> str:
    """The colour of the arm at this position of the protocol (cycles after seven)."""
    return ARM_COLOURS[index % len(ARM_COLOURS)]


def _survival_at(km: KaplanMeier, t: float) -> float:
    """The right-continuous Kaplan-Meier step value at time t."""
    value = 1.0
    for time, survival in zip(km.times, km.survival, strict=True):
        if time > t:
            break
        value = survival
    return value


def km_figure(
    curves: dict[str, KaplanMeier],
    censored: dict[str, list[float]],
    labels: dict[str, str],
    xlabel: str,
    ylabel: str,
    risk_times: Sequence[float],
    axis_end: float,
    cumulative: bool = False,
) -> str:
    """Kaplan-Meier step curves (or 1 - S when ``cumulative``) with censoring marks and
    a numbers-at-risk table labelled by arm code, on an axis from 0 to ``axis_end``."""
    with plt.rc_context(STYLE):  # type: ignore[arg-type]
        rows = max(len(curves), 1)
        figure, (axes, table) = plt.subplots(
            2, 1, figsize=(7.2, 3.9 + 0.25 * rows), height_ratios=(4, 0.5 * rows), sharex=True
        )
        for index, (arm, km) in enumerate(curves.items()):
            colour = arm_colour(index)

            def shown(value: float) -> float:
                return 1.0 - value if cumulative else value

            times = [0.0, *km.times]
            curve = [shown(1.0), *(shown(v) for v in km.survival)]
            axes.step(times, curve, where="post", color=colour, label=labels[arm], lw=1.6)
            marks = sorted(set(censored.get(arm, [])))
            if marks:
                axes.plot(
                    marks,
                    [shown(_survival_at(km, t)) for t in marks],
                    "|",
                    color=colour,
                    ms=7,
                    mew=1.2,
                )
            table.text(
                -0.045,
                1 - (index + 0.5) / rows,
                arm,
                transform=table.transAxes,
                ha="right",
                va="center",
                color=colour,
            )
            for t in risk_times:
                table.text(
                    t,
                    1 - (index + 0.5) / rows,
                    str(km.at_risk_at(t)),
                    transform=table.get_xaxis_transform(),
                    ha="center",
                    va="center",
                )
        axes.set_ylim(-0.02, 1.02)
        axes.set_ylabel(ylabel)
        axes.grid(axis="y", color="#e5e5e5", lw=0.6)
        axes.legend(frameon=False, loc="best")
        table.set_xlabel(xlabel)
        table.set_yticks([])
        table.set_title("Number at risk", fontsize=8, loc="left")
        table.spines[["left", "top", "right"]].set_visible(False)
        table.set_xticks(list(risk_times))
        axes.set_xlim(left=0, right=axis_end * 1.02)
        figure.tight_layout()
        return _svg(figure)


def trajectory_figure(
    trajectories: dict[str, Trajectory],
    labels: dict[str, str],
    levels: Sequence[float],
    axis_end: float,
) -> str:
    """Median platelet count by study day with the interquartile range, log scale, up to
    ``axis_end`` (the horizon)."""
    with plt.rc_context(STYLE):  # type: ignore[arg-type]
        figure, axes = plt.subplots(figsize=(7.2, 3.6))
        for index, (arm, tr) in enumerate(trajectories.items()):
            colour = arm_colour(index)
            if not tr.day:
                continue
            axes.fill_between(
                tr.day,
                [max(q, 1) for q in tr.q1],
                [max(q, 1) for q in tr.q3],
                color=colour,
                alpha=0.15,
                lw=0,
                step=None,
            )
            axes.plot(
                tr.day,
                [max(m, 1) for m in tr.median],
                "o-",
                color=colour,
                ms=3,
                lw=1.5,
                label=f"{labels[arm]} (median, IQR)",
            )
        for level in levels:
            axes.axhline(level, color="#888888", lw=0.8, ls="--")
            axes.text(
                1.0,
                level,
                f" {level:g}",
                transform=axes.get_yaxis_transform(),
                va="center",
                fontsize=8,
                color="#555555",
            )
        axes.set_yscale("log")
        axes.set_xlim(right=axis_end * 1.02)
        axes.set_xlabel("Study day (Day 0 = first dose)")
        axes.set_ylabel("Platelet count (x10^9/L)")
        axes.grid(axis="y", color="#e5e5e5", lw=0.6, which="both")
        axes.legend(frameon=False, loc="lower right")
        figure.tight_layout()
        return _svg(figure)

"""The page of power curves (``itptrial design power --simulate`` over a grid of
designs): analytic power, simulated power (or model-based assurance) with 95% Monte
Carlo intervals, and the exact assurance from the phase-2 trial, by total trial size.
Rendered from the designs' JSON objects, nothing recomputed but the MC intervals."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from itptrial.report._figures import STYLE, _svg, arm_colour
from itptrial.report._format import interval, pct
from itptrial.report._render import _ENVIRONMENT

EMDASH = "\u2014"
PLUS_MINUS = "\u00b1"
SIMULATED = "simulated power"
SIMULATED_POSTERIOR = "simulated assurance (posterior)"
ANALYTIC = "analytic power (chi-square, pooled rates)"
ASSURANCE = "assurance (phase-2 Beta posteriors)"
_LEGEND_ORDER = (ANALYTIC, SIMULATED, SIMULATED_POSTERIOR, ASSURANCE)


def _total(design: dict[str, Any]) -> int:
    return sum(int(n) for n in design["n_per_arm"].values())


def _sort_key(design: dict[str, Any]) -> tuple[int, tuple[int, ...], tuple[str, ...]]:
    sizes = design["n_per_arm"]
    return _total(design), tuple(int(n) for n in sizes.values()), tuple(sizes)


def _mc_interval(design: dict[str, Any]) -> tuple[float, float]:
    """power +/- 1.96 MC SE, clipped to [0, 1]."""
    half = 1.96 * float(design["mc_se"])
    power = float(design["power"])
    return max(0.0, power - half), min(1.0, power + half)


def _p(value: float | None) -> str:
    return EMDASH if value is None else pct(value)


def _pm(value: float | None, se: float | None) -> str:
    return EMDASH if value is None or se is None else f"{pct(value)} {PLUS_MINUS} {pct(se)}"


def _simulated_label(designs: list[dict[str, Any]]) -> str:
    posterior = any(d.get("posterior") is not None for d in designs)
    return SIMULATED_POSTERIOR if posterior else SIMULATED


def _line(axes: Axes, designs: list[dict[str, Any]], key: str, label: str, index: int) -> None:
    """One series of the figure, skipping designs without a value (absent if none has)."""
    points = [(_total(d), d[key]) for d in designs if d.get(key) is not None]
    if not points:
        return
    (line,) = axes.plot(
        [x for x, _ in points],
        [y for _, y in points],
        "s--",
        color=arm_colour(index),
        ms=4,
        lw=1.2,
        label=label,
    )
    line.set_gid(f"series-{key}")


def _simulated(axes: Axes, designs: list[dict[str, Any]]) -> None:
    xs = [_total(d) for d in designs]
    ys = [float(d["power"]) for d in designs]
    bounds = [_mc_interval(d) for d in designs]
    errors = [
        [y - lo for y, (lo, _) in zip(ys, bounds, strict=True)],
        [hi - y for y, (_, hi) in zip(ys, bounds, strict=True)],
    ]
    bars = axes.errorbar(
        xs,
        ys,
        yerr=errors,
        fmt="o-",
        color=arm_colour(0),
        ms=4,
        lw=1.6,
        capsize=3,
        label=_simulated_label(designs),
    )
    bars.lines[0].set_gid("series-power")


def _legend(axes: Axes) -> None:
    """The legend in the order of the page's description: analytic, simulated, assurance."""
    handles, labels = axes.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: _LEGEND_ORDER.index(labels[i]))
    axes.legend(
        [handles[i] for i in order], [labels[i] for i in order], frameon=False, loc="lower right"
    )


def _figure(designs: list[dict[str, Any]]) -> str:
    """Probability of success by total subjects: the three series and the 80% line."""
    with plt.rc_context(STYLE):  # type: ignore[arg-type]
        figure, axes = plt.subplots(figsize=(7.2, 3.8))
        axes.axhline(0.8, ls=":", color="#5f6b73", lw=1)
        axes.text(
            0.005,
            0.805,
            "80%",
            transform=axes.get_yaxis_transform(),
            color="#5f6b73",
            va="bottom",
            ha="left",
        )
        _line(axes, designs, "analytic_power", ANALYTIC, 1)
        _simulated(axes, designs)
        _line(axes, designs, "assurance", ASSURANCE, 2)
        axes.set_ylim(0, 1.02)
        axes.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
        axes.set_xlabel("total subjects")
        axes.set_ylabel("probability of success")
        axes.grid(axis="y", color="#e5e5e5", lw=0.6)
        _legend(axes)
        figure.tight_layout()
        return _svg(figure)


def _looks(design: dict[str, Any]) -> dict[str, str]:
    looks = design.get("looks")
    if looks is None:
        return {"type_i_error": EMDASH, "expected_subjects": EMDASH}
    return {
        "type_i_error": _pm(looks.get("type_i_error"), looks.get("type_i_error_mc_se")),
        "expected_subjects": f"{float(looks['expected_subjects']):.1f}",
    }


def _row(design: dict[str, Any]) -> dict[str, str]:
    """One design's table row, every number formatted."""
    sizes, rates = design["n_per_arm"], design["pooled_rates"]
    return {
        "sizes": " + ".join(str(n) for n in sizes.values()),
        "total": str(_total(design)),
        "rates": " / ".join(_p(rates.get(arm)) for arm in sizes),
        "analytic": _p(design.get("analytic_power")),
        "simulated": _pm(design["power"], design["mc_se"]),
        "interval": interval(_mc_interval(design), fmt="pct"),
        "assurance": _p(design.get("assurance")),
        **_looks(design),
    }


def _priors(designs: list[dict[str, Any]]) -> list[str]:
    """The phase-2 data the assurance is over, each distinct one once, in order."""
    found = (d.get("assurance_prior") for d in designs if d.get("assurance") is not None)
    return list(dict.fromkeys(p for p in found if p))


def _boundaries(designs: list[dict[str, Any]]) -> list[str]:
    found = (d["looks"].get("boundary") for d in designs if d.get("looks") is not None)
    return list(dict.fromkeys(str(b) for b in found if b is not None))


def render_power(designs: list[dict[str, Any]]) -> str:
    """The power curves of a grid of designs as one self-contained HTML document,
    designs ordered by total size (so the input order does not change the page)."""
    if not designs:
        raise ValueError("render_power needs at least one design")
    ordered = sorted(designs, key=_sort_key)
    first = ordered[0]
    context = {
        "first": first,
        "arms": list(first["n_per_arm"]),
        "figure": _figure(ordered),
        "rows": [_row(d) for d in ordered],
        "simulated_label": _simulated_label(ordered),
        "posteriors": list(dict.fromkeys(d["posterior"] for d in ordered if d.get("posterior"))),
        "has_assurance": any(d.get("assurance") is not None for d in ordered),
        "priors": _priors(ordered),
        "has_looks": any(d.get("looks") is not None for d in ordered),
        "boundaries": _boundaries(ordered),
        "alpha": f"{float(first['alpha']):g}",
    }
    return _ENVIRONMENT.get_template("power.html.j2").render(**context)

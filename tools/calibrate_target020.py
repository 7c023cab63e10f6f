"""Calibrate the model's population parameters to TARGET 020 (simulated method of moments).

    python tools/calibrate_target020.py [--n 2500] [--check-n 40000] [--iterations 300]

A developer's script, not part of the installed package (the calibration command, with
uncertainty, is the subject of a later issue). It uses the package's public API only.

Each evaluation simulates a virtual trial with ``--n`` subjects per arm (the same random
numbers every time: common random numbers make the rates smooth functions of the
parameters, up to steps of 1/n), adjudicates it with the target020 preset, and compares
the six published rates; a least-squares search moves the free parameters. The best
parameters are written to ``itptrial/sim/parameters/target020.toml``; a large
independent trial (``--check-n``, another seed) then gives the figures of
docs/calibration.md, together with outputs the fit did not use.
"""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from scipy.optimize import least_squares

from itptrial import adjudicate, dataset_from_frames, load_protocol, published_results
from itptrial.analysis import binary_counts
from itptrial.protocol import Protocol
from itptrial.sim import ModelParameters, load_parameters, simulate_trial

# (arm, endpoint) -> published rate, from the one file that holds them (beside the preset)
TARGETS: dict[tuple[str, str], float] = {
    (item.arm, item.endpoint): item.rate for item in published_results("target020").observed
}
FREE = (
    "disease.t0_median",
    "dexamethasone.kill_median",
    "dexamethasone.omega_kill",
    "disease.ka_median",
    "disease.omega_ka",
    "disease.kt",
    "disease.b_help",
    "tacrolimus.ic50",
    "tacrolimus.depletion",
    "platelets.measurement_cv",
)
FIT_SEED, CHECK_SEED = 20211211, 20260101


@dataclass
class Fit:
    rates: dict[tuple[str, str], float]
    tables: dict[str, pl.DataFrame]
    endpoints: pl.DataFrame


def trial_rates(protocol: Protocol, params: ModelParameters, n: int, seed: int) -> Fit:
    """Simulate n subjects per arm, adjudicate, and return the six calibration rates."""
    tables = simulate_trial(protocol, (n,) * len(protocol.arms), seed=seed, params=params)
    endpoints = adjudicate(dataset_from_frames(tables, protocol), protocol)
    counts = binary_counts(endpoints, protocol)
    rates = {key: counts[key][0] / max(counts[key][1], 1) for key in TARGETS}
    return Fit(rates, tables, endpoints)


def loss(rates: dict[tuple[str, str], float]) -> float:
    return float(sum((rates[key] - target) ** 2 for key, target in TARGETS.items()))


def calibrate(n: int, iterations: int, start: ModelParameters) -> ModelParameters:
    """Least squares on the six rate differences (trust-region reflective, finite
    differences of 5% on the log parameters: large against the 1/n granularity of the
    simulated rates, small against the parameters' plausible ranges)."""
    protocol = load_protocol("target020")
    x0 = np.log([_get(start, name) for name in FREE])
    began = time.perf_counter()
    best: dict[str, object] = {"loss": np.inf, "x": x0}

    def residuals(x: np.ndarray) -> np.ndarray:
        params = start.with_values(dict(zip(FREE, np.exp(x).tolist(), strict=True)))
        rates = trial_rates(protocol, params, n, FIT_SEED).rates
        value = loss(rates)
        if value < best["loss"]:  # type: ignore[operator]
            best["loss"], best["x"] = value, x.copy()
            shown = ", ".join(
                f"{k.split('.')[1]}={v:.4g}" for k, v in zip(FREE, np.exp(x), strict=True)
            )
            print(f"[{time.perf_counter() - began:6.0f} s] loss {value:.6f}  {shown}", flush=True)
        return np.array([rates[key] - target for key, target in TARGETS.items()])

    least_squares(
        residuals,
        x0,
        diff_step=0.05,
        max_nfev=iterations,
        bounds=(x0 - 2.5, x0 + 2.5),
        xtol=1e-4,
        ftol=1e-6,
    )
    # the best point seen (finite-difference probes sometimes beat the accepted steps)
    chosen = np.exp(np.asarray(best["x"])).tolist()
    return start.with_values(dict(zip(FREE, chosen, strict=True)))


def _get(params: ModelParameters, dotted: str) -> float:
    section, key = dotted.split(".")
    return float(getattr(getattr(params, section), key))


def write_parameters(params: ModelParameters, path: Path) -> None:
    """Replace the fitted values in the parameter file, keeping its comments."""
    text = path.read_text()
    for dotted in FREE:
        section, key = dotted.split(".")
        block = re.search(rf"^\[{section}\]\n(.*?)(?=^\[|\Z)", text, re.S | re.M)
        assert block is not None, section
        value = f"{_get(params, dotted):.6g}"
        body = re.sub(
            rf"^({key}\s*=\s*)[^#\n]*?(\s*(#.*)?)$",
            lambda match, value=value: f"{match.group(1)}{value}{match.group(2)}",
            block.group(1),
            count=1,
            flags=re.M,
        )
        text = text[: block.start(1)] + body + text[block.end(1) :]
    path.write_text(text)


def _secondary(fit: Fit, protocol: Protocol) -> list[tuple[str, str, str, str]]:
    """Outputs the fit did not use: (quantity, experimental, control, reference)."""
    e, t = fit.endpoints, fit.tables
    arms = protocol.arm_codes

    def quartiles(values: pl.Series, digits: int = 0) -> str:
        q1, q2, q3 = (float(values.quantile(q) or 0.0) for q in (0.25, 0.5, 0.75))
        return f"median {q2:.{digits}f} (IQR {q1:.{digits}f}-{q3:.{digits}f})"

    def relapse_day(arm: str) -> str:
        relapsers = e.filter((pl.col("arm") == arm) & (pl.col("relapse") == 1))
        return quartiles(relapsers["relapse_day"].cast(pl.Float64))

    def share(table: str, arm: str, condition: pl.Expr = pl.lit(True)) -> str:
        ids = t["subjects"].filter(pl.col("arm") == arm)["subject_id"]
        frame = t[table].filter(pl.col("subject_id").is_in(ids.implode()) & condition)
        return f"{100 * frame['subject_id'].n_unique() / ids.len():.1f}%"

    troughs = t["drug_levels"]["trough_ng_ml"].cast(pl.Float64)
    in_range = ((troughs >= 3) & (troughs <= 5)).cast(pl.Float64).sum() / max(troughs.len(), 1)
    rescued = [share("rescue", arm) for arm in arms]
    severe = [share("adverse_events", arm, pl.col("ctcae_grade") >= 3) for arm in arms]
    relapse = [relapse_day(arm) for arm in arms]
    return [
        (
            "day of relapse (relapsers)",
            relapse[0],
            relapse[1],
            "median 77 vs 36 days (second summary of the presentation)",
        ),
        ("subjects rescued", rescued[0], rescued[1], "not reported"),
        ("any grade >= 3 adverse event", severe[0], severe[1], "none"),
        (
            "tacrolimus trough (ng/mL)",
            f"{quartiles(troughs, 1)}; {100 * in_range:.0f}% within 3-5",
            "-",
            "target 3-5",
        ),
        (
            "baseline count (x10^9/L)",
            quartiles(e["baseline_count"]),
            "",
            "eligibility < 30 (or < 50 with bleeding); ITP models: 11-18",
        ),
    ]


HOW = """## How the values were found

The fit is a simulated method of moments: every evaluation simulates one virtual trial
with the same random numbers (common random numbers), adjudicates it with the
target020 preset and compares the six published rates. `python tools/calibrate_target020.py`
runs a least-squares search (trust-region, finite differences of 5% on the log
parameters) over the free parameters listed above, from a starting point found by
hand; it writes the best point it saw into the parameter file. For the shipped values,
two least-squares runs (2,500 then 3,000 subjects per arm) were followed by a few
hand adjustments of four parameters (kill_median, b_help, ic50, kt), each checked on
20,000 subjects per arm with the check seed and with a second seed (777), until both
checks had every rate within 2 points; `tests/test_sim_calibration.py` keeps that
check. The measurement error of a count was fitted too (3%): a single low count is a
loss of response under target020, so count noise directly drives the relapse rate.

Re-checked on 2026-12-01, without refitting, after the virtual population began to apply
the protocol's whole eligibility (a count < 30, or < 50 with WHO bleeding of grade >= 2
at screening: 0.14% of virtual patients enter by the bleeding route) and the adverse
events to follow each arm's drug modules; every rate stayed within 2 points.

What the fit did not use is reported above. The published median time to relapse
(77 vs 36 days) comes from the second, disagreeing summary of the presentation
(docs/domain.md); the model's relapses after tacrolimus come later (once the T cells
come back after week 12), so the timing of relapses is the least well reproduced
feature. The trough distribution follows from the tacrolimus PK taken from the
literature and the dose-adjustment rule, not from the fit.
"""


def write_report(fit: Fit, params: ModelParameters, n: int, path: Path) -> None:
    protocol = load_protocol("target020")
    lines = [
        "# Calibration of the virtual TARGET 020",
        "",
        "Written by `python tools/calibrate_target020.py --check-only` (see docs/model.md for",
        "the model and the end of this page for how the values were found).",
        f"Check: one independent virtual trial of {n:,} subjects per arm (seed "
        f"{CHECK_SEED}), adjudicated with the target020 preset.",
        "",
        "| arm | endpoint | published | simulated | difference |",
        "|---|---|---|---|---|",
    ]
    for (arm, endpoint), target in TARGETS.items():
        value = fit.rates[(arm, endpoint)]
        lines.append(
            f"| {arm} | {endpoint} | {100 * target:.1f}% | {100 * value:.1f}% | "
            f"{100 * (value - target):+.1f} pp |"
        )
    lines += [
        "",
        "## Fitted parameters",
        "",
        "| parameter | value |",
        "|---|---|",
        *(f"| `{name}` | {_get(params, name):.4g} |" for name in FREE),
        "",
        "## Outputs the fit did not use",
        "",
        "| quantity | TAC_DXM | DXM | published / expected |",
        "|---|---|---|---|",
        *(f"| {q} | {a} | {b} | {r} |" for q, a, b, r in _secondary(fit, protocol)),
        "",
        HOW,
    ]
    path.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2500, help="subjects per arm per evaluation")
    parser.add_argument("--check-n", type=int, default=40000, help="subjects per arm, check")
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--check-only", action="store_true")
    parser.add_argument("--report", default="docs/calibration.md")
    args = parser.parse_args()
    path = Path(__file__).parent.parent / "src/itptrial/sim/parameters/target020.toml"
    params = load_parameters()
    if not args.check_only:
        params = calibrate(args.n, args.iterations, params)
        write_parameters(params, path)
        params = load_parameters(path)
    fit = trial_rates(load_protocol("target020"), params, args.check_n, CHECK_SEED)
    write_report(fit, params, args.check_n, Path(args.report))
    for key, target in TARGETS.items():
        print(
            f"{key[0]:8s} {key[1]:24s} target {target:.3f}  simulated {fit.rates[key]:.3f}"
            f"  difference {100 * (fit.rates[key] - target):+.1f} pp"
        )


if __name__ == "__main__":
    main()

"""Human-readable tables of design results, laid out like rpact's ``summary()``.

The results are data (frozen dataclasses); this module only renders them as text.
"""

from __future__ import annotations

from itptrial.design._assurance import Assurance
from itptrial.design._dosing import DosingEvaluation, Estimate
from itptrial.design._power import Phase2Assurance, SimulatedPower
from itptrial.design._sample_size import SampleSizeRates

BOUNDARY_NAMES = {
    "obf": "O'Brien-Fleming",
    "pocock": "Pocock",
    "asof": "Lan-DeMets alpha spending, O'Brien-Fleming type",
    "asp": "Lan-DeMets alpha spending, Pocock type",
}


def _row(label: str, values: list[str]) -> str:
    return f"  {label:<34}" + "".join(f"{v:>12}" for v in values)


def _effect(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _hypothesis(plan: SampleSizeRates) -> str:
    if plan.margin is not None:
        return (
            f"non-inferiority, H0: p_exp - p_ctl <= {-plan.margin:g}, one-sided "
            f"alpha {plan.alpha:g}"
        )
    sides = "two-sided" if plan.sided == 2 else "one-sided"
    return f"superiority, H0: p_exp - p_ctl = 0, {sides} alpha {plan.alpha:g}"


def sample_size_text(plan: SampleSizeRates) -> str:
    """The design as an rpact-like summary: hypothesis, sizes, and per look the
    information, boundaries on the z, p-value and effect scales, alpha spent and the
    stopping probability under H1."""
    name = BOUNDARY_NAMES.get(plan.design.boundary or "", "")
    design = f"group-sequential, {plan.looks} looks, {name}"
    if plan.looks == 1:
        design = "fixed sample design"
    lines = [
        "Sample size for two proportions (Farrington-Manning; rpact getSampleSizeRates)",
        f"  {design}; {_hypothesis(plan)}, power {plan.power:g}",
        f"  planned rates: experimental {plan.experimental:g}, control {plan.control:g}; "
        f"allocation experimental:control {plan.ratio:g}; dropout {plan.dropout:g}",
        "",
    ]
    if plan.looks > 1:
        looks = list(plan.per_look)
        lines += [
            _row("Stage", [str(k + 1) for k in range(len(looks))]),
            _row("Information fraction", [f"{x.information_fraction:.4f}" for x in looks]),
            _row("Efficacy boundary (z)", [f"{x.boundary_z:.4f}" for x in looks]),
            _row("Efficacy boundary (p-value)", [f"{x.boundary_p:.6f}" for x in looks]),
            _row("Efficacy boundary (difference)", [_effect(x.boundary_effect) for x in looks]),
            _row("Cumulative alpha spent", [f"{x.alpha_spent:.6f}" for x in looks]),
            _row("Stopping probability under H1", [f"{x.stop_probability_h1:.4f}" for x in looks]),
            _row("Number of subjects (exact)", [f"{x.n_total_exact:.2f}" for x in looks]),
            "",
            f"  Expected number of subjects under H0 {plan.expected_n_h0:.2f}, under H1 "
            f"{plan.expected_n_h1:.2f}",
        ]
    lines += [
        f"  Total exact (before dropout) {plan.n_total_exact:.4f}",
        f"  Subjects: experimental {plan.n_experimental}, control {plan.n_control}, "
        f"total {plan.n_total}",
    ]
    if plan.note:
        lines.append(f"  Note: {plan.note}")
    return "\n".join(lines)


def assurance_text(result: Assurance) -> str:
    """Assurance and the power at the earlier trial's estimates, with what they mean."""
    re, ne = result.prior_experimental
    rc, nc = result.prior_control
    sides = "two-sided" if result.sided == 2 else "one-sided"
    return "\n".join(
        [
            "Assurance of a two-arm trial (Pearson chi-square without continuity "
            f"correction, {sides} alpha {result.alpha:g}; O'Hagan et al. 2005)",
            f"  earlier trial: experimental {re}/{ne}, control {rc}/{nc} "
            f"(Beta(1 + R, 1 + N - R) posteriors)",
            f"  planned trial: experimental {result.n_experimental}, control "
            f"{result.n_control} subjects",
            f"  assurance (probability of success)   {result.assurance:.4f}",
            f"  power at the estimates ({re / ne:.3f} vs {rc / nc:.3f})  "
            f"{result.power_at_estimate:.4f}",
        ]
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _sequential_lines(result: SimulatedPower) -> list[str]:
    seq = result.sequential
    if seq is None:
        return []
    lines = [
        f"Group-sequential design: {len(seq.looks)} looks, {BOUNDARY_NAMES[seq.boundary]}, "
        f"two-sided alpha {seq.nominal_alpha:g}",
        _row("Look", [str(x.look) for x in seq.looks]),
        _row("Subjects analysed", [str(x.subjects) for x in seq.looks]),
        _row("Critical value |z|", [f"{x.critical_value:.4f}" for x in seq.looks]),
        _row("P(stop), virtual trial", [_pct(x.stop_probability) for x in seq.looks]),
        _row("P(stop for efficacy)", [_pct(x.success_probability) for x in seq.looks]),
        _row("P(reject), null trial", [_pct(x.null_rejection) for x in seq.looks]),
        f"  power {_pct(seq.power)} (MC SE {_pct(seq.mc_se)}); type I error on the null "
        f"virtual trial {_pct(seq.type_i_error)} (MC SE {_pct(seq.type_i_error_mc_se)}); "
        f"expected subjects {seq.expected_subjects:.1f} (null {seq.expected_subjects_null:.1f})",
    ]
    return lines


def power_text(result: SimulatedPower, phase2: Phase2Assurance | None = None) -> str:
    """One simulated design: power with its Monte Carlo SE next to the exact analytic
    power (and the phase 2 assurance when known), then every endpoint's distribution."""
    sizes = " + ".join(f"{n} {arm}" for arm, n in result.n_per_arm.items())
    what = "Assurance (posterior draws)" if result.posterior else "Power"
    lines = [
        f"Simulated power: {result.endpoint_label}, {sizes}",
        f"  {result.trials} virtual trials, seed {result.seed}"
        + (f", posterior {result.posterior}" if result.posterior else ""),
        f"  {what}{' (group-sequential)' if result.sequential else ''}: "
        f"{_pct(result.power)} (MC SE {_pct(result.mc_se)})"
        + (f"; analysed once at the end {_pct(result.fixed_power)}" if result.sequential else "")
        + f"; exact analytic power at the pooled rates {_pct(result.analytic_power)}",
        "  pooled rates: "
        + ", ".join(f"{arm} {_pct(rate)}" for arm, rate in result.pooled_rates.items()),
    ]
    if phase2 is not None:
        lines.append(f"  assurance from {phase2.prior}: {_pct(phase2.assurance)}")
    lines.append("Endpoints over the virtual trials (median [2.5%, 97.5%]):")
    for e in result.endpoints:
        shown = _pct if e.kind == "binary" else _days
        cells = [
            f"{arm} {shown(s.median)} [{shown(s.lower)}, {shown(s.upper)}]"
            for arm, s in e.by_arm.items()
        ]
        lines.append(f"  {e.label}: " + "; ".join(cells))
    return "\n".join(lines + _sequential_lines(result))


def _days(value: float | None) -> str:
    return "not reached" if value is None else f"{value:.0f} d"


def dosing_text(result: DosingEvaluation) -> str:
    """``itptrial tdm evaluate`` as a table: each strategy's measures with their 95%
    intervals, then MAP's paired differences."""

    def shown(e: Estimate, percent: bool = True) -> str:
        scale, unit = (100.0, "%") if percent else (1.0, "")
        lo, hi = e.ci95
        return f"{e.value * scale:.1f}{unit} ({lo * scale:.1f}-{hi * scale:.1f})"

    target = "-".join(f"{v:g}" for v in result.settings["target_ng_ml"])
    lines = [
        f"Tacrolimus dosing on {result.patients} virtual patients (seed {result.seed}), "
        f"target {target} ng/mL; 95% bootstrap intervals",
        f"{'strategy':<8} {'in range wk 2-12':<22} {'in range wk 1-4':<22} "
        f"{'days to in range':<20} {'above 8 ng/mL':<18} mean mg/day",
    ]
    for name, r in (*result.strategies.items(), ("bound", result.bound)):
        lines.append(
            f"{name:<8} {shown(r.in_range_fraction):<22} "
            f"{shown(r.in_range_fraction_weeks_1_4):<22} "
            f"{shown(r.days_to_in_range, percent=False):<20} "
            f"{shown(r.above_8_fraction):<18} {r.mean_daily_dose_mg:.2f}"
        )
    for pair, measures in result.differences.items():
        label = pair.replace("_minus_", " - ")
        lines.append(
            f"{label}: in range wk 2-12 {shown(measures['in_range_fraction'])}, "
            f"wk 1-4 {shown(measures['in_range_fraction_weeks_1_4'])}"
        )
    lines.append(result.note)
    return "\n".join(lines)

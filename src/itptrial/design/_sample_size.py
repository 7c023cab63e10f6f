"""Sample size for two independent proportions (rate difference), fixed or group-sequential.

The test is the Farrington-Manning score test of H0: ``p_exp - p_ctl = theta_h0``
(``theta_h0 = 0`` for superiority, ``-margin`` for non-inferiority) with the normal
approximation.  Definitions follow R rpact 3.3.4 ``getSampleSizeRates`` exactly:

- fixed design, experimental arm (``r = n_exp / n_ctl``)::

      n_exp = (z_{1-alpha/sided} sqrt(m1 (1 - m1) + m0 (1 - m0) r)
               + z_{1-beta} sqrt(p1 (1 - p1) + p0 (1 - p0) r))^2 / (p1 - p0 - theta_h0)^2

  with ``n_ctl = n_exp / r`` and ``m1, m0`` the restricted maximum-likelihood rates under
  ``p1 - p0 = theta_h0`` (Farrington & Manning 1990; the pooled rate when it is 0);
- group-sequential: the fixed total times the design's inflation factor, spread over the
  looks by the information rates; expected sizes are the design's average sample
  numbers times the fixed total;
- effect scale: the rate difference ``p1 - p0`` at which the score statistic equals the
  critical value at each look, ``p1`` root-found in (0, 1) with the restricted variance
  at that ``p1`` (``None`` when no ``p1`` in (0, 1) reaches the boundary).

Sizes are continuous; the integers are per-arm ceilings, inflated for dropout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import optimize

from itptrial.design._group_sequential import (
    Boundary,
    GroupSequentialDesign,
    Sided,
    finite_number,
    group_sequential_design,
    upper_tail_quantile,
)

FARRINGTON_MANNING = (
    "Farrington CP, Manning G. Test statistics and sample size formulae for comparative "
    "binomial trials with null hypothesis of non-zero risk difference or non-unity "
    "relative risk. Stat Med 1990;9:1447-1454"
)
RPACT = "as R rpact 3.3.4 getSampleSizeRates (normal approximation)"

_EFFECT_XTOL = 1e-14
_DROPOUT_ROUNDING = 1e-9  # relative; n / (1 - D) that is an integer up to float error


@dataclass(frozen=True)
class Look:
    """One analysis of a sample-size plan (sizes cumulative and unrounded).

    ``boundary_effect`` is the rate difference (experimental - control) at the efficacy
    boundary, on the side of the planned effect; two-sided designs also give both
    sides as ``boundary_effect_lower`` < ``boundary_effect_upper`` (rpact
    ``criticalValuesEffectScaleLower/Upper``; ``None`` for one-sided designs).  A
    boundary no rate in (0, 1) reaches is ``None``.  ``boundary_p`` is two-sided for
    two-sided designs (rpact ``criticalValuesPValueScale``); ``alpha_spent`` is
    cumulative; ``stop_probability_h1`` is the probability under the planned rates of
    stopping for efficacy at this look (rpact ``rejectPerStage``).
    """

    information_fraction: float
    n_total_exact: float
    n_experimental_exact: float
    n_control_exact: float
    boundary_z: float
    boundary_p: float
    boundary_effect: float | None
    boundary_effect_lower: float | None
    boundary_effect_upper: float | None
    alpha_spent: float
    stop_probability_h1: float


@dataclass(frozen=True)
class SampleSizeRates:
    """Sample size for two proportions, with the design's boundaries per look.

    ``n_*_exact`` are unrounded (rpact ``nFixed``/``maxNumberOfSubjects`` and per arm);
    ``n_experimental``/``n_control`` are their ceilings inflated by ``1 / (1 - dropout)``
    and ceiled again, ``n_total`` their sum.  ``n_fixed_*`` are the fixed design's
    sizes (equal to ``n_*_exact`` with one look).  ``expected_n_h0``/``h01``/``h1`` are
    the expected total sizes at no effect, half the planned drift and the planned
    effect (rpact ``expectedNumberOfSubjectsH0/H01/H1``; the fixed total with one look).
    """

    control: float
    experimental: float
    alpha: float
    power: float
    sided: Sided
    ratio: float
    margin: float | None
    dropout: float
    theta_h0: float
    direction_upper: bool
    n_fixed_exact: float
    n_fixed_experimental_exact: float
    n_fixed_control_exact: float
    n_total_exact: float
    n_experimental_exact: float
    n_control_exact: float
    n_experimental: int
    n_control: int
    n_total: int
    design: GroupSequentialDesign
    per_look: tuple[Look, ...]
    expected_n_h0: float
    expected_n_h01: float
    expected_n_h1: float
    early_stop: float
    note: str | None
    reference: str

    @property
    def looks(self) -> int:
        """Number of analyses (1: the fixed design)."""
        return self.design.looks

    def as_dict(self) -> dict[str, object]:
        """The ``itptrial design sample-size --json`` object (docs/interface.md, "Design").

        ``boundaries`` is ``None`` for a fixed design; with looks the per-look lists and
        the expected sizes are added (``boundaries_effect``: the efficacy side).
        """
        result: dict[str, object] = {
            "n_experimental": self.n_experimental,
            "n_control": self.n_control,
            "n_total": self.n_total,
            "n_total_exact": self.n_total_exact,
            "boundaries": None,
        }
        if self.looks == 1:
            return result
        result["boundaries"] = [look.boundary_z for look in self.per_look]
        result["information_fraction"] = [look.information_fraction for look in self.per_look]
        result["alpha_spent"] = [look.alpha_spent for look in self.per_look]
        result["boundaries_p"] = [look.boundary_p for look in self.per_look]
        result["boundaries_effect"] = [look.boundary_effect for look in self.per_look]
        result["stop_probability_h1"] = [look.stop_probability_h1 for look in self.per_look]
        result["expected_n_h0"] = self.expected_n_h0
        result["expected_n_h1"] = self.expected_n_h1
        return result


# ---------------------------------------------------------------------------
# Farrington-Manning
# ---------------------------------------------------------------------------


def restricted_rates(
    experimental: float, control: float, theta: float, ratio: float
) -> tuple[float, float]:
    """Maximum-likelihood rates ``(p_exp, p_ctl)`` under ``p_exp - p_ctl = theta``.

    ``experimental``/``control`` are the observed (or planned) rates and ``ratio`` is
    ``n_exp / n_ctl``.  ``theta = 0`` gives the pooled rate for both arms; otherwise
    the closed-form root of the likelihood equation (a cubic), as rpact
    ``.getFarringtonManningValuesDiff``.

    References
    ----------
    Farrington CP, Manning G. Stat Med 1990;9:1447-1454, eq. (13) and Appendix.
    """
    if theta == 0.0:
        pooled = (ratio * experimental + control) / (1.0 + ratio)
        return pooled, pooled
    a = 1.0 + 1.0 / ratio
    b = -(1.0 + 1.0 / ratio + experimental + control / ratio + theta * (1.0 / ratio + 2.0))
    c = theta * theta + theta * (2.0 * experimental + 1.0 / ratio + 1.0)
    c += experimental + control / ratio
    d = -theta * (1.0 + theta) * experimental
    v = b**3 / (3.0 * a) ** 3 - b * c / (6.0 * a * a) + d / (2.0 * a)
    root = math.sqrt(max(b * b / (3.0 * a) ** 2 - c / (3.0 * a), 0.0))
    if v == 0.0 or root == 0.0:
        p_exp = -b / (3.0 * a)  # cos(pi / 2) = 0
    else:
        u = math.copysign(root, v)
        w = (math.pi + math.acos(max(-1.0, min(1.0, v / u**3)))) / 3.0
        p_exp = 2.0 * u * math.cos(w) - b / (3.0 * a)
    p_exp = min(max(0.0, p_exp), 1.0)
    return p_exp, min(max(0.0, p_exp - theta), 1.0)


def _fixed_experimental_size(
    control: float, experimental: float, theta: float, ratio: float, z_alpha: float, z_beta: float
) -> float:
    """rpact's ``n1Fixed``: the experimental arm of the fixed design."""
    m1, m0 = restricted_rates(experimental, control, theta, ratio)
    null_sd = math.sqrt(m1 * (1.0 - m1) + m0 * (1.0 - m0) * ratio)
    planned_sd = math.sqrt(experimental * (1.0 - experimental) + control * (1.0 - control) * ratio)
    return (z_alpha * null_sd + z_beta * planned_sd) ** 2 / (experimental - control - theta) ** 2


def _score_statistic(
    experimental: float, control: float, theta: float, ratio: float, n_exp: float, n_ctl: float
) -> float:
    """Farrington-Manning statistic at an observed experimental rate, control rate fixed."""
    m1, m0 = restricted_rates(experimental, control, theta, ratio)
    variance = m1 * (1.0 - m1) / n_exp + m0 * (1.0 - m0) / n_ctl
    if variance <= 0.0:
        return math.nan
    return (experimental - control - theta) / math.sqrt(variance)


def boundary_rate_difference(
    critical: float, control: float, theta: float, ratio: float, n_exp: float, n_ctl: float
) -> float | None:
    """Rate difference ``p_exp - p_ctl`` at which the statistic equals ``critical``.

    Solved for ``p_exp`` in [0, 1] with the control rate fixed (rpact's
    ``criticalValuesEffectScale`` for rates); ``None`` when the statistic does not
    cross ``critical`` on [0, 1].

    References
    ----------
    Farrington CP, Manning G. Stat Med 1990;9:1447-1454 (the statistic).
    """

    def excess(p_exp: float) -> float:
        return _score_statistic(p_exp, control, theta, ratio, n_exp, n_ctl) - critical

    at_zero, at_one = excess(0.0), excess(1.0)
    if not (math.isfinite(at_zero) and math.isfinite(at_one)) or at_zero * at_one > 0.0:
        return None
    root = optimize.brentq(excess, 0.0, 1.0, xtol=_EFFECT_XTOL, rtol=1e-15)
    return float(root) - control


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def _rate(value: float, name: str) -> float:
    number = finite_number(value, name)
    if not 0.0 < number < 1.0:
        raise ValueError(f"{name} rate must lie strictly between 0 and 1, got {value!r}")
    return number


def _check_hypotheses(control: float, experimental: float, margin: float | None) -> float | None:
    """Validate the rates against the hypotheses; return the margin as a float."""
    if margin is None:
        if experimental == control:
            raise ValueError(
                "experimental and control rates are equal: a superiority design needs a "
                "difference (or give a non-inferiority margin)"
            )
        return None
    value = finite_number(margin, "margin")
    if not 0.0 < value < 1.0:
        raise ValueError(f"margin must lie strictly between 0 and 1, got {margin!r}")
    if experimental - control <= -value:
        raise ValueError(
            f"non-inferiority needs experimental - control > -margin; got "
            f"{experimental} - {control} <= -{value}"
        )
    return value


def _check_sided(sided: int | None, margin: float | None) -> Sided:
    """``sided`` defaults to 2, or to 1 with a margin (non-inferiority is one-sided)."""
    if sided is None:
        return 2 if margin is None else 1
    if isinstance(sided, bool) or sided not in (1, 2):
        raise ValueError(f"sided must be 1 or 2, got {sided!r}")
    if margin is not None and sided == 2:
        raise ValueError(
            "a non-inferiority margin makes the test one-sided at alpha: use sided=1 (or "
            "leave sided unset); two-sided non-inferiority is not supported"
        )
    return 1 if sided == 1 else 2


def _check_ratio_dropout(ratio: float, dropout: float) -> tuple[float, float]:
    r = finite_number(ratio, "ratio")
    if r <= 0.0:
        raise ValueError(f"ratio (experimental:control) must be > 0, got {ratio!r}")
    d = finite_number(dropout, "dropout")
    if not 0.0 <= d < 1.0:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")
    return r, d


# ---------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------


def _inflate_for_dropout(n: int, dropout: float) -> int:
    """``ceil(n / (1 - dropout))``, not pushed up by float error when it is an integer."""
    value = n / (1.0 - dropout)
    nearest = round(value)
    if abs(value - nearest) <= _DROPOUT_ROUNDING * value:
        return int(nearest)
    return math.ceil(value)


def _effect_boundaries(
    critical: float,
    sided: int,
    direction_upper: bool,
    args: tuple[float, float, float, float, float],
) -> tuple[float | None, float | None, float | None]:
    """(efficacy side, lower, upper) rate differences at critical value ``critical``."""
    control, theta, ratio, n_exp, n_ctl = args
    upper = boundary_rate_difference(critical, control, theta, ratio, n_exp, n_ctl)
    lower = boundary_rate_difference(-critical, control, theta, ratio, n_exp, n_ctl)
    efficacy = upper if direction_upper else lower
    if sided == 1:
        return efficacy, None, None
    return efficacy, lower, upper


def _looks(
    design: GroupSequentialDesign,
    n_exact: tuple[float, float, float],
    control: float,
    theta: float,
    ratio: float,
    direction_upper: bool,
) -> tuple[Look, ...]:
    total, n_exp, n_ctl = n_exact
    looks = []
    for k, t in enumerate(design.information_rates):
        effect = _effect_boundaries(
            design.critical_values[k],
            design.sided,
            direction_upper,
            (control, theta, ratio, n_exp * t, n_ctl * t),
        )
        looks.append(
            Look(
                information_fraction=t,
                n_total_exact=total * t,
                n_experimental_exact=n_exp * t,
                n_control_exact=n_ctl * t,
                boundary_z=design.critical_values[k],
                boundary_p=design.p_value_boundaries[k],
                boundary_effect=effect[0],
                boundary_effect_lower=effect[1],
                boundary_effect_upper=effect[2],
                alpha_spent=design.alpha_spent[k],
                stop_probability_h1=design.rejection_probabilities[k],
            )
        )
    return tuple(looks)


def _note(looks: Sequence[Look]) -> str | None:
    missing = [str(k + 1) for k, look in enumerate(looks) if look.boundary_effect is None]
    if not missing:
        return None
    return (
        f"no rate difference reaches the efficacy boundary at look {', '.join(missing)} "
        "with that look's sample size (boundary_effect is None there)"
    )


def sample_size_rates(
    control: float,
    experimental: float,
    alpha: float = 0.05,
    power: float = 0.8,
    sided: int | None = None,
    ratio: float = 1.0,
    margin: float | None = None,
    looks: int = 1,
    boundary: Boundary | None = None,
    information_rates: Sequence[float] | None = None,
    dropout: float = 0.0,
) -> SampleSizeRates:
    """Sample size to compare two proportions, fixed or group-sequential, as rpact.

    Parameters
    ----------
    control, experimental : float
        Planned response rates, in (0, 1); they must differ for superiority.
    alpha : float
        Type I error in (0, 0.5]; the total two-sided alpha when ``sided = 2``.
    power : float
        Power ``1 - beta``, in (alpha / sided, 1).
    sided : {1, 2} or None
        Default 2, and 1 with a ``margin``; ``sided = 2`` with a margin is refused.
    ratio : float
        Allocation ratio ``n_experimental / n_control`` (> 0).
    margin : float or None
        Non-inferiority margin ``M`` in (0, 1): H0 ``p_exp - p_ctl <= -M`` against H1
        ``p_exp - p_ctl > -M`` (rpact ``thetaH0 = -M``); the planned difference must
        exceed ``-M``.
    looks : int
        Number of analyses, 1 (fixed design) to 10.
    boundary : {"obf", "pocock", "asof", "asp"} or None
        Group-sequential boundary; required with ``looks > 1``.
    information_rates : sequence of float, optional
        Information fractions of the looks (default equally spaced), the last 1.
    dropout : float
        Expected dropout fraction in [0, 1); per-arm sizes are divided by ``1 - dropout``.

    Returns
    -------
    SampleSizeRates
        Exact and integer sizes, the design, per-look boundaries on the z, p-value and
        rate-difference scales, stopping probabilities and expected sizes.

    Raises
    ------
    ValueError
        For any invalid input, naming it.

    Notes
    -----
    Equal to R rpact 3.3.4 ``getSampleSizeRates`` (with ``getDesignGroupSequential``
    for looks) to 1e-6 relative: tests/test_design_sample_size.py against
    tests/reference/rpact_grid.json.

    References
    ----------
    Farrington CP, Manning G. Stat Med 1990;9:1447-1454.  Jennison C, Turnbull BW.
    Group Sequential Methods with Applications to Clinical Trials, 2000.
    """
    control = _rate(control, "control")
    experimental = _rate(experimental, "experimental")
    margin = _check_hypotheses(control, experimental, margin)
    side = _check_sided(sided, margin)
    ratio, dropout = _check_ratio_dropout(ratio, dropout)
    design = group_sequential_design(looks, boundary, alpha, power, side, information_rates)
    theta = 0.0 if margin is None else -margin
    z_alpha = upper_tail_quantile(design.alpha / side)
    z_beta = upper_tail_quantile(1.0 - design.power)
    fixed_exp = _fixed_experimental_size(control, experimental, theta, ratio, z_alpha, z_beta)
    fixed_ctl = fixed_exp / ratio
    fixed_total = fixed_exp + fixed_ctl
    if design.looks == 1:
        total, n_exp, n_ctl = fixed_total, fixed_exp, fixed_ctl
    else:
        total = fixed_total * design.inflation_factor
        n_exp, n_ctl = total * ratio / (1.0 + ratio), total / (1.0 + ratio)
    direction_upper = experimental - control > theta
    per_look = _looks(design, (total, n_exp, n_ctl), control, theta, ratio, direction_upper)
    n_experimental = _inflate_for_dropout(math.ceil(n_exp), dropout)
    n_control = _inflate_for_dropout(math.ceil(n_ctl), dropout)
    return SampleSizeRates(
        control=control,
        experimental=experimental,
        alpha=design.alpha,
        power=design.power,
        sided=side,
        ratio=ratio,
        margin=margin,
        dropout=dropout,
        theta_h0=theta,
        direction_upper=direction_upper,
        n_fixed_exact=fixed_total,
        n_fixed_experimental_exact=fixed_exp,
        n_fixed_control_exact=fixed_ctl,
        n_total_exact=total,
        n_experimental_exact=n_exp,
        n_control_exact=n_ctl,
        n_experimental=n_experimental,
        n_control=n_control,
        n_total=n_experimental + n_control,
        design=design,
        per_look=per_look,
        expected_n_h0=design.average_sample_number_h0 * fixed_total,
        expected_n_h01=design.average_sample_number_h01 * fixed_total,
        expected_n_h1=design.average_sample_number_h1 * fixed_total,
        early_stop=design.early_stop,
        note=_note(per_look),
        reference=_reference(design),
    )


def _reference(design: GroupSequentialDesign) -> str:
    if design.looks == 1:
        return f"{FARRINGTON_MANNING}; {RPACT}"
    return f"{FARRINGTON_MANNING}; {RPACT}; boundaries: {design.reference}"

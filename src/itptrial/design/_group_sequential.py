"""Group-sequential designs: boundaries, crossing probabilities and design characteristics.

A design with ``K`` looks at information rates ``0 < t_1 < ... < t_K = 1`` stops at look
``k`` when the standardised statistic ``Z_k`` leaves the continuation region
``(a_k, b_k)``: ``b_k = c_k`` and ``a_k = -c_k`` (two-sided, symmetric, alpha/2 per
side) or ``a_k = -inf`` (one-sided, no futility bound).  Under a drift ``delta`` (the
standardised effect times the square root of the maximum information) ``Z_k`` has mean
``delta sqrt(t_k)`` and the score ``Z_k sqrt(t_k)`` has independent increments.

Crossing probabilities come from the recursive numerical integration of Jennison &
Turnbull (2000, ch. 19): the sub-density of ``Z_k`` on the continuation region is
carried from look to look on their grid (``6r - 1`` points around the mean, trimmed to
the region), vectorised in numpy and deterministic.  Each grid interval is integrated by
6-point Gauss-Legendre instead of J&T's Simpson rule: at ``r = 6`` (204 nodes for a
whole line) the error is below 1e-12, against 1e-7 for Simpson with their ``r = 18`` and
1e-8 with ``r = 32`` (measured against nested adaptive quadrature, docs/design.md).  The
grid is refined at a look whose information increments are small relative to the
information so far, so that the transition densities stay resolved.

Boundaries and characteristics follow R rpact 3.3.4 (``getDesignGroupSequential``,
``getDesignCharacteristics``) definition for definition; see docs/design.md.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

Boundary = Literal["obf", "pocock", "asof", "asp"]
"""``obf`` O'Brien-Fleming, ``pocock`` Pocock, ``asof``/``asp`` Lan-DeMets alpha spending
of O'Brien-Fleming / Pocock type (rpact ``OF``, ``P``, ``asOF``, ``asP``)."""

Sided = Literal[1, 2]

BOUNDARIES: tuple[Boundary, ...] = ("obf", "pocock", "asof", "asp")
MAX_LOOKS = 10
GRID_R = 6
GAUSS_POINTS = 6
_MAX_GRID_R = 48  # caps the refinement: 1700 nodes, for increments below ~0.7% of t_k

FloatArray = NDArray[np.float64]

JENNISON_TURNBULL = (
    "Jennison C, Turnbull BW. Group Sequential Methods with Applications to Clinical "
    "Trials. Chapman & Hall/CRC 2000, ch. 19 (numerical computation)"
)
LAN_DEMETS = (
    "Lan KKG, DeMets DL. Discrete sequential boundaries for clinical trials. "
    "Biometrika 1983;70:659-663"
)
BOUNDARY_REFERENCES: dict[Boundary, str] = {
    "obf": "O'Brien PC, Fleming TR. A multiple testing procedure for clinical trials. "
    "Biometrics 1979;35:549-556",
    "pocock": "Pocock SJ. Group sequential methods in the design and analysis of clinical "
    "trials. Biometrika 1977;64:191-199",
    "asof": f"{LAN_DEMETS} (O'Brien-Fleming type spending)",
    "asp": f"{LAN_DEMETS} (Pocock type spending)",
}

_ROOT_XTOL = 1e-13
_ROOT_RTOL = 4 * float(np.finfo(float).eps)
_CRITICAL_VALUE_MAX = 40.0  # every normal tail beyond it underflows to 0


# ---------------------------------------------------------------------------
# Crossing probabilities (Jennison & Turnbull, ch. 19)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CrossingProbabilities:
    """Probabilities of stopping at each look, by boundary, under one drift.

    ``upper[k]`` is P(the trial continues to look k and ``Z_k >= b_k``), ``lower[k]``
    P(it continues to look k and ``Z_k <= a_k``); index 0 is the first look.
    """

    upper: tuple[float, ...]
    lower: tuple[float, ...]

    @property
    def stop(self) -> tuple[float, ...]:
        """Probability of stopping at each look, at either boundary."""
        return tuple(u + low for u, low in zip(self.upper, self.lower, strict=True))

    @property
    def total_upper(self) -> float:
        """Probability of ever crossing the upper boundary."""
        return math.fsum(self.upper)

    @property
    def total(self) -> float:
        """Probability of ever crossing either boundary."""
        return math.fsum(self.upper) + math.fsum(self.lower)


@dataclass(frozen=True)
class _Stage:
    """The sub-density of ``Z_k`` on look k's continuation region, at quadrature nodes.

    ``mass`` is quadrature weight times density, so sums over it are integrals.
    """

    t: float
    z: FloatArray
    mass: FloatArray


@lru_cache(maxsize=64)
def _standard_grid(r: int) -> FloatArray:
    """Jennison & Turnbull's ``6r - 1`` grid points (section 19.2.1) around mean 0:
    steps of ``3 / (2r)`` on [-3, 3], logarithmic steps out to ``+-(3 + 4 ln r)``."""
    i = np.arange(1, 6 * r, dtype=float)
    points = np.empty(6 * r - 1)
    low, middle, high = i < r, (i >= r) & (i <= 5 * r), i > 5 * r
    points[low] = -3.0 - 4.0 * np.log(r / i[low])
    points[middle] = -3.0 + 3.0 * (i[middle] - r) / (2.0 * r)
    points[high] = 3.0 + 4.0 * np.log(r / (6.0 * r - i[high]))
    points.flags.writeable = False
    return points


_GAUSS_NODES, _GAUSS_WEIGHTS = np.polynomial.legendre.leggauss(GAUSS_POINTS)


def _quadrature_grid(
    mean: float, lower: float, upper: float, r: int
) -> tuple[FloatArray, FloatArray]:
    """Nodes and weights integrating over ``(lower, upper)`` a density centred near ``mean``.

    J&T's grid is shifted to ``mean`` and trimmed to the region, whose finite ends become
    the outermost points; each interval between neighbouring points gets
    ``GAUSS_POINTS`` Gauss-Legendre nodes (J&T use Simpson's rule on the points and
    their midpoints).  An empty or negligible region gives empty arrays.
    """
    base = mean + _standard_grid(r)
    inside = base[(base > lower) & (base < upper)]
    first = [lower] if lower > base[0] else []
    last = [upper] if upper < base[-1] else []
    points = np.concatenate([first, inside, last])
    if points.size < 2:
        return np.empty(0), np.empty(0)
    half = np.diff(points)[:, None] / 2.0
    centre = points[:-1, None] + half
    return (centre + half * _GAUSS_NODES).ravel(), (half * _GAUSS_WEIGHTS).ravel()


def _grid_size(t: Sequence[float], k: int, r: int) -> int:
    """J&T's ``r`` refined for look k so that the grid resolves the transition densities.

    On the z scale the density of ``Z_k`` varies on the scale
    ``sqrt((t_k - t_{k-1}) / t_k)`` (the spread gained since look k-1) and is integrated
    against the transition to look k+1, whose spread in ``z_k`` is
    ``sqrt((t_{k+1} - t_k) / t_k)``.  The grid is tuned for a unit scale; a smaller one
    refines it in proportion (up to ``_MAX_GRID_R``).
    """
    scale = 1.0
    if k > 0:
        scale = min(scale, math.sqrt((t[k] - t[k - 1]) / t[k]))
    if k < len(t) - 1:
        scale = min(scale, math.sqrt((t[k + 1] - t[k]) / t[k]))
    return min(max(r, math.ceil(r / scale)), max(r, _MAX_GRID_R))


def _first_stage(t: Sequence[float], lower: float, upper: float, drift: float, r: int) -> _Stage:
    """Density of ``Z_1 ~ N(drift sqrt(t_1), 1)`` on ``(lower, upper)``."""
    mean = drift * math.sqrt(t[0])
    z, weights = _quadrature_grid(mean, lower, upper, _grid_size(t, 0, r))
    density = np.exp(-0.5 * (z - mean) ** 2) / math.sqrt(2.0 * math.pi)
    return _Stage(t[0], z, weights * density)


def _standardised_increment(stage: _Stage, t: float, bound: float, drift: float) -> FloatArray:
    """The score increment reaching ``bound`` at information ``t`` from every node of the
    previous look, in standard deviations."""
    step = t - stage.t
    return (bound * math.sqrt(t) - stage.z * math.sqrt(stage.t) - drift * step) / math.sqrt(step)


def _exit_probabilities(
    stage: _Stage, t: float, lower: float, upper: float, drift: float
) -> tuple[float, float]:
    """(lower, upper) crossing probabilities at the look after ``stage``."""
    below = above = 0.0
    if stage.z.size == 0:
        return below, above
    if lower > -np.inf:
        below = float(stage.mass @ special.ndtr(_standardised_increment(stage, t, lower, drift)))
    if upper < np.inf:
        above = float(stage.mass @ special.ndtr(-_standardised_increment(stage, t, upper, drift)))
    return below, above


def _propagate(
    stage: _Stage, t: Sequence[float], k: int, lower: float, upper: float, drift: float, r: int
) -> _Stage:
    """Sub-density of ``Z_k`` on ``(lower, upper)`` from that of ``Z_{k-1}`` (J&T 19.2)."""
    if stage.z.size == 0:
        return _Stage(t[k], np.empty(0), np.empty(0))
    z, weights = _quadrature_grid(drift * math.sqrt(t[k]), lower, upper, _grid_size(t, k, r))
    step = t[k] - stage.t
    root_t, root_previous, root_step = math.sqrt(t[k]), math.sqrt(stage.t), math.sqrt(step)
    u = (z[:, None] * root_t - stage.z[None, :] * root_previous - drift * step) / root_step
    kernel = np.exp(-0.5 * u * u) * (root_t / root_step / math.sqrt(2.0 * math.pi))
    return _Stage(t[k], z, weights * (kernel @ stage.mass))


def _check_region(
    lower: Sequence[float], upper: Sequence[float], information_rates: Sequence[float]
) -> None:
    if not len(information_rates) == len(lower) == len(upper) >= 1:
        raise ValueError("lower, upper and information_rates must have one value per look")
    check_information_rates(information_rates, len(information_rates), allow_partial=True)
    for k, (a, b) in enumerate(zip(lower, upper, strict=True)):
        if math.isnan(a) or math.isnan(b) or a > b:
            raise ValueError(f"look {k + 1}: need lower <= upper, got ({a}, {b})")


def crossing_probabilities(
    lower: Sequence[float],
    upper: Sequence[float],
    information_rates: Sequence[float],
    drift: float = 0.0,
    grid_r: int = GRID_R,
) -> CrossingProbabilities:
    """Boundary crossing probabilities of a group-sequential test.

    Parameters
    ----------
    lower, upper : sequences of float
        Boundaries ``a_k <= b_k`` on the z scale, one per look (``-inf``/``inf``: none).
        The trial continues past look k while ``a_k < Z_k < b_k``.
    information_rates : sequence of float
        Information fractions ``0 < t_1 < ... < t_K <= 1``.
    drift : float
        ``delta`` with ``E[Z_k] = delta sqrt(t_k)``; 0 is the null hypothesis.
    grid_r : int
        Jennison & Turnbull's grid parameter ``r`` (default 6, with 6-point
        Gauss-Legendre nodes in each grid interval; larger is finer).

    Returns
    -------
    CrossingProbabilities
        Per-look probabilities of stopping at the upper and at the lower boundary.

    References
    ----------
    Jennison C, Turnbull BW. Group Sequential Methods with Applications to Clinical
    Trials. Chapman & Hall/CRC 2000, ch. 19 (recursive numerical integration).
    """
    _check_region(lower, upper, information_rates)
    t = [float(x) for x in information_rates]
    a = [float(x) for x in lower]
    b = [float(x) for x in upper]
    drift = float(drift)
    upper_probs = [float(special.ndtr(drift * math.sqrt(t[0]) - b[0]))]
    lower_probs = [float(special.ndtr(a[0] - drift * math.sqrt(t[0])))]
    stage = _first_stage(t, a[0], b[0], drift, grid_r)
    for k in range(1, len(t)):
        below, above = _exit_probabilities(stage, t[k], a[k], b[k], drift)
        lower_probs.append(below)
        upper_probs.append(above)
        if k < len(t) - 1:
            stage = _propagate(stage, t, k, a[k], b[k], drift, grid_r)
    return CrossingProbabilities(tuple(upper_probs), tuple(lower_probs))


# ---------------------------------------------------------------------------
# Boundaries
# ---------------------------------------------------------------------------


def upper_tail_quantile(p: float) -> float:
    """``z`` with ``P(Z >= z) = p`` for standard normal ``Z`` (R ``qnorm(1 - p)``)."""
    return float(-special.ndtri(p))


def spending(boundary: Boundary, alpha: float, sided: int, t: float) -> float:
    """Total alpha spent by information ``t`` under a Lan-DeMets spending function.

    ``asof``: ``2 sided (1 - Phi(z_{1 - alpha / (2 sided)} / sqrt(t)))``, i.e. per side
    the one-sided O'Brien-Fleming-type function at level ``alpha / sided`` (as rpact);
    ``asp``: ``alpha ln(1 + (e - 1) t)``.

    References
    ----------
    Lan KKG, DeMets DL. Discrete sequential boundaries for clinical trials. Biometrika
    1983;70:659-663.
    """
    if boundary == "asof":
        z = upper_tail_quantile(alpha / (2.0 * sided))
        return float(2.0 * sided * special.ndtr(-z / math.sqrt(t)))
    if boundary == "asp":
        return alpha * math.log(1.0 + (math.e - 1.0) * t)
    raise ValueError(f"{boundary!r} is not an alpha-spending boundary")


def _region(critical: Sequence[float], sided: int) -> tuple[list[float], list[float]]:
    """(lower, upper) boundaries of the continuation regions for critical values c_k."""
    upper = [float(c) for c in critical]
    lower = [-c for c in upper] if sided == 2 else [-math.inf] * len(upper)
    return lower, upper


def _decreasing_root(f: Callable[[float], float], low: float, high: float) -> float:
    """Root of a decreasing function on ``[low, high]`` (Brent's method)."""
    return float(optimize.brentq(f, low, high, xtol=_ROOT_XTOL, rtol=_ROOT_RTOL))


def _spending_critical_value(stage: _Stage, t: float, increment: float, sided: int) -> float:
    """Critical value at the look after ``stage`` whose crossing probability under H0
    (both sides when two-sided) is ``increment``."""

    def excess(c: float) -> float:
        below, above = _exit_probabilities(stage, t, -c if sided == 2 else -math.inf, c, 0.0)
        return below + above - increment

    return _decreasing_root(excess, 0.0, _CRITICAL_VALUE_MAX)


def _spending_critical_values(
    boundary: Boundary, alpha: float, sided: int, t: Sequence[float], grid_r: int
) -> list[float]:
    """Critical values spending exactly each look's alpha increment (Lan & DeMets)."""
    spent = [spending(boundary, alpha, sided, x) for x in t]
    critical = [upper_tail_quantile(spent[0] / sided)]
    lower, upper = _region(critical, sided)
    stage = _first_stage(t, lower[0], upper[0], 0.0, grid_r)
    for k in range(1, len(t)):
        critical.append(_spending_critical_value(stage, t[k], spent[k] - spent[k - 1], sided))
        lower, upper = _region(critical, sided)
        if k < len(t) - 1:
            stage = _propagate(stage, t, k, lower[k], upper[k], 0.0, grid_r)
    return critical


def _constant_shape_critical_values(
    boundary: Boundary, alpha: float, sided: int, t: Sequence[float], grid_r: int
) -> list[float]:
    """Pocock (``c_k = C``) or O'Brien-Fleming (``c_k = C / sqrt(t_k)``), ``C`` found so
    that the total alpha is exact (rpact's Wang-Tsiatis family, deltaWT 0.5 and 0)."""
    shape = [1.0] * len(t) if boundary == "pocock" else [1.0 / math.sqrt(x) for x in t]

    def excess(constant: float) -> float:
        lower, upper = _region([constant * s for s in shape], sided)
        return crossing_probabilities(lower, upper, t, 0.0, grid_r).total - alpha

    constant = _decreasing_root(excess, 0.0, _CRITICAL_VALUE_MAX)
    return [constant * s for s in shape]


def critical_values(
    boundary: Boundary,
    alpha: float,
    sided: int,
    information_rates: Sequence[float],
    grid_r: int = GRID_R,
) -> tuple[float, ...]:
    """Upper critical values ``c_k`` (z scale) of a group-sequential design.

    Two-sided designs are symmetric (reject when ``|Z_k| >= c_k``) with total alpha
    ``alpha``; one-sided designs reject when ``Z_k >= c_k``.  One look gives
    ``z_{1 - alpha / sided}`` whatever ``boundary``.

    References
    ----------
    O'Brien PC, Fleming TR. Biometrics 1979;35:549-556.  Pocock SJ. Biometrika
    1977;64:191-199.  Lan KKG, DeMets DL. Biometrika 1983;70:659-663.  Computation:
    Jennison C, Turnbull BW. Group Sequential Methods with Applications to Clinical
    Trials, 2000, ch. 19.
    """
    t = [float(x) for x in information_rates]
    if len(t) == 1:
        return (upper_tail_quantile(alpha / sided),)
    if boundary in ("asof", "asp"):
        return tuple(_spending_critical_values(boundary, alpha, sided, t, grid_r))
    return tuple(_constant_shape_critical_values(boundary, alpha, sided, t, grid_r))


# ---------------------------------------------------------------------------
# The design and its characteristics
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupSequentialDesign:
    """A group-sequential design with its operating characteristics.

    Probabilities under H1 are at the drift giving power ``power``: only crossings of
    the upper (efficacy) boundary count toward power and ``rejection_probabilities``
    (rpact ``twoSidedPower = FALSE``), while the average sample numbers count stopping
    at either boundary.

    Attributes
    ----------
    looks, boundary, alpha, power, sided, information_rates
        The design's inputs (``boundary`` is ``None`` for one look).
    critical_values : tuple of float
        ``c_k`` on the z scale (two-sided: reject when ``|Z_k| >= c_k``).
    stage_levels : tuple of float
        One-sided nominal levels ``1 - Phi(c_k)`` (rpact ``stageLevels``).
    p_value_boundaries : tuple of float
        ``sided * stage_levels``: two-sided for two-sided designs (rpact
        ``criticalValuesPValueScale``).
    alpha_spent : tuple of float
        Cumulative probability under H0 of rejecting by each look, both sides (rpact
        ``alphaSpent``, which floors the last one to 1e-8: 0.04999999 for 0.05).
    fixed_information : float
        ``(z_{1 - alpha / sided} + z_{1 - beta})^2``, the fixed design's information
        for a unit effect (rpact ``nFixed`` of getDesignCharacteristics).
    shift : float
        The maximum information for a unit effect, ``drift^2`` (rpact ``shift``).
    inflation_factor : float
        ``shift / fixed_information``.
    rejection_probabilities : tuple of float
        Per-look probability under H1 of stopping for efficacy.
    early_stop : float
        Their sum over the interim looks.
    average_sample_number_h0, average_sample_number_h01, average_sample_number_h1 : float
        Expected sample size as a multiple of the fixed design's, at drift 0, half the
        H1 drift and the H1 drift (rpact ``averageSampleNumber0/01/1``).
    """

    looks: int
    boundary: Boundary | None
    alpha: float
    power: float
    sided: Sided
    information_rates: tuple[float, ...]
    critical_values: tuple[float, ...]
    stage_levels: tuple[float, ...]
    p_value_boundaries: tuple[float, ...]
    alpha_spent: tuple[float, ...]
    fixed_information: float
    shift: float
    inflation_factor: float
    rejection_probabilities: tuple[float, ...]
    early_stop: float
    average_sample_number_h0: float
    average_sample_number_h01: float
    average_sample_number_h1: float
    note: str | None
    reference: str

    @property
    def drift(self) -> float:
        """``delta = sqrt(shift)``: ``E[Z_k] = delta sqrt(t_k)`` under H1."""
        return math.sqrt(self.shift)

    @property
    def lower_boundaries(self) -> tuple[float, ...]:
        """``a_k``: ``-c_k`` for two-sided designs, ``-inf`` for one-sided ones."""
        return tuple(_region(self.critical_values, self.sided)[0])

    def crossing_probabilities(self, drift: float) -> CrossingProbabilities:
        """Crossing probabilities of this design's boundaries under ``drift``."""
        lower, upper = _region(self.critical_values, self.sided)
        return crossing_probabilities(lower, upper, self.information_rates, drift)


def _fixed_information(alpha: float, power: float, sided: int) -> float:
    return (upper_tail_quantile(alpha / sided) + upper_tail_quantile(1.0 - power)) ** 2


def _power_drift(
    lower: list[float], upper: list[float], t: tuple[float, ...], power: float
) -> float:
    """Drift at which the upper boundary is crossed with probability ``power``."""

    def shortfall(drift: float) -> float:
        return power - crossing_probabilities(lower, upper, t, drift).total_upper

    high = 2.0 * (upper[-1] + upper_tail_quantile(1.0 - power)) + 1.0
    while shortfall(high) > 0.0:
        high *= 2.0
    return _decreasing_root(shortfall, 0.0, high)


def _average_sample_number(
    probabilities: CrossingProbabilities, t: tuple[float, ...], shift: float, fixed: float
) -> float:
    """rpact's ``.getAverageSampleNumber``: expected information over the fixed design's,
    the information not gathered after stopping at an interim look subtracted."""
    stops = probabilities.stop[:-1]
    saved = math.fsum(p * (t[-1] - x) for p, x in zip(stops, t[:-1], strict=True))
    return shift * (1.0 - saved) / fixed


def group_sequential_design(
    looks: int,
    boundary: Boundary | None,
    alpha: float = 0.05,
    power: float = 0.8,
    sided: Sided = 2,
    information_rates: Sequence[float] | None = None,
) -> GroupSequentialDesign:
    """Group-sequential design for ``looks`` analyses with its characteristics.

    Parameters
    ----------
    looks : int
        Number of analyses K, 1 to 10 (1: the fixed design).
    boundary : {"obf", "pocock", "asof", "asp"} or None
        Boundary family (rpact ``OF``, ``P``, ``asOF``, ``asP``); required with more
        than one look, irrelevant with one.
    alpha : float
        Total type I error in (0, 0.5]; two-sided designs spend ``alpha / 2`` per side.
    power : float
        ``1 - beta``, in (alpha / sided, 1).
    sided : {1, 2}
        One-sided or symmetric two-sided test.
    information_rates : sequence of float, optional
        ``t_1 < ... < t_K = 1``; equally spaced ``k / K`` by default.

    Returns
    -------
    GroupSequentialDesign
        Critical values, stage levels and alpha spent; the H1 drift (root-found so that
        the upper boundary is crossed with probability ``power``) with the inflation
        factor, rejection probabilities and average sample numbers.

    Raises
    ------
    ValueError
        For invalid input, naming it.

    Notes
    -----
    As R rpact 3.3.4 ``getDesignGroupSequential`` with ``getDesignCharacteristics``,
    equal to 1e-6 relative (tests/test_design_sample_size.py).

    References
    ----------
    Jennison C, Turnbull BW. Group Sequential Methods with Applications to Clinical
    Trials. Chapman & Hall/CRC 2000, ch. 19.  O'Brien PC, Fleming TR. Biometrics
    1979;35:549-556.  Pocock SJ. Biometrika 1977;64:191-199.  Lan KKG, DeMets DL.
    Biometrika 1983;70:659-663.
    """
    looks, boundary, alpha, power, sided = check_design_inputs(looks, boundary, alpha, power, sided)
    t = _information_rates(looks, information_rates)
    critical = critical_values(boundary or "obf", alpha, sided, t)
    lower, upper = _region(critical, sided)
    fixed = _fixed_information(alpha, power, sided)
    # One look is the fixed design, whose drift is z_{1 - alpha / sided} + z_{1 - beta}.
    shift = fixed if looks == 1 else _power_drift(lower, upper, t, power) ** 2
    h0, h01, h1 = (
        crossing_probabilities(lower, upper, t, drift)
        for drift in (0.0, math.sqrt(shift) / 2.0, math.sqrt(shift))
    )
    stage_levels = tuple(float(special.ndtr(-c)) for c in critical)
    return GroupSequentialDesign(
        looks=looks,
        boundary=boundary if looks > 1 else None,
        alpha=alpha,
        power=power,
        sided=sided,
        information_rates=t,
        critical_values=critical,
        stage_levels=stage_levels,
        p_value_boundaries=tuple(sided * p for p in stage_levels),
        alpha_spent=tuple(itertools.accumulate(h0.stop)),
        fixed_information=fixed,
        shift=shift,
        inflation_factor=shift / fixed,
        rejection_probabilities=h1.upper,
        early_stop=math.fsum(h1.upper[:-1]),
        average_sample_number_h0=_average_sample_number(h0, t, shift, fixed),
        average_sample_number_h01=_average_sample_number(h01, t, shift, fixed),
        average_sample_number_h1=_average_sample_number(h1, t, shift, fixed),
        note=_design_note(looks, boundary),
        reference=design_reference(boundary if looks > 1 else None),
    )


def _design_note(looks: int, boundary: Boundary | None) -> str | None:
    if looks == 1 and boundary is not None:
        return f"one look is the fixed design: boundary {boundary!r} does not apply"
    return None


def design_reference(boundary: Boundary | None) -> str:
    """The sources of a design's boundaries and of their computation."""
    if boundary is None:
        return "fixed design (one look): critical value z_{1 - alpha / sided}"
    return f"{BOUNDARY_REFERENCES[boundary]}; {JENNISON_TURNBULL}"


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def check_information_rates(
    information_rates: Sequence[float], looks: int, allow_partial: bool = False
) -> tuple[float, ...]:
    """Validate information fractions: one per look, strictly increasing in (0, 1], the
    last equal to 1 (unless ``allow_partial``)."""
    rates = tuple(finite_number(x, "information_rates") for x in information_rates)
    if len(rates) != looks:
        raise ValueError(f"information_rates must have {looks} values (one per look), got {rates}")
    if not all(0.0 < x <= 1.0 for x in rates):
        raise ValueError(f"information_rates must lie in (0, 1], got {rates}")
    if any(b <= a for a, b in itertools.pairwise(rates)):
        raise ValueError(f"information_rates must be strictly increasing, got {rates}")
    if not allow_partial and rates[-1] != 1.0:
        raise ValueError(f"the last information rate must be 1, got {rates[-1]}")
    return rates


def _information_rates(looks: int, information_rates: Sequence[float] | None) -> tuple[float, ...]:
    if information_rates is None:
        return tuple(k / looks for k in range(1, looks + 1))
    return check_information_rates(information_rates, looks)


def check_design_inputs(
    looks: int, boundary: Boundary | None, alpha: float, power: float, sided: int
) -> tuple[int, Boundary | None, float, float, Sided]:
    """Validate a design's inputs; raise ``ValueError`` naming the first bad one."""
    if isinstance(looks, bool) or not isinstance(looks, int | np.integer):
        raise ValueError(f"looks must be an integer, got {looks!r}")
    if not 1 <= looks <= MAX_LOOKS:
        raise ValueError(f"looks must be between 1 and {MAX_LOOKS}, got {looks}")
    names = ", ".join(BOUNDARIES)
    if boundary is None and looks > 1:
        raise ValueError(f"boundary ({names}) is required with looks > 1")
    if boundary is not None and boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {names}, got {boundary!r}")
    if isinstance(sided, bool) or sided not in (1, 2):
        raise ValueError(f"sided must be 1 or 2, got {sided!r}")
    alpha = finite_number(alpha, "alpha")
    if not 0.0 < alpha <= 0.5:
        raise ValueError(f"alpha must lie in (0, 0.5], got {alpha}")
    power = finite_number(power, "power")
    if not alpha / sided < power < 1.0:
        raise ValueError(
            f"power must lie in (alpha / sided, 1) = ({alpha / sided}, 1), got {power}"
        )
    return int(looks), boundary, alpha, power, 1 if sided == 1 else 2


def finite_number(value: float, name: str) -> float:
    """``value`` as a finite float (bools and non-numbers refused)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, not a bool")
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number, got {value!r}") from exc
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number

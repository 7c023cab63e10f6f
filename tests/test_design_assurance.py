"""itptrial.design.assurance: by hand, against R, a slow exact reference, Monte Carlo, properties.

Reference values: tests/reference/assurance.json, written by tests/reference/assurance.R
(base R and jsonlite; R is not needed to run these tests), compared to 1e-10.  The slow
reference here is independent of the library: exact rational arithmetic
(``fractions.Fraction``, beta functions of integers as factorials) for the
beta-binomial and binomial probabilities and itptrial.stats ``chi_square`` for the test,
table by table.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2_contingency

from itptrial.design import _assurance
from itptrial.design._assurance import Assurance, assurance, success_table
from itptrial.stats import chi_square

FIXTURE = json.loads(
    (Path(__file__).parent / "reference" / "assurance.json").read_text(encoding="utf-8")
)
R_TOL = 1e-10
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)

# TARGET 020's earlier trial: 31/48 (64.6%) experimental vs 23/56 (41.1%) control.
TARGET_EXPERIMENTAL = (31, 48)
TARGET_CONTROL = (23, 56)
# Exact values (rational arithmetic, slow_reference below, rounded to float once) at
# two-sided alpha 0.05: {n per arm: (assurance, power_at_estimate)}.
TARGET_020 = {
    70: (0.6957677288769853, 0.8066315151263181),
    150: (0.8570680746361203, 0.9867155917967487),
}


# ---------------------------------------------------------------------------
# An independent slow reference
# ---------------------------------------------------------------------------


def beta_integers(a: int, b: int) -> Fraction:
    """B(a, b) = (a - 1)! (b - 1)! / (a + b - 1)! for positive integers."""
    return Fraction(math.factorial(a - 1) * math.factorial(b - 1), math.factorial(a + b - 1))


def beta_binomial_exact(n: int, responders: int, subjects: int) -> list[Fraction]:
    a, b = 1 + responders, 1 + subjects - responders
    return [
        math.comb(n, x) * beta_integers(x + a, n - x + b) / beta_integers(a, b)
        for x in range(n + 1)
    ]


def binomial_exact(n: int, responders: int, subjects: int) -> list[Fraction]:
    p = Fraction(responders, subjects)
    return [math.comb(n, x) * p**x * (1 - p) ** (n - x) for x in range(n + 1)]


def chi_square_success(x1: int, n1: int, x0: int, n0: int, alpha: float) -> bool:
    """The spec's rule for a two-sided test, through the repository's own chi-square."""
    result = chi_square(x1, n1, x0, n0)
    return result.p_value is not None and result.p_value < alpha and x1 / n1 > x0 / n0


def slow_reference(
    prior1: tuple[int, int], prior0: tuple[int, int], n1: int, n0: int, alpha: float
) -> tuple[float, float]:
    """(assurance, power_at_estimate), two-sided, by a double loop in exact arithmetic."""
    bb1, bb0 = beta_binomial_exact(n1, *prior1), beta_binomial_exact(n0, *prior0)
    b1, b0 = binomial_exact(n1, *prior1), binomial_exact(n0, *prior0)
    total_assurance = total_power = Fraction(0)
    for x1 in range(n1 + 1):
        for x0 in range(n0 + 1):
            if chi_square_success(x1, n1, x0, n0, alpha):
                total_assurance += bb1[x1] * bb0[x0]
                total_power += b1[x1] * b0[x0]
    return float(total_assurance), float(total_power)


# ---------------------------------------------------------------------------
# 1. By hand
# ---------------------------------------------------------------------------


def test_hand_worked_three_per_arm() -> None:
    """n1 = n0 = 3, two-sided alpha 0.1, priors 1/2 (experimental) and 0/1 (control).

    Pearson's statistic N (x1 n0 - x0 n1)^2 / (n1 n0 m (N - m)), N = 6, m = x1 + x0,
    for the tables with x1 > x0: (3, 0): 6; (3, 1) and (2, 0): 3; (3, 2), (1, 0): 1.2;
    (2, 1): 2/3.  The 0.1 critical value is 2.706 (0.05: 3.841), so the trial succeeds
    at (3, 0), (3, 1), (2, 0) at alpha 0.1 and at (3, 0) only at alpha 0.05.
    Posteriors: Beta(2, 2) and Beta(1, 2); beta-binomial pmf
    C(n, x) B(x + a, n - x + b) / B(a, b).
    """
    n = 3

    def bb(x: int, a: int, b: int) -> Fraction:
        return math.comb(n, x) * beta_integers(x + a, n - x + b) / beta_integers(a, b)

    def binom(x: int, p: Fraction) -> Fraction:
        return math.comb(n, x) * p**x * (1 - p) ** (n - x)

    tables_010 = [(3, 0), (3, 1), (2, 0)]
    tables_005 = [(3, 0)]
    # Beta(2, 2) over 3: 1/5, 3/10, 3/10, 1/5; Beta(1, 2) over 3: 2/5, 3/10, 1/5, 1/10
    assert [bb(x, 2, 2) for x in range(4)] == [Fraction(k, 10) for k in (2, 3, 3, 2)]
    assert [bb(x, 1, 2) for x in range(4)] == [Fraction(k, 10) for k in (4, 3, 2, 1)]
    expected_010 = sum(bb(x1, 2, 2) * bb(x0, 1, 2) for x1, x0 in tables_010)
    expected_005 = sum(bb(x1, 2, 2) * bb(x0, 1, 2) for x1, x0 in tables_005)
    # (3, 0): 1/5 * 2/5; (3, 1): 1/5 * 3/10; (2, 0): 3/10 * 2/5
    assert expected_010 == Fraction(2, 25) + Fraction(3, 50) + Fraction(3, 25) == Fraction(13, 50)
    assert expected_005 == Fraction(2, 25)
    # at the estimates the control rate is 0 (x0 = 0 surely), the experimental 1/2
    power_010 = sum(binom(x1, Fraction(1, 2)) * binom(x0, Fraction(0)) for x1, x0 in tables_010)
    assert power_010 == Fraction(1, 2)  # P(x1 >= 2) = 4/8

    got_010 = assurance((1, 2), (0, 1), n, n, alpha=0.1)
    got_005 = assurance((1, 2), (0, 1), n, n, alpha=0.05)
    assert got_010.assurance == pytest.approx(0.26, abs=1e-15)
    assert got_010.power_at_estimate == pytest.approx(0.5, abs=1e-15)
    assert got_005.assurance == pytest.approx(0.08, abs=1e-15)
    assert got_005.power_at_estimate == pytest.approx(1 / 8, abs=1e-15)  # P(x1 = 3)

    table = success_table(n, n, alpha=0.1)
    assert sorted(zip(*np.nonzero(table), strict=True)) == sorted(tables_010)
    assert sorted(zip(*np.nonzero(success_table(n, n, alpha=0.05)), strict=True)) == tables_005


def test_hand_worked_two_per_arm() -> None:
    """n1 = n0 = 2: only (2, 0) succeeds at 0.05 (statistic 4, p = 0.0455); (2, 1) and
    (1, 0) give 4/3.  Priors 3/4 vs 1/4: Beta(4, 2) and Beta(2, 4)."""
    n = 2
    bb_exp_2 = math.comb(2, 2) * beta_integers(2 + 4, 0 + 2) / beta_integers(4, 2)
    bb_ctl_0 = math.comb(2, 0) * beta_integers(0 + 2, 2 + 4) / beta_integers(2, 4)
    assert bb_exp_2 == bb_ctl_0 == Fraction(10, 21)  # B(6,2)/B(4,2) = (1/42)/(1/20)
    result = assurance((3, 4), (1, 4), n, n)
    assert result.assurance == pytest.approx(float(bb_exp_2 * bb_ctl_0), abs=1e-15)
    assert result.power_at_estimate == pytest.approx((3 / 4) ** 2 * (3 / 4) ** 2, abs=1e-15)
    assert success_table(n, n).sum() == 1 and success_table(n, n)[2, 0]


# ---------------------------------------------------------------------------
# The success rule against itptrial.stats.chi_square
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2, 0.9])
def test_success_table_equals_chi_square_exhaustively(alpha: float) -> None:
    for n1, n0 in itertools.product(range(1, 8), range(1, 8)):
        table = success_table(n1, n0, alpha=alpha, sided=2)
        for x1, x0 in itertools.product(range(n1 + 1), range(n0 + 1)):
            assert table[x1, x0] == chi_square_success(x1, n1, x0, n0, alpha), (x1, n1, x0, n0)


@SETTINGS
@given(
    n1=st.integers(1, 80),
    n0=st.integers(1, 80),
    u1=st.floats(0, 1),
    u0=st.floats(0, 1),
    alpha=st.sampled_from([0.001, 0.01, 0.025, 0.05, 0.1, 0.3]),
)
def test_success_table_equals_chi_square_random(
    n1: int, n0: int, u1: float, u0: float, alpha: float
) -> None:
    x1, x0 = round(u1 * n1), round(u0 * n0)
    assert success_table(n1, n0, alpha, 2)[x1, x0] == chi_square_success(x1, n1, x0, n0, alpha)
    # one-sided at alpha: the upper-tail normal p is half the chi-square p when p1 > p0
    one_sided = success_table(n1, n0, alpha / 2, 1)[x1, x0]
    assert one_sided == chi_square_success(x1, n1, x0, n0, alpha)


def test_one_sided_above_one_half_needs_only_the_direction() -> None:
    table = success_table(5, 4, alpha=0.8, sided=1)
    for x1, x0 in itertools.product(range(6), range(5)):
        defined = 0 < x1 + x0 < 9
        assert table[x1, x0] == (defined and x1 / 5 > x0 / 4)


def test_chunked_table_equals_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = success_table(57, 43, 0.05, 2)
    result = assurance(TARGET_EXPERIMENTAL, TARGET_CONTROL, 57, 43)
    monkeypatch.setattr(_assurance, "_CHUNK_CELLS", 100)  # 2 rows a chunk
    assert np.array_equal(success_table(57, 43, 0.05, 2), whole)
    chunked = assurance(TARGET_EXPERIMENTAL, TARGET_CONTROL, 57, 43)
    assert chunked.assurance == pytest.approx(result.assurance, abs=1e-14)
    assert chunked.power_at_estimate == pytest.approx(result.power_at_estimate, abs=1e-14)


# ---------------------------------------------------------------------------
# 2. Monte Carlo
# ---------------------------------------------------------------------------


def test_monte_carlo() -> None:
    """Draw the rates from the posteriors, then a trial, with scipy's chi-square."""
    rng = np.random.default_rng(20240517)
    n1, n0, alpha, trials = 40, 30, 0.05, 20000
    p1 = rng.beta(1 + 31, 1 + 48 - 31, size=trials)
    p0 = rng.beta(1 + 23, 1 + 56 - 23, size=trials)
    x1 = rng.binomial(n1, p1)
    x0 = rng.binomial(n0, p0)
    y1 = rng.binomial(n1, 31 / 48, size=trials)
    y0 = rng.binomial(n0, 23 / 56, size=trials)

    @functools.cache
    def succeeds(a: int, b: int) -> bool:
        if a + b in (0, n1 + n0) or a / n1 <= b / n0:
            return False
        table = [[a, n1 - a], [b, n0 - b]]
        return bool(chi2_contingency(table, correction=False).pvalue < alpha)

    mc_assurance = np.mean([succeeds(int(a), int(b)) for a, b in zip(x1, x0, strict=True)])
    mc_power = np.mean([succeeds(int(a), int(b)) for a, b in zip(y1, y0, strict=True)])
    exact = assurance(TARGET_EXPERIMENTAL, TARGET_CONTROL, n1, n0, alpha)
    for mc, value in ((mc_assurance, exact.assurance), (mc_power, exact.power_at_estimate)):
        se = math.sqrt(value * (1 - value) / trials)
        assert abs(mc - value) < 4 * se, (mc, value, se)


# ---------------------------------------------------------------------------
# 3. Narrowing priors
# ---------------------------------------------------------------------------


def test_narrow_priors_approach_power() -> None:
    gaps = []
    for k in (1, 10, 100, 1000):
        result = assurance((31 * k, 48 * k), (23 * k, 56 * k), 70, 70)
        gaps.append(abs(result.assurance - result.power_at_estimate))
        # the point estimates do not change with k
        assert result.power_at_estimate == pytest.approx(TARGET_020[70][1], abs=1e-12)
    assert all(later < earlier for earlier, later in itertools.pairwise(gaps)), gaps
    assert gaps[-1] < 0.01


# ---------------------------------------------------------------------------
# 4. Against the slow reference
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prior1", "prior0", "n1", "n0", "alpha"),
    [
        ((31, 48), (23, 56), 20, 25, 0.05),
        ((31, 48), (23, 56), 25, 20, 0.1),
        ((7, 10), (2, 10), 12, 12, 0.01),
        ((10, 10), (0, 10), 15, 9, 0.05),
        ((4, 20), (14, 20), 18, 18, 0.05),
    ],
)
def test_against_slow_reference(
    prior1: tuple[int, int], prior0: tuple[int, int], n1: int, n0: int, alpha: float
) -> None:
    slow_assurance, slow_power = slow_reference(prior1, prior0, n1, n0, alpha)
    result = assurance(prior1, prior0, n1, n0, alpha)
    assert result.assurance == pytest.approx(slow_assurance, abs=1e-13)
    assert result.power_at_estimate == pytest.approx(slow_power, abs=1e-13)


# ---------------------------------------------------------------------------
# 5. Properties
# ---------------------------------------------------------------------------

priors = st.integers(1, 60).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@SETTINGS
@given(
    prior1=priors,
    prior0=priors,
    n1=st.integers(1, 60),
    n0=st.integers(1, 60),
    alpha=st.floats(0.001, 0.49),
    larger=st.floats(0.0, 0.5),
)
def test_properties(
    prior1: tuple[int, int],
    prior0: tuple[int, int],
    n1: int,
    n0: int,
    alpha: float,
    larger: float,
) -> None:
    two = assurance(prior1, prior0, n1, n0, 2 * alpha, 2)
    one = assurance(prior1, prior0, n1, n0, alpha, 1)
    for value in (two.assurance, two.power_at_estimate):
        assert 0.0 <= value <= 1.0
    # sided = 1 at alpha is the same test as sided = 2 at 2 alpha
    assert one.assurance == two.assurance
    assert one.power_at_estimate == two.power_at_estimate
    # a larger alpha never lowers either probability
    wider = assurance(prior1, prior0, n1, n0, min(2 * alpha + larger, 0.999), 2)
    assert wider.assurance >= two.assurance - 1e-15
    assert wider.power_at_estimate >= two.power_at_estimate - 1e-15
    assert np.all(
        success_table(n1, n0, min(2 * alpha + larger, 0.999)) >= success_table(n1, n0, 2 * alpha)
    )


# ---------------------------------------------------------------------------
# 6. TARGET 020 and R
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", sorted(TARGET_020))
def test_target_020(n: int) -> None:
    result = assurance(TARGET_EXPERIMENTAL, TARGET_CONTROL, n, n, alpha=0.05, sided=2)
    exact_assurance, exact_power = TARGET_020[n]
    assert result.assurance == pytest.approx(exact_assurance, abs=1e-12)
    assert result.power_at_estimate == pytest.approx(exact_power, abs=1e-12)
    # with the power above 1/2 the uncertainty about the rates costs probability here
    assert 0.5 < result.assurance < result.power_at_estimate


@pytest.mark.parametrize("case", FIXTURE["cases"], ids=[c["id"] for c in FIXTURE["cases"]])
def test_against_r(case: dict[str, object]) -> None:
    given_input = case["input"]
    assert isinstance(given_input, dict)
    result = assurance(
        tuple(given_input["prior_experimental"]),
        tuple(given_input["prior_control"]),
        given_input["n_experimental"],
        given_input["n_control"],
        given_input["alpha"],
        given_input["sided"],
    )
    assert result.assurance == pytest.approx(case["assurance"], abs=R_TOL)
    assert result.power_at_estimate == pytest.approx(case["power_at_estimate"], abs=R_TOL)
    table = success_table(
        given_input["n_experimental"],
        given_input["n_control"],
        given_input["alpha"],
        given_input["sided"],
    )
    assert int(table.sum()) == case["successful_tables"]


def test_r_fixture_target_020_agrees_with_exact() -> None:
    by_id = {case["id"]: case for case in FIXTURE["cases"]}
    for n, (exact_assurance, exact_power) in TARGET_020.items():
        case = by_id[f"target020_{n}"]
        assert case["assurance"] == pytest.approx(exact_assurance, abs=1e-13)
        assert case["power_at_estimate"] == pytest.approx(exact_power, abs=1e-13)


# ---------------------------------------------------------------------------
# Result object, size, validation
# ---------------------------------------------------------------------------


def test_result_object() -> None:
    result = assurance([31, 48], [23, 56], 70, 70)
    assert isinstance(result, Assurance)
    assert result.as_dict() == {
        "assurance": result.assurance,
        "power_at_estimate": result.power_at_estimate,
        "n_experimental": 70,
        "n_control": 70,
        "alpha": 0.05,
        "sided": 2,
        "prior_experimental": "31/48",
        "prior_control": "23/56",
    }
    json.dumps(result.as_dict())
    assert result.prior_experimental == (31, 48)
    assert "O'Hagan" in result.reference and "Pharm Stat 2005;4:187-201" in result.reference
    assert "Pearson" in result.reference
    assert "Beta(32, 18)" in result.note and "Beta(24, 34)" in result.note
    with pytest.raises(AttributeError):
        result.assurance = 0.0  # type: ignore[misc]


def test_large_trial() -> None:
    result = assurance(TARGET_EXPERIMENTAL, TARGET_CONTROL, 3000, 2500)
    assert 0.95 < result.assurance < 1.0
    assert result.power_at_estimate == pytest.approx(1.0, abs=1e-9)
    assert success_table(3000, 2500).shape == (3001, 2501)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prior_experimental": (5, 0)}, "prior_experimental subjects N must be >= 1"),
        ({"prior_experimental": (-1, 10)}, "prior_experimental responders R must lie"),
        ({"prior_control": (11, 10)}, "prior_control responders R must lie"),
        ({"prior_control": (1, 2, 3)}, "prior_control must be a pair"),
        ({"prior_control": "1/2"}, "prior_control must be a pair"),
        ({"prior_control": (1.5, 2)}, "prior_control responders R must be an integer"),
        ({"prior_control": (True, 2)}, "not a bool"),
        ({"n_experimental": 0}, "n_experimental must be >= 1"),
        ({"n_control": -3}, "n_control must be >= 1"),
        ({"n_control": 10.0}, "n_control must be an integer"),
        ({"alpha": 0.0}, "alpha must lie strictly between 0 and 1"),
        ({"alpha": 1.0}, "alpha must lie strictly between 0 and 1"),
        ({"alpha": float("nan")}, "alpha must be finite"),
        ({"sided": 3}, "sided must be 1 or 2"),
        ({"sided": True}, "sided must be 1 or 2"),
    ],
)
def test_invalid_input(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "prior_experimental": (31, 48),
        "prior_control": (23, 56),
        "n_experimental": 70,
        "n_control": 70,
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        assurance(**arguments)  # type: ignore[arg-type]


def test_success_table_validates() -> None:
    with pytest.raises(ValueError, match="n_experimental must be >= 1"):
        success_table(0, 5)
    with pytest.raises(ValueError, match="alpha"):
        success_table(5, 5, alpha=1.5)
    with pytest.raises(ValueError, match="sided"):
        success_table(5, 5, sided=0)

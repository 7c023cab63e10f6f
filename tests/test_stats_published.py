"""itptrial.stats against published values (each number's source is cited where used)."""

from __future__ import annotations

import pytest

from itptrial.stats import (
    chi_square,
    fisher_exact,
    risk_difference,
    stratified_risk_difference,
)
from itptrial.stats._common import z_quantile
from itptrial.stats._score import Stratum, mn_interval

# Newcombe RG. Interval estimation for the difference between independent proportions:
# comparison of eleven methods. Stat Med 1998;17:873-890, Table II: 95% limits for
# p1 - p2 in examples (a)-(h), to 4 decimals.  Method 10 = score (Wilson) interval
# without continuity correction combined by square-and-add ("hybrid score"); method 6 =
# Miettinen-Nurminen score interval.
#
# Where the numbers were taken from (the paper itself is not in the search corpora):
# * all 16 values: repository capeconomics/mergeron-extra, tests/test_proportions_tests.py,
#   the "Newcombe" and "M-N" lists under the comment "Examples from Newcombe (1998),
#   Table II";
# * cross-checks: petelaud/ratesci, tests/testthat/test3.R ("Newcombe RD example (d)":
#   MN -0.0326, 0.1933 and Newcombe -0.0381, 0.1926); GSK-Biostatistics/cicalc,
#   tests/testthat/test-prop_ci_mn.R (MN (a) 0.0528, 0.3382; (b) 0.1700, 0.8406;
#   (g) 0.7156, 1.0000, "matches the values in the paper"); method-10 values (a)-(h) are
#   also quoted identically by several independent test suites found with the search tool.
NEWCOMBE_TABLE_II = {
    # example: (x1, n1, x2, n2), method 10 (lower, upper), method 6 (lower, upper)
    "a": ((56, 70, 48, 80), (0.0524, 0.3339), (0.0528, 0.3382)),
    "b": ((9, 10, 3, 10), (0.1705, 0.8090), (0.1700, 0.8406)),
    "c": ((6, 7, 2, 7), (0.0582, 0.8062), (0.0342, 0.8534)),
    "d": ((5, 56, 0, 29), (-0.0381, 0.1926), (-0.0326, 0.1933)),
    "e": ((0, 10, 0, 20), (-0.1611, 0.2775), (-0.1658, 0.2844)),
    "f": ((0, 10, 0, 10), (-0.2775, 0.2775), (-0.2879, 0.2879)),
    "g": ((10, 10, 0, 20), (0.6791, 1.0000), (0.7156, 1.0000)),
    "h": ((10, 10, 0, 10), (0.6075, 1.0000), (0.6636, 1.0000)),
}


@pytest.mark.parametrize("example", sorted(NEWCOMBE_TABLE_II))
def test_newcombe_table_ii(example: str) -> None:
    counts, method10, method6 = NEWCOMBE_TABLE_II[example]
    result = risk_difference(*counts)
    assert result.estimate == pytest.approx(counts[0] / counts[1] - counts[2] / counts[3])
    assert result.newcombe is not None and result.miettinen_nurminen is not None
    # Published to 4 decimals: agree when rounded, i.e. within half a unit of the 4th.
    assert result.newcombe == pytest.approx(method10, abs=5e-5)
    assert result.miettinen_nurminen == pytest.approx(method6, abs=5e-5)


# TARGET 020 (NCT04747080; ASH 2021 abstract 13), p-values as listed in docs/domain.md,
# "Published results" (chi-square without continuity correction): sustained response
# 31/48 vs 23/56, p = 0.0167 and Fisher p = 0.0193; initial response 37/48 vs 31/56,
# p = 0.0202; relapse among initial responders 7/37 vs 9/31, p = 0.327.
def test_target020_sustained_response() -> None:
    chi = chi_square(31, 48, 23, 56)
    assert chi.p_value is not None and round(chi.p_value, 4) == 0.0167
    fisher = fisher_exact(31, 48, 23, 56)
    assert fisher.p_value is not None and round(fisher.p_value, 4) == 0.0193


def test_target020_initial_response() -> None:
    chi = chi_square(37, 48, 31, 56)
    assert chi.p_value is not None and round(chi.p_value, 4) == 0.0202


def test_target020_relapse() -> None:
    chi = chi_square(7, 37, 9, 31)
    assert chi.p_value is not None and round(chi.p_value, 3) == 0.327


# SAS-validated Miettinen-Nurminen results: Merck/metalite.ae,
# tests/testthat/test-independent-testing-rate_compare_sum.R, "compare outputs with SAS
# (stratified)" and "(unstratified)": values from Merck's SAS macro %rate0compare(), 95%
# two-sided limits (alpha = 0.05 is the two-sided level there).  The stratified case uses
# sample-size weights w_k = n_k (stratum total) rather than CMH weights, so it exercises
# the weighted core ``mn_interval`` that stratified_risk_difference calls with CMH weights.
def _merck_strata() -> list[Stratum]:
    # Rebuilt exactly as in that test: 119 placebo then 116 experimental subjects.
    treatment = ["pbo"] * 119 + ["exp"] * 116
    response = [0] * 70 + [1] * 49 + [0] * 46 + [1] * 70
    stratum = [1, 2, 3] * 38 + [1, 3, 3, 1, 2, 2] + [1, 2, 3] * 37 + [1, 1, 2, 3]
    strata = []
    for k in (1, 2, 3):
        rows = [(t, r) for t, r, s in zip(treatment, response, stratum, strict=True) if s == k]
        x1 = sum(r for t, r in rows if t == "exp")
        n1 = sum(1 for t, _ in rows if t == "exp")
        x0 = sum(r for t, r in rows if t == "pbo")
        n0 = sum(1 for t, _ in rows if t == "pbo")
        strata.append(Stratum(x1, n1, x0, n0))
    return strata


def test_stratified_mn_core_matches_sas_sample_size_weights() -> None:
    strata = _merck_strata()
    assert [(s.x1, s.n1, s.x0, s.n0) for s in strata] == [
        (24, 39, 16, 40),
        (23, 39, 16, 39),
        (23, 38, 17, 40),
    ]
    estimate, lower, upper = mn_interval(strata, [s.n1 + s.n0 for s in strata], z_quantile(0.95))
    # SAS: 19.181238694 (6.3398653094, 31.395972269) percent; the macro's root search
    # stops at about 1e-7, hence the absolute tolerance.
    assert estimate == pytest.approx(0.19181238694, abs=1e-9)
    assert lower == pytest.approx(0.063398653094, abs=1e-6)
    assert upper == pytest.approx(0.31395972269, abs=1e-6)


def test_unstratified_mn_matches_sas() -> None:
    # SAS: n1 = 116, x1 = 46 (experimental), n0 = 119, x0 = 70:
    # -19.168357 (-31.33431419, -6.382126982) percent.
    result = risk_difference(46, 116, 70, 119)
    assert result.estimate == pytest.approx(-0.19168357, abs=1e-8)
    assert result.miettinen_nurminen == pytest.approx((-0.3133431419, -0.06382126982), abs=1e-6)
    single = stratified_risk_difference([46], [116], [70], [119])
    assert single.miettinen_nurminen == result.miettinen_nurminen

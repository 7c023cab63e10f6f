"""Binary endpoints: per-arm rates and the experimental-vs-control comparison."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from itptrial.stats import (
    FisherResult,
    Proportion,
    RiskDifference,
    TestResult,
    chi_square,
    cmh_test,
    fisher_exact,
    proportion,
    risk_difference,
    stratified_risk_difference,
)

# endpoint name -> (indicator expression, denominator expression), docs/endpoints.md
BINARY_ENDPOINTS: dict[str, tuple[pl.Expr, pl.Expr]] = {
    "initial_response": (pl.col("initial_response") == 1, pl.lit(True)),
    "initial_complete_response": (pl.col("initial_response_category") == "CR", pl.lit(True)),
    "sustained_response_6m": (pl.col("sustained_response_6m") == 1, pl.lit(True)),
    "sustained_complete_response_6m": (
        pl.col("sustained_response_category") == "CR",
        pl.lit(True),
    ),
    "relapse": (pl.col("relapse") == 1, pl.col("initial_response") == 1),
}

LABELS = {
    "initial_response": "Initial response (days 1-28)",
    "initial_complete_response": "Initial complete response",
    "sustained_response_6m": "Sustained response at 6 months",
    "sustained_complete_response_6m": "Sustained complete response at 6 months",
    "relapse": "Relapse among initial responders",
}


@dataclass(frozen=True)
class Stratified:
    """The CMH test and the CMH-weighted Miettinen-Nurminen difference."""

    strata: tuple[str, ...]
    cmh: TestResult
    difference: RiskDifference


@dataclass(frozen=True)
class BinaryComparison:
    endpoint: str
    by_arm: dict[str, Proportion]
    difference: RiskDifference
    chi_square: TestResult
    fisher: FisherResult
    stratified: Stratified | None


def _counts(frame: pl.DataFrame, endpoint: str, arm: str) -> tuple[int, int]:
    indicator, denominator = BINARY_ENDPOINTS[endpoint]
    rows = frame.filter((pl.col("arm") == arm) & denominator.fill_null(False))
    return int(rows.select(indicator.fill_null(False).sum()).item()), rows.height


def _stratified(
    frame: pl.DataFrame, endpoint: str, experimental: str, control: str
) -> Stratified | None:
    if "stratum" not in frame.columns or frame.get_column("stratum").is_null().all():
        return None
    strata = tuple(sorted(s for s in frame.get_column("stratum").unique().to_list() if s))
    counts = [
        (
            *_counts(frame.filter(pl.col("stratum") == s), endpoint, experimental),
            *_counts(frame.filter(pl.col("stratum") == s), endpoint, control),
        )
        for s in strata
    ]
    x1, n1, x0, n0 = (list(column) for column in zip(*counts, strict=True))
    return Stratified(
        strata,
        cmh_test(x1, n1, x0, n0),
        stratified_risk_difference(x1, n1, x0, n0),
    )


def compare_binary(
    frame: pl.DataFrame, endpoint: str, experimental: str, control: str
) -> BinaryComparison:
    """Rates with Clopper-Pearson CIs, the risk difference, chi-square and Fisher tests.

    ``frame`` holds one row per randomized subject (the endpoints joined with their
    ``stratum``); NE counts as non-response (ITT).
    """
    x1, n1 = _counts(frame, endpoint, experimental)
    x0, n0 = _counts(frame, endpoint, control)
    return BinaryComparison(
        endpoint=endpoint,
        by_arm={experimental: proportion(x1, n1), control: proportion(x0, n0)},
        difference=risk_difference(x1, n1, x0, n0),
        chi_square=chi_square(x1, n1, x0, n0),
        fisher=fisher_exact(x1, n1, x0, n0),
        stratified=_stratified(frame, endpoint, experimental, control),
    )

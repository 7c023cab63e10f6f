"""Binary endpoints: per-arm rates, and each experimental arm against the control."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import polars as pl

from itptrial.analysis._comparisons import EndpointResult, Pair, holm_by_test, strata_of
from itptrial.endpoints import Endpoint, endpoint_registry
from itptrial.protocol import Protocol
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


@dataclass(frozen=True)
class Stratified:
    """The CMH test and the CMH-weighted Miettinen-Nurminen difference, over the
    subjects with a stratum (``left_out`` have none)."""

    strata: tuple[str, ...]
    cmh: TestResult
    difference: RiskDifference
    left_out: int


@dataclass(frozen=True)
class BinaryComparison:
    """One experimental arm against the control, on that pair's subjects alone.

    ``holm`` holds the Holm-adjusted p-values over the endpoint's comparisons (keys
    ``p_chisq``, ``p_fisher``, ``p_cmh``); it is empty when there is one comparison.
    """

    experimental: str
    control: str
    difference: RiskDifference
    chi_square: TestResult
    fisher: FisherResult
    stratified: Stratified | None
    holm: dict[str, float | None] = field(default_factory=dict)


BinaryEndpoint = EndpointResult[Proportion, BinaryComparison]


def _counts(frame: pl.DataFrame, endpoint: Endpoint, arm: str) -> tuple[int, int]:
    rows = frame.filter((pl.col("arm") == arm) & endpoint.counted)
    return int(rows.select(endpoint.responded.sum()).item()), rows.height


def binary_counts(
    endpoints: pl.DataFrame, protocol: Protocol
) -> dict[tuple[str, str], tuple[int, int]]:
    """(arm, binary endpoint) -> (responders, n) for every arm and every binary endpoint
    of the registry: the counts each rate of results.json is made of (ITT; relapse among
    the arm's initial responders), without any statistic (fast on large trials)."""
    registry = endpoint_registry(protocol.endpoints)
    return {
        (arm, endpoint.name): _counts(endpoints, endpoint, arm)
        for endpoint in registry
        if endpoint.kind == "binary"
        for arm in protocol.arm_codes
    }


def _stratified(frame: pl.DataFrame, endpoint: Endpoint, pair: Pair) -> Stratified | None:
    found = strata_of(frame)
    if found is None:
        return None
    strata, left_out = found
    by_stratum = [frame.filter(pl.col("stratum") == s) for s in strata]
    counts = [
        (*_counts(rows, endpoint, pair.experimental), *_counts(rows, endpoint, pair.control))
        for rows in by_stratum
    ]
    x1, n1, x0, n0 = (list(column) for column in zip(*counts, strict=True))
    return Stratified(
        strata,
        cmh_test(x1, n1, x0, n0),
        stratified_risk_difference(x1, n1, x0, n0),
        left_out,
    )


def _compare(frame: pl.DataFrame, endpoint: Endpoint, pair: Pair) -> BinaryComparison:
    rows = pair.subjects(frame)
    x1, n1 = _counts(rows, endpoint, pair.experimental)
    x0, n0 = _counts(rows, endpoint, pair.control)
    return BinaryComparison(
        experimental=pair.experimental,
        control=pair.control,
        difference=risk_difference(x1, n1, x0, n0),
        chi_square=chi_square(x1, n1, x0, n0),
        fisher=fisher_exact(x1, n1, x0, n0),
        stratified=_stratified(rows, endpoint, pair),
    )


def _with_holm(comparisons: list[BinaryComparison]) -> list[BinaryComparison]:
    tests = {
        "p_chisq": [c.chi_square.p_value for c in comparisons],
        "p_fisher": [c.fisher.p_value for c in comparisons],
    }
    if all(c.stratified is not None for c in comparisons):
        tests["p_cmh"] = [c.stratified.cmh.p_value for c in comparisons if c.stratified]
    adjusted = holm_by_test(tests)
    return [replace(c, holm=holm) for c, holm in zip(comparisons, adjusted, strict=True)]


def analyze_binary(
    frame: pl.DataFrame, endpoint: Endpoint, arms: tuple[str, ...], pairs: tuple[Pair, ...]
) -> BinaryEndpoint:
    """Rates with Clopper-Pearson CIs for every arm, and per comparison the risk
    difference (Newcombe, Miettinen-Nurminen), chi-square and Fisher tests, the
    stratified analysis, and Holm-adjusted p-values when there are several comparisons.

    ``frame`` holds one row per randomized subject (the endpoints joined with their
    ``stratum``); NE counts as non-response (ITT).
    """
    by_arm = {arm: proportion(*_counts(frame, endpoint, arm)) for arm in arms}
    comparisons = [_compare(frame, endpoint, pair) for pair in pairs]
    if len(comparisons) > 1:
        comparisons = _with_holm(comparisons)
    return BinaryEndpoint(
        endpoint=endpoint.name,
        label=endpoint.label,
        denominator=endpoint.denominator,
        by_arm=by_arm,
        comparisons={pair.key: c for pair, c in zip(pairs, comparisons, strict=True)},
    )

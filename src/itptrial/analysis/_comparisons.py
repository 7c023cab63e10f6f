"""The comparisons of a trial: each experimental arm against the one control arm."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import polars as pl

from itptrial.protocol import Protocol
from itptrial.stats import holm


@dataclass(frozen=True)
class Pair:
    """One comparison: an experimental arm against the control, on their subjects."""

    experimental: str
    control: str

    @property
    def key(self) -> str:
        """Its key in results.json: ``"<experimental> vs <control>"``."""
        return f"{self.experimental} vs {self.control}"

    def subjects(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The rows of this pair's two arms (every statistic of the pair uses only them)."""
        return frame.filter(pl.col("arm").is_in([self.experimental, self.control]))


ByArm = TypeVar("ByArm")
Comparison = TypeVar("Comparison")


@dataclass(frozen=True)
class EndpointResult(Generic[ByArm, Comparison]):
    """One endpoint's analysis: a summary per arm (every arm, protocol order) and one
    comparison per experimental arm, keyed ``"<experimental> vs <control>"``."""

    endpoint: str
    label: str
    denominator: str
    by_arm: dict[str, ByArm]
    comparisons: dict[str, Comparison]


def comparisons(protocol: Protocol) -> tuple[Pair, ...]:
    """One pair per experimental arm, in protocol order."""
    return tuple(Pair(arm, protocol.control_arm) for arm in protocol.experimental_arms)


def strata_of(frame: pl.DataFrame) -> tuple[tuple[str, ...], int] | None:
    """The strata present (sorted) and how many subjects have none; None when no
    subject has a stratum (no stratified analysis)."""
    if "stratum" not in frame.columns:
        return None
    stratum = frame.get_column("stratum")
    if stratum.is_null().all():
        return None
    strata = tuple(sorted(s for s in stratum.unique().to_list() if s is not None))
    return strata, stratum.null_count()


def holm_by_test(tests: Mapping[str, Sequence[float | None]]) -> list[dict[str, float | None]]:
    """Per comparison, the Holm-adjusted p-value of each test (stats.holm), the family
    being that test over the endpoint's comparisons."""
    adjusted = {name: holm(values) for name, values in tests.items()}
    count = len(next(iter(tests.values())))
    return [{name: values[i] for name, values in adjusted.items()} for i in range(count)]

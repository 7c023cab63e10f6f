"""An analysed trial beside a published one (the demo's summary), as data."""

from __future__ import annotations

import math
from dataclasses import dataclass

from itptrial.analysis._analysis import Analysis
from itptrial.protocol import Observed, PublishedTrial
from itptrial.stats import Proportion


@dataclass(frozen=True)
class PublishedRow:
    """One endpoint: the analysed rate and the published one, per arm, and the analysed
    trial's chi-square p of its first comparison."""

    endpoint: str
    label: str
    analysed: dict[str, Proportion]
    published: dict[str, Observed]
    p_chisq: float | None


def compare_with_published(
    analysis: Analysis, published: PublishedTrial
) -> tuple[PublishedRow, ...]:
    """Every endpoint the publication reports, in its order, for the arms it reports."""
    rows = []
    arms = [arm for arm in analysis.arms if arm in published.arm_sizes()]
    for endpoint in published.endpoints():
        result = analysis.binary[endpoint]
        first = next(iter(result.comparisons.values()))
        rows.append(
            PublishedRow(
                endpoint=endpoint,
                label=result.label,
                analysed={arm: result.by_arm[arm] for arm in arms},
                published={arm: published.result(arm, endpoint) for arm in arms},
                p_chisq=first.chi_square.p_value,
            )
        )
    return tuple(rows)


def sampling_note(published: PublishedTrial) -> str:
    """How much one trial of the published size varies (binomial standard error of a
    rate near 50% at the smallest and largest arm)."""
    sizes = sorted(published.arm_sizes().values())
    errors = [100 * math.sqrt(0.25 / n) for n in (sizes[-1], sizes[0])]
    spread = (
        f"{errors[0]:.0f}"
        if round(errors[0]) == round(errors[1])
        else (f"{errors[0]:.0f}-{errors[1]:.0f}")
    )
    return (
        f"One trial of this size varies: a rate near 50% has a standard error of about "
        f"{spread} points with {sizes[0]}-{sizes[-1]} patients per arm. The model's posterior "
        "predictive intervals for trials of this size are in docs/calibration.md; try other "
        "--seed values."
    )

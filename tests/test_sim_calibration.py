"""The shipped parameters reproduce TARGET 020's published rates (docs/calibration.md).

The check trial uses its own seed (CHECK_SEED, not the fit's seed of
tools/calibrate_target020.py) and 20,000 virtual patients per arm, adjudicated with the
target020 preset; the published rates come from the file beside the preset.
"""

from __future__ import annotations

import pytest

from itptrial import adjudicate, dataset_from_frames, load_protocol, published_results
from itptrial.analysis import binary_counts
from itptrial.sim import load_parameters, simulate_trial

N_PER_ARM = 20_000  # large: the simulated rates' standard errors are about 0.3-0.6 pp
CHECK_SEED = 20260101
PUBLISHED = published_results("target020")
TARGETS = {(item.arm, item.endpoint): item.rate for item in PUBLISHED.observed}


@pytest.fixture(scope="module")
def rates() -> dict[tuple[str, str], float]:
    protocol = load_protocol("target020")
    sizes = (N_PER_ARM,) * len(protocol.arms)
    tables = simulate_trial(protocol, sizes, seed=CHECK_SEED, params=load_parameters())
    endpoints = adjudicate(dataset_from_frames(tables, protocol), protocol)
    counts = binary_counts(endpoints, protocol)
    return {key: counts[key][0] / counts[key][1] for key in TARGETS}


@pytest.mark.parametrize("key", list(TARGETS), ids=lambda key: f"{key[0]}-{key[1]}")
def test_within_two_points_of_the_published_rate(
    rates: dict[tuple[str, str], float], key: tuple[str, str]
) -> None:
    assert rates[key] == pytest.approx(TARGETS[key], abs=0.02)


def test_the_experimental_arm_is_better_on_every_endpoint(
    rates: dict[tuple[str, str], float],
) -> None:
    assert rates[("TAC_DXM", "initial_response")] > rates[("DXM", "initial_response")]
    assert rates[("TAC_DXM", "relapse")] < rates[("DXM", "relapse")]
    assert rates[("TAC_DXM", "sustained_response_6m")] > rates[("DXM", "sustained_response_6m")]

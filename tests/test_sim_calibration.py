"""The shipped parameters reproduce TARGET 020's published rates (docs/calibration.md)."""

from __future__ import annotations

import pytest

from itptrial import load_protocol
from itptrial.sim import load_parameters
from itptrial.sim.calibrate import CHECK_SEED, TARGETS, trial_rates

N_PER_ARM = 20_000  # large: the simulated rates' standard errors are about 0.3-0.6 pp


@pytest.fixture(scope="module")
def rates() -> dict[tuple[str, str], float]:
    return trial_rates(load_protocol("target020"), load_parameters(), N_PER_ARM, CHECK_SEED).rates


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

"""The protocol's trough-guided titration, without a model: a measured trough outside
the target moves the daily dose proportionally toward the target's middle.

It is the rule the simulator's trough-guided regimens follow (strategy ``rule``;
its compiled day loop, :mod:`itptrial.sim._loop`, repeats it in numba and is checked
against the Python loop that calls these functions). Proportional titration assumes
linear kinetics, which tacrolimus has over its therapeutic range: the steady-state trough
is proportional to the dose (Gibaldi & Perrier, Pharmacokinetics, 2nd ed., eq. 3.31).
"""

from __future__ import annotations

import numpy as np

LOWEST_TROUGH_NG_ML = 0.1  # a reading of 0 (the assay's floor) is taken as 0.1


def rounded_daily_dose(mg: np.ndarray | float, step_mg: float, max_mg: float) -> np.ndarray:
    """A daily dose in whole ``step_mg`` steps, at least one step, at most ``max_mg``."""
    rounded: np.ndarray = np.clip(
        np.round(np.asarray(mg, dtype=float) / step_mg) * step_mg, step_mg, max_mg
    )
    return rounded


def titrated_dose(
    daily_mg: np.ndarray | float,
    trough_ng_ml: np.ndarray | float,
    target: tuple[float, float],
    step_mg: float,
    max_mg: float,
) -> np.ndarray:
    """Tomorrow's daily dose after a measured trough: unchanged inside ``target``,
    otherwise ``daily x middle / trough`` (a trough of 0 taken as 0.1 ng/mL) rounded by
    :func:`rounded_daily_dose`."""
    low, high = target
    daily = np.asarray(daily_mg, dtype=float)
    trough = np.asarray(trough_ng_ml, dtype=float)
    proposed = daily * (low + high) / 2.0 / np.maximum(trough, LOWEST_TROUGH_NG_ML)
    off_target = (trough < low) | (trough > high)
    result: np.ndarray = np.where(off_target, rounded_daily_dose(proposed, step_mg, max_mg), daily)
    return result

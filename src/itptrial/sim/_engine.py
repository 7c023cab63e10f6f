"""Integrating the model over one day with constant dosing: fast (RK4 compiled with
numba, parallel over patients) and reference (scipy ``solve_ivp``, LSODA, rtol 1e-8,
one patient at a time). Both evaluate the same compiled right-hand side."""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np
from numba import njit, prange
from scipy.integrate import solve_ivp

from itptrial.sim._model import B, D, Patients, T, rhs, shared, theta

EngineName = Literal["fast", "reference"]


class DayStepper(Protocol):
    def __call__(
        self, y: np.ndarray, dex: np.ndarray, tac: np.ndarray, patients: Patients
    ) -> np.ndarray: ...


MIN_SUBSTEPS = 2
# Largest (rate x step) allowed. RK4 is stable below 2.78; with 0.6 (and at least 2 steps
# a day) the fast engine stays within about 0.03% of the reference on the protocol's
# schedules (tests/test_sim_engine.py allows 0.5%); 6 steps and 1.2 gave 0.006% at 1.55x
# the cost.
MAX_RATE_STEP = 0.6
N_STATES = 9


@njit(cache=True, error_model="numpy")  # no zero-division checks
def _fastest_rate(
    y: np.ndarray, th: np.ndarray, sh: np.ndarray, dex: float
) -> float:  # pragma: no cover - compiled
    """The patient's fastest rate today (/day): platelet clearance, killing and
    regrowth of the clone, the biophase, maturation, T-cell turnover."""
    kdeg, a0, regrowth, kkill = th[1], th[3], th[4], th[5]
    biophase = max(y[D], dex)
    effect = biophase / (sh[5] + biophase)
    fastest_clone = kkill * effect + regrowth * (abs(y[T]) / th[2] + 2.0 * abs(y[B]))
    return max(  # type: ignore[no-any-return]
        kdeg * (1.0 + a0 * abs(y[B])), fastest_clone, sh[4], sh[0], sh[2] + th[8]
    )


@njit(cache=True, error_model="numpy")  # no zero-division checks
def rk4_patient_day(
    state: np.ndarray,
    th: np.ndarray,
    sh: np.ndarray,
    dex: float,
    tac: float,
    fixed_steps: int,
    min_steps: int,
    max_rate_step: float,
    work: np.ndarray,
) -> None:  # pragma: no cover - compiled; tested through callers
    """One patient's ``state`` advanced over one day in place by classical RK4: exactly
    ``fixed_steps`` equal steps, or (``fixed_steps`` <= 0) at least ``min_steps`` with
    (fastest rate x step) <= ``max_rate_step``. ``work`` is scratch of shape (5, states)
    (allocated once by the caller: no allocation in the hot path)."""
    stage, k1, k2, k3, k4 = work[0], work[1], work[2], work[3], work[4]
    steps = fixed_steps
    if steps <= 0:
        rate = _fastest_rate(state, th, sh, dex)
        steps = max(min_steps, int(np.ceil(rate / max_rate_step)))
    h = 1.0 / steps
    for _ in range(steps):  # element loops: no temporary arrays
        rhs(state, th, sh, dex, tac, k1)
        for j in range(N_STATES):
            stage[j] = state[j] + 0.5 * h * k1[j]
        rhs(stage, th, sh, dex, tac, k2)
        for j in range(N_STATES):
            stage[j] = state[j] + 0.5 * h * k2[j]
        rhs(stage, th, sh, dex, tac, k3)
        for j in range(N_STATES):
            stage[j] = state[j] + h * k3[j]
        rhs(stage, th, sh, dex, tac, k4)
        for j in range(N_STATES):
            state[j] += (h / 6.0) * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j])


@njit(parallel=True, cache=True)
def _rk4_day(
    y: np.ndarray,
    th: np.ndarray,
    sh: np.ndarray,
    dex: np.ndarray,
    tac: np.ndarray,
    fixed_steps: int,
    min_steps: int,
    max_rate_step: float,
) -> np.ndarray:  # pragma: no cover - compiled
    """``y`` is (patients, states): each patient's state is contiguous."""
    out = y.copy()
    for i in prange(y.shape[0]):
        work = np.empty((5, N_STATES))
        rk4_patient_day(
            out[i], th[i], sh, dex[i], tac[i], fixed_steps, min_steps, max_rate_step, work
        )
    return out


def fast_day(
    y: np.ndarray,
    dex: np.ndarray,
    tac: np.ndarray,
    patients: Patients,
    substeps: int | None = None,
) -> np.ndarray:
    """Classical 4th-order Runge-Kutta over one day (dosing is constant within a day,
    so the right-hand side is smooth within it), compiled with numba and run in
    parallel over patients. Each patient takes at least 2 equal steps, more on a day
    when one of its rates is fast (rate x step <= 0.6), or exactly ``substeps``."""
    by_patient = np.ascontiguousarray(np.asarray(y, dtype=np.float64).T)
    out = _rk4_day(
        by_patient,
        theta(patients),
        shared(patients),
        np.asarray(dex, dtype=np.float64),
        np.asarray(tac, dtype=np.float64),
        substeps or 0,
        MIN_SUBSTEPS,
        MAX_RATE_STEP,
    )
    return np.ascontiguousarray(out.T)


@njit(cache=True)
def _slope(
    state: np.ndarray, th: np.ndarray, sh: np.ndarray, dex: float, tac: float
) -> np.ndarray:  # pragma: no cover - compiled
    out = np.empty(N_STATES)
    rhs(state, th, sh, dex, tac, out)
    return out


def reference_day(
    y: np.ndarray, dex: np.ndarray, tac: np.ndarray, patients: Patients
) -> np.ndarray:
    """LSODA (rtol 1e-8, atol 1e-10) over one day, each patient solved on its own,
    with the same model equations (:func:`itptrial.sim._model.rhs`) as the fast engine."""
    out = np.empty_like(y)
    th, sh = theta(patients), shared(patients)
    for i in range(y.shape[1]):
        arguments = (th[i], sh, float(dex[i]), float(tac[i]))
        solution = solve_ivp(
            lambda _t, state, args=arguments: _slope(state, *args),
            (0.0, 1.0),
            y[:, i],
            method="LSODA",
            rtol=1e-8,
            atol=1e-10,
        )
        if not solution.success:  # pragma: no cover - LSODA does not fail on this model
            raise RuntimeError(f"reference integration failed: {solution.message}")
        out[:, i] = solution.y[:, -1]
    return out


STEPPERS: dict[str, DayStepper] = {"fast": fast_day, "reference": reference_day}

"""Integrating the model over one day with constant dosing: fast (vectorized RK4) and
reference (scipy ``solve_ivp``, LSODA, rtol 1e-8, one patient at a time)."""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np
from scipy.integrate import solve_ivp

from itptrial.sim._model import A, Patients, derivatives

EngineName = Literal["fast", "reference"]


class DayStepper(Protocol):
    def __call__(
        self, y: np.ndarray, dex: np.ndarray, tac_rate: np.ndarray, patients: Patients
    ) -> np.ndarray: ...


MIN_SUBSTEPS = 8
MAX_RATE_STEP = 0.8  # largest (rate x step) allowed: RK4 is stable below 2.78


def _substeps(y: np.ndarray, dex: np.ndarray, p: Patients) -> int:
    """Steps for today: at least 8, more when some patient has a fast rate today (a
    strong dexamethasone effect, very fast platelet clearance), for stability and
    accuracy (every patient takes the same steps, so the arrays stay whole)."""
    fastest = max(
        float(np.max(p.kdeg * (1.0 + np.abs(y[A])))),
        float(np.max(p.kdex * dex + p.ka)),
        float(np.max(p.cl / p.v)),
        p.ktr,
        p.kt + p.kdep,
    )
    return max(MIN_SUBSTEPS, int(np.ceil(fastest / MAX_RATE_STEP)))


def fast_day(
    y: np.ndarray,
    dex: np.ndarray,
    tac_rate: np.ndarray,
    patients: Patients,
    substeps: int | None = None,
) -> np.ndarray:
    """Classical 4th-order Runge-Kutta over one day, all patients at once (dosing is
    constant within a day, so the right-hand side is smooth within it)."""
    substeps = substeps or _substeps(y, dex, patients)
    h = 1.0 / substeps
    for _ in range(substeps):
        k1 = derivatives(y, dex, tac_rate, patients)
        k2 = derivatives(y + 0.5 * h * k1, dex, tac_rate, patients)
        k3 = derivatives(y + 0.5 * h * k2, dex, tac_rate, patients)
        k4 = derivatives(y + h * k3, dex, tac_rate, patients)
        y = y + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return y


def reference_day(
    y: np.ndarray, dex: np.ndarray, tac_rate: np.ndarray, patients: Patients
) -> np.ndarray:
    """LSODA (rtol 1e-8, atol 1e-10) over one day, each patient solved on its own."""
    out = np.empty_like(y)
    for i in range(y.shape[1]):
        one = patients.take(slice(i, i + 1))
        dex_i, tac_i = dex[i : i + 1], tac_rate[i : i + 1]

        def rhs(
            _t: float,
            state: np.ndarray,
            one: Patients = one,
            dex_i: np.ndarray = dex_i,
            tac_i: np.ndarray = tac_i,
        ) -> np.ndarray:
            return derivatives(state[:, None], dex_i, tac_i, one)[:, 0]

        solution = solve_ivp(rhs, (0.0, 1.0), y[:, i], method="LSODA", rtol=1e-8, atol=1e-10)
        if not solution.success:  # pragma: no cover - LSODA does not fail on this model
            raise RuntimeError(f"reference integration failed: {solution.message}")
        out[:, i] = solution.y[:, -1]
    return out


STEPPERS: dict[str, DayStepper] = {"fast": fast_day, "reference": reference_day}
